"""Closed intervals of time, as the store's coverage records them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime


def merge_intervals(intervals: Sequence[Interval]) -> list[Interval]:
    """Union of closed intervals, sorted."""
    out: list[Interval] = []
    for item in sorted(intervals, key=lambda i: i.start):
        if out and item.start <= out[-1].end:
            if item.end > out[-1].end:
                out[-1] = Interval(out[-1].start, item.end)
        else:
            out.append(item)
    return out
