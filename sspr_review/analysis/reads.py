"""What each analysis reads around the week it reviews, so that a review reads the store for that and no more.

A rule declares, beside its sources in the registry (:data:`~.registry.RULES`), a :class:`Reads` per kind of
time-ranged data it looks at outside the reviewed week: how far before the week's start (``before``) and after its
end (``after``), each a function of the settings (the lookbacks are settings), or :data:`ALL_HISTORY` for rules
that need every record up to the week's end. A rule that needs a lookback only as a per-account summary (the
last password fix of each account, the methods each account verified in earlier flows, the last use of each IP
by each account, each account's SSPR flows begun, the completed resets) names the ``summary`` instead: the
application layer keeps those summaries in the store week by week (see :mod:`.history`), and the rule reads its
tables from :attr:`~.history.History.since` on and the summary's weeks within ``before`` of the week before.

The review itself reads the same way (:data:`REVIEW_READS`: the week's metrics, the correlation tables).
:func:`spans` is the union, per kind, for reviewing a window and the week before it; the application layer reads
that span of each time-ranged table, widened by :data:`CONTINUITY` on both sides so that flows and merged
administrator resets that cross its edges are whole.

>>> from sspr_review.core.settings import AnalysisSettings
>>> spans([Reads("audit", days("leak_remediation_days"))], AnalysisSettings())["audit"].before.days
7
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from ..core.settings import AnalysisSettings
from ..core.vocabulary import TIMED_KINDS

__all__ = [
    "ALL_HISTORY",
    "CONTINUITY",
    "REVIEW_READS",
    "SUMMARIES",
    "Lookback",
    "Reach",
    "Reads",
    "Span",
    "days",
    "describe",
    "hours",
    "minutes",
    "nothing",
    "spans",
]

#: A reach: how far, given the settings, a rule reads before the week or after it.
Reach = Callable[[AnalysisSettings], timedelta]
#: A lookback: a reach before the week, or ``None``: all history.
Lookback = Callable[[AnalysisSettings], timedelta | None]
#: The per-account summaries of the history kept in the store (see :mod:`.history`): ``fixes`` (each account's
#: last SSPR reset or self-service password change), ``methods`` (the non-phone methods each account verified in
#: an SSPR flow), both over all history; ``ips`` (each account's last use of each IP in a week), ``starts`` (each
#: account's last SSPR flow begun in a week) and ``resets`` (the completed SSPR resets), over a lookback.
SUMMARIES: Final = ("fixes", "methods", "ips", "starts", "resets")
#: The longest an SSPR flow (events sharing a correlation id) or a run of administrator-reset events merged into
#: one reset may last: reads are widened by this on both sides, so that what crosses their edges is read whole.
CONTINUITY: Final = timedelta(days=1)


def nothing(_: AnalysisSettings) -> timedelta:
    """No time outside the week."""
    return timedelta(0)


def _all_history(_: AnalysisSettings) -> None:
    """Every record up to the week's end."""
    return None


#: A lookback reaching back to the first record in the store.
ALL_HISTORY: Final[Lookback] = _all_history


def days(setting: str) -> Reach:
    """The number of days the setting ``setting`` holds."""

    def lookback(settings: AnalysisSettings) -> timedelta:
        return timedelta(days=getattr(settings, setting))

    lookback.__doc__ = f"[analysis] {setting} days"
    return lookback


def hours(setting: str, times: int = 1) -> Reach:
    """``times`` the number of hours the setting ``setting`` holds."""

    def lookback(settings: AnalysisSettings) -> timedelta:
        return timedelta(hours=getattr(settings, setting) * times)

    lookback.__doc__ = f"{times} × [analysis] {setting} hours"
    return lookback


def minutes(setting: str) -> Reach:
    """The number of minutes the setting ``setting`` holds."""

    def lookback(settings: AnalysisSettings) -> timedelta:
        return timedelta(minutes=getattr(settings, setting))

    lookback.__doc__ = f"[analysis] {setting} minutes"
    return lookback


@dataclass(frozen=True)
class Reads:
    """What an analysis reads of the time-ranged ``kind`` outside the week it reviews: ``before`` its start and
    ``after`` its end; ``summary`` names the per-account summary (:data:`SUMMARIES`) through which it reads the
    history ``before`` reaches beyond what the review reads in full (:data:`ALL_HISTORY` or a lookback)."""

    kind: str
    before: Lookback = nothing
    after: Reach = nothing
    summary: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TIMED_KINDS:
            raise ValueError(f"Reads.kind {self.kind!r} is not a time-ranged kind ({', '.join(TIMED_KINDS)})")
        if self.summary is not None and self.summary not in SUMMARIES:
            raise ValueError(f"Reads.summary {self.summary!r} is not one of {SUMMARIES}")


#: What the review reads besides the rules: the metrics of the week and the week before (the week itself), and
#: the correlation tables (detections ``blocked_risk_lookback_days`` before a reset; fixes within
#: ``remediation_days`` of a detection, for the last weeks of the leaked-credentials trend).
REVIEW_READS: Final = (
    Reads("risk", days("blocked_risk_lookback_days")),
    Reads("risk", days("remediation_days")),
    Reads("audit", days("remediation_days")),
)


@dataclass(frozen=True)
class Span:
    """How far outside the reviewed weeks a review reads one kind: ``before`` (``None``: all history) and
    ``after``, and the summaries it reads of the history before that, each with how far before the reviewed
    weeks (``None``: all history)."""

    before: timedelta | None
    after: timedelta
    summaries: Mapping[str, timedelta | None] = field(default_factory=dict)

    def summary_reach(self) -> timedelta | None:
        """How far before the reviewed weeks the lookback summaries reach (``None``: none is read)."""
        reaches = [r for r in self.summaries.values() if r is not None]
        return max(reaches) if reaches else None


def spans(reads: Iterable[Reads], settings: AnalysisSettings) -> dict[str, Span]:
    """The union of ``reads`` per time-ranged kind (every kind present, reading nothing outside the week when no
    read names it). A read through a summary adds the summary with its reach, not the reach itself."""
    out: dict[str, Span] = {kind: Span(timedelta(0), timedelta(0)) for kind in TIMED_KINDS}
    for read in reads:
        span = out[read.kind]
        after = max(span.after, read.after(settings))
        if read.summary is not None:
            reach = read.before(settings)
            kept = span.summaries.get(read.summary, timedelta(0))
            wider = None if reach is None or kept is None else max(reach, kept)
            out[read.kind] = Span(span.before, after, {**span.summaries, read.summary: wider})
            continue
        reach = read.before(settings)
        before = None if reach is None or span.before is None else max(span.before, reach)
        out[read.kind] = Span(before, after, span.summaries)
    return out


def _days(reach: timedelta | None) -> str:
    return "all history" if reach is None else f"{reach.total_seconds() / 86400:g} days before"


def describe(spans_: Mapping[str, Span]) -> dict[str, str]:
    """Each kind's span in words (for notes and the benchmarks)."""
    out = {}
    for kind, span in spans_.items():
        reach = _days(span.before)
        named = [f"{name} ({_days(back)})" for name, back in sorted(span.summaries.items())]
        extra = f", summaries: {', '.join(named)}" if named else ""
        out[kind] = f"{reach}, {span.after.total_seconds() / 3600:g} h after{extra}"
    return out
