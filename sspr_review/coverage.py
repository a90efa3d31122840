"""What each source covers for a review window: the difference between "no events" and "no data"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

#: The sources the kit fetches. ``audit`` is time-ranged (directoryAudits); ``risk`` is time-ranged by
#: detection time; ``registration``, ``roles`` and ``policy`` are snapshots taken at fetch time.
SOURCES: Final = ("audit", "risk", "registration", "roles", "policy")


@dataclass(frozen=True)
class SourceCoverage:
    """Coverage of one source for one window.

    ``start``/``end`` is the part of the window the store holds complete data for (``None`` when nothing);
    for snapshot sources they are the times of the first and last snapshot used. ``complete`` is true only
    when the whole window is covered. ``reason`` says, in plain words, why not (missing permission, missing
    licence, failed fetch, window outside what the store holds).
    """

    source: str
    start: datetime | None
    end: datetime | None
    complete: bool
    reason: str | None = None

    @property
    def available(self) -> bool:
        """True when at least part of the window has data."""
        return self.start is not None
