"""ISO 8601 timestamps in UTC with a ``Z``: the one place the kit writes and reads them as text.

Times are compared as :class:`datetime` values, never as text: :func:`parse_iso` reads what Graph, the store's
``coverage.json`` and findings.json hold; :func:`iso_z` writes the forms the kit uses:

>>> from datetime import datetime, UTC
>>> moment = datetime(2026, 11, 16, 10, 41, 3, 120000, tzinfo=UTC)
>>> iso_z(moment), iso_z(moment, 0), iso_z(moment, 3, trim=True)
('2026-11-16T10:41:03.120000Z', '2026-11-16T10:41:03Z', '2026-11-16T10:41:03.120Z')
>>> iso_z(moment.replace(microsecond=0), 3, trim=True)
'2026-11-16T10:41:03Z'
>>> ticks_iso(17_948_256_631_234_567)  # Graph's 100-ns resolution
'2026-11-16T10:41:03.1234567Z'
>>> parse_iso("2026-11-16T10:41:03.1234567Z") == datetime(2026, 11, 16, 10, 41, 3, 123456, tzinfo=UTC)
True

The kit's :data:`Clock` lives here too. This module depends on nothing of the kit, so every layer may use it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

#: What gives the current time (UTC-aware): everything that depends on "now" asks one, so tests can inject it.
Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)


#: Graph's timestamps have 100 ns resolution: ticks per second.
TICKS_PER_SECOND = 10_000_000


def iso_z(moment: datetime, digits: int = 6, *, trim: bool = False) -> str:
    """``moment`` in UTC as ISO 8601 with ``Z`` and ``digits`` (0 to 9) digits of the second's fraction.

    ``trim`` leaves out a fraction that is all zeros. A naive ``moment`` is taken as local time (as
    :meth:`datetime.astimezone` does); a :class:`pandas.Timestamp` keeps its nanoseconds.
    """
    if not 0 <= digits <= 9:
        raise ValueError(f"digits must be 0 to 9, not {digits}")
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        nanos = moment.microsecond * 1000 + int(getattr(moment, "nanosecond", 0))
        fraction = f"{nanos:09d}"[:digits]
        if not (trim and fraction.strip("0") == ""):
            text = f"{text}.{fraction}"
    return f"{text}Z"


def ticks_iso(ticks: int) -> str:
    """Graph's timestamp form, ``2026-11-16T10:41:03.1234567Z``, of 100-ns ``ticks`` since 1970 (UTC)."""
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{fraction:07d}Z"


def parse_iso(text: str) -> datetime:
    """An ISO 8601 timestamp (``Z`` or an offset; a naive one is taken as UTC) as an aware UTC datetime.

    Raises :class:`ValueError` for text that is not one.
    """
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
