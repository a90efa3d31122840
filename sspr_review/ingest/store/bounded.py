"""Time-bounded reads of the store's time-ranged tables: the month files a time range touches (partition pruning,
done by :meth:`~.history.Store.read` when it lists the files), read as one Arrow dataset filtered on the time
column, so Parquet row groups outside the range are skipped by their statistics and only the rows inside are
decoded; the store's first record of a table, from the statistics alone; and many small files (a year of
snapshots) read as one table (:func:`read_files`).

A table's files are written sorted by time in row groups of :data:`ROW_GROUP_ROWS` rows
(:meth:`~.history.Store.write`), so a week's read of a month file decodes about that week.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ...core import schema
from .compact import with_table_dtypes

#: Rows per Parquet row group in the time-ranged tables' files (a day or two of a 100,000-user tenant).
ROW_GROUP_ROWS: Final = 16_384


def _unified_schema(files: Sequence[Path], wanted: Sequence[str], categorical: Sequence[str]) -> pa.Schema:
    """One schema for every file (a column all missing in one month may be typed null there), the
    ``categorical`` columns read as dictionaries."""
    unified = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
    fields = []
    for name in wanted:
        if name in unified.names:
            field = unified.field(name)
            if name in categorical:
                field = field.with_type(pa.dictionary(pa.int32(), pa.string()))
            fields.append(field)
    return pa.schema(fields)


def read_bounded(
    files: Sequence[Path],
    table: str,
    wanted: Sequence[str],
    time_column: str,
    start: datetime | None,
    end: datetime | None,
    *,
    categorical: Sequence[str] = (),
) -> pd.DataFrame:
    """The rows of ``files`` with ``time_column`` in ``[start, end)``, columns ``wanted`` typed per the schema
    (``categorical`` ones as categoricals: each distinct text held once). Row groups wholly outside the range are
    not read."""
    spec = schema.TABLES[table]
    files = [f for f in files if f.exists()]
    if not files:
        out = schema.empty(table)[[c for c in wanted if c in spec]]
        if "raw" in wanted:
            out["raw"] = pd.Series(dtype="string")
        return out.astype({c: "category" for c in categorical if c in out})
    categorical = [c for c in categorical if c in wanted]
    unified = _unified_schema(files, [*wanted, *([time_column] if time_column not in wanted else [])], categorical)
    parquet = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=categorical))
    dataset = ds.dataset([str(f) for f in files], schema=unified, format=parquet)
    stamp = unified.field(time_column).type
    condition = pc.is_valid(ds.field(time_column))
    if start is not None:
        condition = condition & (ds.field(time_column) >= pa.scalar(pd.Timestamp(start), stamp))
    if end is not None:
        condition = condition & (ds.field(time_column) < pa.scalar(pd.Timestamp(end), stamp))
    found = dataset.to_table(columns=[c for c in wanted if c in unified.names], filter=condition)
    frame = found.to_pandas(split_blocks=True, self_destruct=True)
    for col in wanted:
        if col not in frame:
            frame[col] = schema.empty(table)[col] if col in spec else pd.Series(dtype="string")
    return with_table_dtypes(frame[list(wanted)], spec, categorical)


def first_time(files: Sequence[Path], time_column: str) -> datetime | None:
    """The earliest ``time_column`` value in ``files`` (their row groups' statistics; the column itself when a
    file has none), ``None`` when they hold no dated row. ``files`` are in time order (month files)."""
    best: pd.Timestamp | None = None
    for file in files:
        if not file.exists():
            continue
        meta = pq.ParquetFile(file).metadata
        index = meta.schema.to_arrow_schema().get_field_index(time_column)
        if index < 0:
            continue
        lows = []
        for g in range(meta.num_row_groups):
            stats = meta.row_group(g).column(index).statistics
            if stats is None or not stats.has_min_max:
                if meta.row_group(g).num_rows and (stats is None or stats.null_count != meta.row_group(g).num_rows):
                    lows = [pc.min(pq.read_table(file, columns=[time_column]).column(0)).as_py()]
                    break
                continue
            lows.append(stats.min)
        for low in lows:
            if low is not None:
                value = pd.Timestamp(low)
                value = value.tz_localize(UTC) if value.tzinfo is None else value.tz_convert(UTC)
                best = value if best is None or value < best else best
        if best is not None:
            break  # files are months in order: the first one holding a dated row has the earliest
    return best  # a pandas Timestamp (a datetime keeping the nanoseconds)


def read_files(files: Sequence[Path], columns: Sequence[str]) -> pa.Table | None:
    """``columns`` of ``files`` as one Arrow table (``None`` for no file): scanned as one dataset (a year of
    snapshots is a hundred small files), else, when one went missing meanwhile or their columns differ, file by
    file (a file gone is left out, the columns made one)."""
    if not files:
        return None
    with contextlib.suppress(FileNotFoundError, pa.ArrowException):
        return ds.dataset([str(f) for f in files], format="parquet").to_table(columns=list(columns))
    tables = []
    for file in files:
        with contextlib.suppress(FileNotFoundError):
            tables.append(pq.read_table(file, columns=list(columns)))
    return pa.concat_tables(tables, promote_options="permissive") if tables else None
