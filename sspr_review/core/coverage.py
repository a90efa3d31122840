"""What the store covers of each kind of data for a review window: "no events" is not "no data"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

#: ``[review] snapshot_tolerance_days`` by default.
DEFAULT_SNAPSHOT_TOLERANCE_DAYS: Final = 7.0


@dataclass(frozen=True)
class Coverage:
    """Coverage of one kind of data (:data:`~sspr_review.core.vocabulary.DATA_KINDS`) for one window.

    ``start``/``end`` is the part of the window the store holds complete data for (``None`` when nothing);
    for snapshot kinds they are both the time of the snapshot used. ``complete`` is true only
    when the whole window is covered (a snapshot kind: a snapshot was found for the week). ``reason`` says, in
    plain words, why not (missing permission, missing licence, failed fetch, window outside what the store holds),
    and for an approximate snapshot why it is approximate.

    Snapshot kinds also say which snapshot the week uses: ``snapshot`` (its time) and ``offset`` (the snapshot's
    time minus the window's end: negative when taken before the week ended). ``approximate`` is true when the
    snapshot lies further from the week's end than ``[review] snapshot_tolerance_days``: the data is still
    used, and shown as approximate.

    ``missing`` lists the parts of the kind that could not be read for the data used (for example
    "PIM-eligible administrators are not included: ..." when the tenant lacks the PIM licence for the roles): the
    data is used, but it is partial, so :attr:`whole` is false and the review shows the kind as PARTIAL.
    """

    kind: str
    start: datetime | None
    end: datetime | None
    complete: bool
    reason: str | None = None
    missing: tuple[str, ...] = ()
    snapshot: datetime | None = None
    offset: timedelta | None = None
    approximate: bool = False
    #: Registration only: "full" (the whole report) or "lean" (counts, administrators, members not SSPR-capable
    #: and the users the week's findings need; see :mod:`sspr_review.ingest.lean`); ``None`` elsewhere.
    mode: str | None = None
    #: Where a time-ranged kind's data came from, when that needs saying (a Log Analytics workspace and which
    #: column held the SSPR step text).
    notes: tuple[str, ...] = ()
    #: How the latest fetch selected a time-ranged kind's records, when the source had to choose (Graph: which
    #: ``loggedByService`` value selects SSPR's events); ``None`` elsewhere.
    selection: str | None = None
    #: Why the data, complete as far as the store knows, is likely not what happened (audit: SSPR enabled for many
    #: users and no SSPR event in the look-back, the opt-in trap; see :mod:`sspr_review.app.unobserved`), with the
    #: fix; ``None`` when nothing is suspect. A verdict must not call such a week quiet.
    suspect: str | None = None

    @property
    def available(self) -> bool:
        """True when at least part of the window has data."""
        return self.start is not None

    @property
    def whole(self) -> bool:
        """True when the whole window is covered and every part of the kind was read."""
        return self.complete and not self.missing

    @property
    def offset_days(self) -> float | None:
        """``offset`` in days (one decimal), ``None`` without a snapshot."""
        return None if self.offset is None else round(self.offset.total_seconds() / 86400, 1)

    def snapshot_note(self) -> str | None:
        """Which snapshot the week uses, in words: "snapshot of 2026-11-24 14:00 UTC, 1.4 days after the
        week's end"; ``None`` for a time-ranged kind."""
        if self.snapshot is None or self.offset is None:
            return None
        kind = "lean snapshot" if self.mode == "lean" else "snapshot"
        return f"{kind} of {self.snapshot:%Y-%m-%d %H:%M} UTC, {describe_offset(self.offset)}"

    def state(self) -> str:
        """One word for reports: suspect, complete, approximate, partial or no data."""
        if self.suspect and self.available:
            return "suspect"
        if self.approximate:
            return "approximate"
        if self.whole:
            return "complete"
        return "partial" if self.available else "no data"


def describe_offset(offset: timedelta) -> str:
    """``offset`` (snapshot time minus the week's end) in words."""
    seconds = offset.total_seconds()
    if abs(seconds) < 60:
        return "at the week's end"
    hours = abs(seconds) / 3600
    if hours < 1:
        amount = f"{abs(seconds) / 60:.0f} minutes"
    elif hours < 48:
        amount = f"{hours:.0f} hours" if round(hours) != 1 else "1 hour"
    else:
        amount = f"{hours / 24:.1f} days"
    return f"{amount} {'after' if seconds > 0 else 'before'} the week's end"
