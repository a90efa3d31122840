"""The weekly aggregates a store keeps of its history (:func:`week_aggregates`) and the :class:`~.history.History`
a review reads from them (:func:`summarise`).

Each week's aggregates are computed from the tables of that week, with the same functions a review of the full
tables uses: the trend's audit metrics (:func:`~.metrics.audit_counts`), the leaked-credentials trend's counts
(:func:`~.correlations.leak_counts`, fixes counted within ``remediation_days`` of each detection, whatever the
review week: a review reads them only for weeks ending at least that long before its own end), each account's
last password fix (:func:`~.rules_leaked.password_fixes`), the non-phone methods each account verified
(:func:`~.takeover.verified_non_phone`), each account's last use of each IP (:func:`~.ip_history.initiated_events`),
each account's last SSPR flow begun, and the completed SSPR resets. The tables must hold each week whole: from
:data:`~.reads.CONTINUITY` before its start to ``remediation_days`` and :data:`~.reads.CONTINUITY` after its end
(:func:`reach`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import lower, ns, week_index
from .correlations import LEAK_COUNTS, leak_counts
from .history import History, empty_frame
from .ip_history import initiated_events
from .metrics import AUDIT_METRICS, audit_counts
from .prepare import ReviewData
from .reads import CONTINUITY
from .rules_leaked import password_fixes
from .takeover import verified_non_phone

__all__ = [
    "ANALYSIS_VERSION",
    "FIX_COLUMNS",
    "IP_COLUMNS",
    "LOOKBACK_PARTS",
    "METHOD_COLUMNS",
    "RESET_COLUMNS",
    "START_COLUMNS",
    "WEEK_COLUMNS",
    "WeekAggregates",
    "reach",
    "summarise",
    "week_aggregates",
]

#: The version of what the weekly aggregates hold: bump it when an analysis they are computed with changes (a
#: store then recomputes them; it is part of their key with the settings and the kit's version).
ANALYSIS_VERSION: Final = 2
#: A week's row: its bounds (int64 ns), the audit metrics and the leaked-credentials trend's counts (float64, NaN
#: where undefined).
WEEK_COLUMNS: Final = ("week_start", "week_end", *AUDIT_METRICS, *LEAK_COUNTS)
#: A week's fixes: each account's last one in the week (``time`` int64 ns; ``how``: ``sspr_reset`` or
#: ``password_change``).
FIX_COLUMNS: Final = ("week_end", "user_id", "user_upn", "time", "how")
#: A week's methods: the non-phone methods (bits over :data:`~.reasons.METHODS`) each account verified in the
#: SSPR flows started in the week.
METHOD_COLUMNS: Final = ("week_end", "user_id", "user_upn", "bits")
#: A week's IPs: each account's last use of each IP in the week (``ip`` lower case, ``time`` int64 ns).
IP_COLUMNS: Final = ("week_end", "user_id", "user_upn", "ip", "time")
#: A week's SSPR flows begun: each account's last start in the week (``time`` int64 ns).
START_COLUMNS: Final = ("week_end", "user_id", "user_upn", "time")
#: A week's completed SSPR resets, every one (``time`` int64 ns).
RESET_COLUMNS: Final = ("week_end", "user_id", "user_upn", "time")
#: The lookback parts of a week's aggregates: the :class:`~.history.History` field each fills, and its columns.
LOOKBACK_PARTS: Final = {"ips": IP_COLUMNS, "starts": START_COLUMNS, "resets": RESET_COLUMNS}
_NO_END: Final = np.iinfo(np.int64).max


@dataclass(frozen=True)
class WeekAggregates:
    """The aggregates of some weeks: ``weeks`` (:data:`WEEK_COLUMNS`), ``fixes`` (:data:`FIX_COLUMNS`),
    ``methods`` (:data:`METHOD_COLUMNS`) and the lookback parts (:data:`LOOKBACK_PARTS`)."""

    weeks: pd.DataFrame
    fixes: pd.DataFrame
    methods: pd.DataFrame
    ips: pd.DataFrame = field(default_factory=lambda: empty_frame(IP_COLUMNS))
    starts: pd.DataFrame = field(default_factory=lambda: empty_frame(START_COLUMNS))
    resets: pd.DataFrame = field(default_factory=lambda: empty_frame(RESET_COLUMNS))


def reach(settings: AnalysisSettings) -> tuple[timedelta, timedelta]:
    """How far the tables must reach before a week's start and after its end for its aggregates."""
    return CONTINUITY, timedelta(days=settings.remediation_days) + CONTINUITY


def _accounts(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(user_id=lower(frame["user_id"]), user_upn=lower(frame["user_upn"]))


def _per_week(frame: pd.DataFrame, times: np.ndarray, bounds: np.ndarray) -> pd.DataFrame:
    week = week_index(np.asarray(times, dtype=np.int64), bounds)
    keep = week >= 0
    return _accounts(frame[keep].reset_index(drop=True)).assign(week_end=bounds[1:][week[keep]])


def week_aggregates(data: ReviewData, bounds: np.ndarray, settings: AnalysisSettings) -> WeekAggregates:
    """The aggregates of the weeks of ``bounds`` (int64 ns boundaries) from ``data`` (tables holding those weeks
    whole, see :func:`reach`; without a history of their own)."""
    if data.history is not None:
        raise ValueError("week_aggregates needs the tables themselves, not a review's history")
    values = audit_counts(data, bounds, settings) | leak_counts(data, bounds, settings, _NO_END)
    weeks = pd.DataFrame({"week_start": bounds[:-1], "week_end": bounds[1:]}).astype(np.int64)
    for name in WEEK_COLUMNS[2:]:
        weeks[name] = np.asarray(values[name], dtype=np.float64)
    fixes = password_fixes(data)
    fixes = _per_week(fixes, fixes["time"].to_numpy(), bounds)
    last = fixes.sort_values(["week_end", "user_id", "user_upn", "time"], kind="stable", na_position="first")
    last = last.drop_duplicates(["week_end", "user_id", "user_upn"], keep="last")
    methods = verified_non_phone(data)
    methods = _per_week(methods, methods["start"].to_numpy(), bounds)
    ips = initiated_events(data, None, None, int(bounds[0]), int(bounds[-1]))
    flows = data.flows
    starts = pd.DataFrame({"user_id": flows["user_id"], "user_upn": flows["user_upn"], "time": ns(flows["start"])})
    resets = data.resets
    resets = pd.DataFrame({"user_id": resets["user_id"], "user_upn": resets["user_upn"], "time": ns(resets["time"])})
    return WeekAggregates(
        weeks=weeks,
        fixes=_typed(last, FIX_COLUMNS),
        methods=_typed(_bits_by(methods, ["week_end", "user_id", "user_upn"]), METHOD_COLUMNS),
        ips=_typed(_last_by(ips, bounds, ["ip"]), IP_COLUMNS),
        starts=_typed(_last_by(starts, bounds, []), START_COLUMNS),
        resets=_typed(_per_week(resets, resets["time"].to_numpy(), bounds), RESET_COLUMNS),
    )


def _last_by(frame: pd.DataFrame, bounds: np.ndarray, keys: list[str]) -> pd.DataFrame:
    """Per week of ``bounds`` and account (and ``keys``): the latest ``time`` of ``frame``'s rows."""
    weekly = _per_week(frame, frame["time"].to_numpy(), bounds)
    by = ["week_end", "user_id", "user_upn", *keys]
    return weekly.groupby(by, dropna=False, sort=True)["time"].max().reset_index()


def _bits_by(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """One row per distinct ``keys`` (missing values a key of their own), with the ``bits`` of its rows or-ed."""
    if frame.empty:
        return frame[[*keys, "bits"]]
    grouped = frame.groupby(keys, dropna=False, sort=True)
    codes = grouped.ngroup().to_numpy()
    bits = np.zeros(grouped.ngroups, dtype=np.int64)
    np.bitwise_or.at(bits, codes, frame["bits"].to_numpy(dtype=np.int64))
    first = np.zeros(grouped.ngroups, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(frame))[::-1]
    return frame[keys].iloc[first].reset_index(drop=True).assign(bits=bits)


def _typed(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    empty = empty_frame(columns)
    if frame.empty:
        return empty
    return frame[list(columns)].astype(dict(empty.dtypes)).reset_index(drop=True)


def summarise(
    aggregates: WeekAggregates, since: int, earliest: Mapping[str, int], lookback_from: int | None = None
) -> History:
    """The :class:`~.history.History` of the weeks ending at or before ``since`` (int64 ns): their rows, each
    account's last fix, the methods each account verified, and the lookback parts of the weeks ending after
    ``lookback_from`` (``None``: none)."""
    weeks = aggregates.weeks[aggregates.weeks["week_end"].to_numpy() <= since].reset_index(drop=True)
    fixes = aggregates.fixes[aggregates.fixes["week_end"].to_numpy() <= since]
    fixes = fixes.sort_values(["user_id", "user_upn", "time"], kind="stable", na_position="first")
    fixes = fixes.drop_duplicates(["user_id", "user_upn"], keep="last")
    methods = aggregates.methods[aggregates.methods["week_end"].to_numpy() <= since]
    ored = _bits_by(methods.reset_index(drop=True), ["user_id", "user_upn"])
    lookback = {}
    for name, columns in LOOKBACK_PARTS.items():
        part = getattr(aggregates, name)
        end = part["week_end"].to_numpy()
        keep = (end <= since) & (end > (since if lookback_from is None else lookback_from))
        lookback[name] = _typed(part[keep], columns[1:])
    return History(
        since=since,
        earliest=dict(earliest),
        weeks=weeks,
        fixes=_typed(fixes, FIX_COLUMNS[1:]),
        methods=_typed(ored, METHOD_COLUMNS[1:]),
        **lookback,
    )
