"""The files source streams an export in batches (issue 27, bounded memory for imports): the store it leaves is the
same whatever the batch size — the same rows, the same copy kept of a repeated id, the same records set aside
(in the same order, with where each was), the same coverage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.sources import files
from tests.support.exports import audit


def _risk(rid: str, detected: str, updated: str, level: str) -> dict[str, Any]:
    return {
        "id": rid,
        "riskEventType": "leakedCredentials",
        "riskLevel": level,
        "detectedDateTime": detected,
        "lastUpdatedDateTime": updated,
        "userPrincipalName": "u1@x.example",
    }


def _user(uid: str, updated: str, registered: bool) -> dict[str, Any]:
    return {
        "id": uid,
        "userPrincipalName": f"{uid}@x.example",
        "isSsprRegistered": registered,
        "lastUpdatedDateTime": updated,
    }


def _export(folder: Path) -> Path:
    """Two overlapping audit exports (JSON and JSON Lines), repeated ids identical and conflicting, within a file
    and across files, records without a time, risk and registration copies told apart by their newest time."""
    folder.mkdir(parents=True)
    first = [audit(i, 10 + i % 7) for i in range(12)]
    conflicting = [{**audit(30, 12), "result": result} for result in ("success", "failure")]
    timeless = {**audit(20, 12), "activityDateTime": ""}
    page = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits"}
    (folder / "audits-1.json").write_text(json.dumps({**page, "value": [*first, *conflicting, timeless]}))
    second = [audit(i, 10 + i % 7) for i in range(5, 16)]  # a5..a11 again, identical
    lines = [*second, {**audit(30, 12), "result": "timeout"}, {**audit(7, 11), "result": "failure"}]
    (folder / "audits-2.jsonl").write_text("\n".join(json.dumps(r) for r in lines) + "\n{broken\n")
    risk = [
        _risk("r1", "2026-11-12T00:00:00Z", "2026-11-13T00:00:00Z", "high"),  # the newest: kept, though not last
        _risk("r2", "2026-11-12T02:00:00Z", "2026-11-12T02:00:00Z", "low"),
        _risk("r1", "2026-11-12T00:00:00Z", "2026-11-12T01:00:00Z", "medium"),
        _risk("r3", "", "2026-11-12T03:00:00Z", "low"),  # no detectedDateTime: set aside
    ]
    (folder / "risk.json").write_text(json.dumps({"value": risk}))
    users = [
        _user("u1", "2026-11-14T00:00:00Z", True),
        _user("u2", "2026-11-14T00:00:00Z", False),
        _user("u1", "2026-11-10T00:00:00Z", False),
        _user("u3", "2026-11-14T00:00:00Z", True),
    ]
    (folder / "registration.jsonl").write_text("\n".join(json.dumps(u) for u in users) + "\n")
    (folder / "org.json").write_text(json.dumps({"value": [{"id": "tid", "displayName": "Contoso"}]}))
    (folder / "signins.json").write_text(json.dumps({"value": [{"id": "s1", "appDisplayName": "Teams"}]}))
    return folder


def _import(export: Path, store: Path, batch: int, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Fetch ``export`` into ``store`` with ``batch`` records per batch; what the store then holds."""
    monkeypatch.setattr(files, "BATCH_RECORDS", batch)
    ws = Workspace(config.load(env={"SSPR_REVIEW_STORE_PATH": str(store)}), "files", files=export)
    result = ws.fetch(progress=False)
    tables = {}
    for table in ("audit", "risk", "registration"):
        frame = ws.read(table).sort_values("id" if table != "registration" else "user_id").reset_index(drop=True)
        tables[table] = frame.drop(columns=[c for c in frame.columns if c in ("fetched_at", "ingested_at")])
    return {
        "tables": tables,
        "intervals": {kind: ws.store.intervals(kind) for kind in ("audit", "risk")},
        "set_aside": [(r.reason, r.where.removeprefix(str(export)), r.text) for r in result.report.rejected],
        "lines": result.report.lines(),
        "outcomes": {name: (o.ok, o.records, o.new) for name, o in result.outcomes.items()},
    }


def test_a_batched_import_leaves_the_same_store_as_a_whole_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    export = _export(tmp_path / "export")
    whole = _import(export, tmp_path / "whole", 1_000_000, monkeypatch)
    batched = _import(export, tmp_path / "batched", 2, monkeypatch)
    for table, frame in whole["tables"].items():
        pd.testing.assert_frame_equal(batched["tables"][table], frame, obj=table)
    assert batched["intervals"] == whole["intervals"]
    assert batched["set_aside"] == whole["set_aside"]
    assert batched["lines"] == whole["lines"]
    assert batched["outcomes"] == whole["outcomes"]
    # what both give is the dedup the files source promises, not merely the same mistake twice
    audits = whole["tables"]["audit"]
    assert sorted(audits["id"]) == sorted({f"a{i}" for i in range(16)} | {"a30"})
    assert audits.loc[audits["id"] == "a30", "result"].tolist() == ["timeout"]  # the last copy given
    assert audits.loc[audits["id"] == "a7", "result"].tolist() == ["failure"]
    risk = whole["tables"]["risk"]
    assert risk.loc[risk["id"] == "r1", "risk_level"].tolist() == ["high"]  # the newest lastUpdatedDateTime
    users = whole["tables"]["registration"]
    assert sorted(users["user_id"]) == ["u1", "u2", "u3"]
    assert users.loc[users["user_id"] == "u1", "is_sspr_registered"].tolist() == [True]
    reasons = [reason for reason, _, _ in whole["set_aside"]]
    # in the order the ids were first given; a7's two earlier copies (one in each file) both differ from the last
    assert [r.split(" is given")[0] for r in reasons if "different content" in r] == [
        *["id 'a7'", "id 'a7'", "id 'a30'", "id 'a30'"],
        *["id 'r1'", "id 'u1'"],
    ]
    assert any("activityDateTime is missing" in r for r in reasons)
    assert any("detectedDateTime is missing" in r for r in reasons)
    assert any(where.endswith("audits-2.jsonl line 14") for _, where, _ in whole["set_aside"])  # {broken
    assert any("identical copies" in line for line in whole["lines"])


def test_json_lines_in_utf16_import_in_batches_as_their_utf8_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """JSON Lines saved by PowerShell (UTF-16 with a byte-order mark) stream a line at a time, never read
    whole, and leave the store their UTF-8 copy leaves."""
    export = _export(tmp_path / "utf8")
    utf16 = tmp_path / "utf16"
    utf16.mkdir()
    for file in export.iterdir():
        data = file.read_bytes()
        if file.suffix == ".jsonl":
            data = data.decode("utf-8").encode("utf-16")
        (utf16 / file.name).write_bytes(data)
    read_bytes = Path.read_bytes

    def not_whole(self: Path) -> bytes:
        assert self.suffix != ".jsonl", f"{self} was read whole"
        return read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", not_whole)
    plain = _import(export, tmp_path / "plain", 2, monkeypatch)
    wide = _import(utf16, tmp_path / "wide", 2, monkeypatch)
    for table, frame in plain["tables"].items():
        pd.testing.assert_frame_equal(wide["tables"][table], frame, obj=table)
    assert wide["intervals"] == plain["intervals"]
    for key in ("set_aside", "lines"):  # their messages name the file a kept copy is in
        assert repr(wide[key]).replace(str(utf16), "") == repr(plain[key]).replace(str(export), "")
    assert wide["outcomes"] == plain["outcomes"]
    assert any(where.endswith("audits-2.jsonl line 14") for _, where, _ in wide["set_aside"])  # {broken
