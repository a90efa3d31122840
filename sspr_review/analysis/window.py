"""The review window: the seven days before ``week_ending``, compared with the seven days before that.

The week is defined in wall-clock time of an IANA time zone (Monday 00:00 to Monday 00:00), so a week containing
a daylight-saving change lasts 167 or 169 hours. All datetimes are stored timezone-aware in UTC; intervals are
half-open: ``start <= t < end``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from ..core.weeks import monday_on_or_before, zone

__all__ = ["FIRST_WEEK_ENDING", "LAST_WEEK_ENDING", "ReviewWindow", "review_window", "zone"]

#: The range of week endings the kit reviews: the store's timestamps (pandas, nanoseconds) reach from 1677 to
#: 2262, and no SSPR event predates 1970.
FIRST_WEEK_ENDING = date(1970, 1, 15)
LAST_WEEK_ENDING = date(2261, 12, 31)


def _local(day: date, at: time, tz: tzinfo) -> datetime:
    """Wall-clock ``day`` ``at`` in ``tz``, as a UTC datetime."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class ReviewWindow:
    """The week under review (``start`` to ``end``) and the week before (``previous_start`` to ``start``).

    >>> w = review_window("2024-04-01", "Europe/Berlin")
    >>> (w.end - w.start).total_seconds() / 3600
    167.0
    """

    start: datetime
    end: datetime
    previous_start: datetime
    timezone: str

    def __post_init__(self) -> None:
        for name in ("start", "end", "previous_start"):
            value = getattr(self, name)
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise ValueError(f"ReviewWindow.{name} must be a timezone-aware datetime, not {value!r}")
            object.__setattr__(self, name, value.astimezone(UTC))
        if not self.previous_start < self.start < self.end:
            raise ValueError("ReviewWindow needs previous_start < start < end")
        zone(self.timezone)

    @property
    def previous_end(self) -> datetime:
        """End of the previous week (the start of this one)."""
        return self.start

    @property
    def week_ending(self) -> date:
        """The local date the week ends on (normally a Monday)."""
        return self.end.astimezone(zone(self.timezone)).date()

    @property
    def hours(self) -> float:
        """Length of the week in hours (167 or 169 across a daylight-saving change)."""
        return (self.end - self.start).total_seconds() / 3600

    def shift(self, weeks: int) -> ReviewWindow:
        """The window ``weeks`` weeks earlier (negative: later), in wall-clock time of the same zone."""
        tz = zone(self.timezone)
        end_local = self.end.astimezone(tz)
        end_day = end_local.date() - timedelta(days=7 * weeks)
        at = end_local.time().replace(tzinfo=None)
        return ReviewWindow(
            start=_local(end_day - timedelta(days=7), at, tz),
            end=_local(end_day, at, tz),
            previous_start=_local(end_day - timedelta(days=14), at, tz),
            timezone=self.timezone,
        )

    def label(self) -> str:
        """Human-readable week, e.g. ``2024-03-25 – 2024-04-01 (Europe/Berlin)``."""
        tz = zone(self.timezone)
        return f"{self.start.astimezone(tz).date()} – {self.week_ending} ({self.timezone})"


def _parse(week_ending: str) -> date | datetime:
    text = week_ending.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"week_ending {week_ending!r} is not a date: use ISO format such as 2024-03-11 (a Monday)"
        ) from None


def review_window(
    week_ending: str | date | datetime | None,
    timezone: str,
    *,
    now: datetime | None = None,
) -> ReviewWindow:
    """The review window ending at ``week_ending``, in ``timezone``.

    ``week_ending`` is a date (``"2024-03-11"`` or a :class:`date`: the week ends at 00:00 local time that day),
    a datetime (naive = local time in ``timezone``), or ``None`` for the most recent Monday 00:00 local time at
    or before ``now`` (default: the current time). Raises ``ValueError`` for an unreadable date or an unknown
    time zone.

    >>> w = review_window(None, "UTC", now=datetime(2024, 3, 13, 9, 30, tzinfo=UTC))
    >>> w.start.isoformat(), w.end.isoformat()
    ('2024-03-04T00:00:00+00:00', '2024-03-11T00:00:00+00:00')
    """
    tz = zone(timezone)
    if isinstance(week_ending, str):
        week_ending = _parse(week_ending)
    if week_ending is None:
        if now is None:
            now = datetime.now(UTC)
        elif now.tzinfo is None:
            raise ValueError("now must be a timezone-aware datetime")
        today = now.astimezone(tz).date()
        end_day, at = monday_on_or_before(today), time(0)
    elif isinstance(week_ending, datetime):
        local = week_ending.replace(tzinfo=tz) if week_ending.tzinfo is None else week_ending.astimezone(tz)
        end_day, at = local.date(), local.time().replace(tzinfo=None)
    elif isinstance(week_ending, date):
        end_day, at = week_ending, time(0)
    else:
        raise ValueError(f"week_ending must be a date, a datetime, an ISO date string or None, not {week_ending!r}")
    if not FIRST_WEEK_ENDING <= end_day <= LAST_WEEK_ENDING:
        raise ValueError(
            f"week_ending {end_day.isoformat()} is out of range: use a date between {FIRST_WEEK_ENDING.isoformat()}"
            f" and {LAST_WEEK_ENDING.isoformat()}, such as the Monday after the week to review"
        )
    return ReviewWindow(
        start=_local(end_day - timedelta(days=7), at, tz),
        end=_local(end_day, at, tz),
        previous_start=_local(end_day - timedelta(days=14), at, tz),
        timezone=timezone.strip(),
    )
