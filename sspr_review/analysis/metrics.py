"""Weekly SSPR metrics: the review week with the week before it, and the trend over the whole history.

Every metric is computed for all weeks at once (each event's week is found with one ``searchsorted`` and counted
with ``bincount``). Weeks end at the review window's end and step back seven days of wall-clock time in the
review time zone.

Missing data is ``None``/``<NA>``, never 0: a metric of a source that is not complete for the review week is
missing for that week, and a week before the start of a source's history (``history_start``, by default its
earliest record) is missing too. A ratio whose denominator is 0 (no flows, no resets) is missing as well.

Registration metrics use the latest stored snapshot *dated within the week*: a snapshot dated (UTC day of the
fetch) after the week's first local day and up to its last local day, the ``week_ending`` day itself included,
so the Monday-morning fetch describes the week that just ended. Among SSPR-enabled member users (a missing
``is_sspr_enabled`` counts as enabled), coverage is the SSPR-capable share; administrators (``is_admin`` or in
the roles snapshot) are shown separately, whatever their user type.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core.reason_rules import END_STATES, METHODS, WRITEBACK_END_STATES
from ..core.settings import AnalysisSettings
from ..core.vocabulary import TIMED_KINDS
from ..core.weeks import zone
from ._util import NAT, NS_PER_DAY, lower_isin, ns, take_rows, timestamps, to_ns, user_key, week_index
from .flows import is_kind
from .lean import lean_counts
from .prepare import ReviewData
from .privileged import role_candidates, roles_match
from .window import ReviewWindow

__all__ = [
    "AUDIT_METRICS",
    "METRIC_SPECS",
    "REGISTRATION_COUNT_COLUMNS",
    "REGISTRATION_COUNT_INPUT",
    "Metric",
    "MetricSpec",
    "audit_counts",
    "combine_registration_counts",
    "registration_counts",
    "registration_counts_arrow",
    "trend_weeks",
    "week_bounds",
    "weekly_metrics",
    "window_metrics",
]


@dataclass(frozen=True)
class MetricSpec:
    """Name, unit ("count", "ratio" in 0-1, or "currency"), the kind of data it is counted from and meaning of a
    metric (findings.json calls the kind ``source``)."""

    name: str
    unit: str
    kind: str
    description: str


def _method_specs() -> tuple[MetricSpec, ...]:
    out = []
    for m in METHODS:
        label = m.replace("_", " ")
        out += [
            MetricSpec(f"method_{m}_tried", "count", "audit", f"Flows in which the {label} gate was tried"),
            MetricSpec(f"method_{m}_failed", "count", "audit", f"Flows in which the {label} gate was never passed"),
            MetricSpec(f"method_{m}_failure_rate", "ratio", "audit", f"Failed / tried for the {label} gate"),
        ]
    return tuple(out)


#: Every metric, in report order.
METRIC_SPECS: Final[tuple[MetricSpec, ...]] = (
    MetricSpec("sspr_resets", "count", "audit", "Completed self-service password resets, one per flow"),
    MetricSpec("flows_started", "count", "audit", "SSPR flows started"),
    MetricSpec("flow_success_rate", "ratio", "audit", "Share of the flows started in the week that completed"),
    MetricSpec("blocked_users", "count", "audit", "Distinct users blocked from SSPR"),
    MetricSpec("account_unlocks", "count", "audit", "Accounts unlocked through self-service"),
    MetricSpec("password_changes", "count", "audit", "Self-service password changes"),
    MetricSpec("banned_password_rejections", "count", "audit", "New passwords rejected as banned"),
    MetricSpec(
        "writeback_failures",
        "count",
        "audit",
        "Password-writeback failures: SSPR flows (or events outside a flow) that failed on-premises",
    ),
    MetricSpec("unrecognised_reasons", "count", "audit", "SSPR events whose result reason no rule recognised"),
    MetricSpec("helpdesk_resets", "count", "audit", "Passwords reset by an administrator or the helpdesk"),
    MetricSpec("taps_issued", "count", "audit", "Temporary Access Passes issued"),
    MetricSpec("self_service_share", "ratio", "audit", "SSPR resets / (SSPR resets + helpdesk resets)"),
    MetricSpec("helpdesk_cost_avoided", "currency", "audit", "SSPR resets × the cost of one helpdesk reset"),
    MetricSpec("registration_coverage", "ratio", "registration", "SSPR-capable share of SSPR-enabled members"),
    MetricSpec("users_not_registered", "count", "registration", "SSPR-enabled members not SSPR-capable"),
    MetricSpec("sspr_enabled_members", "count", "registration", "SSPR-enabled member users"),
    MetricSpec("admin_registration_coverage", "ratio", "registration", "SSPR-capable share of administrators"),
    MetricSpec("admins_not_capable", "count", "registration", "Administrators not SSPR-capable"),
    *_method_specs(),
)
#: The metrics counted from audit events (a week's row of the weekly aggregates holds them).
AUDIT_METRICS: Final = tuple(s.name for s in METRIC_SPECS if s.kind == "audit")


@dataclass(frozen=True)
class Metric:
    """A metric's value for the review week and for the week before (``None`` when not known)."""

    name: str
    value: float | int | None
    previous: float | int | None
    unit: str
    #: The kind of data it is counted from (findings.json's ``source``).
    kind: str

    @property
    def change(self) -> float | int | None:
        """``value - previous``, when both are known."""
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


def week_bounds(window: ReviewWindow, weeks: int) -> np.ndarray:
    """``weeks + 1`` boundaries (int64 ns, ascending) of the ``weeks`` weeks ending with the review week."""
    ends = [to_ns(window.shift(k).end) for k in range(weeks - 1, -1, -1)]
    return np.array([to_ns(window.shift(weeks - 1).start), *ends], dtype=np.int64)


def _earliest(data: ReviewData) -> dict[str, int]:
    out: dict[str, int] = {kind: first for kind in TIMED_KINDS if (first := data.first_time(kind)) is not None}
    registration = ns(data.registration["snapshot_date"])
    if data.registration_counts is not None:
        registration = np.concatenate([registration, data.registration_counts["first_ns"].to_numpy(dtype=np.int64)])
    registration = registration[registration != NAT]
    if len(registration):
        out["registration"] = int(registration.min())
    return out


def _count(times: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    idx = week_index(np.asarray(times, dtype=np.int64), bounds)
    return np.bincount(idx[idx >= 0], minlength=len(bounds) - 1).astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _day_number(day: date) -> int:
    return day.toordinal() - date(1970, 1, 1).toordinal()


_REGISTRATION_COLUMNS: Final = ("user_id", "user_upn", "user_type", "is_sspr_enabled", "is_sspr_capable", "is_admin")
_REGISTRATION_METRICS: Final = (
    "registration_coverage",
    "users_not_registered",
    "sspr_enabled_members",
    "admin_registration_coverage",
    "admins_not_capable",
)
#: The stored registration columns :func:`registration_counts_arrow` reads.
REGISTRATION_COUNT_INPUT: Final = (
    "snapshot_date",
    "user_id",
    "user_upn",
    "user_type",
    "is_sspr_enabled",
    "is_sspr_capable",
    "is_admin",
)
#: Columns of :func:`registration_counts`.
REGISTRATION_COUNT_COLUMNS: Final = (
    "day",
    "first_ns",
    "enabled_members",
    "capable_members",
    "admins",
    "capable_admins",
    "capable_non_members",
)


def _tally(
    day: np.ndarray,
    member: np.ndarray,
    enabled: np.ndarray,
    capable: np.ndarray,
    admin: np.ndarray,
    *,
    snap_ns: np.ndarray,
    non_member: np.ndarray | None = None,
) -> pd.DataFrame:
    if len(day) and day.min() == day.max():  # one snapshot: the usual case
        days, code = day[:1], np.zeros(len(day), dtype=np.intp)
        first = snap_ns.min(keepdims=True)
    else:
        days, code = np.unique(day, return_inverse=True)
        code = code.reshape(-1)
        first = np.full(len(days), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(first, code, snap_ns)
    n = len(days)

    def tally(mask: np.ndarray) -> np.ndarray:
        return np.bincount(code[mask], minlength=n).astype(np.int64)

    scope = member & enabled
    other = ~member if non_member is None else non_member
    return pd.DataFrame(
        {
            "day": days.astype(np.int64),
            "first_ns": first,
            "enabled_members": tally(scope),
            "capable_members": tally(scope & capable),
            "admins": tally(admin),
            "capable_admins": tally(admin & capable),
            "capable_non_members": tally(other & capable),
        }
    )


def registration_counts(privileged: pd.DataFrame, reg: pd.DataFrame, days: np.ndarray | None = None) -> pd.DataFrame:
    """Per registration snapshot day (UTC days since the epoch), what the registration metrics count.

    Among SSPR-enabled member users (a missing ``is_sspr_enabled`` counts as enabled) the SSPR-capable ones;
    administrators (``is_admin``, or in the latest ``privileged`` snapshot at or before the registration
    snapshot) and the capable ones among them. ``first_ns`` is the day's earliest ``snapshot_date``. Only the
    ``days`` given, when given. Columns: :data:`REGISTRATION_COUNT_COLUMNS`.
    """
    if reg.empty:
        return pd.DataFrame({c: np.zeros(0, dtype=np.int64) for c in REGISTRATION_COUNT_COLUMNS})
    snap_ns = ns(reg["snapshot_date"])
    valid = snap_ns != NAT
    day = np.where(valid, snap_ns // NS_PER_DAY, np.iinfo(np.int64).min)
    keep = valid if days is None else valid & np.isin(day, days)
    rows = np.flatnonzero(keep)
    sub = reg[list(_REGISTRATION_COLUMNS)].iloc[rows]
    member = lower_isin(sub["user_type"], ["member"])
    enabled = sub["is_sspr_enabled"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    capable = sub["is_sspr_capable"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    admin = sub["is_admin"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    admin |= roles_match(privileged, sub, snap_ns[rows])
    return _tally(day[rows], member, enabled, capable, admin, snap_ns=snap_ns[rows])


def registration_counts_arrow(privileged: pd.DataFrame, tables: Iterable[pa.Table]) -> pd.DataFrame:
    """:func:`registration_counts` of stored snapshots read one at a time as Arrow tables (the columns
    ``snapshot_date``, ``user_id``, ``user_upn``, ``user_type``, ``is_sspr_enabled``, ``is_sspr_capable``,
    ``is_admin``), without turning their hundreds of thousands of ids into Python objects: the flags are
    computed in Arrow, and only the rows that can be in a role (:func:`~.privileged.role_candidates`) are kept, to
    go through :func:`~.privileged.roles_match` together at the end."""
    ids, upns = role_candidates(privileged)
    id_set = pa.array(sorted(ids), pa.string())
    parts: list[pd.DataFrame] = []
    held: list[pd.DataFrame] = []  # rows that may be in a role and are not counted as admins yet
    for table in tables:
        if table.num_rows == 0:
            continue
        snap = table.column("snapshot_date").cast(pa.timestamp("ns", "UTC")).cast(pa.int64())
        snap_ns = np.asarray(pc.fill_null(snap, NAT).to_numpy(zero_copy_only=False), dtype=np.int64)
        valid = snap_ns != NAT
        member = _is_member(table.column("user_type"))
        enabled = _bools(table.column("is_sspr_enabled"), True)
        capable = _bools(table.column("is_sspr_capable"), False)
        admin = _bools(table.column("is_admin"), False)
        if ids or upns:
            user_id = table.column("user_id").cast(pa.string())
            maybe = pc.or_(pc.fill_null(pc.is_in(user_id, value_set=id_set), False), pc.is_null(user_id))
            rows = np.flatnonzero(_bools(maybe, False) & valid & ~admin)
            if rows.size:
                picked = table.select(["user_id", "user_upn"]).take(pa.array(rows)).to_pandas()
                held.append(
                    pd.DataFrame(
                        {
                            "user_id": pd.array(picked["user_id"].to_numpy(dtype=object), dtype="string"),
                            "user_upn": pd.array(picked["user_upn"].to_numpy(dtype=object), dtype="string"),
                            "snap_ns": snap_ns[rows],
                            "capable": capable[rows],
                        }
                    )
                )
        keep = np.flatnonzero(valid)
        parts.append(
            _tally(
                snap_ns[keep] // NS_PER_DAY,
                member[keep],
                enabled[keep],
                capable[keep],
                admin[keep],
                snap_ns=snap_ns[keep],
            )
        )
    if not parts:
        return registration_counts(privileged, pd.DataFrame())
    counts = pd.concat(parts, ignore_index=True)
    if held:
        maybe_admins = pd.concat(held, ignore_index=True)
        snap_ns = maybe_admins["snap_ns"].to_numpy(dtype=np.int64)
        hit = roles_match(privileged, maybe_admins, snap_ns)
        found = _tally(
            snap_ns[hit] // NS_PER_DAY,
            np.zeros(int(hit.sum()), dtype=bool),
            np.zeros(int(hit.sum()), dtype=bool),
            maybe_admins["capable"].to_numpy(dtype=bool)[hit],
            np.ones(int(hit.sum()), dtype=bool),
            snap_ns=snap_ns[hit],
            non_member=np.zeros(int(hit.sum()), dtype=bool),
        )
        counts = pd.concat([counts, found], ignore_index=True)
    return combine_registration_counts(counts)


def combine_registration_counts(counts: pd.DataFrame) -> pd.DataFrame:
    """Partial counts (:data:`REGISTRATION_COUNT_COLUMNS`, several rows a day) summed as one row per day."""
    if counts.empty:
        return pd.DataFrame({c: np.zeros(0, dtype=np.int64) for c in REGISTRATION_COUNT_COLUMNS})
    summed = counts.groupby("day", sort=True).agg(
        first_ns=("first_ns", "min"),
        enabled_members=("enabled_members", "sum"),
        capable_members=("capable_members", "sum"),
        admins=("admins", "sum"),
        capable_admins=("capable_admins", "sum"),
        capable_non_members=("capable_non_members", "sum"),
    )
    return summed.reset_index()[list(REGISTRATION_COUNT_COLUMNS)].astype(np.int64)


def _is_member(user_type: pa.ChunkedArray) -> np.ndarray:
    """``user_type`` is "member" (trimmed, any case), computed on the distinct values."""
    encoded = pc.dictionary_encode(user_type).combine_chunks()
    kinds = pc.utf8_lower(pc.utf8_trim_whitespace(encoded.dictionary.cast(pa.string())))
    hit = np.append(_bools(pc.equal(kinds, "member"), False), False)
    codes = np.asarray(pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.asarray(hit[codes], dtype=bool)


def _bools(values: pa.ChunkedArray | pa.Array, missing: bool) -> np.ndarray:
    return np.asarray(pc.fill_null(values, missing).to_numpy(zero_copy_only=False), dtype=bool)


def _registration(
    data: ReviewData, bounds: np.ndarray, timezone: str, fixed: Mapping[int, datetime | None] | None = None
) -> dict[str, np.ndarray]:
    weeks = len(bounds) - 1
    nan = np.full(weeks, np.nan)
    out = {k: nan.copy() for k in _REGISTRATION_METRICS}
    counts = data.registration_counts
    if counts is None:
        reg = data.registration
        if reg.empty:
            return out
        snap_ns = ns(reg["snapshot_date"])
        days = np.unique(snap_ns[snap_ns != NAT] // NS_PER_DAY)
    else:
        days = np.unique(counts["day"].to_numpy(dtype=np.int64))
    if days.size == 0:
        return out
    tz = zone(timezone)
    local_days = np.array(
        [_day_number(pd.Timestamp(int(b), tz="UTC").tz_convert(tz).date()) for b in bounds], dtype=np.int64
    )
    pick = np.searchsorted(days, local_days[1:], side="right") - 1
    valid = (pick >= 0) & (days[np.clip(pick, 0, None)] > local_days[:-1])
    for ago, when in (fixed or {}).items():
        week = weeks - 1 - ago
        if not 0 <= week < weeks:
            continue
        valid[week] = False
        if when is not None:
            day = to_ns(when) // NS_PER_DAY
            at = int(np.searchsorted(days, day))
            if at < len(days) and days[at] == day:
                pick[week], valid[week] = at, True
    chosen = np.unique(days[pick[valid]])
    if counts is None:
        counts = lean_counts(registration_counts(data.privileged, data.registration, chosen), data.registration_lean)
    counts = counts.groupby("day", sort=True).sum(numeric_only=True).reindex(chosen, fill_value=0)
    den = counts["enabled_members"].to_numpy(dtype=np.float64)
    cap = counts["capable_members"].to_numpy(dtype=np.float64)
    admins = counts["admins"].to_numpy(dtype=np.float64)
    admins_cap = counts["capable_admins"].to_numpy(dtype=np.float64)
    per_snapshot = {
        "registration_coverage": _ratio(cap, den),
        "users_not_registered": den - cap,
        "sspr_enabled_members": den,
        "admin_registration_coverage": _ratio(admins_cap, admins),
        "admins_not_capable": admins - admins_cap,
    }
    week_of = np.flatnonzero(valid)
    snap_of = np.searchsorted(chosen, days[pick[valid]])
    for name, values in per_snapshot.items():
        out[name][week_of] = values[snap_of]
    return out


def audit_counts(data: ReviewData, bounds: np.ndarray, settings: AnalysisSettings) -> dict[str, np.ndarray]:
    """Each audit metric per week of ``bounds`` (float64; NaN: an undefined ratio), from the tables."""
    events = data.events
    success = events["success"].to_numpy(dtype=bool)
    time = events["time"].to_numpy()
    flows = data.flows
    start = ns(flows["start"])
    completed = flows["completed"].to_numpy(dtype=bool)
    out: dict[str, np.ndarray] = {}
    resets = _count(ns(data.resets["time"]), bounds)
    helpdesk = _count(ns(data.admin_resets["time"]), bounds)
    out["sspr_resets"] = resets
    started = _count(start, bounds)
    out["flows_started"] = started
    out["flow_success_rate"] = _ratio(_count(start[completed], bounds), started)
    blocked_rows = np.flatnonzero(is_kind(events, "blocked"))
    blocked = pd.DataFrame(
        {
            "week": week_index(time[blocked_rows], bounds),
            "user": user_key(take_rows(data.audit, blocked_rows, ["user_id", "user_upn"])).fillna("?").to_numpy(),
        }
    ).drop_duplicates()
    blocked = blocked[blocked["week"] >= 0]
    out["blocked_users"] = np.bincount(blocked["week"].to_numpy(), minlength=len(bounds) - 1).astype(np.float64)
    out["account_unlocks"] = _count(time[is_kind(events, "unlock") & success], bounds)
    out["password_changes"] = _count(time[is_kind(events, "change") & success], bounds)
    banned = np.asarray(events["end_state"].cat.codes) == END_STATES.index("banned_password")
    out["banned_password_rejections"] = _count(time[banned], bounds)
    out["writeback_failures"] = _writeback_failures(events, bounds)
    unrecognised = events["classified"].to_numpy(dtype=bool) & ~events["recognised"].to_numpy(dtype=bool)
    out["unrecognised_reasons"] = _count(time[unrecognised], bounds)
    out["helpdesk_resets"] = helpdesk
    out["taps_issued"] = _count(ns(data.taps["time"]), bounds)
    out["self_service_share"] = _ratio(resets, resets + helpdesk)
    out["helpdesk_cost_avoided"] = resets * settings.helpdesk_reset_cost
    tried = flows["tried_bits"].to_numpy()
    failed = flows["failed_bits"].to_numpy()
    for i, m in enumerate(METHODS):
        bit = 1 << i
        t = _count(start[(tried & bit) != 0], bounds)
        f = _count(start[(failed & bit) != 0], bounds)
        out[f"method_{m}_tried"] = t
        out[f"method_{m}_failed"] = f
        out[f"method_{m}_failure_rate"] = _ratio(f, t)
    return out


def _writeback_failures(events: pd.DataFrame, bounds: np.ndarray) -> np.ndarray:
    """Per week, the writeback failures as the ``writeback_failure`` findings count attempts: one per SSPR flow
    (in the week of its first failed event), one per failed event outside a flow."""
    rows = np.flatnonzero(np.isin(events["end_state"].cat.codes, [END_STATES.index(s) for s in WRITEBACK_END_STATES]))
    times = events["time"].to_numpy()[rows]
    flow = events["flow"].to_numpy()[rows] if "flow" in events else np.full(rows.size, -1)
    in_flow = flow >= 0
    first = pd.Series(times[in_flow]).groupby(flow[in_flow]).min().to_numpy(dtype=np.int64)
    return _count(np.concatenate([first, times[~in_flow]]), bounds)


def weekly_metrics(
    data: ReviewData,
    window: ReviewWindow,
    settings: AnalysisSettings | None = None,
    *,
    history_start: Mapping[str, datetime] | None = None,
    covered: Mapping[str, Sequence[tuple[datetime, datetime]]] | None = None,
    weeks: int | None = None,
    registration_snapshots: Mapping[int, datetime | None] | None = None,
) -> pd.DataFrame:
    """One row per week, oldest first, ending with the review week: the trend over the whole history.

    Columns: ``week_start``, ``week_end`` (UTC), ``week_ending`` (local date of the end) and one column per
    :data:`METRIC_SPECS` entry (``Int64`` counts, ``Float64`` ratios and amounts; ``<NA>`` when unknown).
    ``weeks`` fixes the number of weeks (default: from the earliest record of any table, at least 2, at most
    ``settings.max_history_weeks``). ``history_start`` gives, per time-ranged source, the time from which the
    store is complete (default: its earliest record); earlier and partly covered weeks are ``<NA>``. ``covered``
    gives instead, per time-ranged source, the intervals ``(start, end)`` the store holds complete data for: a
    week not wholly inside one of them is ``<NA>`` whatever rows it holds (a fetch that failed part-way leaves
    rows but no interval). The review week follows ``data.complete`` instead. ``registration_snapshots`` fixes
    the registration snapshot of some weeks, by weeks before the review week (0: the review week, 1: the week
    before), as the review's coverage chose them (``None``: no snapshot of its own, the week's registration
    metrics are ``<NA>``); the other weeks use the latest snapshot dated within the week.

    >>> from sspr_review.core import schema
    >>> from sspr_review.analysis import prepare, review_window
    >>> data = prepare({"audit": schema.empty("audit")})
    >>> weekly_metrics(data, review_window("2024-03-11", "UTC"), weeks=2)["sspr_resets"].tolist()
    [<NA>, 0]
    """
    settings = AnalysisSettings() if settings is None else settings
    earliest = _earliest(data)
    if weeks is None:
        weeks = trend_weeks(window, settings, earliest.values())
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    bounds = week_bounds(window, weeks)
    values = audit_counts(data, bounds, settings)
    if data.history is not None:  # the weeks before the tables: from the weekly aggregates
        before, known = data.history.known(bounds, AUDIT_METRICS)
        values = {name: np.where(before, known[name], column) for name, column in values.items()}
    values |= _registration(data, bounds, window.timezone, registration_snapshots)
    starts = {**earliest, **{k: to_ns(v) for k, v in (history_start or {}).items()}}
    last = weeks - 1
    tz = zone(window.timezone)
    frame = pd.DataFrame(
        {
            "week_start": timestamps(bounds[:-1]),
            "week_end": timestamps(bounds[1:]),
            "week_ending": [str(pd.Timestamp(int(b), tz="UTC").tz_convert(tz).date()) for b in bounds[1:]],
        }
    )
    for spec in METRIC_SPECS:
        column = np.asarray(values[spec.name], dtype=np.float64).copy()
        if spec.kind in TIMED_KINDS:
            if covered is not None and spec.kind in covered:
                held = _weeks_inside(bounds, covered[spec.kind])
            else:
                begin = starts.get(spec.kind)
                held = bounds[:-1] >= begin if begin is not None else np.zeros(weeks, dtype=bool)
            column[~held] = np.nan
        if not data.has(spec.kind):
            column[last] = np.nan
        elif spec.kind in TIMED_KINDS:
            column[last] = values[spec.name][last]
        if spec.unit == "count":
            frame[spec.name] = pd.array(_ints(column), dtype="Int64")
        else:
            frame[spec.name] = pd.array(_floats(column), dtype="Float64")
    return frame


def trend_weeks(window: ReviewWindow, settings: AnalysisSettings, earliest: Iterable[int]) -> int:
    """The trend's weeks: from the earliest record (ns) to the week's end, 2 to ``max_history_weeks``."""
    first = min(earliest, default=to_ns(window.previous_start))
    span = to_ns(window.end) - first
    return max(2, min(settings.max_history_weeks, math.ceil(span / (7 * NS_PER_DAY))))


def _weeks_inside(bounds: np.ndarray, intervals: Sequence[tuple[datetime, datetime]]) -> np.ndarray:
    """Per week of ``bounds``, whether it lies wholly inside one of ``intervals`` (closed)."""
    starts, ends = bounds[:-1], bounds[1:]
    inside = np.zeros(len(starts), dtype=bool)
    for first, last in intervals:
        inside |= (starts >= to_ns(first)) & (ends <= to_ns(last))
    return inside


def _floats(column: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in column.tolist()]


def _ints(column: np.ndarray) -> list[int | None]:
    return [None if math.isnan(v) else round(v) for v in column.tolist()]


def _scalar(value: object) -> float | int | None:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else float(value)
    return None


def window_metrics(
    data: ReviewData,
    window: ReviewWindow,
    settings: AnalysisSettings | None = None,
    *,
    history_start: Mapping[str, datetime] | None = None,
    weekly: pd.DataFrame | None = None,
    registration_snapshots: Mapping[int, datetime | None] | None = None,
) -> dict[str, Metric]:
    """Metrics of the review week, each with the previous week's value (from :func:`weekly_metrics`)."""
    if weekly is None:
        weekly = weekly_metrics(
            data,
            window,
            settings,
            history_start=history_start,
            weeks=2,
            registration_snapshots=registration_snapshots,
        )
    current = weekly.iloc[-1]
    previous = weekly.iloc[-2] if len(weekly) > 1 else None
    return {
        spec.name: Metric(
            name=spec.name,
            value=_scalar(current[spec.name]),
            previous=None if previous is None else _scalar(previous[spec.name]),
            unit=spec.unit,
            kind=spec.kind,
        )
        for spec in METRIC_SPECS
    }
