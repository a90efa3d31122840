"""Coverage rebuilt from the files a store holds, when ``coverage.json`` is damaged.

Conservative: a month file of a time-ranged kind covers from its first record's time to the last time a fetch
wrote it (at most the month's end); a snapshot was taken when its file was written (its day's midnight if the file's
time lies on another day). Per time-ranged kind the rebuild records the span it cannot vouch for as damaged
(:mod:`.damage`), so the next fetch re-reads what the source still holds of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from ...core.timefmt import iso_z
from ...core.vocabulary import DATA_KINDS
from .damage import month_span
from .intervals import Interval, merge_intervals
from .snapshots import parse_day


def _span(file: Path, column: str) -> Interval | None:
    table = pq.read_table(file, columns=[column, "fetched_at"])
    first = pc.min(table.column(column)).as_py() if table.num_rows else None
    written = pc.max(table.column("fetched_at")).as_py() if table.num_rows else None
    if first is None or written is None:
        return None
    bounds = month_span(file.stem)
    end = min(written, bounds[1]) if bounds else written
    return Interval(first.astimezone(UTC), max(end, first).astimezone(UTC))


def _taken(file: Path) -> datetime | None:
    day = parse_day(file.name.split(".", 1)[0])
    if day is None:
        return None
    written = datetime.fromtimestamp(file.stat().st_mtime, UTC).replace(microsecond=0)
    return written if day <= written < day + timedelta(days=1) else day


def coverage_from_files(
    timed: Mapping[str, tuple[str, Sequence[Path]]],
    snapshots: Mapping[str, Sequence[Path]],
    why: str,
    at: datetime,
) -> dict[str, Any]:
    """A coverage document from the files: ``timed`` maps each time-ranged kind to its time column and month
    files, ``snapshots`` each snapshot kind to its files (every one checked). ``why`` says what was wrong."""
    sources: dict[str, Any] = {kind: {"intervals": [], "snapshots": [], "failures": []} for kind in DATA_KINDS}
    for kind, (column, files) in timed.items():
        spans = merge_intervals([s for f in files if (s := _span(f, column)) is not None])
        entry = sources[kind]
        entry["intervals"] = [[iso_z(i.start), iso_z(i.end)] for i in spans]
        if spans:
            record = {"file": "coverage.json", "why": why, "at": iso_z(at), "rows": None, "rebuilt": True}
            entry["damaged"] = [{**record, "intervals": [[iso_z(spans[0].start), iso_z(at)]]}]
    for kind, files in snapshots.items():
        sources[kind]["snapshots"] = sorted({iso_z(m) for f in files if (m := _taken(f)) is not None})
    return {"format": 1, "rebuilt": iso_z(at), "sources": sources}
