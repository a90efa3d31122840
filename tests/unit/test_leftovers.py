"""What killed writers leave behind is cleaned: the store's temporary files at every level (issue 15.8)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sspr_review.ingest import normalize
from sspr_review.ingest.store.history import Store


def test_temporary_files_in_the_tenant_folder_and_below_are_cleaned(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    record = {
        "id": "id-1",
        "activityDateTime": "2026-11-16T10:00:00Z",
        "activityDisplayName": "Reset password (self-service)",
        "loggedByService": "Self-service Password Management",
        "result": "success",
    }
    with store.writing():
        frame, _ = normalize.audit([record])
        store.write("audit", frame)
        store.record_interval("audit", datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 17, tzinfo=UTC))
    # what a writer killed during coverage.json, tenant.json or a table write leaves (_atomic_write's names)
    leftovers = [
        tmp_path / "t" / ".tmp-0123456789abcdef.json",
        tmp_path / "t" / "audit" / ".tmp-deadbeef.parquet",
        tmp_path / "t" / "rejects" / ".tmp-cafe.jsonl",
    ]
    for junk in leftovers:
        junk.parent.mkdir(exist_ok=True)
        junk.write_bytes(b"half a file")
    with store.writing():
        pass
    assert [p for p in leftovers if p.exists()] == []
    assert store.read("audit")["id"].tolist() == ["id-1"]
    assert (tmp_path / "t" / "coverage.json").exists()
