"""Merging new rows into a month file of a time-ranged table a row group at a time, so that a write holds one row
group of the file and the new rows, never the whole month (a big import writes a month of 10^6 events in
batches: reading and rewriting it whole each time would hold it whole, over a gigabyte).

The result is what merging in memory gives (:meth:`~.history.Store.write`): the file's rows whose id is not among
the new ones, then the new rows each id once (its last row), sorted by time then id (missing times last), in row
groups of a fixed number of rows. The file was written that way, so each of its row groups is merged with the new
rows that sort before its end.
"""

from __future__ import annotations

from bisect import bisect_right
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

#: A time that sorts after every real one (rows without a time sort last).
_NO_TIME = 2**63
#: Ids of a month file read at a time when counting the new ones.
_ID_ROWS = 65_536


def castable(old: Path, part: pa.Schema) -> bool:
    """Whether ``old``'s columns are ``part``'s, in order, and convert to their types (else merge in memory)."""
    try:
        pq.read_schema(old).empty_table().cast(part)
    except (ValueError, TypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    return True


def new_rows(old: Path, ids: pd.Series) -> int:
    """How many of ``ids`` (the new rows' ids) ``old`` does not hold (its id column alone is read, a row group at
    a time: each id is in one row group at most, so the ids held add up)."""
    given = pa.array(ids, type=pa.large_string())
    held = 0
    for batch in pq.ParquetFile(old).iter_batches(batch_size=_ID_ROWS, columns=["id"]):
        held += int(pc.sum(pc.is_in(given, value_set=batch.column(0))).as_py() or 0)
    return len(ids) - held


def as_table(part: pd.DataFrame, time_column: str) -> pa.Table:
    """``part`` as Arrow, each id once (its last row), sorted by time then id."""
    table = pa.Table.from_pandas(part.drop_duplicates("id", keep="last"), preserve_index=False)
    return _sorted(table, time_column)


def _sorted(table: pa.Table, time_column: str) -> pa.Table:
    keys = [(time_column, "ascending", "at_end"), ("id", "ascending", "at_end")]
    return table.take(pc.sort_indices(table, options=pc.SortOptions(keys)))


def _keys(table: pa.Table, time_column: str) -> list[tuple[int, str]]:
    times = table.column(time_column).cast(pa.int64()).to_pylist()
    ids = table.column("id").to_pylist()
    return [(_NO_TIME if at is None else at, key) for at, key in zip(times, ids, strict=True)]


def merge_into(out: Path, *, old: Path, part: pa.Table, time_column: str, row_group_rows: int) -> None:
    """Write to ``out`` the rows of ``old`` whose id is not in ``part`` merged with ``part`` (from :func:`as_table`),
    sorted by time then id, in row groups of ``row_group_rows`` rows; ``old`` is read a row group at a time."""
    ids = part.column("id")
    keys = _keys(part, time_column)
    taken = 0
    pending: list[pa.Table] = []
    held = 0
    with pq.ParquetWriter(out, part.schema, compression="zstd") as writer:

        def emit(rows: pa.Table, *, final: bool = False) -> None:
            nonlocal held, pending
            pending.append(rows)
            held += rows.num_rows
            if held < row_group_rows and not final:
                return
            joined = pa.concat_tables(pending)
            full = joined.num_rows if final else joined.num_rows - joined.num_rows % row_group_rows
            for start in range(0, full, row_group_rows):
                writer.write_table(joined.slice(start, min(row_group_rows, full - start)))
            pending, held = [joined.slice(full)], joined.num_rows - full

        for batch in pq.ParquetFile(old).iter_batches(batch_size=row_group_rows):
            rows = pa.Table.from_batches([batch]).cast(part.schema)
            rows = rows.filter(pc.invert(pc.is_in(rows.column("id"), value_set=ids)))
            if not rows.num_rows:
                continue
            end = bisect_right(keys, _keys(rows.slice(rows.num_rows - 1), time_column)[0], lo=taken)
            emit(_sorted(pa.concat_tables([rows, part.slice(taken, end - taken)]), time_column))
            taken = end
        emit(part.slice(taken), final=True)
