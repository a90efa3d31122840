"""Which week is reviewed: the one ending on the given day, else the most recent one (Monday 00:00 in ``[review]
timezone``), or for a source whose records end when they were saved (exported files) the last one they cover.

A week named by the user (``--week-ending``, a notebook's ``week_ending``) is checked before anything is reviewed:
it must end on a Monday of the review's zone, must have ended, and must lie within what the store holds (the
span of its audit events and risk detections). The error names the nearest weeks that would do and the store's
span (:func:`check_week`). :func:`held_weeks` lists the weeks the store holds complete, for the summaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from ..analysis import ReviewWindow, review_window
from ..core.config import Config
from ..core.errors import ConfigError
from ..core.vocabulary import TIMED_KINDS
from ..ingest.store import Interval, Store

#: How far (in weeks, each way) an error looks for the nearest weeks that would do.
SEARCH_WEEKS = 600


@dataclass(frozen=True)
class ChosenWeek:
    """The week to review and, when that needs saying, how it was chosen."""

    window: ReviewWindow
    note: str | None = None


def choose_week(
    store: Store,
    config: Config,
    now: datetime,
    week_ending: str | datetime | None = None,
    *,
    from_records: bool = False,
    within_history: bool = True,
) -> ChosenWeek:
    """The review week ending at ``week_ending`` (default: the most recent Monday at ``now``; with
    ``from_records``, :func:`records_week`). :class:`~sspr_review.core.errors.ConfigError` for a bad date, and for a
    date given as text (what a user types) that :func:`check_week` refuses; ``within_history=False`` skips the
    check against the store (before a fetch that may fill it)."""
    try:
        if not week_ending and from_records:
            chosen = records_week(store, config)
            if chosen is not None:
                return chosen
        window = review_window(week_ending or None, config.review.timezone, now=now)
    except ValueError as exc:
        raise ConfigError(f"week ending: {exc}") from None
    if isinstance(week_ending, str) and week_ending.strip():
        exact = not _is_date(week_ending)
        check_week(window, now, held_span(store) if within_history else None, exact=exact)
    return ChosenWeek(window)


def _is_date(text: str) -> bool:
    """Whether ``text`` is a date (``2026-11-23``), not a moment (``2026-11-23T06:00``)."""
    try:
        date.fromisoformat(text.strip())
    except ValueError:
        return False
    return True


def _held(store: Store) -> tuple[str, list[Interval]]:
    """The kind of data whose intervals say what the store holds (audit events, else risk detections), and those
    intervals (none before the first fetch)."""
    for kind in TIMED_KINDS:
        intervals = store.intervals(kind)
        if intervals:
            return kind, intervals
    return TIMED_KINDS[0], []


def held_span(store: Store) -> tuple[str, Interval] | None:
    """The kind of data and the span (first start, last end) of the store's time-ranged records: audit events,
    else risk detections; ``None`` before the first fetch."""
    kind, intervals = _held(store)
    if not intervals:
        return None
    return kind, Interval(min(i.start for i in intervals), max(i.end for i in intervals))


def check_week(window: ReviewWindow, now: datetime, held: tuple[str, Interval] | None, *, exact: bool = False) -> None:
    """Refuse a week that does not end on a Monday, has not ended at ``now``, or lies outside ``held`` (the
    store's span, see :func:`held_span`; not checked when ``None``), naming the nearest weeks that would do.

    ``exact``: the week was given as a moment (``2026-11-23T06:00``, a window ending then, for scripts and tests),
    not a date: any weekday and time will do, as long as it has passed and lies within the store."""
    end = window.week_ending
    tz = window.timezone
    latest = review_window(None, tz, now=now)

    def usable(w: ReviewWindow) -> bool:
        return w.end <= latest.end and (held is None or (w.end > held[1].start and w.start < held[1].end))

    if exact:
        latest = window if window.end <= now else latest

    def nearest(w: ReviewWindow) -> str:
        """The usable weeks nearest to ``w``: the one ending on it or before, and the one after."""
        before = next((c for c in (w.shift(k) for k in range(SEARCH_WEEKS)) if usable(c)), None)
        after = next((c for c in (w.shift(-k) for k in range(1, SEARCH_WEEKS)) if usable(c)), None)
        found = sorted({f"{c.week_ending:%Y-%m-%d}" for c in (before, after) if c is not None})
        return " and ".join(found) if found else "none yet"

    if end.weekday() != 0 and not exact:
        monday = review_window(end - timedelta(days=end.weekday()), tz)
        raise ConfigError(
            f"week ending {end:%Y-%m-%d} is a {end:%A}: a review week ends on a Monday at 00:00 ({tz}); the nearest"
            f" weeks to review end {nearest(monday)}"
        )
    if window.end > latest.end:
        raise ConfigError(
            f"week ending {end:%Y-%m-%d} has not ended yet (now {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC): the latest"
            f" week that has ended ends {latest.week_ending:%Y-%m-%d} ({tz})"
            + ("" if usable(latest) else f"; the nearest the store holds end {nearest(latest)}")
        )
    if held is not None and not usable(window):
        kind, covered = held
        raise ConfigError(
            f"week ending {end:%Y-%m-%d} lies outside what the store holds ({kind} records from"
            f" {covered.start:%Y-%m-%d %H:%M} to {covered.end:%Y-%m-%d %H:%M} UTC): the nearest weeks it holds end"
            f" {nearest(window)}"
        )


def held_weeks(store: Store, config: Config) -> list[date]:
    """The week endings (local dates in ``[review] timezone``) of the weeks the store holds complete: every week
    within one of the intervals of its audit events (else risk detections), oldest first."""
    weeks: set[date] = set()
    for interval in _held(store)[1]:
        week = review_window(None, config.review.timezone, now=interval.end)
        while week.start >= interval.start:
            weeks.add(week.week_ending)
            week = week.shift(1)
    return sorted(weeks)


def records_week(store: Store, config: Config) -> ChosenWeek | None:
    """The last complete week the stored records cover (audit records, else risk detections), or, when they cover
    no complete week, the week their newest record falls in; ``None`` before the first fetch."""
    kind, intervals = _held(store)
    if not intervals:
        return None
    first, last = intervals[-1].start, intervals[-1].end
    span = f"{kind} records from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
    week = review_window(None, config.review.timezone, now=last)
    if week.start >= first:
        return ChosenWeek(week, f"the last complete week the files cover ({span}); choose another with --week-ending")
    return ChosenWeek(
        week.shift(-1),
        f"the files cover no complete week ({span}): reviewing the week their newest record falls in,"
        " which they cover in part; choose another with --week-ending",
    )
