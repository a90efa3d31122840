"""The SSPR configuration's audit events read with their records (``read_policy_events``): the same rows whether the
month files are scanned or taken from the cache, a month file rewritten by a fetch read again, and a cache that
cannot be read or written changing nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from sspr_review.ingest import normalize
from sspr_review.ingest.store import policy_events
from sspr_review.ingest.store.history import Store
from sspr_review.ingest.store.policy_events import CACHE, read_policy_events

T0 = datetime(2026, 11, 16, tzinfo=UTC)


def record(i: int, when: datetime, activity: str) -> dict:
    return {
        "id": f"id-{i}",
        "activityDateTime": when.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        "activityDisplayName": activity,
        "loggedByService": "Self-service Password Management",
        "result": "success",
        "initiatedBy": {"user": {"id": "a1", "userPrincipalName": "admin@x", "ipAddress": "10.0.0.1"}},
        "targetResources": [
            {
                "id": f"t{i}",
                "type": "Other",
                "modifiedProperties": [
                    {"displayName": "NumberOfMethodsRequired", "oldValue": '"2"', "newValue": '"1"'}
                ],
            }
        ],
    }


def reset(i: int, when: datetime) -> dict:
    return record(i, when, "Reset password (self-service)")


def update(i: int, when: datetime) -> dict:
    return record(i, when, "Update SSPR Settings")


def write(store: Store, records: list[dict]) -> None:
    with store.writing():
        store.write("audit", normalize.audit(records)[0])


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path, "t")
    october, november = T0 - timedelta(days=30), T0
    write(store, [reset(1, october), update(2, october + timedelta(hours=1)), reset(3, november), update(4, november)])
    return store


def scanned(store: Store) -> pd.DataFrame:
    """The rows read without any cache (the cache removed first)."""
    (store.path / CACHE).unlink(missing_ok=True)
    return read_policy_events(store)


def test_the_policy_events_with_their_records_oldest_first(store: Store) -> None:
    frame = read_policy_events(store)
    assert frame["id"].tolist() == ["id-2", "id-4"]
    assert frame["raw"].str.contains("NumberOfMethodsRequired").all()
    assert str(frame["raw"].dtype) == "string" and frame["raw"].dtype.na_value is pd.NA


def test_the_cache_gives_the_rows_a_scan_gives(store: Store) -> None:
    first = read_policy_events(store)
    assert (store.path / CACHE).exists()
    assert (store.path / CACHE).stat().st_mode & 0o077 == 0
    pd.testing.assert_frame_equal(read_policy_events(store), first)
    pd.testing.assert_frame_equal(scanned(store), first)


def test_a_month_file_rewritten_by_a_fetch_is_read_again(store: Store) -> None:
    read_policy_events(store)
    write(store, [update(5, T0 + timedelta(days=1))])
    assert read_policy_events(store)["id"].tolist() == ["id-2", "id-4", "id-5"]
    first = next(iter(sorted((store.path / "audit").glob("*.parquet"))))
    first.unlink()  # a month gone
    assert read_policy_events(store)["id"].tolist() == ["id-4", "id-5"]


def test_an_unreadable_cache_is_rebuilt(store: Store) -> None:
    expected = read_policy_events(store)
    (store.path / CACHE).write_bytes(b"not parquet")
    pd.testing.assert_frame_equal(read_policy_events(store), expected)
    pd.testing.assert_frame_equal(read_policy_events(store), expected)


def test_a_store_that_cannot_be_written_keeps_no_cache(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    expected = scanned(store)
    (store.path / CACHE).unlink()

    def refuse(path: Path, write: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(policy_events, "atomic_write", refuse)
    pd.testing.assert_frame_equal(read_policy_events(store), expected)
    assert not (store.path / CACHE).exists()


def test_a_month_of_many_row_groups_gives_its_changes_from_the_groups_that_hold_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 27: only the row groups holding a change are decoded; the rows are those of the whole file."""
    monkeypatch.setattr("sspr_review.ingest.store.history.ROW_GROUP_ROWS", 4)
    store = Store(tmp_path, "t")
    records = [(update if i in (2, 9, 10, 17) else reset)(i, T0 + timedelta(minutes=i)) for i in range(20)]
    write(store, records)
    frame = read_policy_events(store)
    assert frame["id"].tolist() == ["id-2", "id-9", "id-10", "id-17"]
    whole = store.read("audit", raw=True)
    expected = whole[whole["activity"] == "Update SSPR Settings"].reset_index(drop=True)
    pd.testing.assert_frame_equal(frame[expected.columns], expected, check_dtype=False)
