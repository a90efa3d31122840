"""Why the store lacks data for a window, in words: the failure a fetch recorded, or where the store's data ends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...core.timefmt import parse_iso
from .intervals import Interval


def last_failure(failures: Sequence[dict[str, Any]]) -> str | None:
    """The reason of the last failed fetch, if any."""
    return str(failures[-1]["reason"]) if failures else None


def why_missing(
    failures: Sequence[dict[str, Any]],
    start: datetime,
    end: datetime,
    kind: str,
    held: Sequence[Interval],
    *,
    partial: bool = False,
) -> str:
    """Why ``[start, end)`` of ``kind`` is not (wholly) covered: the newest failure overlapping it, else what the
    store's intervals ``held`` cover."""
    for failure in reversed(failures):
        f_start = parse_iso(failure["from"]) if failure.get("from") else None
        f_end = parse_iso(failure["to"]) if failure.get("to") else None
        if (f_start is None or f_start < end) and (f_end is None or f_end > start):
            return str(failure["reason"])
    if not held:
        return f"the store holds no {kind} data yet: run a fetch"
    span = f"{held[0].start:%Y-%m-%d %H:%M} to {held[-1].end:%Y-%m-%d %H:%M} UTC"
    if partial:
        return f"the store holds {kind} data only for part of this window (it covers {span})"
    return f"the window lies outside what the store holds ({span})"
