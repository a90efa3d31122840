"""The store's aggregate files (ingest/store/aggregates.py): read back by key, by part and by column, written in
row groups ordered by part so that a read of one part skips the others; and the signatures the weeks' aggregates
are kept under; and each week's per-account parts, one file per week, read together."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from sspr_review.analysis.aggregates import reach
from sspr_review.app.aggregates import week_signatures
from sspr_review.core.settings import AnalysisSettings
from sspr_review.ingest.store import Store
from sspr_review.ingest.store.aggregates import (
    ROW_GROUP_ROWS,
    read_aggregate,
    read_week_parts,
    signature,
    write_aggregate,
    write_week_parts,
)
from sspr_review.ingest.store.snapshots import month_overlaps


def _rows(weeks: range, part: str, per_week: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week_start": [w * 7 for w in weeks for _ in range(per_week)],
            "week_end": [w * 7 + 7 for w in weeks for _ in range(per_week)],
            "part": part,
            "user_id": [f"u{w}-{i}" for w in weeks for i in range(per_week)],
            "value": 1.0,
        }
    )


def test_a_read_takes_its_key_part_and_columns_only(tmp_path: Path) -> None:
    fixes, week_rows = _rows(range(3), "fix", 4), _rows(range(3), "week", 1)
    write_aggregate(tmp_path, "weeks", "k1", pd.concat([week_rows, fixes]))

    got = read_aggregate(tmp_path, "weeks", "k1", columns=["week_end", "user_id"], where=[("part", "==", "fix")])
    assert list(got.columns) == ["week_end", "user_id"]
    assert sorted(got["user_id"]) == sorted(fixes["user_id"])

    got = read_aggregate(tmp_path, "weeks", "k1", where=[("part", "==", "fix"), ("week_end", "in", [14])])
    assert sorted(got["user_id"]) == ["u1-0", "u1-1", "u1-2", "u1-3"]
    assert "key" not in got
    assert read_aggregate(tmp_path, "weeks", "another key").empty


def test_a_file_without_the_columns_asked_for_reads_as_nothing_kept(tmp_path: Path) -> None:
    folder = tmp_path / "aggregates"
    folder.mkdir()
    pd.DataFrame({"week_end": [7]}).to_parquet(folder / "weeks.parquet")  # an older layout, without key or part
    assert read_aggregate(tmp_path, "weeks", "k1", where=[("part", "==", "week")]).empty
    (folder / "weeks.parquet").write_bytes(b"not parquet")
    assert read_aggregate(tmp_path, "weeks", "k1").empty


def test_the_weeks_file_is_written_in_row_groups_by_part(tmp_path: Path) -> None:
    many = ROW_GROUP_ROWS // 2 + 1
    # written twice, each time some of every part: the file still holds each part in its own row groups
    for weeks in (range(0, 2), range(2, 4)):
        rows = pd.concat([_rows(weeks, "week", 1), _rows(weeks, "fix", many // 2), _rows(weeks, "method", 3)])
        write_aggregate(tmp_path, "weeks", "k1", rows)
    meta = pq.ParquetFile(tmp_path / "aggregates" / "weeks.parquet").metadata
    part = meta.schema.to_arrow_schema().get_field_index("part")
    spans = [
        (meta.row_group(g).column(part).statistics.min, meta.row_group(g).column(part).statistics.max)
        for g in range(meta.num_row_groups)
    ]
    assert meta.num_row_groups > 1
    week_groups = [span for span in spans if span[0] <= "week" <= span[1]]
    assert len(week_groups) == 1 and week_groups[0][0] != "fix"  # the week rows are not spread among the fixes
    assert len(read_aggregate(tmp_path, "weeks", "k1", where=[("part", "==", "week")])) == 4


def test_a_weeks_signature_names_the_month_files_a_bounded_read_of_its_reach_opens(tmp_path: Path) -> None:
    # Each week's signature covers the audit files of its reach and the risk files of the week: exactly the month
    # files month_overlaps picks (undated and oddly named files never), checked against that rule week by week.
    store = Store(tmp_path, "t")
    for table, stems in {
        "audit": ["2025-11", "2025-12", "2026-01", "2026-03", "2026-04", "undated", "notes"],
        "risk": ["2025-12", "2026-02", "2026-04"],
    }.items():
        (store.path / table).mkdir(parents=True, exist_ok=True)
        for i, stem in enumerate(stems):
            (store.path / table / f"{stem}.parquet").write_bytes(b"x" * (i + 1))
    settings = AnalysisSettings()
    first = pd.Timestamp("2025-11-03", tz="UTC")
    bounds = np.array([(first + timedelta(weeks=w)).value for w in range(27)], dtype=np.int64)
    got = week_signatures(store, bounds, settings)
    before, after = reach(settings)
    audit, risk = store.listed("audit"), store.listed("risk")
    for row in got.itertuples():
        start, end = pd.Timestamp(row.week_start, tz="UTC"), pd.Timestamp(row.week_end, tz="UTC")
        files = [f for f in audit if month_overlaps(f.stem, start - before, end + after)]
        files += [f for f in risk if month_overlaps(f.stem, start, end)]
        assert row.signature == signature(files), (start, [f.name for f in files])
    assert got["signature"].nunique() > 10


def _parts(week_end: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week_end": week_end,
            "part": ["ip", "ip", "fix", "reset"],
            "user_id": ["a", "b", "a", "c"],
            "time": pd.array([week_end - 3, week_end - 2, week_end - 1, None], dtype="Int64"),
        }
    )


def test_each_weeks_parts_are_one_file_read_together_by_part_and_week(tmp_path: Path) -> None:
    for end in (7, 14, 21):
        write_week_parts(tmp_path, "k1", end, f"s{end}", _parts(end))
    weeks = [(7, "s7"), (14, "s14"), (21, "s21")]
    where = (ds.field("part") == "ip") & (ds.field("week_end") > 7)
    table, lost = read_week_parts(tmp_path, "k1", weeks, ["week_end", "user_id", "time"], where)
    assert lost == [] and table is not None
    got = table.to_pandas()
    assert sorted(got["week_end"]) == [14, 14, 21, 21] and set(got["part"]) == {"ip"}
    assert sorted(got["time"]) == [11, 12, 18, 19]  # the nanosecond integers as written
    # a week kept under another signature (its files changed) or another key, or whose file went, is lost
    _, lost = read_week_parts(tmp_path, "k1", [(7, "s7"), (14, "other")], ["user_id"], ds.field("part") == "ip")
    assert lost == [14]
    _, lost = read_week_parts(tmp_path, "k2", weeks, ["user_id"], ds.field("part") == "ip")
    assert lost == [7, 14, 21]


def test_a_weeks_new_parts_replace_its_old_file_and_a_damaged_one_is_lost(tmp_path: Path) -> None:
    write_week_parts(tmp_path, "k1", 7, "old", _parts(7))
    write_week_parts(tmp_path, "k1", 14, "s14", _parts(14))
    write_week_parts(tmp_path, "k2", 7, "new", _parts(7).iloc[:1])
    folder = tmp_path / "aggregates" / "weeks"
    assert sorted(p.name for p in folder.iterdir()) == ["14.k1.s14.parquet", "7.k2.new.parquet"]
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in folder.iterdir())
    (folder / "14.k1.s14.parquet").write_bytes(b"not parquet")
    write_week_parts(tmp_path, "k1", 21, "s21", _parts(21))
    table, lost = read_week_parts(tmp_path, "k1", [(14, "s14"), (21, "s21")], ["user_id"], ds.field("part") == "fix")
    assert lost == [14] and table is not None and table.column("user_id").to_pylist() == ["a"]
