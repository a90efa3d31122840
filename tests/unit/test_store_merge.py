"""A write into a month file already in the store merges a row group at a time (issue 27, bounded memory for
imports): the file then holds what merging in memory gives — each id once (its last row), sorted by time then
id — in row groups of the set size, and the count of new ids is the same."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from sspr_review.ingest import normalize
from sspr_review.ingest.store import history
from sspr_review.ingest.store.history import Store

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _records(ids: range | list[int], reason: str, minutes: int) -> list[dict]:
    return [
        {
            "id": f"id-{i:03d}",
            "activityDateTime": (T0 + timedelta(minutes=(i * minutes) % 97)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "activityDisplayName": "Reset password (self-service)",
            "loggedByService": "Self-service Password Management",
            "result": "success",
            "resultReason": f"{reason} {i}",
        }
        for i in ids
    ]


def test_a_month_is_merged_a_row_group_at_a_time_as_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "ROW_GROUP_ROWS", 7)
    batches = [
        _records(range(30), "first", 13),
        _records([*range(20, 50), 25], "second", 29),  # overlaps the first; id-025 twice in one batch
        _records(range(5, 11), "third", 1),  # earlier than most: merged into the first row groups
        _records([60, 61, 62], "fourth", 0),  # the same time as id-000: ordered by id
    ]
    store = Store(tmp_path, "t")
    expected = pd.DataFrame()
    with store.writing():
        for records in batches:
            frame, _ = normalize.audit(records)
            new = int((~frame["id"].isin(expected.get("id", pd.Series(dtype=str)))).sum())
            assert store.write("audit", frame) == new
            expected = pd.concat([expected, frame], ignore_index=True).drop_duplicates("id", keep="last")
    expected = expected.sort_values(["activity_time", "id"], kind="stable").reset_index(drop=True)
    path = tmp_path / "t" / "audit" / "2026-11.parquet"
    stored = pd.read_parquet(path)
    pd.testing.assert_frame_equal(stored.drop(columns="fetched_at"), expected, check_dtype=True)
    assert stored.loc[stored["id"] == "id-007", "result_reason"].tolist() == ["third 7"]
    assert stored.loc[stored["id"] == "id-025", "result_reason"].tolist() == ["second 25"]
    sizes = [pq.ParquetFile(path).metadata.row_group(i).num_rows for i in range(pq.ParquetFile(path).num_row_groups)]
    assert sizes[:-1] == [7] * (len(sizes) - 1) and sum(sizes) == 53
    assert len(store.read("audit")) == 53  # the store's own read (checksums in the manifest) agrees
