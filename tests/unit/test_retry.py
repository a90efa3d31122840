"""The Retry-After reading both sources' retries share (sspr_review/sources/retry.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sspr_review.sources.retry import parse_retry_after, retry_after

NOW = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 0.5 ", 0.5),
        ("0", 0.0),
        ("-3", 0.0),  # never negative
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),  # an HTTP-date, counted from now
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # already past
        ("Wed, 21 Oct 2015 07:28:00 -0000", 60.0),
        ("", None),
        (None, None),
        ("soon", None),
        ("inf", None),
        ("nan", None),
        ("Wed, 99 Oct 2015 07:28:00 GMT", None),
    ],
)
def test_delay_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_the_header_is_found_in_any_case() -> None:
    assert retry_after({"Content-Type": "application/json", "retry-after": "3"}) == 3.0
    assert retry_after({"RETRY-AFTER": "4"}) == 4.0
    assert retry_after({"Content-Type": "application/json"}) is None
    assert retry_after(None) is None
