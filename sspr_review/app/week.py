"""Which week is reviewed: the one ending on the given day, else the most recent one (Monday 00:00 in ``[review]
timezone``), or for a source whose records end when they were saved (exported files) the last one they cover."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..analysis import ReviewWindow, review_window
from ..core.config import Config
from ..core.errors import ConfigError
from ..core.vocabulary import TIMED_KINDS
from ..ingest.store import Store


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
) -> ChosenWeek:
    """The review week ending at ``week_ending`` (default: the most recent Monday at ``now``; with
    ``from_records``, :func:`records_week`). :class:`~sspr_review.core.errors.ConfigError` for a bad date."""
    try:
        if not week_ending and from_records:
            chosen = records_week(store, config)
            if chosen is not None:
                return chosen
        return ChosenWeek(review_window(week_ending or None, config.review.timezone, now=now))
    except ValueError as exc:
        raise ConfigError(f"week ending: {exc}") from None


def records_week(store: Store, config: Config) -> ChosenWeek | None:
    """The last complete week the stored records cover (audit records, else risk detections), or, when they cover
    no complete week, the week their newest record falls in; ``None`` before the first fetch."""
    for kind in TIMED_KINDS:
        intervals = store.intervals(kind)
        if intervals:
            break
    else:
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
