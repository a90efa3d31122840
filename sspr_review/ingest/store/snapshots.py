"""Snapshot sources in the store: where their files lie, which days they hold, which snapshot a week uses."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Final

from ...core.coverage import Coverage, describe_offset

#: Snapshot tables, and the source whose coverage describes each.
SNAPSHOT_TABLES: Final = {"registration": "registration", "privileged": "roles"}
#: Where each snapshot source's snapshots lie: (folder, file suffix); one file per UTC day.
SNAPSHOT_FILES: Final = {
    "registration": ("registration", ".parquet"),
    "roles": ("privileged", ".parquet"),
    "policy": ("policy", ".json"),
}


def file_day(moment: datetime) -> str:
    """The stem of the snapshot file of ``moment``: its UTC day."""
    return f"{moment.astimezone(UTC):%Y-%m-%d}"


def parse_day(stem: str) -> datetime | None:
    """UTC midnight of a snapshot file's stem (``2026-11-23``); ``None`` for a stem that is no day."""
    try:
        return datetime.strptime(stem, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        return None


def choose_snapshot(moments: Sequence[datetime], end: datetime, tolerance: timedelta) -> datetime | None:
    """The snapshot a week ending at ``end`` uses: the one nearest to ``end`` among those within ``tolerance``
    of it (on a tie the later one); without one, the newest taken before, else the oldest taken after."""
    if not moments:
        return None
    near = [m for m in moments if abs(m - end) <= tolerance]
    if near:
        return min(near, key=lambda m: (abs(m - end), -m.timestamp()))
    before = [m for m in moments if m < end]
    return max(before) if before else min(moments)


def too_far(cov: Coverage, max_distance: timedelta) -> Coverage:
    """The coverage of a snapshot kind whose nearest snapshot (``cov``'s) lies further than ``max_distance`` from
    the week's end: none, the reason naming that snapshot (a data gap, never another season's data)."""
    assert cov.snapshot is not None and cov.offset is not None
    days = max_distance.total_seconds() / 86400
    return Coverage(
        cov.kind,
        None,
        None,
        False,
        f"no {cov.kind} snapshot within {days:g} days of the week's end ([review] snapshot_max_days); the nearest is"
        f" of {cov.snapshot:%Y-%m-%d %H:%M} UTC, {describe_offset(cov.offset)}",
    )


def day_in(stem: str, start: datetime | None, end: datetime | None) -> bool:
    """Whether the snapshot file ``stem`` is of a day in ``[start, end)`` (the day of ``start`` included)."""
    day = parse_day(stem)
    if day is None:
        return False
    return (start is None or day >= start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)) and (
        end is None or day < end
    )


def month_overlaps(stem: str, start: datetime | None, end: datetime | None) -> bool:
    """Whether the month file ``stem`` (``2026-11``) overlaps ``[start, end)``; ``undated`` only an unbounded read."""
    if stem == "undated":
        return start is None and end is None
    bounds = month_span(stem)
    if bounds is None:
        return False
    month, after = bounds
    return (end is None or month < end) and (start is None or after > start)


@lru_cache(maxsize=4096)
def month_span(stem: str) -> tuple[datetime, datetime] | None:
    """The start of the month file ``stem`` and of the month after it; ``None`` when it names no month."""
    try:
        month = datetime.strptime(stem, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        return None
    return month, (month.replace(day=28) + timedelta(days=4)).replace(day=1)
