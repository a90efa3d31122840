from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from sspr_review.analysis import AnalysisSettings, ReviewWindow, review_window


def test_default_is_most_recent_monday_midnight() -> None:
    w = review_window(None, "UTC", now=datetime(2024, 3, 13, 9, 30, tzinfo=UTC))  # a Wednesday
    assert w.end == datetime(2024, 3, 11, tzinfo=UTC)
    assert w.start == datetime(2024, 3, 4, tzinfo=UTC)
    assert w.previous_start == datetime(2024, 2, 26, tzinfo=UTC)
    assert w.previous_end == w.start
    assert w.week_ending == date(2024, 3, 11)


def test_default_on_monday_midnight_and_on_sunday() -> None:
    monday = review_window(None, "UTC", now=datetime(2024, 3, 11, 0, 0, tzinfo=UTC))
    assert monday.end == datetime(2024, 3, 11, tzinfo=UTC)
    sunday = review_window(None, "UTC", now=datetime(2024, 3, 10, 23, 59, tzinfo=UTC))
    assert sunday.end == datetime(2024, 3, 4, tzinfo=UTC)


def test_default_uses_the_local_monday() -> None:
    # 2024-03-10 23:30 UTC is already Monday 00:30 in Berlin.
    w = review_window(None, "Europe/Berlin", now=datetime(2024, 3, 10, 23, 30, tzinfo=UTC))
    assert w.week_ending == date(2024, 3, 11)
    assert w.end == datetime(2024, 3, 10, 23, 0, tzinfo=UTC)


def test_dst_weeks_last_167_and_169_hours() -> None:
    spring = review_window("2024-04-01", "Europe/Berlin")  # clocks went forward on 2024-03-31
    assert spring.hours == 167
    assert spring.start == datetime(2024, 3, 24, 23, 0, tzinfo=UTC)
    assert spring.end == datetime(2024, 3, 31, 22, 0, tzinfo=UTC)
    autumn = review_window(date(2024, 10, 28), "Europe/Berlin")  # clocks went back on 2024-10-27
    assert autumn.hours == 169
    assert review_window("2024-03-11", "Europe/Berlin").hours == 168


def test_shift_keeps_wall_clock_weeks() -> None:
    w = review_window("2024-04-08", "Europe/Berlin")
    before = w.shift(1)
    assert before.week_ending == date(2024, 4, 1)
    assert before.hours == 167
    assert before.end == w.start


def test_accepts_dates_datetimes_and_strings() -> None:
    a = review_window("2024-03-11", "America/New_York")
    b = review_window(date(2024, 3, 11), "America/New_York")
    c = review_window(datetime(2024, 3, 11), "America/New_York")  # naive: local time
    d = review_window(datetime(2024, 3, 11, 4, tzinfo=UTC), "America/New_York")  # 00:00 EDT
    e = review_window("2024-03-11T00:00:00", "America/New_York")
    assert a == b == c == d == e
    assert a.end == datetime(2024, 3, 11, 4, tzinfo=UTC)
    assert a.start == datetime(2024, 3, 4, 5, tzinfo=UTC)  # EST before the change


@pytest.mark.parametrize("bad", ["2024-13-01", "next monday", "", "2024-02-30"])
def test_bad_date_is_a_clear_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="week_ending"):
        review_window(bad, "UTC")


@pytest.mark.parametrize("bad", ["Mars/Olympus", "", "../etc/passwd", "CEST+2"])
def test_bad_time_zone_is_a_clear_value_error(bad: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        review_window("2024-03-11", bad)


def test_naive_now_and_bad_types_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        review_window(None, "UTC", now=datetime(2024, 3, 11))
    with pytest.raises(ValueError, match="week_ending"):
        review_window(20240311, "UTC")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        ReviewWindow(datetime(2024, 3, 4), datetime(2024, 3, 11), datetime(2024, 2, 26), "UTC")


def test_settings_defaults_and_validation() -> None:
    s = AnalysisSettings()
    assert (s.spike_accounts, s.spike_window_minutes, s.blocked_risk_lookback_days) == (10, 60, 14)
    assert (s.blocked_ip_other_accounts, s.leak_grace_days, s.registration_target) == (3, 3, 0.95)
    assert s.as_dict()["currency"] == "USD"
    with pytest.raises(ValueError, match="spike_accounts"):
        AnalysisSettings(spike_accounts=0)
    with pytest.raises(ValueError, match="registration_target"):
        AnalysisSettings(registration_target=1.5)
    with pytest.raises(ValueError, match="time zone"):
        AnalysisSettings(timezone="Nowhere/Land")
