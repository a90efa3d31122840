"""SSPR flows: progress events grouped by ``correlationId``, classified, one row per flow.

A flow is every "Self-service password reset flow activity progress" and "Reset password (self-service)" event
sharing a correlation id; an event without one is a flow of its own. A flow is **completed** when it has a
successful "Reset password (self-service)" event or a progress step classified ``completed`` ("User successfully
reset password", "Successfully completed reset."), and then counts as one completed reset however many of those
events it has.

The end state of a flow is ``completed`` when it completed, else the end state of its last step that ends
something (unlocked, abandoned, cancelled, contacted admin, throttled, failed configuration, failed writeback,
banned password, failed password policy, failed system), else ``in_progress``. A flow with a step logged as
success whose password the cloud refused after Active Directory took it (``OnPremisesSuccessCloudFailure``:
``cloud_password_rejected``) ends so and is never completed; such an event is not counted as a success. An
unlock ("User successfully unlocked the account") ends a flow without a reset: it is no completed reset. A method
was *tried* when a gate for it started or completed, or the user was throttled or contacted an admin after trying
it; *verified* when its gate completed; *failed* when tried and never verified in the flow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np
import pandas as pd

from ..core.reason_rules import FAILED_DESPITE_SUCCESS, NO_REASON
from . import activities as act
from ._util import NAT, lower, ns, timestamps, to_ns
from .reasons import END_STATES, METHODS, STAGES, ReasonRule, classification_frame, classify_unique

__all__ = [
    "Flows",
    "classify_events",
    "completed_resets",
    "flows",
    "is_kind",
    "method_labels",
    "unrecognised_reasons",
]

#: Activity kinds whose failed events have their resultReason classified too (writeback, banned passwords).
_FAILURE_CLASSIFIED: Final = ("sspr_reset", "change", "unlock", "admin_reset")
_FLOW_KINDS: Final = ("progress", "sspr_reset")
_TERMINAL: Final = tuple(s for s in END_STATES if s != "in_progress")


def is_kind(events: pd.DataFrame, *kinds: str) -> np.ndarray:
    """Boolean array: the event's kind (see :mod:`.activities`) is one of ``kinds`` (compares category codes)."""
    codes = np.asarray(events["kind"].cat.codes)
    return np.isin(codes, [act.KINDS.index(k) for k in kinds])


def classify_events(audit: pd.DataFrame, rules: tuple[ReasonRule, ...] | None = None) -> pd.DataFrame:
    """Kind and reason classification of every audit row; a frame aligned with ``audit``.

    Columns: ``kind`` (categorical, see :mod:`.activities`), ``success`` (bool), ``time`` (int64 ns),
    ``classified`` (the reason was classified: progress events, and failed self-service or admin-reset events
    with a reason), and ``stage``, ``method``, ``end_state``, ``end_state_rule``, ``matched``, ``recognised``
    as from :func:`~sspr_review.analysis.reasons.classify_reasons` (missing/False where not classified).

    The distinct reason texts are classified once and mapped back to the events by their codes. ``rules``: the
    reason rules in force (default: the packaged table; see :meth:`.AnalysisSettings.rules`).
    """
    kind = act.activity_kind(audit)
    success = act.is_success(audit)
    codes, uniques = pd.factorize(audit["result_reason"], use_na_sentinel=True)
    texts = pd.Index(uniques)
    lowered = texts.astype("string").str.strip().str.lower().to_numpy(dtype=object, na_value="")
    blank = np.append(np.isin(lowered, list(NO_REASON)), True)  # "None" is no reason; code -1: none given
    found = classify_unique(texts, rules)
    # an event logged as success that did not do what it says (AD took the password, the cloud refused it)
    despite = np.append(np.isin(found.end_state, [END_STATES.index(s) for s in FAILED_DESPITE_SUCCESS]), False)
    frame = pd.DataFrame({"kind": kind.array}, index=audit.index)
    outcome = is_kind(frame, *_FAILURE_CLASSIFIED) & ~blank[codes]
    classified = is_kind(frame, "progress") | (outcome & (~success | despite[codes]))
    success = success & ~(classified & despite[codes])
    classes = classification_frame(found, np.where(classified, codes, -1), audit.index, rules)
    return pd.DataFrame(
        {
            "kind": kind.array,
            "success": success,
            "time": ns(audit["activity_time"]),
            "classified": classified,
            "stage": classes["stage"].array,
            "method": classes["method"].array,
            "end_state": classes["end_state"].array,
            "end_state_rule": classes["end_state_rule"].array,
            "matched": classes["matched"].to_numpy(),
            "recognised": classes["recognised"].to_numpy(),
        },
        index=audit.index,
    )


def method_labels(bits: np.ndarray) -> np.ndarray:
    """Bit masks over :data:`METHODS` as comma-separated method names ("" for none)."""
    bits = np.asarray(bits, dtype=np.int64)
    uniques, inverse = np.unique(bits, return_inverse=True)
    labels = np.array(
        [",".join(m for i, m in enumerate(METHODS) if int(u) >> i & 1) for u in uniques.tolist()], dtype=object
    )
    return labels[inverse.reshape(-1)] if len(bits) else np.zeros(0, dtype=object)


@dataclass(frozen=True)
class Flows:
    """Flows of an audit table.

    ``table`` has one row per flow: ``flow_id``, ``correlation_id`` (missing for a single-event flow),
    ``user_id``, ``user_upn``, ``ip`` (first non-missing of the flow), ``start``, ``end``, ``events``,
    ``furthest_stage``, ``end_state``, ``completed``, ``completed_time`` (first completion event),
    ``completion_events``, ``has_reset_event``, ``has_progress_completion``, ``methods_tried``,
    ``methods_verified``, ``methods_failed`` (comma-separated) and the same as bit masks over
    :data:`~sspr_review.analysis.reasons.METHODS` (``tried_bits``, ``verified_bits``, ``failed_bits``).

    ``events`` is the classification of every audit row (see :func:`classify_events`) plus ``flow`` (row number
    in ``table``, -1 for events outside flows).
    """

    table: pd.DataFrame
    events: pd.DataFrame

    @property
    def completed(self) -> pd.DataFrame:
        """The completed flows (one completed SSPR reset each)."""
        return self.table[self.table["completed"].to_numpy(dtype=bool)]


def _flow_codes(audit: pd.DataFrame, rows: np.ndarray) -> tuple[np.ndarray, pd.Series, np.ndarray]:
    """Flow number of each event in ``rows``, the flow ids, and which flows have a correlation id.

    Correlation ids are compared trimmed and case-insensitively (on the distinct values only); an event without
    one is a flow of its own, ``event:<audit id>``.
    """
    all_codes, raw = pd.factorize(audit["correlation_id"], use_na_sentinel=True)
    raw_codes = all_codes[rows]
    del all_codes
    used = np.flatnonzero(np.bincount(raw_codes[raw_codes >= 0], minlength=len(raw)))
    norm_codes, norm = pd.factorize(lower(pd.Series(pd.Index(raw).take(used), dtype="string")), use_na_sentinel=True)
    lookup = np.full(len(raw) + 1, -1, dtype=np.int64)  # the last entry serves code -1 (no correlation id)
    lookup[used] = norm_codes
    code = lookup[raw_codes]
    alone = np.flatnonzero(code < 0)
    code[alone] = len(norm) + np.arange(alone.size)
    ids = audit["id"].iloc[rows[alone]].astype("string").reset_index(drop=True)
    ids = ("event:" + ids).fillna(pd.Series("row:" + pd.Series(rows[alone]).astype(str), dtype="string"))
    flow_ids = pd.concat([pd.Series(pd.Index(norm), dtype="string"), ids], ignore_index=True)
    has_correlation = np.arange(len(flow_ids)) < len(norm)
    return code, flow_ids, has_correlation


def _first_present(column: pd.Series, rows_sorted: np.ndarray, flow_sorted: np.ndarray, n_flows: int) -> pd.Series:
    """Per flow, the first non-missing value of ``column`` among its events (in time order)."""
    present = np.flatnonzero(column.notna().to_numpy(dtype=bool)[rows_sorted])
    first = present[np.r_[True, flow_sorted[present][1:] != flow_sorted[present][:-1]]] if present.size else present
    take = np.full(n_flows, -1, dtype=np.int64)
    take[flow_sorted[first]] = rows_sorted[first]
    values = column.array.take(take, allow_fill=True)
    return pd.Series(values).astype("string").reset_index(drop=True)


@dataclass(frozen=True)
class _Grouped:
    """The flow events sorted by flow then time: their audit ``rows``, ``flows`` (codes) and ``times``, where each
    flow ``starts``; the flows' ids, which of them are correlation ids, and each audit row's flow (-1: none)."""

    rows: np.ndarray
    flows: np.ndarray
    times: np.ndarray
    starts: np.ndarray
    flow_ids: pd.Series
    has_correlation: np.ndarray
    flow_of_event: np.ndarray


def _group_events(audit: pd.DataFrame, events: pd.DataFrame) -> _Grouped:
    """One sort of the flow events by (flow, time) and the flow boundaries."""
    time_all = events["time"].to_numpy()
    rows = np.flatnonzero(is_kind(events, *_FLOW_KINDS) & (time_all != NAT))
    code, flow_ids, has_correlation = _flow_codes(audit, rows)
    index = np.int32 if max(len(audit), len(flow_ids)) < 2**31 else np.int64
    code = code.astype(index)
    rows = rows.astype(index)
    flow_of_event = np.full(len(audit), -1, dtype=index)
    flow_of_event[rows] = code
    ts = time_all[rows]
    order = np.lexsort((ts, code))
    rs = rows[order]  # audit rows, sorted by flow then time
    fs = code[order]
    ts = ts[order]
    starts = np.flatnonzero(np.r_[True, fs[1:] != fs[:-1]]) if len(fs) else np.zeros(0, dtype=np.int64)
    return _Grouped(rs, fs, ts, starts, flow_ids, has_correlation, flow_of_event)


def flows(audit: pd.DataFrame, events: pd.DataFrame | None = None) -> Flows:
    """Group SSPR events into flows (see the module docstring). ``events``: a ready :func:`classify_events`.

    Vectorised: one sort by (flow, time), then ``ufunc.reduceat`` over the flow boundaries.
    """
    events = classify_events(audit) if events is None else events
    grouped = _group_events(audit, events)
    rs, fs, ts, starts = grouped.rows, grouped.flows, grouped.times, grouped.starts
    flow_ids, has_correlation, n_flows = grouped.flow_ids, grouped.has_correlation, len(grouped.flow_ids)
    kind_codes = np.asarray(events["kind"].cat.codes)[rs]
    success = events["success"].to_numpy(dtype=bool)[rs]
    end_code = np.asarray(events["end_state"].cat.codes)[rs].astype(np.int16)
    stage_code = np.asarray(events["stage"].cat.codes)[rs].astype(np.int16)
    method_code = np.asarray(events["method"].cat.codes)[rs].astype(np.int16)
    is_reset = (kind_codes == act.KINDS.index("sspr_reset")) & success
    is_progress_done = end_code == END_STATES.index("completed")
    done = is_reset | is_progress_done
    despite = np.isin(end_code, [END_STATES.index(s) for s in FAILED_DESPITE_SUCCESS])
    bit = np.where(method_code >= 0, np.left_shift(1, np.maximum(method_code, 0)), 0).astype(np.int16)
    del method_code
    gate = np.isin(stage_code, [STAGES.index("gate_started"), STAGES.index("gate_verified")])
    tried_end = np.isin(end_code, [END_STATES.index("contacted_admin"), END_STATES.index("throttled")])
    tried = np.where(gate | tried_end, bit, 0)
    verified = np.where(stage_code == STAGES.index("gate_verified"), bit, 0)
    terminal = np.isin(end_code, [END_STATES.index(s) for s in _TERMINAL])

    def reduce(ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        if len(values) == 0:
            return np.zeros(0, dtype=values.dtype)
        return np.asarray(ufunc.reduceat(values, starts))

    completion_events = reduce(np.add, done.astype(np.int64))
    # a flow whose password the cloud refused is never a completed reset, whatever else it logged
    refused = reduce(np.add, despite.astype(np.int64)) > 0
    completed = (completion_events > 0) & ~refused
    done_time = reduce(np.minimum, np.where(done, ts, np.iinfo(np.int64).max))
    last_terminal = np.full(n_flows, END_STATES.index("in_progress"), dtype=np.int16)
    term = np.flatnonzero(terminal)
    if term.size:
        last = term[np.r_[fs[term][1:] != fs[term][:-1], True]]
        last_terminal[fs[last]] = end_code[last]
    end_state = np.where(completed, END_STATES.index("completed"), last_terminal)
    if refused.any():
        last_refused = np.full(n_flows, -1, dtype=np.int16)
        where = np.flatnonzero(despite)
        last_refused[fs[where]] = end_code[where]  # the last such state of each flow (sorted by time)
        end_state = np.where(refused, last_refused, end_state)
    tried_bits = reduce(np.bitwise_or, tried)
    verified_bits = reduce(np.bitwise_or, verified)
    failed_bits = tried_bits & ~verified_bits
    ends = np.r_[starts[1:], len(fs)] - 1 if len(fs) else starts
    table = pd.DataFrame(
        {
            "flow_id": flow_ids.array,
            "correlation_id": flow_ids.mask(~has_correlation).array,
            "user_id": _first_present(audit["user_id"], rs, fs, n_flows).array,
            "user_upn": _first_present(audit["user_upn"], rs, fs, n_flows).array,
            "ip": _first_present(audit["ip"], rs, fs, n_flows).array,
            "start": timestamps(ts[starts]),
            "end": timestamps(ts[ends]),
            "events": np.diff(np.r_[starts, len(fs)]).astype(np.int64),
            "furthest_stage": pd.Categorical.from_codes(
                reduce(np.maximum, stage_code), dtype=pd.CategoricalDtype(list(STAGES), ordered=True)
            ),
            "end_state": pd.Categorical.from_codes(end_state, dtype=pd.CategoricalDtype(list(END_STATES))),
            "completed": completed,
            "completed_time": timestamps(np.where(completed, done_time, NAT)),
            "completion_events": completion_events,
            "has_reset_event": reduce(np.add, is_reset.astype(np.int64)) > 0,
            "has_progress_completion": reduce(np.add, is_progress_done.astype(np.int64)) > 0,
            "methods_tried": pd.array(method_labels(tried_bits), dtype="string"),
            "methods_verified": pd.array(method_labels(verified_bits), dtype="string"),
            "methods_failed": pd.array(method_labels(failed_bits), dtype="string"),
            "tried_bits": tried_bits,
            "verified_bits": verified_bits,
            "failed_bits": failed_bits,
        }
    )
    return Flows(table=table, events=events.assign(flow=grouped.flow_of_event))


def completed_resets(flow_table: pd.DataFrame) -> pd.DataFrame:
    """Completed SSPR resets, one per completed flow: ``time``, ``user_id``, ``user_upn``, ``ip``, ``flow_id``,
    ``correlation_id``, sorted by time."""
    done = flow_table[flow_table["completed"].to_numpy(dtype=bool)]
    out = pd.DataFrame(
        {
            "time": done["completed_time"].array,  # as stored: to_numpy() would make a Timestamp of each one
            "user_id": done["user_id"].to_numpy(),
            "user_upn": done["user_upn"].to_numpy(),
            "ip": done["ip"].to_numpy(),
            "flow_id": done["flow_id"].to_numpy(),
            "correlation_id": done["correlation_id"].to_numpy(),
        }
    )
    out["time"] = pd.to_datetime(out["time"], utc=True)
    for col in ("user_id", "user_upn", "ip", "flow_id", "correlation_id"):
        out[col] = out[col].astype("string")
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def unrecognised_reasons(
    audit: pd.DataFrame,
    events: pd.DataFrame,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Classified reasons no rule recognised, in ``[start, end)``: ``reason`` (trimmed; "" when blank),
    ``activity``, ``events``, ``first_seen``, ``last_seen``; most frequent first."""
    mask = events["classified"].to_numpy(dtype=bool) & ~events["recognised"].to_numpy(dtype=bool)
    time = events["time"].to_numpy()
    if start is not None:
        mask &= time >= to_ns(start)
    if end is not None:
        mask &= time < to_ns(end)
    rows = np.flatnonzero(mask)
    frame = pd.DataFrame(
        {
            "reason": audit["result_reason"].iloc[rows].astype("string").str.strip().fillna("").to_numpy(),
            "activity": audit["activity"].iloc[rows].astype("string").fillna("").to_numpy(),
            "time": time[rows],
        }
    )
    if frame.empty:
        return pd.DataFrame(
            {
                "reason": pd.Series(dtype="string"),
                "activity": pd.Series(dtype="string"),
                "events": pd.Series(dtype=np.int64),
                "first_seen": pd.Series(dtype="datetime64[ns, UTC]"),
                "last_seen": pd.Series(dtype="datetime64[ns, UTC]"),
            }
        )
    out = (
        frame.groupby(["reason", "activity"], sort=True)
        .agg(events=("time", "size"), first_seen=("time", "min"), last_seen=("time", "max"))
        .reset_index()
    )
    out["first_seen"] = timestamps(out["first_seen"].to_numpy())
    out["last_seen"] = timestamps(out["last_seen"].to_numpy())
    out["reason"] = out["reason"].astype("string")
    out["activity"] = out["activity"].astype("string")
    return out.sort_values(["events", "reason"], ascending=[False, True], kind="stable").reset_index(drop=True)
