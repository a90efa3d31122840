"""What the store keeps computed from its data, beside it: weekly aggregates and registration snapshot counts.

Layout, in the tenant's folder::

    aggregates/weeks.parquet          per week: the trend's audit metrics and leak counts (``part`` "week")
    aggregates/weeks/<end>.<key>.<signature>.parquet
                                      per week (its end, int64 ns), one file each: per account the last
                                      password fix ("fix"), the non-phone methods verified ("method"), the
                                      last use of each IP ("ip") and the last SSPR flow begun ("start"), and
                                      every completed SSPR reset ("reset"); written before the week's row, so
                                      a week whose row is kept has its file (unless it was removed since: the
                                      week is then computed again)
    aggregates/registration.parquet   per registration snapshot file: its counts per day
    aggregates/summary.parquet        per week (its end): each account's last password fix ("fix") and the
                                      non-phone methods it verified ("method") in all the weeks up to it, under
                                      the chained signature of those weeks (the newest few weeks only)

Every row carries the ``key`` it was computed under (the analyses' version, the kit's version and the settings:
rows of another key are dropped at the next write) and the ``signature`` of the data files it was computed from
(:func:`signature`): a row whose files changed since (a fetch wrote late events into them, a file was replaced
or removed) no longer matches and is computed again. The application layer (:mod:`sspr_review.app.aggregates`)
decides what to compute; this module only reads and writes the files, atomically and owner-only, without the
store's write lock (they are a cache: two processes writing at once lose at most rows computed again later).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ...core.files import write_parquet

#: The aggregate files, by name, and the columns identifying what a row belongs to (rows written for it replace
#: every stored row of it).
AGGREGATES: Final = {"weeks": ("week_start", "week_end"), "registration": ("file",), "summary": ("week_end",)}
FOLDER: Final = "aggregates"
#: How an aggregate file's rows are ordered when written, so that its row groups each hold few parts and weeks.
ORDER: Final = {"weeks": ["part", "week_end"], "summary": ["week_end", "part"]}
ROW_GROUP_ROWS: Final = 32_768


def signature(files: Sequence[Path]) -> str:
    """What identifies the content of ``files``: each one's name, size, modification time and inode (the store
    writes a new file and renames it over the old one, so these change whenever its content does); a missing
    file counts as missing."""
    parts = []
    for file in sorted(files):
        try:
            info = os.stat(file)
        except FileNotFoundError:
            parts.append(f"{file.parent.name}/{file.name}:-")
            continue
        parts.append(f"{file.parent.name}/{file.name}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


#: The folder of the weeks' per-account parts (see the module docstring), under :data:`FOLDER`.
PARTS_FOLDER: Final = "weeks"


def _parts_path(store_path: Path, key: str, week_end: int, signature: str) -> Path:
    return store_path / FOLDER / PARTS_FOLDER / f"{week_end}.{key}.{signature}.parquet"


def write_week_parts(store_path: Path, key: str, week_end: int, signature: str, rows: pd.DataFrame) -> None:
    """Store ``rows`` (with their ``part``) as the per-account parts of the week ending at ``week_end`` (int64 ns),
    computed under ``key`` from files of ``signature``; the week's files of another key or signature go. Raises
    ``OSError`` when the store cannot be written."""
    path = _parts_path(store_path, key, week_end, signature)
    write_parquet(path, rows)
    for old in path.parent.glob(f"{week_end}.*.parquet"):
        if old != path:
            old.unlink(missing_ok=True)


def read_week_parts(
    store_path: Path, key: str, weeks: Sequence[tuple[int, str]], columns: Sequence[str], where: ds.Expression
) -> tuple[pa.Table | None, list[int]]:
    """The rows matching ``where`` (``columns`` and ``part``) kept for ``weeks`` (each one's end, int64 ns, and
    the signature of its files) under ``key``, read together (``None``: none could be); and the weeks whose file
    is missing or cannot be read (they are computed again)."""
    paths = {end: _parts_path(store_path, key, end, sig) for end, sig in weeks}
    lost = [end for end, path in paths.items() if not path.is_file()]
    found = [path for end, path in paths.items() if end not in lost]
    wanted = list(dict.fromkeys([*columns, "part"]))
    try:
        table = ds.dataset([str(p) for p in found], format="parquet").to_table(columns=wanted, filter=where)
    except (FileNotFoundError, OSError, ValueError, pa.ArrowException):  # one is damaged or went: file by file
        tables = []
        for end, path in paths.items():
            if end in lost:
                continue
            try:
                tables.append(pq.read_table(path, columns=wanted, filters=where))
            except (FileNotFoundError, OSError, ValueError, pa.ArrowException):
                lost.append(end)
        table = pa.concat_tables(tables) if tables else None
    return table, lost


def _path(store_path: Path, name: str) -> Path:
    if name not in AGGREGATES:
        raise ValueError(f"unknown aggregate {name!r}; they are {', '.join(AGGREGATES)}")
    return store_path / FOLDER / f"{name}.parquet"


def read_aggregate(
    store_path: Path,
    name: str,
    key: str,
    *,
    columns: Sequence[str] | None = None,
    where: Sequence[tuple[str, str, object]] = (),
) -> pd.DataFrame:
    """The stored rows of ``name`` computed under ``key`` (empty when none, or when the file lacks a column asked
    for): only ``columns`` (default all), only the rows matching ``where`` (pyarrow filters such as
    ``("part", "==", "fix")``), both applied while reading, before any row becomes a Python object."""
    path = _path(store_path, name)
    try:
        table = pq.read_table(
            path,
            columns=None if columns is None else list(dict.fromkeys([*columns, "key"])),
            filters=[("key", "==", key), *where],
        )
    except (FileNotFoundError, OSError, ValueError):  # pyarrow.ArrowInvalid is a ValueError: a damaged file
        return pd.DataFrame()
    rows: pd.DataFrame = table.drop_columns("key").to_pandas()
    return rows


def write_aggregate(
    store_path: Path, name: str, key: str, rows: pd.DataFrame, covering: pd.DataFrame | None = None
) -> None:
    """Store ``rows`` of ``name`` under ``key``: they replace every stored row of what they belong to (the
    identifying columns of ``covering``, default of ``rows``: a week, a file); the rows of other keys go.
    Raises ``OSError`` when the store cannot be written (a read-only store)."""
    ident = list(AGGREGATES[name])
    if covering is None and rows.empty:
        return
    covering = rows[ident] if covering is None else covering[ident]
    if covering.empty:
        return
    kept = read_aggregate(store_path, name, key)
    if not kept.empty:
        fresh = pd.MultiIndex.from_frame(covering.drop_duplicates())
        kept = kept[~pd.MultiIndex.from_frame(kept[ident]).isin(fresh)]
    merged = pd.concat([kept, rows], ignore_index=True) if not kept.empty else rows.reset_index(drop=True)
    if name in ORDER:  # a read of one part skips the row groups of the others (their statistics say so)
        merged = merged.sort_values(ORDER[name], kind="stable", ignore_index=True)
    write_parquet(_path(store_path, name), merged.assign(key=key), row_group_rows=ROW_GROUP_ROWS)
