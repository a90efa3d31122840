"""A week named by the user ends on a Monday, has ended, and lies within what the store holds; the error names the
nearest weeks that would do. The weeks the store holds complete, for the summaries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from sspr_review.app.week import choose_week, held_weeks
from sspr_review.core.config import Config, ReviewSettings
from sspr_review.core.errors import ConfigError
from sspr_review.ingest.store import Store

#: Wednesday 25 November 2026, 10:00 UTC.
NOW = datetime(2026, 11, 25, 10, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """A store holding audit events from Wednesday 28 October to now (a first fetch of 28 days)."""
    held = Store(tmp_path, "t")
    with held.writing():
        held.record_interval("audit", datetime(2026, 10, 28, 10, tzinfo=UTC), NOW)
    return held


def choose(store: Store, week_ending: str, tz: str = "UTC", **options: bool) -> date:
    config = Config(review=ReviewSettings(timezone=tz))
    return choose_week(store, config, NOW, week_ending, **options).window.week_ending


def test_a_monday_within_the_history_is_reviewed(store: Store) -> None:
    assert choose(store, "2026-11-16") == date(2026, 11, 16)
    assert choose(store, "2026-11-02") == date(2026, 11, 2)  # the first week, held in part: shown as partial


def test_a_weekday_other_than_monday_names_the_mondays_around_it(store: Store) -> None:
    with pytest.raises(ConfigError) as err:
        choose(store, "2026-11-18")
    assert str(err.value) == (
        "week ending 2026-11-18 is a Wednesday: a review week ends on a Monday at 00:00 (UTC); the nearest weeks to"
        " review end 2026-11-16 and 2026-11-23"
    )


def test_a_week_that_has_not_ended_names_the_latest_one(store: Store) -> None:
    with pytest.raises(
        ConfigError,
        match=r"week ending 2026-11-30 has not ended yet \(now 2026-11-25 10:00 UTC\): "
        r"the latest week that has ended ends 2026-11-23 \(UTC\)$",
    ):
        choose(store, "2026-11-30")


def test_a_week_before_the_history_names_the_span_and_the_nearest_weeks(store: Store) -> None:
    with pytest.raises(ConfigError) as err:
        choose(store, "2025-01-06")
    assert str(err.value) == (
        "week ending 2025-01-06 lies outside what the store holds (audit records from 2026-10-28 10:00 to"
        " 2026-11-25 10:00 UTC): the nearest weeks it holds end 2026-11-02"
    )


def test_the_review_zone_decides_what_a_monday_is(store: Store) -> None:
    """In Sydney, Monday 00:00 is Sunday afternoon UTC: the Monday is a local date."""
    assert choose(store, "2026-11-16", tz="Australia/Sydney") == date(2026, 11, 16)
    with pytest.raises(ConfigError, match="is a Sunday"):
        choose(store, "2026-11-15", tz="Australia/Sydney")


def test_before_a_fetch_only_the_calendar_is_checked(tmp_path: Path, store: Store) -> None:
    assert choose(Store(tmp_path / "empty", "t"), "2025-01-06") == date(2025, 1, 6)  # an empty store: nothing to hold
    assert choose(store, "2025-01-06", within_history=False) == date(2025, 1, 6)
    with pytest.raises(ConfigError, match="is a Tuesday"):
        choose(store, "2025-01-07", within_history=False)


def test_the_default_week_and_a_datetime_from_the_api_are_not_refused(store: Store) -> None:
    config = Config()
    assert choose_week(store, config, NOW).window.week_ending == date(2026, 11, 23)
    monday_six = datetime(2026, 11, 9, 6, tzinfo=UTC)  # a programmatic window, as tests and notebooks build them
    assert choose_week(store, config, NOW, monday_six).window.end == monday_six


def test_held_weeks_are_the_complete_weeks_of_the_intervals(store: Store) -> None:
    assert held_weeks(store, Config()) == [date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23)]
    with store.writing():
        store.record_interval("audit", datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 9, 15, tzinfo=UTC))
    assert held_weeks(store, Config())[:2] == [date(2026, 9, 14), date(2026, 11, 9)]


def test_a_moment_given_as_text_ends_the_window_then_if_it_has_passed(store: Store) -> None:
    """Scripts and tests may end a window at any moment (``2026-11-25T06:00``): any weekday, but not the future."""
    assert choose(store, "2026-11-25T06:00") == date(2026, 11, 25)
    with pytest.raises(ConfigError, match="has not ended yet"):
        choose(store, "2026-11-25T12:00")
    with pytest.raises(ConfigError, match="lies outside what the store holds"):
        choose(store, "2025-01-08T06:00")
