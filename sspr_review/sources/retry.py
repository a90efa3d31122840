"""What the sources' retries share (both go through tenacity): reading an HTTP ``Retry-After`` header, and the wait
before the next attempt, which is the server's ``Retry-After`` when the failed attempt carried one, else the source's
own backoff.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import RetryCallState
from tenacity.wait import wait_base

#: Where a failed attempt's response headers are, for the kind of exception a source's client raises.
Headers = Callable[[BaseException], Mapping[str, str] | None]


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """The seconds a ``Retry-After`` value asks to wait: delay-seconds (``"120"``, also ``"0.5"``) or an HTTP-date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``, counted from ``now``, default the current time). ``None`` when there is
    none or it cannot be read; never negative, never infinite."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": a date in UTC without a stated zone
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """The ``Retry-After`` of a response's headers (the name in any case), in seconds; see :func:`parse_retry_after`."""
    for name, value in (headers or {}).items():
        if name.lower() == "retry-after":
            return parse_retry_after(value)
    return None


def failure(state: RetryCallState) -> BaseException | None:
    """The exception the attempt before ``state``'s next one ended with (``None`` if it returned)."""
    return state.outcome.exception() if state.outcome is not None else None


class wait_retry_after(wait_base):
    """tenacity's wait before the next attempt: the ``Retry-After`` of the failed attempt's response (read from
    ``headers(exception)``), at most ``longest`` seconds, else ``backoff``'s wait."""

    def __init__(self, headers: Headers, backoff: Callable[[RetryCallState], float], longest: float) -> None:
        self.headers = headers
        self.backoff = backoff
        self.longest = longest

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = failure(retry_state)
        asked = retry_after(self.headers(exc)) if exc is not None else None
        return min(asked, self.longest) if asked is not None else self.backoff(retry_state)
