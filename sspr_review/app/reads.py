"""What a review reads of the store's time-ranged tables (:func:`plan_reads`): the union of what its rules and the
review itself declare (:func:`~sspr_review.analysis.registry.review_spans`), widened by
:data:`~sspr_review.analysis.reads.CONTINUITY` on both sides, the audit table from a boundary of the review's
weeks on (:attr:`ReadPlan.since`: the weeks of the trend before it come from the store's weekly aggregates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ..analysis import ReviewWindow
from ..analysis._util import to_ns
from ..analysis.aggregates import reach
from ..analysis.reads import CONTINUITY
from ..analysis.registry import review_spans
from ..core.settings import AnalysisSettings
from ..core.vocabulary import TIMED_KINDS
from ..ingest.store import Store

__all__ = ["ReadPlan", "plan_reads", "whole_weeks"]


@dataclass(frozen=True)
class ReadPlan:
    """What a review reads: each time-ranged table's ``[start, end)`` (``None``: open), ``since`` (a week
    boundary: the audit table holds every record from here on; ``None``: it holds the whole history), the
    store's first record of each time-ranged kind, and ``lookback_from``: from when the rules read the audit
    history through its lookback summaries (``None``: none is read)."""

    spans: dict[str, tuple[datetime | None, datetime | None]]
    since: datetime | None
    first: dict[str, datetime]
    lookback_from: datetime | None = None


def _boundary(window: ReviewWindow, at_or_before: datetime) -> datetime:
    """The latest start of one of ``window``'s weeks (stepping back from it) at or before ``at_or_before``."""
    weeks = max(0, (window.start - at_or_before).days // 7)
    while window.shift(weeks).start > at_or_before:
        weeks += 1
    while weeks and window.shift(weeks - 1).start <= at_or_before:
        weeks -= 1
    return window.shift(weeks).start


def plan_reads(
    store: Store,
    settings: AnalysisSettings,
    window: ReviewWindow,
    *,
    compare: bool = True,
    extra: timedelta = timedelta(0),
) -> ReadPlan:
    """What to read for reviewing ``window`` (and the week before, with ``compare``); ``extra``: at least this
    much before the week's end as well (a user investigation's weeks)."""
    first: dict[str, datetime] = {kind: when for kind in TIMED_KINDS if (when := store.first_time(kind)) is not None}
    earliest = window.shift(1).start if compare else window.start
    out: dict[str, tuple[datetime | None, datetime | None]] = {}
    since = lookback_from = None
    for kind, span in review_spans(settings).items():
        end = window.end + span.after + CONTINUITY
        if span.before is None:
            out[kind] = (None, end)
            continue
        start = min(earliest - span.before, window.end - extra) - CONTINUITY
        if kind == "audit":
            since = _boundary(window, start)
            start = since - CONTINUITY
            if (reach := span.summary_reach()) is not None:
                lookback_from = min(earliest, window.end - extra) - reach - CONTINUITY
        out[kind] = (start, end)
    audit_from = out["audit"][0]
    if since is not None and ("audit" not in first or audit_from is None or first["audit"] >= audit_from):
        since, out["audit"] = None, (None, out["audit"][1])  # the read holds the whole history anyway
    return ReadPlan(out, since, first, lookback_from if since is not None else None)


def whole_weeks(plan: ReadPlan, settings: AnalysisSettings, window: ReviewWindow, bounds: np.ndarray) -> np.ndarray:
    """The weeks of ``bounds`` (int64 ns) before the review week that the tables read hold whole, with their
    aggregates' reach (:func:`~sspr_review.analysis.aggregates.reach`): their indices."""
    if plan.since is None:
        return np.zeros(0, dtype=np.int64)
    end = plan.spans["audit"][1]
    _, after = reach(settings)
    starts, ends = bounds[:-1], bounds[1:]
    limit = to_ns(end - after) if end is not None else int(ends.max())
    keep = (starts >= to_ns(plan.since)) & (ends <= limit) & (ends < to_ns(window.end))
    return np.flatnonzero(keep)
