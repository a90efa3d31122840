"""A JSON Lines export is read a line at a time, never whole (issue 27, point 8: bounded memory for imports)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sspr_review.sources import exports


def _lines(path: Path) -> None:
    rows = [json.dumps({"id": f"a{i}", "activityDisplayName": "Reset password (self-service)"}) for i in range(3)]
    path.write_bytes(("\n".join(rows[:2]) + "\n\n{broken\n" + rows[2] + "\r\n").encode())


def test_utf8_json_lines_are_read_without_reading_the_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.jsonl"
    _lines(path)

    def whole(self: Path) -> bytes:
        raise AssertionError(f"{self} was read whole")

    monkeypatch.setattr(Path, "read_bytes", whole)
    got = exports.read_file(path)
    assert [r["id"] for r, _ in got.records] == ["a0", "a1", "a2"]
    assert [where for _, where in got.records] == [f"{path} line 1", f"{path} line 2", f"{path} line 5"]
    assert [(r.reason.split(" (")[0], r.where) for r in got.rejected] == [("not valid JSON", f"{path} line 4")]


def test_utf16_json_lines_are_still_read(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    rows = "\n".join(json.dumps({"id": f"a{i}", "activityDisplayName": "x"}) for i in range(2))
    path.write_bytes(rows.encode("utf-16"))
    assert [r["id"] for r, _ in exports.read_file(path).records] == ["a0", "a1"]


def test_a_lone_surrogate_on_one_line_rejects_that_line_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.write_text('{"id": "a0", "name": "\\ud800"}\n{"id": "a1", "name": "ok"}\n')
    got = exports.read_file(path)
    assert [r["id"] for r, _ in got.records] == ["a1"]
    assert [r.where for r in got.rejected] == [f"{path} line 1"]


def _response(path: Path) -> None:
    """A Graph response whose context follows its records: four records, a number and a lone surrogate among them."""
    items: list[object] = [{"id": f"a{i}", "n": 10**i, "t": [1.5, None, {"x": "]}"}]} for i in range(4)]
    items[1:1] = [7, {"id": "bad", "name": "\ud800"}]  # json.dumps writes it as the escape \ud800
    text = json.dumps(items)
    path.write_text(f'{{"value": {text}, "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#x"}}\n')


def test_a_graph_response_is_read_a_record_at_a_time_as_it_was_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "audit.json"
    _response(path)
    whole = exports.FileRecords()
    exports._read_whole(path, whole)
    monkeypatch.setattr(exports, "_STREAM_CHARS", 5)  # every record cut by a chunk's end
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read whole"))
    got = exports.read_file(path)
    assert got.records == whole.records
    assert [r["id"] for r, _ in got.records] == ["a0", "a1", "a2", "a3"]
    assert [(r.reason, r.where) for r in got.rejected] == [(r.reason, r.where) for r in whole.rejected]
    assert [r.where for r in got.rejected] == [f"{path} item 1", f"{path} item 2"]
    assert got.context == whole.context == "https://graph.microsoft.com/v1.0/$metadata#x"


@pytest.mark.parametrize(
    "text",
    ['{"value": [{"id": "a"},]}', '{"id": "one"}', '{"value": [{"id": "a"}], "value": [{"id": "b"}]}', "[1] [2]"],
)
def test_json_the_stream_does_not_read_is_read_whole_as_before(tmp_path: Path, text: str) -> None:
    path = tmp_path / "audit.json"
    path.write_text(text)
    whole = exports.FileRecords()
    exports._read_whole(path, whole)
    got = exports.read_file(path)
    assert got.records == whole.records
    assert [(r.reason, r.where) for r in got.rejected] == [(r.reason, r.where) for r in whole.rejected]
