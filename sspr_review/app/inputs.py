"""Loading a review's inputs from the store: I/O only, the one place every caller reads them.

:func:`load_inputs` reads what :func:`sspr_review.analysis.build_review` needs for one week (and the week before):
the time-ranged tables for what the rules and the review declare they read around those weeks
(:mod:`.reads`), once, compactly (string columns as categoricals); the trend's earlier weeks and the per-account
summaries the rules need of them from the store's weekly aggregates (:mod:`.aggregates`). Registration snapshots
are loaded in full only from the one in force when the earliest reviewed week began; every snapshot's counts (the
adoption trend) are kept in the store, each snapshot read once, streamed. Call it inside
:func:`~sspr_review.ingest.store.lean_arrow_memory` (as :func:`sspr_review.app.review.review_week` does), which
hands Arrow's memory back to the system.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from ..analysis import ReviewInputs, ReviewWindow
from ..analysis._util import to_ns
from ..analysis.flows import classify_events
from ..analysis.metrics import trend_weeks, week_bounds
from ..core.config import Config
from ..core.coverage import Coverage
from ..core.reason_rules import ReasonRule
from ..core.vocabulary import DATA_KINDS, TIMED_KINDS
from ..ingest.store import Store, release_arrow_memory
from ..ingest.store.lean_summary import lean_days
from ..ingest.store.policy_events import read_policy_events
from . import aggregates, unobserved
from .aggregates import registration_counts, week_signatures
from .reads import plan_reads, whole_weeks


def coverage(store: Store, config: Config, start: datetime, end: datetime) -> dict[str, Coverage]:
    """What the store holds of each kind of data for ``[start, end)``; a snapshot kind says which snapshot the
    window uses (the one nearest to ``end``; beyond ``[review] snapshot_tolerance_days`` approximate, beyond
    ``snapshot_max_days`` none: the kind has no data for the week)."""
    return unobserved.check(store, held(store, config, start, end), end)  # SSPR enabled, no SSPR event: unobserved


def held(store: Store, config: Config, start: datetime, end: datetime) -> dict[str, Coverage]:
    """:func:`coverage` before the opt-in trap's check (:func:`.unobserved.check`), which reads audit events."""
    tolerance = timedelta(days=config.review.snapshot_tolerance_days)
    farthest = timedelta(days=config.review.snapshot_max_days)
    return {kind: store.coverage(kind, start, end, tolerance=tolerance, max_distance=farthest) for kind in DATA_KINDS}


def tenant(store: Store, config: Config) -> dict[str, str]:
    """Tenant id and name for reports: ``[tenant] name`` wins over what the store learnt from Graph."""
    info = store.tenant_info()
    name = config.tenant.name or str(info.get("name") or store.tenant)
    return {"id": str(info.get("id") or store.tenant), "name": name}


def event_tables(store: Store) -> dict[str, pd.DataFrame]:
    """The audit events (compact), risk detections and privileged principals the store holds, in full."""
    return {
        "audit": store.read("audit", compact=True),
        "risk": store.read("risk"),
        "privileged": store.read("privileged"),
    }


def load_inputs(
    store: Store, config: Config, window: ReviewWindow, *, compare: bool = True, extra: timedelta = timedelta(0)
) -> ReviewInputs:
    """Everything the review of ``window`` reads from ``store`` (see :func:`load`)."""
    return load(store, config, window, compare=compare, extra=extra)[0]


def load(
    store: Store, config: Config, window: ReviewWindow, *, compare: bool = True, extra: timedelta = timedelta(0)
) -> tuple[ReviewInputs, pd.DataFrame]:
    """Everything the review of ``window`` reads from ``store``; with ``compare`` the week before's coverage too
    (the review then compares with that week, reviewed from the same tables). Also the signatures of the weeks the
    tables hold whole, taken before they were read (for :func:`~.aggregates.keep_recent`).

    The time-ranged tables are read for what the rules and the review declare (:func:`~.reads.plan_reads`;
    ``extra``: at least this much before the week's end too); the weeks of the trend before that, and the
    per-account summaries the rules need of them, come from the store's weekly aggregates
    (:func:`~.aggregates.history`, computed when missing). Each week reads the registration, roles and policy
    snapshot its coverage chose (the one nearest to the week's end; see :func:`coverage`), so a review run any
    day after the week, or a catch-up review of an older week, sees the same data."""
    settings = config.analysis_settings()
    before = window.shift(1)
    # The files read are checked (hashed) on a thread of their own while this one plans (Store.prefetch): first
    # the oldest of each time-ranged table (the plan asks when the store begins), then what the reads open.
    for timed in TIMED_KINDS:
        store.prefetch(timed, oldest=True)
    # the opt-in trap's check comes once the audit table is read: it looks at those rows before reading others
    now = held(store, config, window.start, window.end)
    previous = held(store, config, before.start, before.end) if compare else None
    plan = plan_reads(store, settings, window, compare=compare, extra=extra)
    anchors = {
        "registration": _anchor(store, window, now, previous, compare),
        "privileged": _roles_anchor(store, plan.spans["audit"][0], now, previous),
    }
    for timed in TIMED_KINDS:
        store.prefetch(timed, *plan.spans[timed])
    for snapshots, anchor in anchors.items():
        store.prefetch(snapshots, anchor)
    counts = registration_counts(store)
    first = {kind: to_ns(when) for kind, when in plan.first.items()}
    registration_first = [int(counts["first_ns"].min())] if len(counts) else []
    bounds = week_bounds(window, trend_weeks(window, settings, [*first.values(), *registration_first]))
    whole = whole_weeks(plan, settings, window, bounds)
    recent = week_signatures(store, bounds[whole[0] : whole[-1] + 2] if whole.size else bounds[:1], settings)
    tables = {
        "audit": store.read("audit", *plan.spans["audit"], compact=True),
        "risk": store.read("risk", *plan.spans["risk"]),
        "registration": store.read("registration", anchors["registration"], compact=True),
        "privileged": store.read("privileged", anchors["privileged"]),
    }
    read = (tables["audit"], *plan.spans["audit"])
    now = unobserved.check(store, now, window.end, read)
    previous = None if previous is None else unobserved.check(store, previous, before.end, read)
    lookback_from = None if plan.lookback_from is None else to_ns(plan.lookback_from)
    history = (
        None
        if plan.since is None
        else aggregates.history(store, settings, bounds, to_ns(plan.since), first, lookback_from)
    )
    # the trend and last week's figures count only weeks the store holds complete, never the rows of a fetch
    # that failed part-way
    covered: dict[str, list[tuple[datetime, datetime]]] = {
        kind: [(i.start, i.end) for i in store.intervals(kind)] for kind in TIMED_KINDS
    }
    inputs = ReviewInputs(
        tables,
        now,
        window,
        tenant=tenant(store, config),
        previous_coverage=previous,
        history_start={kind: ivs[0].start for kind in TIMED_KINDS if (ivs := store.intervals(kind))},
        covered=covered,
        registration_counts=counts,
        registration_lean=lean_days(store.path),
        history=history,
        policy_events=read_policy_events(store),
        policy_snapshots=policy_snapshots(store, [now, *([previous] if previous else [])]),
    )
    release_arrow_memory()
    return inputs, recent


def _anchor(
    store: Store,
    window: ReviewWindow,
    now: dict[str, Coverage],
    previous: dict[str, Coverage] | None,
    compare: bool,
) -> datetime | None:
    """The first registration snapshot day read in full: the earlier of the chosen snapshots when every week
    reviewed chose one (its lookups read that snapshot only), else the one in force when the earliest reviewed
    week began, or a chosen one when earlier (the older ones come as counts)."""
    earliest = window.shift(1).start if compare else window.start
    chosen = _chosen_days("registration", now, previous)
    if len(chosen) == (2 if compare else 1):
        return min(chosen)
    anchor = max((d for d in store.snapshot_days("registration") if d <= earliest), default=None)
    if chosen:
        anchor = min([*chosen, *([anchor] if anchor is not None else [])])
    return anchor


def _roles_anchor(
    store: Store, start: datetime | None, now: dict[str, Coverage], previous: dict[str, Coverage] | None
) -> datetime | None:
    """The first roles snapshot day read: the one in force at ``start`` (the audit table's first time read; a
    lookup asks for the roles at an event's time, in the latest snapshot at or before it), or either week's chosen
    snapshot when earlier; ``None`` (every one) without ``start`` or a snapshot at or before it."""
    if start is None:
        return None
    anchor = max((d for d in store.snapshot_days("privileged") if d <= start), default=None)
    return None if anchor is None else min([anchor, *_chosen_days("roles", now, previous)])


def _chosen_days(kind: str, now: dict[str, Coverage], previous: dict[str, Coverage] | None) -> list[datetime]:
    """The days of the snapshots of ``kind`` the week and the week before chose (UTC midnight)."""
    return [
        c.snapshot.replace(hour=0, minute=0, second=0, microsecond=0)
        for c in (now.get(kind), (previous or {}).get(kind))
        if c is not None and c.snapshot is not None
    ]


def policy_snapshots(store: Store, coverages: list[dict[str, Coverage]]) -> dict[datetime, Mapping[str, Any]]:
    """The policy snapshot each week's coverage chose, by when it was taken."""
    out: dict[datetime, Mapping[str, Any]] = {}
    for cov in coverages:
        chosen = cov["policy"].snapshot if "policy" in cov else None
        found = store.read_policy(chosen) if chosen is not None else None
        if chosen is not None and found is not None:
            out[chosen] = found[1]
    return out


def reason_texts(store: Store, rules: tuple[ReasonRule, ...]) -> list[str] | None:
    """Every distinct resultReason the review classifies in the store (flow progress steps and failed resets,
    changes and unlocks), sorted; ``None`` when the store holds no audit events."""
    columns = ["activity_time", "activity", "result", "result_reason"]
    audit = store.read("audit", columns=columns, compact=True)
    if audit.empty:
        return None
    classified = classify_events(audit, rules)["classified"].to_numpy(dtype=bool)
    return sorted({str(v) for v in audit["result_reason"][classified].dropna().unique() if str(v).strip()})
