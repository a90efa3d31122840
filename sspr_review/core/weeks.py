"""The review calendar: a review week runs Monday 00:00 to Monday 00:00 wall-clock time in an IANA time zone.

A leaf module (standard library only), so the analyses' review window, the workspace's default week and the
demo tenant's history all find "the most recent Monday" the same way.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``ValueError`` with a plain message when there is no such zone."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"time zone {name!r} is not an IANA time zone name such as Europe/Berlin")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC") from None


def monday_on_or_before(day: date) -> date:
    """The Monday of ``day``'s week (``day`` itself on a Monday)."""
    return day - timedelta(days=day.weekday())


def last_monday(timezone: str, now: datetime | None = None) -> datetime:
    """The most recent Monday 00:00 in ``timezone`` at or before ``now`` (default: the current time), in UTC.

    >>> last_monday("Europe/Berlin", datetime(2024, 3, 13, 9, 30, tzinfo=UTC)).isoformat()
    '2024-03-10T23:00:00+00:00'
    """
    zone = ZoneInfo(timezone)
    monday = monday_on_or_before((now or datetime.now(UTC)).astimezone(zone).date())
    return datetime(monday.year, monday.month, monday.day, tzinfo=zone).astimezone(UTC)
