"""The derived tables every metric and rule uses, computed once: :class:`ReviewData` from :func:`prepare`.

Building it classifies every audit event, groups SSPR flows, and picks out completed resets (one per flow),
admin/helpdesk resets (de-duplicated) and Temporary Access Passes. The rules and metrics then select from these
tables by time; none of them loops over events.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

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
    lower_isin,
    ns,
    snapshot_lookup,
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
    "PrivilegedIndex",
    "ReviewData",
    "admin_resets",
    "chosen_snapshots",
    "complete_kinds",
    "in_roles",
    "kind_gaps",
    "prepare",
    "privileged_lookup",
    "role_candidates",
    "roles_match",
    "temporary_access_passes",
]

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
    #: When set, every :func:`registration_lookup` appends the accounts it looks up (``user_id``,
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

    @functools.cached_property
    def reset_table(self) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
        """:func:`~.accounts.every_reset`, built on first use: :func:`~.accounts.resets_between` selects from it."""
        from .accounts import every_reset  # the accounts module builds on this one

        return every_reset(self)

    @functools.cached_property
    def privileged_index(self) -> PrivilegedIndex:
        """What :func:`privileged_lookup` reads of the role and registration data for the window, prepared on its
        first lookup and reused by the rules' later ones. A :class:`ReviewData` serves one window (the review
        makes one per week with :func:`dataclasses.replace`, which starts without it), so it is never stale."""
        return PrivilegedIndex.of(self)


@dataclass(frozen=True)
class PrivilegedIndex:
    """The part of :func:`privileged_lookup` that does not depend on the accounts looked up, for one window.

    ``role_users``: the user principals (``principal_type`` user or missing) of the roles the window uses
    (:meth:`ReviewData.roles`), with ``_snap`` (int64 ns), ``_id`` and ``_upn`` (lower-cased) and ``_key``
    (:func:`~._util.user_key`); ``registration``: the registration columns the ``is_admin`` flag is read from
    (of the snapshot day the window uses, when one is chosen), with ``registration_snap`` their snapshot times
    (int64 ns).
    """

    role_users: pd.DataFrame
    registration: pd.DataFrame
    registration_snap: np.ndarray

    @classmethod
    def of(cls, data: ReviewData) -> PrivilegedIndex:
        priv = data.roles()
        ptype = lower(priv["principal_type"])
        users = priv[((ptype == "user") | ptype.isna()).to_numpy(dtype=bool)]
        users = users.assign(
            _snap=ns(users["snapshot_date"]),
            _id=lower(users["principal_id"]).array,
            _upn=lower(users["user_upn"]).array,
            _key=user_key(users, "principal_id", "user_upn").array,
        )
        registration = data.registration[["snapshot_date", "user_id", "user_upn", "is_admin"]]
        snap = ns(registration["snapshot_date"])
        day = data.snapshot_day("registration")
        if day is not None:  # the window reads only that day's snapshot (snapshot_lookup's ``day``)
            keep = snap // NS_PER_DAY == day
            registration, snap = registration[keep], snap[keep]
        return cls(users, registration, snap)


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


def _join(values: pd.Series) -> str:
    return "; ".join(sorted({str(v) for v in values.dropna() if str(v)}))


def privileged_lookup(data: ReviewData, times: np.ndarray, ids: pd.Series, upns: pd.Series) -> pd.DataFrame:
    """Whether each account held a privileged role at the time: any available signal says so.

    The signals are the ``privileged`` table (active, eligible, via a group, or ``isAdmin``; the latest roles
    snapshot at or before the time) when the roles source is complete, and the registration report's
    ``is_admin`` flag (latest snapshot at or before the time) when registration is complete. An account flagged
    ``is_admin`` but absent from the role data is privileged, and ``mismatch`` marks it. Returns one row per
    event (positional): ``privileged`` (nullable boolean; missing when neither source is there), ``roles``,
    ``assignments``, ``groups`` ("; "-joined), ``basis`` ("roles" when the role data lists the account,
    "registration" when only ``is_admin`` does or when it is the only signal, missing without either),
    ``mismatch`` (boolean) and ``gaps`` (what the role data lacks, "; "-joined, or missing when it is whole:
    a "not privileged" answer is then certain only when ``gaps`` is missing).
    """
    n = len(times)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    has_roles, has_registration = data.has("roles"), data.has("registration")
    if has_roles:
        listed, found_cols = _role_holders(data, times, ids, upns)
    else:
        listed = np.zeros(n, dtype=bool)
        found_cols = {c: np.full(n, None, dtype=object) for c in ("roles", "assignments", "groups")}
    flagged = _admin_flags(data, times, ids, upns) if has_registration and n else np.zeros(n, dtype=bool)
    if not has_roles and not has_registration:
        out["privileged"] = pd.array([None] * n, dtype="boolean")
        for col in ("roles", "assignments", "groups", "basis"):
            out[col] = pd.array([None] * n, dtype="string")
        out["mismatch"] = np.zeros(n, dtype=bool)
        out["gaps"] = pd.array(["; ".join(data.lacks("roles"))] * n, dtype="string")
        return out
    only_flag = flagged & ~listed
    out["privileged"] = pd.array(listed | flagged, dtype="boolean")
    roles = found_cols["roles"].copy()
    roles[only_flag] = "(an administrator role; from the registration report's isAdmin)"
    assignments = found_cols["assignments"].copy()
    assignments[only_flag] = "isAdmin"
    out["roles"] = pd.array(roles, dtype="string")
    out["assignments"] = pd.array(assignments, dtype="string")
    out["groups"] = pd.array(found_cols["groups"], dtype="string")
    basis = np.where(listed, "roles", np.where(only_flag | (not has_roles), "registration", "roles"))
    out["basis"] = pd.array(basis.astype(object), dtype="string")
    out["mismatch"] = only_flag & has_roles
    gaps = "; ".join(data.lacks("roles")) or None
    out["gaps"] = pd.array([gaps] * n, dtype="string")
    return out


def _role_holders(
    data: ReviewData, times: np.ndarray, ids: pd.Series, upns: pd.Series
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per account at its time: listed in the roles snapshot in force (latest at or before the time), and its
    ``roles``, ``assignments`` and ``groups`` ("; "-joined, ``None`` when not listed)."""
    n = len(times)
    listed = np.zeros(n, dtype=bool)
    found_cols: dict[str, np.ndarray] = {c: np.full(n, None, dtype=object) for c in ("roles", "assignments", "groups")}
    users = data.privileged_index.role_users
    if not (len(users) and n):
        return listed, found_cols
    snap_ns = users["_snap"].to_numpy()
    dates = np.unique(snap_ns[snap_ns != NAT])
    needed = dates[np.clip(np.searchsorted(dates, times, side="right") - 1, 0, None)]
    wanted_ids = set(lower(pd.Series(ids.to_numpy(), dtype="string")).dropna().tolist())
    wanted_upns = set(lower(pd.Series(upns.to_numpy(), dtype="string")).dropna().tolist())
    users = users[np.isin(snap_ns, needed) & (isin(users["_id"], wanted_ids) | isin(users["_upn"], wanted_upns))]
    agg = (
        users.groupby(["snapshot_date", "_key"], sort=False, dropna=True)
        .agg(
            principal_id=("principal_id", "first"),
            user_upn=("user_upn", "first"),
            roles=("role_name", _join),
            assignments=("assignment", _join),
            groups=("via_group_name", _join),
        )
        .reset_index()
    )
    found = snapshot_lookup(
        times,
        ids,
        upns,
        agg,
        id_col="principal_id",
        upn_col="user_upn",
        columns=["roles", "assignments", "groups"],
    )
    listed = found["found"].to_numpy(dtype=bool)
    for col in found_cols:
        found_cols[col] = found[col].to_numpy(dtype=object)
    return listed, found_cols


def _admin_flags(data: ReviewData, times: np.ndarray, ids: pd.Series, upns: pd.Series) -> np.ndarray:
    """Per account at its time: flagged ``is_admin`` by the registration snapshot in force."""
    if not len(times):
        return np.zeros(0, dtype=bool)
    index = data.privileged_index
    reg = snapshot_lookup(
        times,
        ids,
        upns,
        index.registration,
        id_col="user_id",
        upn_col="user_upn",
        columns=["is_admin"],
        day=data.snapshot_day("registration"),
        snap_ns=index.registration_snap,
    )
    return reg["is_admin"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def registration_lookup(data: ReviewData, times: np.ndarray, ids: pd.Series, upns: pd.Series) -> pd.DataFrame:
    """Each account's row in the latest registration snapshot at or before the time (positional), with
    ``found``; empty columns when registration is not complete."""
    columns: Sequence[str] = (
        "is_admin",
        "is_sspr_registered",
        "is_sspr_enabled",
        "is_sspr_capable",
        "methods_registered",
        "method_count",
    )
    if data.lookups is not None:
        data.lookups.append(pd.DataFrame({"user_id": ids.to_numpy(), "user_upn": upns.to_numpy()}, dtype="string"))
    reg = data.registration if data.has("registration") else data.registration.iloc[0:0]
    return snapshot_lookup(
        times,
        ids,
        upns,
        reg,
        id_col="user_id",
        upn_col="user_upn",
        columns=list(columns),
        day=data.snapshot_day("registration"),
    )


def in_roles(data: ReviewData, reg: pd.DataFrame, reg_snap: np.ndarray) -> np.ndarray:
    """Registration rows whose user is in the roles snapshot the window uses (:meth:`ReviewData.roles`; without
    a chosen one, the latest roles snapshot at or before the registration snapshot)."""
    return roles_match(data.roles(), reg, reg_snap)


def role_candidates(priv: pd.DataFrame) -> tuple[set[str], set[str]]:
    """The ids (as given and lower-cased) and lower-cased UPNs of the user principals in ``priv``: a
    registration row can be in a role only if its ``user_id`` is one of the ids, or, without an id, its
    lower-cased UPN is one of the UPNs (see :func:`roles_match`)."""
    ptype = lower(priv["principal_type"])
    priv = priv[((ptype == "user") | ptype.isna()).to_numpy(dtype=bool)]
    return set(lower(priv["principal_id"]).dropna()) | set(priv["principal_id"].dropna()), set(
        lower(priv["user_upn"]).dropna()
    )


def roles_match(priv: pd.DataFrame, reg: pd.DataFrame, reg_snap: np.ndarray) -> np.ndarray:
    """:func:`in_roles` against the ``privileged`` table ``priv``."""
    if priv.empty or reg.empty:
        return np.zeros(len(reg), dtype=bool)
    ptype = lower(priv["principal_type"])
    priv = priv[((ptype == "user") | ptype.isna()).to_numpy(dtype=bool)]
    ids = lower(priv["principal_id"])
    upns = lower(priv["user_upn"])
    reg_ids = reg["user_id"].astype("string")
    reg_upns = reg["user_upn"].astype("string")
    candidates = isin(reg_ids, set(ids.dropna()) | set(priv["principal_id"].dropna()))
    no_id = np.flatnonzero(reg_ids.isna().to_numpy(dtype=bool))
    candidates[no_id] = lower_isin(reg_upns.iloc[no_id], upns.dropna())
    rows = np.flatnonzero(candidates)
    out = np.zeros(len(reg), dtype=bool)
    if rows.size == 0:
        return out
    priv_ns = ns(priv["snapshot_date"])
    dates = np.unique(priv_ns[priv_ns != NAT])
    use = dates[np.clip(np.searchsorted(dates, reg_snap[rows], side="right") - 1, 0, None)]
    keys = pd.DataFrame({"_snap": priv_ns, "_id": ids.to_numpy(), "_upn": upns.to_numpy()})
    left = pd.DataFrame(
        {"_snap": use, "_id": lower(reg_ids.iloc[rows]).to_numpy(), "_upn": lower(reg_upns.iloc[rows]).to_numpy()}
    )
    by_id = left.reset_index().merge(keys[["_snap", "_id"]].dropna().drop_duplicates(), on=["_snap", "_id"])
    by_upn = left.reset_index().merge(keys[["_snap", "_upn"]].dropna().drop_duplicates(), on=["_snap", "_upn"])
    hit = np.union1d(by_id["index"].to_numpy(), by_upn["index"].to_numpy()).astype(np.int64)
    out[rows[hit]] = True
    return out
