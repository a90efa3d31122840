"""Correlation tables: Identity Protection risk detections against password resets, both ways.

**Risk → reset** (:func:`risk_to_reset`): one row per ``riskEventType`` detected in the week (types the kit does
not know included, as they come), saying for the users concerned whether they fixed it themselves, the helpdesk
did, Identity Protection or an administrator closed it, or the account is still at risk. The unit is a user and a
detection type (:func:`risk_outcomes` gives those rows): a user with two types of detection counts in both rows.

- A *fix* is a completed SSPR reset (``reset_by_sspr``), a successful self-service password change
  (``changed_by_user``) or an administrator's reset (``reset_by_admin``) of the same account after one of the
  user's detections of that type in the week, at most ``remediation_days`` after it (``d < fix <= d + days``) and
  before ``as_of`` (the end of the review week). The three are exclusive, in that order: a user who did SSPR and
  was also reset by the helpdesk counts as SSPR. ``hours_to_fix`` runs from the earliest detection the first such
  fix answers to the fix.
- ``still_at_risk``: not fixed, and the latest state of the user's detections of that type (latest
  ``lastUpdatedDateTime``) is ``atRisk`` or ``confirmedCompromised``.
- ``dismissed_or_remediated``: not fixed, latest state ``dismissed``, ``remediated`` or ``confirmedSafe``, and
  not by the user's own password reset or change (``riskDetail`` other than ``userPerformedSecuredPassword*`` or
  ``userChangedPasswordOnPremises``): closed by an administrator or by Identity Protection (for example after
  MFA required by a risk policy).
- Users in none of these (latest state ``none``, or closed by a reset the audit log does not show within the
  window) are counted in ``users`` only.

**Reset → risk** (:func:`reset_to_risk`): one row per completed password reset in the week (SSPR, and resets by
an administrator), with the same user's detections in the ``blocked_risk_lookback_days`` before it (was it
prompted by one?) and in the ``risk_after_reset_hours`` after it (``t <= d <= t + hours``, up to ``as_of``), and
``same_ip_after``: a later detection came from the reset's IP address (for an administrator's reset, the
administrator's address; ``None`` when the reset has no IP) — the pattern of someone who reset a password they
should not have, then signed in with it.

A detection's time is its ``detectedDateTime`` (else ``activityDateTime``); accounts match on object id, else
UPN (:func:`~.accounts.account_pairs`). :func:`correlate` computes both tables for the review week and the week before,
plus the weekly leaked-credentials line of the adoption trend (:func:`leak_fix_trend`). A table that cannot be
computed (risk or audit data incomplete for its week, or the week before the stored history) is ``None`` with the
reason, never an empty table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from ..core.coverage import Coverage
from ..core.labels import RISK_TYPES
from ..core.settings import AnalysisSettings
from ..core.weeks import zone
from ._util import NAT, NS_PER_DAY, NS_PER_HOUR, iso, lower, ns, plain, take_rows, timestamps, to_ns, week_index
from .accounts import account_key, account_pairs, display_name, may_pair, week_resets
from .flows import is_kind
from .metrics import week_bounds
from .prepare import ReviewData
from .window import ReviewWindow

__all__ = [
    "FIXES",
    "LEAK_COUNTS",
    "OUTCOMES",
    "RESET_TO_RISK_FIELDS",
    "RISK_TO_RESET_FIELDS",
    "RISK_TYPE_NAMES",
    "Correlations",
    "correlate",
    "correlations_json",
    "leak_counts",
    "leak_fix_trend",
    "reset_to_risk",
    "risk_outcomes",
    "risk_to_reset",
    "risk_type_words",
    "summarise_outcomes",
]

#: The three fixes, in precedence order.
FIXES: Final = ("reset_by_sspr", "changed_by_user", "reset_by_admin")
#: What became of a user's detections of one type (:func:`risk_outcomes`); ``other``: none of the named ones.
OUTCOMES: Final = (*FIXES, "still_at_risk", "dismissed_or_remediated", "other")
#: Fields of a risk → reset row, in order (findings.json ``correlations.risk_to_reset``).
RISK_TO_RESET_FIELDS: Final = (
    "risk_event_type",
    "detections",
    "users",
    "reset_by_sspr",
    "changed_by_user",
    "reset_by_admin",
    "median_hours_to_fix",
    "still_at_risk",
    "dismissed_or_remediated",
)
#: Fields of a reset → risk row, in order (findings.json ``correlations.reset_to_risk``).
RESET_TO_RISK_FIELDS: Final = (
    "time",
    "user",
    "user_id",
    "kind",
    "initiator",
    "ip",
    "correlation_id",
    "detections_before",
    "types_before",
    "detections_after",
    "types_after",
    "same_ip_after",
)
_AT_RISK: Final = ("atrisk", "confirmedcompromised")
_CLOSED: Final = ("dismissed", "remediated", "confirmedsafe")
_BY_USER: Final = (
    "userperformedsecuredpasswordreset",
    "userperformedsecuredpasswordchange",
    "userchangedpasswordonpremises",
)
MISSING_TYPE: Final = "(missing)"

#: Identity Protection's names for the detection types (riskEventType), as the portal shows them: the label
#: table's (:data:`sspr_review.core.labels.RISK_TYPES`).
RISK_TYPE_NAMES: Final[Mapping[str, str]] = RISK_TYPES
_LOWER_NAMES: Final = {k.lower(): v for k, v in RISK_TYPE_NAMES.items()}


def risk_type_words(kind: object) -> str:
    """A detection type in words: the portal's name, or for a type the kit does not know its camelCase split
    into words and marked as new (``futureDetectionType`` → "Future detection type (new type:
    futureDetectionType)").

    >>> risk_type_words("unlikelyTravel"), risk_type_words("sneakyNewThing")
    ('Atypical travel', 'Sneaky new thing (new type: sneakyNewThing)')
    """
    if kind is None or kind is pd.NA or not str(kind).strip() or str(kind) == MISSING_TYPE:
        return "(no type given)"
    text = str(kind).strip()
    known = _LOWER_NAMES.get(text.lower())
    if known is not None:
        return known
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", text).strip().lower()
    return f"{words[:1].upper()}{words[1:]} (new type: {text})"


# ------------------------------------------------------------------------------------------- risk → reset


def _detections(data: ReviewData, start: int, end: int) -> pd.DataFrame:
    """The detections with a time in ``[start, end)``: type, account, state, IP and times (ns)."""
    risk = data.risk
    when = ns(risk["detected_time"].fillna(risk["activity_time"]))
    rows = np.flatnonzero((when != NAT) & (when >= start) & (when < end))
    cols = ["id", "risk_event_type", "risk_state", "risk_detail", "ip", "user_id", "user_upn"]
    out = take_rows(risk, rows, cols).reset_index(drop=True)
    for col in cols:
        out[col] = out[col].astype("string")
    kind = out["risk_event_type"].str.strip()
    out["risk_event_type"] = kind.mask(kind == "").fillna(MISSING_TYPE)
    out["detected_ns"] = when[rows]
    updated = ns(risk["last_updated_time"])[rows] if len(risk) else np.zeros(0, dtype=np.int64)
    out["updated_ns"] = np.where(updated == NAT, when[rows], updated)
    out["key"] = account_key(out).to_numpy()
    return out


def _fixes(data: ReviewData, detections: pd.DataFrame, as_of: int) -> pd.DataFrame:
    """SSPR resets, self-service password changes and administrators' resets before ``as_of`` of the accounts
    in ``detections``: ``time`` (ns), ``user_id``, ``user_upn``, ``fix`` (index into :data:`FIXES`)."""
    ids, upns = set(lower(detections["user_id"]).dropna()), set(lower(detections["user_upn"]).dropna())
    events = data.events
    change_rows = np.flatnonzero(
        is_kind(events, "change") & events["success"].to_numpy(dtype=bool) & (events["time"].to_numpy() < as_of)
    )
    change_rows = change_rows[
        may_pair(data.audit["user_id"].iloc[change_rows], data.audit["user_upn"].iloc[change_rows], ids, upns)
    ]
    parts = []
    for fix, frame, times in (
        (0, data.resets, ns(data.resets["time"])),
        (1, take_rows(data.audit, change_rows, ["user_id", "user_upn"]), events["time"].to_numpy()[change_rows]),
        (2, data.admin_resets, ns(data.admin_resets["time"])),
    ):
        keep = (times != NAT) & (times < as_of)
        keep &= may_pair(frame["user_id"], frame["user_upn"], ids, upns)
        rows = np.flatnonzero(keep)
        parts.append(
            pd.DataFrame(
                {
                    "time": times[rows],
                    "user_id": frame["user_id"].iloc[rows].astype("string").to_numpy(),
                    "user_upn": frame["user_upn"].iloc[rows].astype("string").to_numpy(),
                    "fix": np.full(len(rows), fix, dtype=np.int64),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["user_id"] = out["user_id"].astype("string")
    out["user_upn"] = out["user_upn"].astype("string")
    return out


def _outcomes(
    detections: pd.DataFrame, fixes: pd.DataFrame, group: list[str], settings: AnalysisSettings
) -> pd.DataFrame:
    """One row per ``group`` (columns of ``detections``, ending with ``key``): detections, times, latest state,
    outcome, fix time and hours to fix (see the module docstring)."""
    det = detections
    by_group = det.groupby(group, sort=True, dropna=False)  # two aggregations, not five: each costs its own pass
    agg = by_group["detected_ns"].agg(["size", "min", "max"]).set_axis(["detections", "first_ns", "last_ns"], axis=1)
    agg[["user_id", "user_upn"]] = by_group[["user_id", "user_upn"]].first()
    latest = det.sort_values(["updated_ns", "detected_ns"], kind="stable").drop_duplicates(group, keep="last")
    latest = latest.set_index(group)[["risk_state", "risk_detail"]]
    out = agg.join(latest).reset_index()
    out["fix"] = -1
    out["fix_ns"] = NAT
    out["fixed_from_ns"] = NAT
    if len(det) and len(fixes):
        pairs = account_pairs(det, fixes)
        d = det["detected_ns"].to_numpy()[pairs["l"].to_numpy()]
        f = fixes["time"].to_numpy()[pairs["r"].to_numpy()]
        ok = (f > d) & (f <= d + settings.remediation_days * NS_PER_DAY)
        left = pairs["l"].to_numpy()[ok]
        hits = det[group].iloc[left].reset_index(drop=True)
        hits["fix"] = fixes["fix"].to_numpy()[pairs["r"].to_numpy()[ok]]
        hits["fix_ns"] = f[ok]
        hits["fixed_from_ns"] = d[ok]
        hits = hits.sort_values([*group, "fix", "fix_ns", "fixed_from_ns"], kind="stable").drop_duplicates(group)
        found = out[group].reset_index().merge(hits, on=group, how="inner")
        rows = found["index"].to_numpy()
        for col in ("fix", "fix_ns", "fixed_from_ns"):
            out.loc[rows, col] = found[col].to_numpy()
    fix = out["fix"].to_numpy(dtype=np.int64)
    state = lower(out["risk_state"]).fillna("")
    detail = lower(out["risk_detail"]).fillna("")
    at_risk = state.isin(_AT_RISK).to_numpy(dtype=bool)
    closed = (state.isin(_CLOSED) & ~detail.isin(_BY_USER)).to_numpy(dtype=bool)
    code = np.where(fix >= 0, fix, np.where(at_risk, 3, np.where(closed, 4, 5)))
    out["outcome"] = pd.Categorical.from_codes(code.astype(np.int64), categories=pd.Index(list(OUTCOMES)))
    fixed = fix >= 0
    hours = np.full(len(out), np.nan)
    fix_ns = out["fix_ns"].to_numpy(dtype=np.int64)
    from_ns = out["fixed_from_ns"].to_numpy(dtype=np.int64)
    hours[fixed] = (fix_ns[fixed] - from_ns[fixed]) / NS_PER_HOUR
    out["hours_to_fix"] = hours
    return out


def risk_outcomes(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings, *, as_of: datetime | None = None
) -> pd.DataFrame:
    """One row per detection type and user with detections in the week: ``risk_event_type``, ``user``
    (UPN, else object id), ``user_id``, ``user_upn``, ``detections``, ``first_detected``, ``last_detected``,
    ``risk_state`` and ``risk_detail`` (latest), ``outcome`` (one of :data:`OUTCOMES`), ``fixed_at`` and
    ``hours_to_fix`` (when fixed). Fixes count before ``as_of`` (default: the end of the week). Sorted by type,
    then user."""
    end = to_ns(window.end if as_of is None else as_of)
    det = _detections(data, to_ns(window.start), to_ns(window.end))
    out = _outcomes(det, _fixes(data, det, end), ["risk_event_type", "key"], settings)
    frame = pd.DataFrame(
        {
            "risk_event_type": out["risk_event_type"].astype("string"),
            "user": display_name(out).astype("string"),
            "user_id": out["user_id"].astype("string"),
            "user_upn": out["user_upn"].astype("string"),
            "detections": out["detections"].astype(np.int64),
            "first_detected": timestamps(out["first_ns"].to_numpy()),
            "last_detected": timestamps(out["last_ns"].to_numpy()),
            "risk_state": out["risk_state"].astype("string"),
            "risk_detail": out["risk_detail"].astype("string"),
            "outcome": out["outcome"],
            "fixed_at": timestamps(out["fix_ns"].to_numpy()),
            "hours_to_fix": out["hours_to_fix"].astype(np.float64),
        }
    )
    return frame.sort_values(["risk_event_type", "user"], kind="stable").reset_index(drop=True)


def summarise_outcomes(outcomes: pd.DataFrame) -> pd.DataFrame:
    """:func:`risk_to_reset` from :func:`risk_outcomes` rows: per type the detections, users, each outcome's
    users and the median hours to fix; most detections first."""
    if outcomes.empty:
        frame = pd.DataFrame({c: pd.Series(dtype=np.int64) for c in RISK_TO_RESET_FIELDS})
        frame["risk_event_type"] = frame["risk_event_type"].astype("string")
        frame["median_hours_to_fix"] = frame["median_hours_to_fix"].astype(np.float64)
        return frame
    groups = outcomes.groupby("risk_event_type", sort=True)
    counts = pd.crosstab(outcomes["risk_event_type"], outcomes["outcome"], dropna=False)
    counts = counts.reindex(columns=list(OUTCOMES), fill_value=0)
    frame = pd.DataFrame(
        {
            "detections": groups["detections"].sum(),
            "users": groups.size(),
            **{name: counts[name] for name in FIXES},
            "median_hours_to_fix": groups["hours_to_fix"].median(),
            "still_at_risk": counts["still_at_risk"],
            "dismissed_or_remediated": counts["dismissed_or_remediated"],
        }
    )
    frame = frame.rename_axis("risk_event_type").reset_index()
    frame["risk_event_type"] = frame["risk_event_type"].astype("string")
    for col in RISK_TO_RESET_FIELDS:
        if col not in ("risk_event_type", "median_hours_to_fix"):
            frame[col] = frame[col].astype(np.int64)
    frame["median_hours_to_fix"] = frame["median_hours_to_fix"].astype(np.float64)
    frame = frame.sort_values(["detections", "risk_event_type"], ascending=[False, True], kind="stable")
    return frame[list(RISK_TO_RESET_FIELDS)].reset_index(drop=True)


def risk_to_reset(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings, *, as_of: datetime | None = None
) -> pd.DataFrame:
    """One row per ``riskEventType`` detected in the week, with the columns :data:`RISK_TO_RESET_FIELDS` (see
    the module docstring; ``median_hours_to_fix`` is NaN when nobody fixed it)."""
    return summarise_outcomes(risk_outcomes(data, window, settings, as_of=as_of))


# ------------------------------------------------------------------------------------------- reset → risk


def reset_to_risk(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings, *, as_of: datetime | None = None
) -> pd.DataFrame:
    """One row per completed password reset in the week (SSPR and by an administrator), in time order, with
    the columns :data:`RESET_TO_RISK_FIELDS`: ``time`` (UTC), ``user`` (UPN, else object id), ``user_id``,
    ``kind`` (``self_service`` or ``admin``), ``initiator``, ``ip``, ``correlation_id``, the count and sorted
    distinct types of the user's detections in the ``blocked_risk_lookback_days`` before the reset and in the
    ``risk_after_reset_hours`` after it (detections before ``as_of``, default the end of the week), and
    ``same_ip_after`` (nullable boolean)."""
    end = to_ns(window.end if as_of is None else as_of)
    resets = week_resets(data, window)
    times = resets["time"].to_numpy(dtype=np.int64)
    n = len(resets)
    lookback = settings.blocked_risk_lookback_days * NS_PER_DAY
    after = settings.risk_after_reset_hours * NS_PER_HOUR
    start = int(times.min()) - lookback if n else 0
    det = _detections(data, start, end) if n else _detections(data, 0, 0)
    ids, upns = set(lower(resets["user_id"]).dropna()), set(lower(resets["user_upn"]).dropna())
    det = det[may_pair(det["user_id"], det["user_upn"], ids, upns)].reset_index(drop=True)
    pairs = account_pairs(resets, det) if n and len(det) else pd.DataFrame({"l": [], "r": []}, dtype=np.int64)
    li, ri = pairs["l"].to_numpy(dtype=np.int64), pairs["r"].to_numpy(dtype=np.int64)
    t, d = times[li], det["detected_ns"].to_numpy()[ri]
    before = (d >= t - lookback) & (d < t)
    later = (d >= t) & (d <= t + after)
    kinds = det["risk_event_type"].to_numpy()[ri]
    out = pd.DataFrame(
        {
            "time": timestamps(times),
            "user": resets["shown"].astype("string").to_numpy(),
            "user_id": resets["user_id"].to_numpy(),
            "kind": resets["type"].to_numpy(),
            "initiator": resets["initiator"].to_numpy(),
            "ip": resets["ip"].to_numpy(),
            "correlation_id": resets["correlation_id"].to_numpy(),
        }
    )
    for name, mask in (("before", before), ("after", later)):
        hit = pd.DataFrame({"l": li[mask], "type": kinds[mask]})
        out[f"detections_{name}"] = np.bincount(hit["l"].to_numpy(), minlength=n).astype(np.int64)
        types = hit.drop_duplicates().sort_values(["l", "type"]).groupby("l")["type"].agg(list).to_dict()
        out[f"types_{name}"] = pd.Series([types.get(i, []) for i in range(n)], dtype=object)
    reset_ip = lower(resets["ip"]).to_numpy()[li[later]]
    det_ip = lower(det["ip"]).to_numpy()[ri[later]]
    same = np.zeros(n, dtype=bool)
    match = pd.array(reset_ip, dtype="string") == pd.array(det_ip, dtype="string")
    same[li[later][np.asarray(match.fillna(False), dtype=bool)]] = True
    flag = pd.array(same, dtype="boolean")
    flag[resets["ip"].isna().to_numpy(dtype=bool)] = pd.NA
    out["same_ip_after"] = flag
    for col in ("user_id", "kind", "initiator", "ip", "correlation_id"):
        out[col] = out[col].astype("string")
    return out[list(RESET_TO_RISK_FIELDS)].reset_index(drop=True)


# --------------------------------------------------------------------------------------- the leak trend


#: The leaked-credentials trend's counts per week (:func:`leak_counts`; a week's row of the weekly aggregates
#: holds them).
LEAK_COUNTS: Final = ("leak_users", "leak_fixed", "leak_median_hours")


def leak_counts(data: ReviewData, bounds: np.ndarray, settings: AnalysisSettings, end: int) -> dict[str, np.ndarray]:
    """Per week of ``bounds`` (float64): ``leak_users`` (users with a leakedCredentials detection in the week),
    ``leak_fixed`` (those whose SSPR reset or password change followed within ``remediation_days``, before
    ``end``, int64 ns) and ``leak_median_hours`` (the median hours to that fix, NaN without one)."""
    weeks = len(bounds) - 1
    det = _detections(data, int(bounds[0]), int(bounds[-1]))
    det = det[lower(det["risk_event_type"]).eq("leakedcredentials").to_numpy(dtype=bool)].reset_index(drop=True)
    det["week"] = week_index(det["detected_ns"].to_numpy(dtype=np.int64), bounds)
    fixes = _fixes(data, det, end)
    fixes = fixes[fixes["fix"].to_numpy() < 2].reset_index(drop=True)
    out = _outcomes(det, fixes, ["week", "key"], settings)
    week = out["week"].to_numpy(dtype=np.int64)
    fixed = out["fix"].to_numpy(dtype=np.int64) >= 0
    median = out[fixed].groupby("week")["hours_to_fix"].median().reindex(range(weeks)).to_numpy(dtype=np.float64)
    return {
        "leak_users": np.bincount(week, minlength=weeks).astype(np.float64),
        "leak_fixed": np.bincount(week[fixed], minlength=weeks).astype(np.float64),
        "leak_median_hours": median,
    }


def leak_fix_trend(
    data: ReviewData,
    window: ReviewWindow,
    settings: AnalysisSettings,
    *,
    weeks: int,
    covered: np.ndarray | None = None,
    as_of: datetime | None = None,
) -> pd.DataFrame:
    """Per week (oldest first, ending with the review week): ``week_start``, ``week_end``, ``week_ending``,
    ``leak_users`` (users with a leakedCredentials detection in the week), ``fixed_themselves`` (of those, the
    ones whose SSPR reset or password change followed within ``remediation_days``, before ``as_of``, default the
    end of the review week), ``share`` and ``median_hours`` (over those who fixed it themselves). Weeks where
    ``covered`` is False, and shares without users, are ``<NA>``: gaps in the chart, not zeros. The weeks
    before the tables (``data.history``) come from the weekly aggregates (they end at least ``remediation_days``
    before ``as_of``, which then limits nothing)."""
    bounds = week_bounds(window, weeks)
    end = to_ns(window.end if as_of is None else as_of)
    first = 0 if data.history is None else int(np.searchsorted(bounds[1:], data.history.since, side="right"))
    counts = leak_counts(data, bounds[first:], settings, end) if first < weeks else {}
    if data.history is not None:
        _, known = data.history.known(bounds, LEAK_COUNTS)
        counts = {name: np.concatenate([known[name][:first], counts.get(name, np.zeros(0))]) for name in LEAK_COUNTS}
    users, done, median = (counts[name] for name in LEAK_COUNTS)
    ok = np.ones(weeks, dtype=bool) if covered is None else np.asarray(covered, dtype=bool)
    tz = zone(window.timezone)
    frame = pd.DataFrame(
        {
            "week_start": timestamps(bounds[:-1]),
            "week_end": timestamps(bounds[1:]),
            "week_ending": [str(pd.Timestamp(int(b), tz="UTC").tz_convert(tz).date()) for b in bounds[1:]],
        }
    )
    frame["leak_users"] = pd.array(np.where(ok, users, np.nan), dtype="Float64").astype("Int64")
    frame["fixed_themselves"] = pd.array(np.where(ok, done, np.nan), dtype="Float64").astype("Int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(ok & (users > 0), done / np.where(users > 0, users, 1), np.nan)
    frame["share"] = pd.array(share, dtype="Float64")
    frame["median_hours"] = pd.array(np.where(ok, median, np.nan), dtype="Float64")
    for col in ("share", "median_hours"):
        frame[col] = frame[col].mask(frame[col].isna(), pd.NA)
    return frame


# ------------------------------------------------------------------------------------------------ together


@dataclass(frozen=True)
class Correlations:
    """Both tables for the review week and the week before, the per-user rows behind risk → reset
    (:func:`risk_outcomes`), and the weekly leaked-credentials line (:func:`leak_fix_trend`). A table is
    ``None`` when it could not be computed; ``reason`` (review week) and ``previous_reason`` say why."""

    risk_to_reset: pd.DataFrame | None
    reset_to_risk: pd.DataFrame | None
    outcomes: pd.DataFrame | None
    previous_outcomes: pd.DataFrame | None
    previous_risk_to_reset: pd.DataFrame | None
    previous_reset_to_risk: pd.DataFrame | None
    reason: str | None
    previous_reason: str | None
    leak_trend: pd.DataFrame


_NEEDED: Final = (("risk", "risk detections"), ("audit", "audit events"))


def _gap(data: ReviewData, coverage: Mapping[str, Coverage]) -> str | None:
    missing = []
    for source, words in _NEEDED:
        if not data.has(source):
            cov = coverage.get(source)
            why = (cov.reason if cov is not None else None) or "incomplete for the week"
            missing.append(f"{words}: {why}")
    return "; ".join(missing) or None


def _history(data: ReviewData, history_start: Mapping[str, datetime] | None) -> dict[str, int | None]:
    """When each needed source's history begins (given, else its earliest record; ``None``: no history)."""
    given = {k: to_ns(v) for k, v in (history_start or {}).items()}
    return {source: given[source] if source in given else data.first_time(source) for source, _ in _NEEDED}


def correlate(
    data: ReviewData,
    coverage: Mapping[str, Coverage],
    window: ReviewWindow,
    settings: AnalysisSettings,
    *,
    history_start: Mapping[str, datetime] | None = None,
    weeks: int = 2,
) -> Correlations:
    """Both tables for ``window`` and the week before, and :func:`leak_fix_trend` over ``weeks`` weeks.

    The review week's tables need risk and audit complete (``data.has``; ``coverage`` gives the reason when
    not); an earlier week needs both sources' history (``history_start``, default their earliest records) to
    begin by its start. Fixes and later detections count up to the end of the review week for every week.
    """
    as_of = window.end
    reason = _gap(data, coverage)
    history = _history(data, history_start)
    before = window.shift(1)

    def history_gap(w: ReviewWindow) -> str | None:
        late = []
        for source, words in _NEEDED:
            begin = history[source]
            if begin is None:
                late.append(f"the store holds no {words}")
            elif begin > to_ns(w.start):
                late.append(f"the stored {words} begin at {iso(begin)}, after the week started")
        return "; ".join(late) or None

    previous_reason = history_gap(before)
    outcomes = None if reason else risk_outcomes(data, window, settings, as_of=as_of)
    earlier = None if previous_reason else risk_outcomes(data, before, settings, as_of=as_of)
    covered = np.array([history_gap(window.shift(weeks - 1 - k)) is None for k in range(weeks)], dtype=bool)
    if weeks:
        covered[-1] = reason is None
    return Correlations(
        risk_to_reset=None if outcomes is None else summarise_outcomes(outcomes),
        reset_to_risk=None if reason else reset_to_risk(data, window, settings, as_of=as_of),
        outcomes=outcomes,
        previous_outcomes=earlier,
        previous_risk_to_reset=None if earlier is None else summarise_outcomes(earlier),
        previous_reset_to_risk=None if previous_reason else reset_to_risk(data, before, settings, as_of=as_of),
        reason=reason,
        previous_reason=previous_reason,
        leak_trend=leak_fix_trend(data, window, settings, weeks=weeks, covered=covered, as_of=as_of),
    )


def _rows(frame: pd.DataFrame | None, fields: tuple[str, ...]) -> list[dict[str, Any]] | None:
    if frame is None:
        return None
    out = []
    for row in frame[list(fields)].itertuples(index=False):
        item = plain(dict(zip(fields, row, strict=True)))
        if "median_hours_to_fix" in item and item["median_hours_to_fix"] is not None:
            item["median_hours_to_fix"] = round(item["median_hours_to_fix"], 1)
        out.append(item)
    return out


def correlations_json(correlations: Correlations | None) -> dict[str, Any]:
    """The ``correlations`` object of findings.json (see ``docs/findings-json.md``)."""
    if correlations is None:
        why = "the review was built without correlation tables"
        empty: dict[str, Any] = {"risk_to_reset": None, "reset_to_risk": None, "reason": why}
        return empty | {"previous": empty.copy()}
    c = correlations
    return {
        "risk_to_reset": _rows(c.risk_to_reset, RISK_TO_RESET_FIELDS),
        "reset_to_risk": _rows(c.reset_to_risk, RESET_TO_RISK_FIELDS),
        "reason": c.reason,
        "previous": {
            "risk_to_reset": _rows(c.previous_risk_to_reset, RISK_TO_RESET_FIELDS),
            "reset_to_risk": _rows(c.previous_reset_to_risk, RESET_TO_RISK_FIELDS),
            "reason": c.previous_reason,
        },
    }
