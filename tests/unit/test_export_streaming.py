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


_GRAPH = '"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits"'
#: Documents ijson streams, read exactly as json.loads reads them whole: escapes (surrogate pairs, lone
#: surrogates, an escaped backslash before "ud800"), repeated keys, numbers at float's and int64's edges,
#: non-objects, JSON's whitespace, byte-order marks, the context before, after or given twice.
STREAMED = [
    f'{{{_GRAPH}, "value": [{{"id": "a", "n": -0, "f": -0.0, "e": 1E2, "u": 1e-400, "t": 0.1}}]}}',
    '{"value": [{"id": "a", "x": "\\ud83d\\ude00 \\u00e9 \\/ \\" \\\\ \\n"}, {"id": "b", "x": "é😀"}]}',
    '[{"id": "a", "x": "\\ud800"}, {"id": "b", "x": "\\ud800\\ud800"}, {"id": "c", "x": "\\udc00"}, {"id": "d"}]',
    '[{"id": "a", "x": "\\\\ud800"}, {"id": "b", "x": "\\ud83d\\ude00\\ud800"}]',
    '[{"id": "a", "id": "b", "k": 1, "k": [2]}, {"id": "c", "v": {"w": 1, "w": 2}}]',
    '[{"id": "a", "big": 9223372036854775807, "small": -9223372036854775807}, {"f": 1.7976931348623157e308}]',
    '[{"id": "a", "f": 2.2250738585072011e-308, "g": 5e-324, "h": 0.30000000000000004, "i": 1.0, "j": 12345678901.5}]',
    '[7, null, "s", [1], true, {"id": "a"}, 1.5, {}]',
    ' \r\n\t[ \r\n\t{ "id" : "a" } ,\n{"id":"b"}\r\n] \n\t ',
    '\ufeff\ufeff[{"id": "a"}]',
    "[]",
    '{"value": []}',
    '{"@odata.context": 5, "value": [{"id": "a"}], "@odata.context": 6, "next": {"a": [1, {"b": 2}]}}',
    '{"value": [{"id": "a"}], "@odata.context": "x", "@odata.nextLink": null}',
    "[" + '{"x": ' * 60 + "1" + "}" * 60 + "]",
]
#: Documents a whole read reads differently from ijson, or that hold no list of records: read whole, as before.
WHOLE = [
    "[NaN]",
    '[{"id": "a", "x": Infinity}]',
    '[{"id": "a", "x": -Infinity}]',
    '[{"id": "a", "x": 1e400}]',
    '[{"id": "a", "x": 9223372036854775808}]',
    '[{"id": "a", "x": -9223372036854775808}]',  # yajl's integers stop one short of int64's
    "[1] [2]",
    '[{"id": "a"}] x',
    "",
    "  \n",
    "{}",
    '{"id": "one"}',
    "5",
    '{"value": [{"id": "a"}], "value": [{"id": "b"}]}',
    '{"value": {"id": "a"}}',
    '{"value": [{"id": "a"}], "@odata.context": {"a": 1}}',
    '[{"id": "a"},\x0c{"id": "b"}]',
    '[{"id": "a"},\x0b{"id": "b"}]',
    '{"value": [{"id": "a"},]}',
    '[{"id": "a"}, {"id": "b", "x": "tab\there"}]',
    "[" + "[" * 70 + "1" + "]" * 70 + ', {"id": "ok"}]',
    '[{"id": "a"}, {"id": "b"',
]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"]


def _seen(got: exports.FileRecords) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]], str]:
    """What a read gave, comparable whatever the floats (NaN) and number types (json.dumps tells 0 from 0.0)."""
    records = [(json.dumps(record, ensure_ascii=True), where) for record, where in got.records]
    return records, [(r.reason, r.where, r.text) for r in got.rejected], got.context


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize(("text", "streamed"), [(t, True) for t in STREAMED] + [(t, False) for t in WHOLE])
def test_the_streamed_json_read_is_the_whole_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, streamed: bool, encoding: str
) -> None:
    path = tmp_path / "audit.json"
    if encoding == "utf-16-le" and not text[:1].isascii():
        encoding = "utf-16"  # without a byte-order mark, UTF-16 is told by an ASCII first character
    path.write_bytes(text.encode(encoding))
    whole = exports.FileRecords()
    exports._read_whole(path, whole)
    monkeypatch.setattr(exports, "_STREAM_CHARS", 7)  # most values cut by a chunk's end
    if streamed:
        monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read whole"))
    assert isinstance(exports._survey(path), exports._Survey) == streamed
    assert _seen(exports.read_file(path)) == _seen(whole)


def test_numbers_are_json_loads_numbers(tmp_path: Path) -> None:
    """Floats as json.loads gives them (ijson's C backend parses numbers apart from Python's float())."""
    import random

    rng = random.Random(27)
    values = [rng.uniform(-1e6, 1e6) for _ in range(300)] + [
        rng.random() * 10 ** rng.randint(-320, 300) for _ in range(300)
    ]
    texts = [repr(v) for v in values] + [f"{v:.17e}" for v in values] + ["0.1000000000000000055511151231257827", "1e-5"]
    path = tmp_path / "numbers.json"
    path.write_text("[" + ", ".join(f'{{"id": "n{i}", "x": {t}}}' for i, t in enumerate(texts)) + "]")
    got = [record["x"] for record, _ in exports.read_file(path).records]
    assert got == [json.loads(t) for t in texts]
    assert isinstance(exports._survey(path), exports._Survey)


def test_a_lone_surrogate_is_read_by_the_python_backend_and_its_record_rejected(tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    path.write_text('{"value": [{"id": "a"}, {"id": "b", "name": "x\\ud800"}, {"id": "c"}]}')
    survey = exports._survey(path)
    assert isinstance(survey, exports._Survey) and survey.lone
    got = exports.read_file(path)
    assert [r["id"] for r, _ in got.records] == ["a", "c"]
    assert [(r.where, r.reason.split(" (")[0]) for r in got.rejected] == [
        (f"{path} item 1", "field name holds text that is not valid Unicode")
    ]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-8-sig"])
def test_json_lines_in_utf16_or_utf32_are_read_a_line_at_a_time_as_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    path = tmp_path / "audit.jsonl"
    rows = [json.dumps({"id": f"a{i}", "activityDisplayName": "é😀 \\ud800"[: 3 + i]}) for i in range(8)]
    text = "\r\n".join(rows[:3]) + "\r\n\n{broken\n\u2028" + "\n".join(rows[3:]) + "\n" + '{"id": "z", "x": "\\ud800"}'
    path.write_bytes(text.encode(encoding))
    whole = exports.FileRecords()
    exports._read_whole(path, whole)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read whole"))
    got = exports.read_file(path)
    assert _seen(got) == _seen(whole)
    assert [r.where for r in got.rejected] == [f"{path} line 5", f"{path} line 6", f"{path} line 11"]
    lines = exports.stream_file(path, exports.FileRecords())
    assert next(lines)[0]["id"] == "a0"  # the first record comes before the rest is read
    lines.close()


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_json_lines_not_in_their_encoding_are_rejected_as_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    """A lone surrogate's bytes (UTF-16) or a code point past U+10FFFF (UTF-32) after some lines, or a file cut
    mid-character: the file is rejected, naming the byte, as a whole read rejects it, without reading it whole."""
    path = tmp_path / "audit.jsonl"
    good = "\n".join(json.dumps({"id": f"a{i}"}) for i in range(500)).encode(encoding)
    bad = {"utf-16": b"\x00\xd8A\x00", "utf-16-le": b"\x00\xd8A\x00", "utf-32": b"\x00\x00\x11\x00"}[encoding]
    for data in (good + bad + good[-40:], good[:-1]):
        path.write_bytes(data)
        whole = exports.FileRecords()
        exports._read_whole(path, whole)
        monkeypatch.setattr(exports, "_STREAM_CHARS", 7)
        monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read whole"))
        got = exports.read_file(path)
        monkeypatch.undo()
        assert _seen(got) == _seen(whole)
        assert not got.records and got.rejected[0].reason.startswith(f"not {encoding.upper()} text (byte ")


BROKEN = [
    ('[{"id": "a"}, {"id": "b"', "parse error: premature EOF"),  # a download cut short
    ('{"value": [{"id": "a"},]}', "parse error: unallowed token at this point in JSON text"),
    ('[{"id": "a"}] [{"id": "b"}]', "parse error: trailing garbage"),
    ('[{"id": "a"}, {"id" "b"}]', "parse error: object key and value must be separated by a colon (':')"),
    ('[{"id": "a\tb"}]', "lexical error: invalid character inside string"),
    (
        '[{"id": "a"},\x0c{"id": "b"}]',
        "a vertical tab or form feed, which JSON allows neither between values nor in text",
    ),
    (" ", "parse error: premature EOF"),
]


@pytest.mark.parametrize(("text", "why"), BROKEN)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_big_json_file_that_does_not_parse_is_rejected_without_reading_it_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, why: str, encoding: str
) -> None:
    path = tmp_path / "audit.json"
    path.write_bytes(text.encode(encoding))
    whole = exports.FileRecords()
    exports._read_whole(path, whole)
    monkeypatch.setattr(exports, "_BROKEN_READ_WHOLE", 0)  # as if it were bigger than any read whole
    monkeypatch.setattr(exports, "_STREAM_CHARS", 16)
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail(f"{self} was read whole"))
    got = exports.read_file(path)
    assert not got.records and not whole.records
    ((reason, where, head),) = [(r.reason, r.where, r.text) for r in got.rejected]
    assert reason.startswith(f"not valid JSON ({why}") and reason.endswith("; no record in it was loaded")
    assert (where, head) == (whole.rejected[0].where, whole.rejected[0].text) == (str(path), text)
    assert (" in bytes " in reason or " at its end, byte " in reason) and ("of its text in UTF-8" in reason) == (
        encoding != "utf-8"
    )


@pytest.mark.parametrize(
    "data",
    [
        "\n".join(json.dumps({"id": f"a{i}"}) for i in range(200)).encode("utf-16") + b"\x00\xd8A\x00",  # not UTF-16
        b'[{"id": "a"}, {"id": "b\xff"}]',  # not UTF-8
        b'[{"id": "a"}, {"id": "b"}, NaN]',  # a whole read reads it
        b'{"value": [{"id": "a", "n": 1e400}, {"id": "b", "n": 18446744073709551616}]}',
    ],
)
def test_a_big_json_file_the_survey_fails_on_gives_what_a_whole_read_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes
) -> None:
    path = tmp_path / "audit.json"
    path.write_bytes(data)
    whole = exports.FileRecords()
    exports._read_whole(path, whole)
    monkeypatch.setattr(exports, "_BROKEN_READ_WHOLE", 0)
    monkeypatch.setattr(exports, "_STREAM_CHARS", 16)
    assert _seen(exports.read_file(path)) == _seen(whole)
