"""The audit events that change the SSPR configuration, with the records as received: :func:`read_policy_events`.

The review reads the audit table without ``raw`` (a year of a large tenant's JSON is the store's largest column),
but the changes of the SSPR policy are only in ``raw`` (``targetResources[].modifiedProperties``). They are a
handful a week, in every month file: reading ``raw`` for them would decode the whole column on every review. So
the rows are picked out once per month file (its ``activity`` column read first; ``raw`` decoded only in the row
groups that hold one) and kept in ``cache/policy-events.parquet`` with, per month file, the identity of the file they
came from (inode, size, modification time): a later review reads only the month files that changed since (a fetch
rewrites the current month's). The cache is derived data, written atomically and owner-only like the rest of the
store; one that cannot be read is rebuilt, and one that cannot be written (a read-only store) is simply not kept:
the rows returned are the same either way.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...core import schema
from ...core.files import atomic_write
from ...core.vocabulary import POLICY_ACTIVITIES
from .history import Store

__all__ = ["CACHE", "read_policy_events"]

#: Where the rows are kept, in the tenant's folder.
CACHE: Final = Path("cache") / "policy-events.parquet"
_FORMAT: Final = "1"
_FILE: Final = "_file"  # the cache's column naming the month file a row came from
_COLUMNS: Final = [*schema.AUDIT, "raw"]

Key = list[int]


def _identity(stat: os.stat_result) -> Key:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns]


def _empty() -> pd.DataFrame:
    out = schema.empty("audit")
    out["raw"] = pd.Series(dtype="string")
    return out


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    out = schema.conform(frame, "audit")
    raw = frame["raw"].to_numpy() if "raw" in frame else [None] * len(out)
    out["raw"] = pd.array(raw, dtype="string")
    return out


def _scan(file: Path) -> tuple[Key, pd.DataFrame]:
    """The policy events of one month file, and the identity of the file read."""
    with open(file, "rb") as fh:
        key = _identity(os.fstat(fh.fileno()))
        handle = pq.ParquetFile(fh)
        activity = handle.read(columns=["activity"]).column(0)
        names = pa.array(sorted(POLICY_ACTIVITIES))
        mask = pc.fill_null(pc.is_in(pc.utf8_lower(pc.utf8_trim_whitespace(activity)), value_set=names), False)
        if not pc.any(mask).as_py():
            return key, _empty()
        present = [c for c in _COLUMNS if c in handle.schema_arrow.names]
        pieces, start = [], 0
        for group in range(handle.num_row_groups):  # only the row groups holding one are decoded, one at a time
            rows = handle.metadata.row_group(group).num_rows
            inside = mask.slice(start, rows)
            if pc.any(inside).as_py():
                pieces.append(handle.read_row_group(group, columns=present).filter(inside))
            start += rows
        picked = pa.concat_tables(pieces).to_pandas()
    return key, _typed(picked)


def _load(path: Path) -> tuple[dict[str, Key], pd.DataFrame]:
    """The cache's index (month file name → identity) and rows; empty when there is none or it is unreadable."""
    try:
        table = pq.read_table(path)
        meta = table.schema.metadata or {}
        if meta.get(b"format") != _FORMAT.encode():
            return {}, pd.DataFrame()
        index = json.loads(meta[b"index"])
        return {str(k): [int(x) for x in v] for k, v in index.items()}, table.to_pandas()
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
        return {}, pd.DataFrame()


def _save(path: Path, index: dict[str, Key], frame: pd.DataFrame) -> None:
    """Keep the rows and the index (best effort: a store that cannot be written keeps no cache)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    table = table.replace_schema_metadata({"format": _FORMAT, "index": json.dumps(index, sort_keys=True)})
    with contextlib.suppress(OSError):
        atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def read_policy_events(store: Store) -> pd.DataFrame:
    """Every stored audit row of an SSPR configuration change (the audit table's columns and ``raw``), oldest
    first; an empty frame of those columns when there is none. Month files unchanged since the last call are not
    read again (see the module docstring)."""
    cache = store.path / CACHE
    index, cached = _load(cache)
    keys: dict[str, Key] = {}
    reused: list[str] = []  # month files unchanged since the cache was written: their rows taken from it at once
    scanned: list[pd.DataFrame] = []
    for file in store.listed("audit"):
        with contextlib.suppress(FileNotFoundError):  # replaced or removed by a fetch meanwhile
            known = index.get(file.name)
            if known is not None and known == _identity(file.stat()):
                keys[file.name] = known
                reused.append(file.name)
                continue
            if not store.checked([file]):  # a damaged one is quarantined, its interval no data (issue 27)
                continue
            keys[file.name], rows = _scan(file)
            scanned.append(rows.assign(**{_FILE: file.name}))
    pieces = [cached[cached[_FILE].isin(reused).to_numpy(dtype=bool)]] if reused else []
    pieces = [p for p in (*pieces, *scanned) if not p.empty]
    frame = pd.concat(pieces, ignore_index=True) if pieces else _empty().assign(**{_FILE: pd.Series(dtype="string")})
    if scanned or set(index) != set(keys):
        _save(cache, keys, frame)
    frame = _typed(frame.drop(columns=_FILE))
    return frame.sort_values("activity_time", kind="stable").reset_index(drop=True)
