import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from sspr_review.core.errors import StoreError
from sspr_review.ingest import normalize
from sspr_review.ingest.store.history import Store

T0 = datetime(2026, 11, 16, tzinfo=UTC)


def audit_record(i: int, when: datetime, reason: str = "r") -> dict:
    return {
        "id": f"id-{i}",
        "activityDateTime": when.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        "activityDisplayName": "Reset password (self-service)",
        "loggedByService": "Self-service Password Management",
        "result": "success",
        "resultReason": reason,
        "targetResources": [{"id": f"u{i}", "type": "User", "userPrincipalName": f"u{i}@x"}],
    }


def write_audit(store: Store, records: list[dict]) -> int:
    frame, _ = normalize.audit(records)
    return store.write("audit", frame)


def test_write_is_idempotent_across_overlapping_windows_and_months(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    first = [audit_record(i, T0 - timedelta(days=20) + timedelta(days=i)) for i in range(10)]
    second = [audit_record(i, T0 - timedelta(days=20) + timedelta(days=i)) for i in range(5, 15)]
    with store.writing():
        assert write_audit(store, first) == 10
        assert write_audit(store, second) == 5
        assert write_audit(store, second) == 0
    frame = store.read("audit")
    assert sorted(frame["id"]) == sorted(f"id-{i}" for i in range(15))
    assert len(list((tmp_path / "t" / "audit").glob("*.parquet"))) == 2  # October and November


def test_read_filters_time_range_and_keeps_raw(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    with store.writing():
        write_audit(store, [audit_record(i, T0 + timedelta(hours=i)) for i in range(5)])
    part = store.read("audit", T0 + timedelta(hours=1), T0 + timedelta(hours=3), raw=True)
    assert part["id"].tolist() == ["id-1", "id-2"]
    assert json.loads(part["raw"].iloc[0])["id"] == "id-1"
    assert store.read("audit", T0 - timedelta(days=90), T0 - timedelta(days=60)).empty


def test_risk_newest_last_updated_wins(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    base = {"id": "r1", "riskEventType": "leakedCredentials", "detectedDateTime": "2026-11-10T08:00:00Z"}
    newer = base | {"riskState": "remediated", "lastUpdatedDateTime": "2026-11-12T08:00:00Z"}
    older = base | {"riskState": "atRisk", "lastUpdatedDateTime": "2026-11-10T09:00:00Z"}
    with store.writing():
        store.write("risk", normalize.risk([newer])[0])
        store.write("risk", normalize.risk([older])[0])  # a late re-read of an older state must not win
    assert store.read("risk")["risk_state"].tolist() == ["remediated"]


def test_coverage_tells_no_data_from_no_events(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    week = (T0, T0 + timedelta(days=7))
    assert not store.coverage("audit", *week).available
    assert "no audit data yet" in (store.coverage("audit", *week).reason or "")
    with store.writing():
        store.record_interval("audit", T0 - timedelta(days=1), T0 + timedelta(days=3))
        store.record_interval("audit", T0 + timedelta(days=3), T0 + timedelta(days=8))
        store.record_failure("risk", *week, "permission", "needs IdentityRiskEvent.Read.All")
    cov = store.coverage("audit", *week)
    assert cov.complete and cov.start == T0 and cov.end == week[1]
    assert store.read("audit", *week).empty  # covered and empty: zero events, truthfully
    risk = store.coverage("risk", *week)
    assert not risk.available and risk.reason == "needs IdentityRiskEvent.Read.All"
    later = store.coverage("audit", T0 + timedelta(days=7), T0 + timedelta(days=14))
    assert later.available and not later.complete and "part of this window" in (later.reason or "")


def snapshot_store(tmp_path: Path, *moments: datetime) -> Store:
    store = Store(tmp_path, "t")
    frame, _ = normalize.registration([{"id": "u1", "isSsprRegistered": True}], T0)
    with store.writing():
        for moment in moments:
            store.write_snapshot("registration", frame.drop(columns="raw"), moment)
            store.record_snapshot("registration", moment)
    return store


def test_snapshot_coverage(tmp_path: Path) -> None:
    store = snapshot_store(tmp_path, T0 + timedelta(hours=5))
    week = store.coverage("registration", T0 - timedelta(days=7), T0)
    assert week.complete and not week.approximate and week.reason is None
    assert week.snapshot == T0 + timedelta(hours=5) and week.offset == timedelta(hours=5)
    assert week.snapshot_note() == "snapshot of 2026-11-16 05:00 UTC, 5 hours after the week's end"
    # a catch-up review of a week long gone uses the one snapshot there is, and says it is approximate
    old = store.coverage("registration", T0 - timedelta(days=28), T0 - timedelta(days=21))
    assert old.complete and old.approximate and old.snapshot == T0 + timedelta(hours=5)
    assert old.offset_days == 21.2
    assert "no registration snapshot within 7 days" in (old.reason or "")
    assert "21.2 days after the week's end" in (old.reason or "")
    later = store.coverage("registration", T0 + timedelta(days=14), T0 + timedelta(days=21))
    assert later.complete and later.approximate and "before the week's end" in (later.reason or "")
    assert len(store.read("registration", T0, T0 + timedelta(days=1))) == 1
    none = Store(tmp_path, "other").coverage("registration", T0, T0 + timedelta(days=7))
    assert not none.available and not none.complete and none.reason == "no registration snapshot yet"


def test_a_snapshot_beyond_snapshot_max_days_is_no_data(tmp_path: Path) -> None:
    """A catch-up review a season back does not take today's registration state for that week's (issue 25)."""
    store = snapshot_store(tmp_path, T0 + timedelta(hours=5))
    limit = timedelta(days=35)
    near = store.coverage("registration", T0 - timedelta(days=28), T0 - timedelta(days=21), max_distance=limit)
    assert near.complete and near.approximate  # 21.2 days: used, shown as approximate
    far = store.coverage("registration", T0 - timedelta(days=525), T0 - timedelta(days=518), max_distance=limit)
    assert not far.available and not far.complete and not far.approximate and far.snapshot is None
    assert far.state() == "no data"
    assert far.reason == (
        "no registration snapshot within 35 days of the week's end ([review] snapshot_max_days); the nearest is of"
        " 2026-11-16 05:00 UTC, 518.2 days after the week's end"
    )


def test_a_week_uses_the_snapshot_nearest_to_its_end(tmp_path: Path) -> None:
    end = T0 + timedelta(hours=5)  # Monday 00:00 in New York
    daily = [end + timedelta(days=d, hours=h) for d in range(-10, 9) for h in (0.5,)]
    store = snapshot_store(tmp_path, *daily)
    cov = store.coverage("registration", end - timedelta(days=7), end)
    assert cov.snapshot == end + timedelta(hours=0.5)  # not the newest within the tolerance, six days later
    # the week before uses its own end's snapshot: last week's numbers come from a week earlier
    before = store.coverage("registration", end - timedelta(days=14), end - timedelta(days=7))
    assert before.snapshot == end - timedelta(days=7) + timedelta(hours=0.5) and not before.approximate
    # a Tuesday-afternoon fetch after the week is within the tolerance: complete, not approximate
    tuesday = snapshot_store(tmp_path / "tuesday", end + timedelta(hours=33))
    cov = tuesday.coverage("registration", end - timedelta(days=7), end)
    assert (
        cov.complete
        and not cov.approximate
        and cov.snapshot_note() == ("snapshot of 2026-11-17 14:00 UTC, 33 hours after the week's end")
    )
    # beyond the tolerance: the newest one before, else the oldest one after
    two = snapshot_store(tmp_path / "two", end - timedelta(days=20), end + timedelta(days=20))
    assert two.coverage("registration", end - timedelta(days=7), end).snapshot == end - timedelta(days=20)
    wide = two.coverage("registration", end - timedelta(days=7), end, tolerance=timedelta(days=30))
    assert wide.snapshot == end + timedelta(days=20) and not wide.approximate  # equally near: the later one
    first = two.coverage("registration", end - timedelta(days=37), end - timedelta(days=30))
    assert first.snapshot == end - timedelta(days=20) and first.approximate


def test_snapshot_of_a_day_is_the_last_written_that_day(tmp_path: Path) -> None:
    """Two fetches on one UTC day: the day's file holds the later one, so coverage names the later one."""
    end = T0 + timedelta(hours=5)
    store = snapshot_store(tmp_path, end + timedelta(hours=1), end + timedelta(hours=9))
    assert store.snapshot_moments("registration") == [end + timedelta(hours=9)]
    (store.path / "registration" / "2026-11-16.parquet").unlink()  # a snapshot whose file is gone is not used
    assert not store.coverage("registration", end - timedelta(days=7), end).available


def test_writes_need_the_lock_and_one_writer_at_a_time(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    with pytest.raises(StoreError, match=r"inside Store\.writing"):
        store.record_interval("audit", T0, T0)
    with store.writing(), pytest.raises(StoreError, match="another fetch"), Store(tmp_path, "t").writing():
        pass


def test_crash_leftovers_are_ignored_and_cleaned(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    with store.writing():
        write_audit(store, [audit_record(1, T0)])
    junk = tmp_path / "t" / "audit" / ".tmp-deadbeef.parquet"
    junk.write_bytes(b"half a file")
    assert store.read("audit")["id"].tolist() == ["id-1"]
    with store.writing():
        pass
    assert not junk.exists()


def test_unknown_table_and_bad_tenant(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unknown table"):
        Store(tmp_path, "t").read("sign_ins")
    with pytest.raises(StoreError, match="invalid tenant"):
        Store(tmp_path, "../x")


def test_a_table_never_written_reads_empty_with_the_written_columns_and_types(tmp_path: Path) -> None:
    """A known table with nothing stored yet is an empty frame shaped like one read back after a write, so the
    analyses can select and compare its columns; ``raw=True`` adds the raw text column there too."""
    never = Store(tmp_path, "t").read("privileged")
    store = Store(tmp_path, "u")
    frame = normalize.privileged(
        [{"id": "r1", "displayName": "Global Administrator"}],
        [{"roleDefinitionId": "r1", "principalId": "u1"}],
        [],
        {},
        T0,
    )
    with store.writing():
        store.write_snapshot("privileged", frame, T0)
    written = store.read("privileged")
    assert len(written) == 1 and written.loc[0, "role_name"] == "Global Administrator"
    assert never.empty
    assert never.dtypes.to_dict() == written.dtypes.to_dict()
    audit = Store(tmp_path, "t").read("audit", T0, T0 + timedelta(days=7), raw=True)
    assert audit.empty and "raw" in audit.columns and "activity" in audit.columns


def test_store_files_and_folders_are_owner_only(tmp_path: Path) -> None:
    store = Store(tmp_path / "new" / "root", "t")
    with store.writing():
        write_audit(store, [audit_record(1, T0)])
        store.record_interval("audit", T0, T0 + timedelta(hours=1))
    for path in [tmp_path / "new", store.path, store.path / "audit", *store.path.rglob("*")]:
        mode = path.stat().st_mode & 0o777
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_policy_snapshots_by_day(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    assert store.read_policy() is None
    with store.writing():
        store.write_policy({"v": 1}, T0)
        store.write_policy({"v": 2}, T0 + timedelta(days=7))
    assert store.read_policy() == (T0 + timedelta(days=7), {"v": 2})
    assert store.read_policy(T0 + timedelta(days=3)) == (T0, {"v": 1})
    assert store.read_policy(T0 - timedelta(days=1)) is None


@pytest.mark.parametrize("compact", [False, True])
def test_a_read_holds_each_text_column_in_one_piece(tmp_path: Path, compact: bool) -> None:
    # Read from several files (and row groups), a text column comes in pieces; the read joins them, so a pick of a
    # few rows does not make Arrow join the whole column each time. The values are those written, in order.
    store = Store(tmp_path, "t")
    records = [audit_record(i, T0 - timedelta(days=30) + timedelta(hours=7 * i)) for i in range(200)]
    with store.writing():
        write_audit(store, records)
    assert len(list((tmp_path / "t" / "audit").glob("*.parquet"))) == 3  # October to December
    for frame in (
        store.read("audit", T0 - timedelta(days=40), T0 + timedelta(days=40), compact=compact),
        store.read("audit", compact=compact),
    ):
        assert frame["id"].tolist() == [f"id-{i}" for i in range(200)]
        assert frame["id"].dtype == "string"
        assert getattr(pa.array(frame["id"].array), "num_chunks", 1) == 1  # an Array, or a ChunkedArray of one
