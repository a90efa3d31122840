"""Compact reads of the store: a year of a large tenant read with Arrow, its repeating texts as categoricals, and
Arrow's memory handed back to the system as the read goes."""

from __future__ import annotations

import contextlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final, cast

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...core import schema

#: The string columns a compact read turns into categoricals: those whose values repeat over many rows (an
#: activity name, a reason text, a user's id and UPN on every event of the user). Ids that are distinct per row or
#: per few rows (record ids, correlation ids) and the registration report's user columns (one row per user and
#: snapshot) stay strings: a categorical would cost more time to build than it saves memory.
COMPACT_COLUMNS: Final[dict[str, frozenset[str]]] = {
    "audit": frozenset(c for c, t in schema.AUDIT.items() if t == schema.STR) - {"id", "correlation_id"},
    "risk": frozenset(
        {"risk_event_type", "risk_state", "risk_level", "risk_detail", "source", "detection_timing_type", "activity"}
    ),
    "registration": frozenset({"user_type", "methods_registered"}),
    "privileged": frozenset(),
}


#: How soon a review's freed Arrow pages go back to the system: its read frees each column's row-group pieces once
#: the column is joined (:func:`whole_strings`) and its preparation frees large temporaries; within a second, they
#: would all be held at once (about 60 MB more at 100,000 users, 100 MB at 500,000), and at once costs a fifth of
#: a second in returning and faulting pages back.
REVIEW_DECAY_MS: Final = 100


@contextlib.contextmanager
def lean_arrow_memory(*, decay_ms: int | None = None) -> Iterator[None]:
    """Within the block, Arrow allocates from jemalloc when pyarrow has it, and returns what it freed at the end.

    pyarrow's default allocator on most platforms, mimalloc, keeps the pages of freed arrays: reading and
    preparing a year of a large tenant leaves hundreds of MB of them (about 400 MB more peak memory, and a
    slower review, at 500,000 users). jemalloc gives them back within a second. The previous default pool is
    restored afterwards (arrays keep the pool they came from). This chooses the pool of the calls made from
    Python; Arrow's C++ code (Parquet decoding, dataset scans) takes the process's pool, which
    ``sspr_review/__init__.py`` makes jemalloc in the kit's own processes (:data:`sspr_review.ARROW_POOL_VARIABLE`).

    ``decay_ms``: jemalloc gives freed pages back after that many milliseconds rather than within a second: 0 for a
    fetch (its merges free a month file's row groups one after another: about 100 MB less peak memory),
    :data:`REVIEW_DECAY_MS` for a review. It holds for the process's jemalloc arenas created from then on, which is
    all of them when this block is the first to use the pool.
    """
    previous = pa.default_memory_pool()
    pool = None
    if "jemalloc" in pa.supported_memory_backends():
        with contextlib.suppress(NotImplementedError, pa.ArrowException):
            if decay_ms is not None:
                pa.jemalloc_set_decay_ms(decay_ms)
            pool = pa.jemalloc_memory_pool()
    if pool is not None:
        pa.set_memory_pool(pool)
    try:
        yield
    finally:
        release_arrow_memory()
        if pool is not None:
            pa.set_memory_pool(previous)


def release_arrow_memory() -> None:
    """Hand the memory Arrow's allocator kept after large temporary arrays back to the system."""
    pa.default_memory_pool().release_unused()


#: Columns converted together by a compact read: the decoded Parquet pages of one group are released before the
#: next group is read, which bounds the read's peak memory to about the frame plus one group.
_COMPACT_GROUP = 4


def read_compact(
    files: Sequence[Path],
    table: str,
    wanted: list[str],
    start: datetime | None,
    end: datetime | None,
    time_column: str | None,
) -> pd.DataFrame:
    """Read ``files`` with Arrow, repeating string columns dictionary-encoded, into one frame in which those
    columns are categoricals (each distinct text held once, however many rows repeat it).

    Every file is opened once and read a few columns at a time (each group is converted and its Arrow memory
    released before the next is read). The open files keep the rows consistent across groups even if a fetch
    replaces a file meanwhile (it renames a new file over the old path; the open file is the old one). Rows
    are kept by ``time_column`` in ``[start, end)`` when it is given.
    """
    spec = schema.TABLES[table]
    dictionary = [c for c in wanted if c in COMPACT_COLUMNS[table]]
    with contextlib.ExitStack() as stack:
        handles = []
        for file in files:
            with contextlib.suppress(FileNotFoundError):
                handle = pq.ParquetFile(file, read_dictionary=dictionary)
                stack.callback(handle.close)
                handles.append(handle)
        if not handles:
            out = schema.empty(table)[[c for c in wanted if c in spec]]
            if "raw" in wanted:
                out["raw"] = pd.Series(dtype="string")
            for col in dictionary:
                out[col] = out[col].astype("category")
            return out
        mask = None
        if time_column is not None and (start is not None or end is not None):
            times = pa.chunked_array(
                [c for h in handles for c in h.read(columns=[time_column]).column(0).chunks],
                type=handles[0].schema_arrow.field(time_column).type,
            )
            mask = pc.is_valid(times)
            if start is not None:
                mask = pc.and_(mask, pc.greater_equal(times, pa.scalar(pd.Timestamp(start), times.type)))
            if end is not None:
                mask = pc.and_(mask, pc.less(times, pa.scalar(pd.Timestamp(end), times.type)))
        pieces = []
        for i in range(0, len(wanted), _COMPACT_GROUP):
            columns = wanted[i : i + _COMPACT_GROUP]
            group = pa.concat_tables([h.read(columns=columns) for h in handles], promote_options="permissive")
            if mask is not None:
                group = group.filter(mask)
            pieces.append(group.to_pandas(split_blocks=True, self_destruct=True))
            del group
            release_arrow_memory()  # the decoded pages go back to the system now
    frame = pd.concat(pieces, axis=1) if len(pieces) > 1 else pieces[0]
    return with_table_dtypes(frame, spec, dictionary)


def whole_strings(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each Arrow-backed text column in one piece, in place. Read from many row groups, such a column
    comes in as many chunks, and then every pick of rows from it (``iloc``, a filter) made Arrow concatenate the
    whole column first: 15 ms for 500 rows of a quarter's record ids at 100,000 users, against 0.01 ms. Joined
    column by column once the frame is built, so only one column is held twice at a time."""
    for col in frame.columns:
        values = frame[col].array
        if isinstance(values, pd.arrays.ArrowStringArray):
            chunked = pa.array(values)  # the column's own chunks (a ChunkedArray), not a copy
            if isinstance(chunked, pa.ChunkedArray) and chunked.num_chunks > 1:
                frame[col] = pd.Series(type(values)(chunked.combine_chunks()), index=frame.index, dtype=values.dtype)
    return frame


def with_table_dtypes(frame: pd.DataFrame, spec: Mapping[str, str], keep: Collection[str]) -> pd.DataFrame:
    """``frame`` with each column in its table's dtype (``raw`` as string), except the columns in ``keep`` (read
    as dictionaries: categories), its text in one piece per column (:func:`whole_strings`), and a fresh index."""
    for col in frame.columns:
        if col in keep:
            continue
        dtype = spec.get(col, schema.STR if col == "raw" else None)
        if dtype is not None and str(frame[col].dtype) != dtype:
            frame[col] = frame[col].astype(cast(Any, dtype))  # a dtype's name from the schema
    result: pd.DataFrame = whole_strings(frame).reset_index(drop=True)
    return result
