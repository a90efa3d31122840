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

    ``missing`` lists the parts of the source that could not be read for the data used (for example
    "PIM-eligible administrators are not included: ..." when the roles source lacks the PIM licence): the data
    is used, but it is partial, so :attr:`whole` is false and the review shows the source as PARTIAL.
    """

    source: str
    start: datetime | None
    end: datetime | None
    complete: bool
    reason: str | None = None
    missing: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        """True when at least part of the window has data."""
        return self.start is not None

    @property
    def whole(self) -> bool:
        """True when the whole window is covered and every part of the source was read."""
        return self.complete and not self.missing
