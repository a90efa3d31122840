"""The derived tables every metric and rule uses, computed once: :class:`ReviewData` from :func:`prepare`.

Building it classifies every audit event, groups SSPR flows, and picks out completed resets (one per flow),
admin/helpdesk resets (de-duplicated) and Temporary Access Passes. The rules and metrics then select from these
tables by time; none of them loops over events.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, TypeVar, cast

import numpy as np
import pandas as pd

from ..core import schema
from ..core.coverage import Coverage
from ..core.settings import AnalysisSettings
from ..core.vocabulary import SYNC_ACCOUNT_PREFIX
from ._util import (
    NAT,
    NS_PER_DAY,
    NS_PER_MINUTE,
    isin,
    lower,
    ns,
    take_rows,
    timestamps,
    to_ns,
    user_key,
)
from .flows import classify_events, completed_resets, flows, is_kind
from .history import History
from .lean import lean_counts
from .policy_changes import PolicyChanges, parse_policy_changes

__all__ = [
    "TABLE_KINDS",
    "ReviewData",
    "admin_resets",
    "chosen_snapshots",
    "complete_kinds",
    "for_window",
    "kind_gaps",
    "prepare",
    "temporary_access_passes",
]

T = TypeVar("T")

#: Which kind of data (its coverage) each table comes from.
TABLE_KINDS: Final[Mapping[str, str]] = {
    "audit": "audit",
    "risk": "risk",
    "registration": "registration",
    "privileged": "roles",
}


@dataclass(frozen=True)
class ReviewData:
    """Normalised tables plus what the analyses derive from them (see :func:`prepare`).

    ``complete`` names the sources whose coverage is complete for the review window; a rule or metric that
    needs another source is not evaluated. ``events`` is :func:`~.flows.classify_events` of ``audit`` plus
    ``flow``; ``flows`` one row per flow; ``resets`` the completed SSPR resets (one per flow);
    ``admin_resets`` the admin/helpdesk resets; ``taps`` the Temporary Access Passes issued.
    """

    audit: pd.DataFrame
    risk: pd.DataFrame
    registration: pd.DataFrame
    privileged: pd.DataFrame
    events: pd.DataFrame
    flows: pd.DataFrame
    resets: pd.DataFrame
    admin_resets: pd.DataFrame
    taps: pd.DataFrame
    complete: frozenset[str] = field(default_factory=frozenset)
    #: Per registration snapshot day, the counts the registration metrics need (see
    #: :func:`~.metrics.registration_counts`), computed over every snapshot when ``registration`` holds only
    #: the recent ones (``Workspace.review`` streams the older snapshots instead of loading them); ``None``:
    #: computed from ``registration``.
    registration_counts: pd.DataFrame | None = None
    #: Per source, what it lacks for the review window (see :func:`kind_gaps`): the reason of an incomplete
    #: source, or the parts a complete source could not read (PIM eligibility, a role group's members).
    gaps: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Per snapshot source (``registration``, ``roles``), the snapshot the window under evaluation uses (see
    #: :meth:`~sspr_review.ingest.store.history.Store.coverage`): every lookup of the window reads that snapshot.
    #: Empty: each
    #: event uses the latest snapshot at or before it.
    snapshots: Mapping[str, datetime] = field(default_factory=dict)
    #: Lean registration snapshots (see :mod:`.lean`): snapshot day (UTC days since the epoch) → Graph's
    #: ``ssprCapable`` count over every user type. Their member counts come from it.
    registration_lean: Mapping[int, int] = field(default_factory=dict)
    #: When set, every :func:`~.privileged.registration_lookup` appends the accounts it looks up (``user_id``,
    #: ``user_upn``): see :func:`~.lookups.accounts_looked_up`.
    lookups: list[pd.DataFrame] | None = field(default=None, compare=False)
    #: The SSPR configuration changes of the whole history (see :mod:`.policy_changes`).
    policy: PolicyChanges = field(default_factory=PolicyChanges.empty, compare=False)
    #: The policy snapshots the review reads, by UTC day (days since the epoch): see :meth:`policy_snapshot`.
    policy_snapshots: Mapping[int, Mapping[str, Any]] = field(default_factory=dict, compare=False)
    #: Per time-ranged kind, the intervals the store holds complete (``ReviewInputs.covered``): the spike
    #: baseline counts only hours inside them as history. ``None``: the history held runs from the earliest
    #: event on.
    covered: Mapping[str, Sequence[tuple[datetime, datetime]]] | None = field(default=None, compare=False)

    #: The history before the tables (weekly aggregates and per-account summaries kept in the store), when the
    #: tables hold only the part of it the review reads in full (see :mod:`.history`); ``None``: they hold all.
    history: History | None = field(default=None, compare=False)
    #: What :meth:`shared` built, with the tables it was built from: :func:`dataclasses.replace` hands it on, so
    #: every window of a review reads it.
    built: dict[Hashable, tuple[tuple[pd.DataFrame, ...], Any]] = field(default_factory=dict, compare=False, repr=False)

    def first_time(self, kind: str) -> int | None:
        """The first record of ``kind`` (``audit`` or ``risk``) in the store (int64 ns): the history's, else the
        tables' (``None`` when there is none)."""
        if self.history is not None and kind in self.history.earliest:
            return int(self.history.earliest[kind])
        if kind == "audit":
            values = self.events["time"].to_numpy()
        else:
            values = ns(self.risk["detected_time"].fillna(self.risk["activity_time"]))
        values = values[values != NAT]
        return int(values.min()) if values.size else None

    def since(self) -> int | None:
        """From when the tables hold every record of the history (``None``: all of it; see :attr:`history`)."""
        return None if self.history is None else self.history.since

    def lookback(
        self, part: str, begin: int, end: int, ids: set[str] | None = None, upns: set[str] | None = None
    ) -> tuple[int, pd.DataFrame | None]:
        """What ``[begin, end)`` (int64 ns) of the lookback summary ``part`` (``ips``, ``starts``, ``resets``; see
        :mod:`.history`) comes from: the time from which the tables give it (``begin``, or :meth:`since` when
        later), and the summary's rows before that (of the accounts ``ids``/``upns`` when given; ``None`` when the
        tables hold the whole history)."""
        if self.history is None:
            return begin, None
        since = self.history.since
        return max(begin, since), self.history.between(part, begin, min(end, since), ids, upns)

    def has(self, kind: str) -> bool:
        """The kind of data is complete for the review window."""
        return kind in self.complete

    def lacks(self, kind: str) -> tuple[str, ...]:
        """What ``kind`` lacks for the review window: empty when it is complete and every part was read."""
        if kind not in self.complete:
            return self.gaps.get(kind) or (f"no {kind} data for the week",)
        return tuple(self.gaps.get(kind, ()))

    def snapshot_day(self, kind: str) -> int | None:
        """The UTC day (days since the epoch) of the snapshot of ``kind`` the window uses, if one is chosen."""
        when = self.snapshots.get(kind)
        return None if when is None else to_ns(when) // NS_PER_DAY

    def policy_snapshot(self) -> Mapping[str, Any] | None:
        """The policy snapshot the window uses (password protection, authentication methods, authorization policy
        and the organization's ``onPremisesSyncEnabled``), ``None`` when there is none."""
        day = self.snapshot_day("policy")
        return None if day is None else self.policy_snapshots.get(day)

    def roles(self) -> pd.DataFrame:
        """The ``privileged`` rows the window uses: the chosen roles snapshot's, else all of them."""
        day = self.snapshot_day("roles")
        if day is None:
            return self.privileged
        rows: pd.DataFrame = self.privileged[ns(self.privileged["snapshot_date"]) // NS_PER_DAY == day]
        return rows

    def shared(self, build: Callable[[ReviewData], T]) -> T:
        """``build(self)`` for what depends on the tables alone, not on the window: built once for every window of
        the review (:meth:`derived` keeps what a window derives). A copy of the data with other tables builds it
        again."""
        tables = (self.audit, self.events, self.flows, self.resets, self.admin_resets, self.risk, self.registration)
        kept = self.built.get(build)
        if kept is None or any(a is not b for a, b in zip(kept[0], tables, strict=True)):
            kept = self.built[build] = (tables, build(self))
        return cast(T, kept[1])

    def derived(self, build: Callable[..., T], *args: Hashable) -> T:
        """``build(self, *args)``, built on its first use with these arguments and kept with this data: what several
        rules read of the window (every reset, the privileged index, the week's resets with their privilege) is built
        once. A :class:`ReviewData` serves one window (the review makes one per week with
        :func:`dataclasses.replace`, which starts without what was kept), so it is never stale."""
        kept: dict[tuple[Hashable, ...], Any] = self.__dict__.setdefault("_derived", {})
        key = (build, *args)
        if key not in kept:
            kept[key] = build(self, *args)
        return cast(T, kept[key])


def _table(tables: Mapping[str, pd.DataFrame], name: str) -> pd.DataFrame:
    frame = tables.get(name)
    if frame is None:
        return schema.empty(name)
    missing = [c for c in schema.TABLES[name] if c not in frame.columns]
    if missing:
        raise ValueError(f"table {name!r} lacks the columns {missing}; build it with sspr_review.core.schema.conform")
    return frame.reset_index(drop=True)


_ADMIN_RESET_MATCH: Final = (
    "initiator_type",
    "initiator_id",
    "initiator_upn",
    "target_id",
    "target_upn",
    "correlation_id",
)
_ADMIN_RESET_COLUMNS: Final = (
    "user_id",
    "user_upn",
    "initiator_type",
    "initiator_id",
    "initiator_upn",
    "initiator_name",
    "ip",
    "correlation_id",
    "activity",
    "on_premises_agent",
)


def admin_resets(
    audit: pd.DataFrame,
    events: pd.DataFrame,
    flow_table: pd.DataFrame,
    settings: AnalysisSettings,
) -> pd.DataFrame:
    """Admin/helpdesk password resets (see :mod:`.activities`), events of one reset merged.

    The SSPR service's "Reset password (by admin)" and Core Directory's "Reset user password" for the same user
    within ``settings.admin_reset_merge_minutes`` are one reset. Columns: ``time``, ``user_id``, ``user_upn``,
    ``user_key``, ``initiator_type``, ``initiator_id``, ``initiator_upn``, ``initiator_name``, ``ip``,
    ``correlation_id``, ``activity``, ``on_premises_agent``, ``events``; sorted by time.
    """
    success = events["success"].to_numpy(dtype=bool)
    by_admin = is_kind(events, "admin_reset") & success
    directory = np.flatnonzero(is_kind(events, "directory_reset") & success)
    sub = take_rows(audit, directory, _ADMIN_RESET_MATCH)
    from_user = (lower(sub["initiator_type"]) == "user").to_numpy(dtype=bool, na_value=False)
    same_id = (lower(sub["initiator_id"]) == lower(sub["target_id"])).to_numpy(dtype=bool, na_value=False)
    same_upn = (lower(sub["initiator_upn"]) == lower(sub["target_upn"])).to_numpy(dtype=bool, na_value=False)
    sync = lower(sub["initiator_upn"]).str.startswith(SYNC_ACCOUNT_PREFIX).to_numpy(dtype=bool, na_value=False)
    flow_ids = flow_table["correlation_id"].dropna()
    in_flow = isin(lower(sub["correlation_id"]), flow_ids)
    keep = directory[from_user & ~same_id & ~same_upn & ~sync & ~in_flow]
    rows = np.union1d(np.flatnonzero(by_admin), keep)
    picked = take_rows(audit, rows, _ADMIN_RESET_COLUMNS)
    frame = pd.DataFrame(
        {
            "time": events["time"].to_numpy()[rows],
            "user_id": picked["user_id"].to_numpy(),
            "user_upn": picked["user_upn"].to_numpy(),
            "user_key": user_key(picked).to_numpy(),
            "initiator_type": picked["initiator_type"].to_numpy(),
            "initiator_id": picked["initiator_id"].to_numpy(),
            "initiator_upn": picked["initiator_upn"].to_numpy(),
            "initiator_name": picked["initiator_name"].to_numpy(),
            "ip": picked["ip"].to_numpy(),
            "correlation_id": picked["correlation_id"].to_numpy(),
            "activity": picked["activity"].to_numpy(),
            "on_premises_agent": picked["on_premises_agent"].to_numpy(),
        }
    )
    frame = frame[frame["time"].to_numpy() != NAT]
    frame["user_key"] = frame["user_key"].fillna(pd.Series("row:" + frame.index.astype(str), index=frame.index))
    frame = frame.sort_values(["user_key", "time"], kind="stable").reset_index(drop=True)
    time = frame["time"].to_numpy()
    keys = frame["user_key"].to_numpy()
    gap = settings.admin_reset_merge_minutes * NS_PER_MINUTE
    new = np.ones(len(frame), dtype=bool)
    if len(frame) > 1:
        new[1:] = (keys[1:] != keys[:-1]) | (np.diff(time) > gap)
    group = np.cumsum(new) - 1
    merged = frame.assign(_group=group).groupby("_group", sort=True)
    out = merged.first()
    out["events"] = merged.size()
    out["time"] = timestamps(out["time"].to_numpy()).to_numpy()
    out = out.reset_index(drop=True)
    for col in out.columns:
        if col not in ("time", "events"):
            out[col] = out[col].astype("string")
    out["time"] = pd.to_datetime(out["time"], utc=True)
    out["events"] = out["events"].astype(np.int64)
    result: pd.DataFrame = out.sort_values("time", kind="stable").reset_index(drop=True)
    return result


def temporary_access_passes(audit: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    """Temporary Access Passes issued: ``time``, ``user_id``, ``user_upn``, ``user_key``, ``initiator_upn``."""
    rows = np.flatnonzero(is_kind(events, "tap") & events["success"].to_numpy(dtype=bool))
    picked = take_rows(audit, rows, ("user_id", "user_upn", "initiator_upn"))
    out = pd.DataFrame(
        {
            "time": timestamps(events["time"].to_numpy()[rows]),
            "user_id": picked["user_id"].to_numpy(),
            "user_upn": picked["user_upn"].to_numpy(),
            "user_key": user_key(picked).to_numpy(),
            "initiator_upn": picked["initiator_upn"].to_numpy(),
        }
    )
    for col in ("user_id", "user_upn", "user_key", "initiator_upn"):
        out[col] = out[col].astype("string")
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def prepare(
    tables: Mapping[str, pd.DataFrame],
    settings: AnalysisSettings | None = None,
    *,
    coverage: Mapping[str, Coverage] | None = None,
    registration_counts: pd.DataFrame | None = None,
    registration_lean: Mapping[int, int] | None = None,
    history: History | None = None,
    policy_events: pd.DataFrame | None = None,
    policy_snapshots: Mapping[datetime, Mapping[str, Any]] | None = None,
) -> ReviewData:
    """Derive everything the rules and metrics need from the normalised ``tables``.

    ``tables`` maps ``audit``, ``risk``, ``registration`` and ``privileged`` to frames shaped like
    :mod:`sspr_review.core.schema` (a missing table is an empty one); string columns may also be categorical (as
    ``Store.read(..., compact=True)`` returns them). ``coverage`` says which sources are complete for the
    review window; without it, every table passed in counts as complete. ``registration_counts`` (see
    :func:`~.metrics.registration_counts`) stands in for the registration snapshots ``tables`` leaves out;
    ``registration_lean`` names the lean snapshots (see :attr:`ReviewData.registration_lean`), whose member
    counts in ``registration_counts`` are taken from Graph's count here.

    ``history``: what the weeks before the tables hold (see :attr:`ReviewData.history`).

    ``policy_events``: the audit rows (with ``raw``) of the SSPR configuration changes, for
    :func:`~.policy_changes.parse_policy_changes` (default: ``tables["audit"]`` when it has ``raw``);
    ``policy_snapshots``: the policy snapshots the review weeks use, by the time they were taken.
    """
    settings = AnalysisSettings() if settings is None else settings
    audit = _table(tables, "audit")
    flow_result = flows(audit, classify_events(audit, settings.rules()))
    events = flow_result.events  # the classification plus each event's flow (one frame held, not two)
    flow_table = flow_result.table
    resets = completed_resets(flow_table)
    resets["user_key"] = user_key(resets)
    lean = dict(registration_lean or {})
    if coverage is None:
        complete = frozenset(TABLE_KINDS[name] for name in tables if name in TABLE_KINDS)
        gaps: dict[str, tuple[str, ...]] = {}
    else:
        complete, gaps = complete_kinds(coverage), kind_gaps(coverage)
    return ReviewData(
        audit=audit,
        risk=_table(tables, "risk"),
        registration=_table(tables, "registration"),
        privileged=_table(tables, "privileged"),
        events=events,
        flows=flow_table,
        resets=resets,
        admin_resets=admin_resets(audit, events, flow_table, settings),
        taps=temporary_access_passes(audit, events),
        complete=complete,
        registration_counts=None if registration_counts is None else lean_counts(registration_counts, lean),
        gaps=gaps,
        registration_lean=lean,
        history=history,
        policy=parse_policy_changes(
            audit if policy_events is None and "raw" in audit else _policy_events(policy_events),
            settings.sspr_reconfirm_max_days,
        ),
        policy_snapshots={to_ns(when) // NS_PER_DAY: dict(doc) for when, doc in (policy_snapshots or {}).items()},
    )


def _policy_events(frame: pd.DataFrame | None) -> pd.DataFrame:
    """The policy events given (audit columns and ``raw``), or none."""
    if frame is None:
        return schema.empty("audit")
    return frame.reset_index(drop=True)


def complete_kinds(coverage: Mapping[str, Coverage]) -> frozenset[str]:
    """The kinds of data whose coverage is complete."""
    return frozenset(name for name, cov in coverage.items() if cov.complete)


def kind_gaps(coverage: Mapping[str, Coverage]) -> dict[str, tuple[str, ...]]:
    """Per kind of data that is not whole, what it lacks: the reason when it is incomplete, else the parts of it that
    could not be read (``Coverage.missing``)."""
    out = {}
    for name, cov in coverage.items():
        if not cov.complete:
            out[name] = (cov.reason or f"no {name} data for the week", *cov.missing)
        elif cov.missing:
            out[name] = tuple(cov.missing)
    return out


def chosen_snapshots(coverage: Mapping[str, Coverage]) -> dict[str, datetime]:
    """The snapshot each snapshot source's coverage says the window uses (for :attr:`ReviewData.snapshots`)."""
    return {name: cov.snapshot for name, cov in coverage.items() if cov.snapshot is not None and cov.complete}


def for_window(data: ReviewData, coverage: Mapping[str, Coverage]) -> ReviewData:
    """``data`` as the window ``coverage`` describes reads it: its complete sources, their gaps and the snapshots it
    uses. ``data`` itself when it is so already, so that what was derived for the window
    (:meth:`ReviewData.derived`) serves every part of its review, the findings and the figures alike."""
    complete, gaps, snapshots = complete_kinds(coverage), kind_gaps(coverage), chosen_snapshots(coverage)
    if data.complete == complete and dict(data.gaps) == gaps and dict(data.snapshots) == snapshots:
        return data
    return replace(data, complete=complete, gaps=gaps, snapshots=snapshots)
