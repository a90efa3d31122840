"""The store checks itself (issue 27): the manifest written with each file, the check when a file is opened, the
quarantine and what it takes out of the coverage, a fetch's sweep and what it brings back, and the crash window
between the manifest and the rename."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sspr_review.core.errors import StoreDamaged, StoreError
from sspr_review.ingest import normalize
from sspr_review.ingest.store import health, integrity
from sspr_review.ingest.store.history import Store
from sspr_review.ingest.store.integrity import MANIFEST, describe

T0 = datetime(2026, 11, 16, tzinfo=UTC)


def audit_record(i: int, when: datetime) -> dict[str, object]:
    return {
        "id": f"id-{i}",
        "activityDateTime": when.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        "activityDisplayName": "Reset password (self-service)",
        "loggedByService": "Self-service Password Management",
        "result": "success",
        "targetResources": [{"id": f"u{i}", "type": "User", "userPrincipalName": f"u{i}@x"}],
    }


def filled(tmp_path: Path) -> Store:
    """A store with November's audit events covered from the 2nd to the 20th, and a policy snapshot."""
    store = Store(tmp_path, "t")
    with store.writing():
        store.write("audit", normalize.audit([audit_record(i, T0 + timedelta(hours=i)) for i in range(20)])[0])
        store.record_interval("audit", datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC))
        store.write_policy({"authenticationMethodsPolicy": {"id": "p"}}, T0)
        store.record_snapshot("policy", T0)
    return store


def month(store: Store) -> Path:
    return store.path / "audit" / "2026-11.parquet"


def test_each_file_written_is_in_the_manifest_with_size_checksum_rows_and_columns(tmp_path: Path) -> None:
    store = filled(tmp_path)
    files = json.loads((store.path / MANIFEST).read_text())["files"]
    (entry,) = files["audit/2026-11.parquet"]
    assert entry == describe(month(store)).__dict__
    assert entry["rows"] == 20 and len(entry["sha256"]) == 64 and entry["schema"]
    assert files["policy/2026-11-16.json"][0]["rows"] is None
    assert oct(os.stat(store.path / MANIFEST).st_mode & 0o777) == "0o600"


def test_a_flipped_byte_is_found_when_read_and_quarantined_with_a_note(tmp_path: Path) -> None:
    store = filled(tmp_path)
    data = bytearray(month(store).read_bytes())
    data[len(data) // 2] ^= 0xFF
    month(store).write_bytes(bytes(data))
    reader = Store(tmp_path, "t")  # a fresh process
    assert reader.read("audit").empty
    (found,) = reader.found
    assert found.file == "audit/2026-11.parquet" and "checksum" in found.why
    assert not month(store).exists()
    (note,) = [json.loads(p.read_text()) for p in (store.path / "quarantine").glob("*.note.json")]
    assert note["rows"] == 20 and note["kind"] == "audit" and (store.path / "quarantine" / note["moved_to"]).exists()
    # its interval is no longer covered, and the coverage names the file
    assert reader.intervals("audit") == []
    cov = reader.coverage("audit", datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))
    assert cov.state() == "no data" and "audit/2026-11.parquet" in (cov.reason or "")
    assert "20 records" in (cov.reason or "") and "quarantine" in (cov.reason or "")


def test_a_file_checked_in_the_background_is_not_hashed_again_and_its_damage_still_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = filled(tmp_path)
    reader = Store(tmp_path, "t")  # a fresh process: nothing checked yet
    hashed: list[str] = []
    real = integrity.sha256_of
    monkeypatch.setattr(integrity, "sha256_of", lambda path: hashed.append(path.name) or real(path))
    reader.prefetch("audit")
    assert len(reader.read("audit")) == 20
    assert hashed == ["2026-11.parquet"]  # hashed once, by the background check the read waited for

    # damaged after a background check passed: the read checks the changed file again and quarantines it
    other = Store(tmp_path, "t")
    other.prefetch("audit")
    data = bytearray(month(store).read_bytes())
    data[len(data) // 2] ^= 0xFF
    other.integrity._pending["audit/2026-11.parquet"].result()  # the check of the intact file is done
    month(store).write_bytes(bytes(data))
    assert other.read("audit").empty
    (found,) = other.found
    assert found.file == "audit/2026-11.parquet" and "checksum" in found.why

    # damaged before: the background check fails, and the read raises it again, naming the file
    store = filled(tmp_path / "again")
    data = bytearray(month(store).read_bytes())
    data[len(data) // 2] ^= 0xFF
    month(store).write_bytes(bytes(data))
    third = Store(tmp_path / "again", "t")
    third.prefetch("audit")
    assert third.read("audit").empty
    (found,) = third.found
    assert found.file == "audit/2026-11.parquet" and "checksum" in found.why and not month(store).exists()
    # one checking thread for every store of the process (a run over many tenants keeps one, not one per store)
    assert sum(t.name.startswith("store-check") for t in threading.enumerate()) == 1


def test_a_writer_killed_between_the_manifest_and_the_rename_leaves_an_accepted_file(tmp_path: Path) -> None:
    store = filled(tmp_path)
    old = month(store).read_bytes()
    with store.writing():
        store.write("audit", normalize.audit([audit_record(99, T0 + timedelta(days=2))])[0])
    month(store).write_bytes(old)  # as if the rename had not happened: the manifest lists the new and the old
    os.utime(month(store), ns=(1, 1))
    reader = Store(tmp_path, "t")
    assert len(reader.read("audit")) == 20 and reader.found == []


def test_a_file_put_there_by_hand_is_checked_whole(tmp_path: Path) -> None:
    store = filled(tmp_path)
    (store.path / "audit" / "2025-09.parquet").write_bytes(b"PAR1 not parquet")
    reader = Store(tmp_path, "t")
    assert len(reader.read("audit")) == 20
    assert [d.file for d in reader.found] == ["audit/2025-09.parquet"]
    assert "not a readable Parquet file" in reader.found[0].why


def test_a_store_from_before_the_manifest_is_read_and_entered_by_the_sweep(tmp_path: Path) -> None:
    store = filled(tmp_path)
    (store.path / MANIFEST).unlink()
    reader = Store(tmp_path, "t")
    assert len(reader.read("audit")) == 20 and reader.found == []
    with reader.writing():
        assert health.sweep(reader) == []
    assert "audit/2026-11.parquet" in json.loads((store.path / MANIFEST).read_text())["files"]


def test_sweep_finds_cut_files_missing_files_and_garbage_json(tmp_path: Path) -> None:
    store = filled(tmp_path)
    month(store).write_bytes(month(store).read_bytes()[:100])
    (store.path / "policy" / "2026-11-16.json").unlink()
    (store.path / "tenant.json").write_text("{")
    with store.writing():
        found = {d.file: d.why for d in health.sweep(store)}
    assert "cut short" in found["audit/2026-11.parquet"]
    assert "missing" in found["policy/2026-11-16.json"]
    assert "not valid JSON" in found["tenant.json"]
    assert store.snapshots("policy") == []  # the lost snapshot is no longer claimed


def test_garbage_coverage_is_rebuilt_from_the_files(tmp_path: Path) -> None:
    store = filled(tmp_path)
    (store.path / "coverage.json").write_text("][")
    reader = Store(tmp_path, "t")
    (held,) = reader.intervals("audit")
    assert held.start == T0 and held.end > held.start  # from the first stored record
    assert reader.snapshots("policy")
    assert [d.file for d in reader.found] == ["coverage.json"]
    assert (store.path / "quarantine").glob("*-coverage.json")
    # ... and the next fetch is told to read again what the rebuilt coverage cannot vouch for
    assert health.unread_damage(reader, "audit") == T0


def test_a_fetch_settles_what_it_could_not_read_again(tmp_path: Path) -> None:
    store = filled(tmp_path)
    month(store).write_bytes(b"")
    with store.writing():
        health.sweep(store)
        before = store.damage_records()
        assert health.unread_damage(store, "audit") == datetime(2026, 11, 2, tzinfo=UTC)
        # the source holds only the last 4 hours of the 20 it once gave
        store.write("audit", normalize.audit([audit_record(i, T0 + timedelta(hours=i)) for i in range(16, 20)])[0])
        store.record_interval("audit", T0 + timedelta(hours=16), datetime(2026, 11, 20, tzinfo=UTC))
        settled = health.settle(store, before, {"audit"})
    (lost,) = settled.lost
    assert "audit/2026-11.parquet" in lost and "16 records" in lost and "could not be re-read" in lost
    assert "2026-11-02 00:00 → 2026-11-16 16:00" in lost
    assert health.unread_damage(store, "audit") is None  # not read again by every later fetch
    cov = store.coverage("audit", datetime(2026, 11, 9, tzinfo=UTC), datetime(2026, 11, 16, tzinfo=UTC))
    assert cov.state() == "no data" and "16 records" in (cov.reason or "")


def test_everything_read_again_restores_the_coverage(tmp_path: Path) -> None:
    store = filled(tmp_path)
    month(store).write_bytes(b"")
    with store.writing():
        health.sweep(store)
        before = store.damage_records()
        store.write("audit", normalize.audit([audit_record(i, T0 + timedelta(hours=i)) for i in range(20)])[0])
        store.record_interval("audit", T0, datetime(2026, 11, 20, tzinfo=UTC))
        settled = health.settle(store, before, {"audit"})
    assert settled.lost == [] and "all 20 of its records are back" in settled.recovered[0]
    assert [(i.start.day, i.end.day) for i in store.intervals("audit")] == [(2, 20)]


def test_verify_changes_nothing(tmp_path: Path) -> None:
    store = filled(tmp_path)
    month(store).write_bytes(month(store).read_bytes() + b"x")
    (found,) = health.verify(Store(tmp_path, "t"))
    assert isinstance(found, StoreDamaged) and "added to" in found.why
    assert month(store).exists() and not (store.path / "quarantine").exists()


def test_a_store_path_that_is_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    with pytest.raises(StoreError, match="is a file, not a folder"):
        Store(tmp_path / "afile", "t")


def test_only_the_snapshot_a_week_uses_is_checked_and_a_damaged_one_is_never_chosen(tmp_path: Path) -> None:
    """A review checks the snapshot its week chooses, not the whole history of snapshots; when that one is damaged
    it is quarantined and the week uses the next nearest one, naming the damaged file."""
    store = Store(tmp_path, "t")
    frame, _ = normalize.registration([{"id": "u1", "isSsprRegistered": True}], T0)
    moments = [T0 - timedelta(days=28), T0 - timedelta(days=14), T0 - timedelta(days=7), T0 + timedelta(hours=5)]
    with store.writing():
        for moment in moments:
            store.write_snapshot("registration", frame.drop(columns="raw"), moment)
            store.record_snapshot("registration", moment)

    def flip(moment: datetime) -> Path:
        path = store.path / "registration" / f"{moment:%Y-%m-%d}.parquet"
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        stat = path.stat()
        path.write_bytes(bytes(data))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the same size and time: only the checksum tells
        return path

    old, chosen = flip(moments[0]), flip(moments[3])
    reader = Store(tmp_path, "t")  # a fresh process
    cov = reader.coverage("registration", T0 - timedelta(days=7), T0)
    assert cov.snapshot == moments[2]  # the next nearest, within the tolerance
    assert [d.file for d in reader.found] == [f"registration/{chosen.name}"]
    assert not chosen.exists() and f"registration/{chosen.name}" in " ".join(cov.missing)
    assert old.exists()  # never chosen, so never checked by this review: `store verify` finds it
    assert reader.coverage("registration", T0 - timedelta(days=35), T0 - timedelta(days=28)).snapshot == moments[1]
    assert [d.file for d in reader.found] == [f"registration/{chosen.name}", f"registration/{old.name}"]
    assert not old.exists()
