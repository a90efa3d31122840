"""Findings: what the reviewer should look at, one function per rule.

Every rule takes the prepared data (:func:`~.prepare.prepare`), the review window and the settings, and returns
a list of :class:`Finding`. :func:`evaluate` runs the rules whose sources are complete and reports the others as
not evaluated; :func:`data_gaps` turns incomplete sources into ``data_gap`` findings that say which rules could
not run. :func:`compare` matches this week's findings with last week's by fingerprint.

Fingerprints
------------
``fingerprint`` is the first 16 hex digits of the SHA-256 of the kind and the parts that identify *the situation*
(lower-cased, joined with a unit separator), chosen so that the same situation next week compares as
"continuing" and a fixed one as "resolved":

============================== ===============================================================================
kind                           identifying parts
============================== ===============================================================================
reset_spike                    the UTC hour of the spike's first reset (re-running the week gives the same one)
blocked_user                   the user (object id, else UPN): a user blocked again next week is continuing
leaked_credentials_*           the user and the detection id: the detection stays open until fixed
admin_password_reset           the user: an administrator reset again next week is continuing
helpdesk_reset                 the user
writeback_failure              the cause (:data:`WRITEBACK_CAUSES`, a stable, finite set)
registration_gap               nothing but the kind: one per tenant, continuing until coverage is met
security_info_changed_*        the user and the reset (kind and UTC time); see :mod:`.takeover`
phone_only_reset_new_ip        the user and the reset (flow and UTC time); see :mod:`.takeover`
data_gap                       the source
============================== ===============================================================================
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import numpy as np
import pandas as pd

from ..catalog import SEVERITIES
from ..ingest.coverage import SOURCES, SourceCoverage
from ._util import (
    NAT,
    NS_PER_DAY,
    NS_PER_HOUR,
    NS_PER_MINUTE,
    as_datetime,
    isin,
    iso,
    lower,
    lower_isin,
    ns,
    plain,
    take_rows,
    texts,
    to_ns,
    user_key,
)
from .flows import is_kind
from .lean import lean_member_counts
from .metrics import METRIC_SPECS
from .prepare import ReviewData, in_roles, privileged_lookup, registration_lookup
from .reasons import END_STATES, METHOD_REGISTRATIONS, METHODS
from .settings import AnalysisSettings
from .window import ReviewWindow, zone

__all__ = [
    "KINDS",
    "RULES",
    "SEVERITIES",
    "WRITEBACK_CAUSES",
    "Comparison",
    "Finding",
    "Rule",
    "admins_not_in_roles",
    "compare",
    "data_gaps",
    "evaluate",
    "find_admin_password_resets",
    "find_blocked_users",
    "find_helpdesk_resets",
    "find_leaked_credentials_remediated",
    "find_leaked_credentials_unremediated",
    "find_registration_gaps",
    "find_reset_spikes",
    "find_writeback_failures",
    "finding_from_dict",
    "finding_to_dict",
    "fingerprint",
    "sort_findings",
]

#: Finding kinds, in report order.
KINDS: Final = (
    "data_gap",
    "reset_spike",
    "blocked_user",
    "leaked_credentials_unremediated",
    "security_info_changed_after_reset",
    "phone_only_reset_new_ip",
    "admin_password_reset",
    "helpdesk_reset",
    "writeback_failure",
    "registration_gap",
    "leaked_credentials_remediated",
)


@dataclass(frozen=True)
class Finding:
    """One thing the reviewer should look at.

    ``users`` are UPNs (object ids when the UPN is unknown); ``start``/``end`` the time span of the evidence
    (UTC); ``evidence`` a JSON-ready dictionary; ``action`` what to do, in one or two sentences;
    ``fingerprint`` identifies the situation across reviews (see the module docstring).
    """

    kind: str
    severity: str
    title: str
    users: tuple[str, ...]
    start: datetime | None
    end: datetime | None
    evidence: dict[str, Any]
    action: str
    fingerprint: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")


def fingerprint(kind: str, *parts: object) -> str:
    """Stable id of a situation: SHA-256 of the kind and identifying parts (first 16 hex digits).

    >>> fingerprint("data_gap", "risk") == fingerprint("data_gap", "RISK")
    True
    """
    text = "\x1f".join([kind, *(str(p).strip().lower() for p in parts)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Most severe first; then by kind (report order), start time and title."""

    def key(f: Finding) -> tuple[int, int, float, str]:
        start = f.start.timestamp() if f.start is not None else float("-inf")
        return (SEVERITIES.index(f.severity), KINDS.index(f.kind), start, f.title)

    return tuple(sorted(findings, key=key))


# --------------------------------------------------------------------------------------------------- helpers


def _window_mask(times: np.ndarray, window: ReviewWindow) -> np.ndarray:
    return np.asarray((times >= to_ns(window.start)) & (times < to_ns(window.end)) & (times != NAT), dtype=bool)


def _int(value: Any) -> int:
    return int(value)


def _display(frame: pd.DataFrame, upn: str = "user_upn", ident: str = "user_id") -> pd.Series:
    """UPN, else object id, else "(unknown account)"."""
    return frame[upn].astype("string").fillna(frame[ident].astype("string")).fillna("(unknown account)")


def _pairs(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Row pairs (``l``, ``r``, positional) of the same account: equal object id, else equal UPN when one side
    has no id."""
    cols = ["l", "id", "upn"]
    a = pd.DataFrame(
        {"l": np.arange(len(left)), "id": lower(left["user_id"]).array, "upn": lower(left["user_upn"]).array}
    )
    b = pd.DataFrame(
        {"r": np.arange(len(right)), "id": lower(right["user_id"]).array, "upn": lower(right["user_upn"]).array}
    )
    by_id = a[cols].dropna(subset=["id"]).merge(b.dropna(subset=["id"]), on="id")[["l", "r"]]
    by_upn = a.dropna(subset=["upn"]).merge(b.dropna(subset=["upn"]), on="upn", suffixes=("", "_r"))
    by_upn = by_upn[by_upn["id"].isna().to_numpy() | by_upn["id_r"].isna().to_numpy()][["l", "r"]]
    return pd.concat([by_id, by_upn], ignore_index=True).drop_duplicates().reset_index(drop=True)


def _key(frame: pd.DataFrame) -> pd.Series:
    """Account key, falling back to a per-row placeholder so rows of unknown accounts never merge."""
    key = user_key(frame)
    fallback = pd.Series("row:" + pd.Series(np.arange(len(frame))).astype(str).to_numpy(), dtype="string")
    return key.reset_index(drop=True).fillna(fallback)


def _flag(value: Any) -> bool | None:
    return None if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) else bool(value)


def _split(text: Any) -> list[str]:
    if text is None or text is pd.NA or not isinstance(text, str):
        return []
    return [p.strip() for p in text.split(";") if p.strip()]


# ------------------------------------------------------------------------------------------------ reset_spike


def find_reset_spikes(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``reset_spike``: completed SSPR resets of at least ``spike_accounts`` distinct accounts with the first and
    last at most ``spike_window_minutes`` apart (any sliding window, not clock hours).

    One account resetting many times counts once. Overlapping qualifying windows form one spike. Resets from
    one window length before the week are included so a spike across the week boundary is seen whole; spikes
    are reported when one of their resets lies in the week.

    Method, O(n log n): an account is in the window ``[a, a + W]`` exactly when ``a`` lies in the union of
    ``[t - W, t]`` over its reset times ``t``. Those unions are built per account (runs of resets at most W
    apart), and a sweep over their ends counts how many accounts each ``a`` sees.
    """
    resets = data.resets
    width = settings.spike_window_minutes * NS_PER_MINUTE
    times = ns(resets["time"])
    mask = (times >= to_ns(window.start) - width) & (times < to_ns(window.end)) & (times != NAT)
    sub = resets[mask].reset_index(drop=True)
    if len(sub) < settings.spike_accounts:
        return []
    t = ns(sub["time"])
    keys = _key(sub).to_numpy()
    order = np.lexsort((t, keys))
    ts, ks = t[order], keys[order]
    new_run = np.ones(len(ts), dtype=bool)
    new_run[1:] = (ks[1:] != ks[:-1]) | (np.diff(ts) > width)
    run_first = ts[new_run]
    run_last = np.maximum.reduceat(ts, np.flatnonzero(new_run))
    positions = np.concatenate([run_first - width, run_last])
    kinds = np.concatenate([np.zeros(len(run_first), np.int8), np.ones(len(run_last), np.int8)])
    deltas = np.concatenate([np.ones(len(run_first), np.int64), -np.ones(len(run_last), np.int64)])
    sweep = np.lexsort((kinds, positions))
    pos, delta = positions[sweep], deltas[sweep]
    count = np.cumsum(delta)
    hot = count >= settings.spike_accounts
    if not hot.any():
        return []
    rises = np.flatnonzero(hot & ~np.concatenate([[False], hot[:-1]]))
    falls = np.flatnonzero(~hot & np.concatenate([[False], hot[:-1]]))
    episodes: list[list[int]] = []
    for lo_i, hi_i in zip(rises, falls, strict=False):
        lo, hi = int(pos[lo_i]), int(pos[hi_i])
        peak_i = lo_i + int(np.argmax(count[lo_i:hi_i]))
        peak, peak_at = int(count[peak_i]), int(pos[peak_i])
        if episodes and lo <= episodes[-1][1] + width:
            last = episodes[-1]
            last[1] = hi
            if peak > last[2]:
                last[2], last[3] = peak, peak_at
        else:
            episodes.append([lo, hi, peak, peak_at])
    sorted_times = np.sort(t)
    by_time = np.argsort(t, kind="stable")
    out = []
    for lo, hi, peak, peak_at in episodes:
        first_i = int(np.searchsorted(sorted_times, lo, side="left"))
        last_i = int(np.searchsorted(sorted_times, hi + width, side="right"))
        rows = sub.iloc[by_time[first_i:last_i]]
        if not (ns(rows["time"]) >= to_ns(window.start)).any():
            continue
        out.append(_spike_finding(rows, peak, peak_at, width, settings))
    return out


def _spike_finding(rows: pd.DataFrame, peak: int, peak_at: int, width: int, settings: AnalysisSettings) -> Finding:
    shown = rows.assign(_user=_display(rows).to_numpy(), _key=_key(rows).to_numpy())
    # one entry per account, accounts in order of appearance (a spike can hold thousands of them)
    codes, _uniques = pd.factorize(shown["_key"], use_na_sentinel=True)
    order = np.argsort(codes, kind="stable")
    order = order[codes[order] >= 0]
    bounds = np.flatnonzero(np.r_[True, codes[order][1:] != codes[order][:-1]]) if order.size else order
    shown_user = shown["_user"].tolist()
    user_ids = shown["user_id"].tolist()
    when = ns(shown["time"])
    ips = shown["ip"].tolist()
    accounts = []
    for group in np.split(order, bounds[1:]) if order.size else []:
        first_row = int(group[0])
        accounts.append(
            {
                "user": str(shown_user[first_row]),
                "user_id": plain(user_ids[first_row]),
                "resets": len(group),
                "first_reset": iso(int(when[group].min())),
                "ips": texts(ips[i] for i in group.tolist()),
            }
        )
    accounts.sort(key=lambda a: (a["first_reset"] or "", a["user"]))
    ip_counts = shown["ip"].astype("string").fillna("(none)").value_counts()
    first, last = rows["time"].min(), rows["time"].max()
    minutes = settings.spike_window_minutes
    hour = (to_ns(first) // NS_PER_HOUR) * NS_PER_HOUR
    users = tuple(a["user"] for a in accounts)
    return Finding(
        kind="reset_spike",
        severity="high",
        title=f"{len(accounts)} accounts reset their password by SSPR within a short time ({peak} within "
        f"{minutes} minutes)",
        users=users[: settings.max_users_listed],
        start=as_datetime(first),
        end=as_datetime(last),
        evidence={
            "window_start": iso(first),
            "window_end": iso(last),
            "window_minutes": minutes,
            "threshold_accounts": settings.spike_accounts,
            "accounts_count": len(accounts),
            "peak_accounts": peak,
            "peak_window_start": iso(peak_at),
            "peak_window_end": iso(peak_at + width),
            "resets": len(rows),
            "accounts": accounts[: settings.max_users_listed],
            "source_ips": {str(k): int(v) for k, v in ip_counts.items()},
        },
        action="Check these accounts' risk detections and sign-ins since the resets, and ask a sample of the "
        "users whether they reset their password; if not, revoke their sessions and reset them again.",
        fingerprint=fingerprint("reset_spike", iso(hour)),
    )


# ----------------------------------------------------------------------------------------------- blocked_user


def find_blocked_users(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``blocked_user``: one per user blocked from SSPR in the week, assessed from the signals available.

    ``possible_attack`` (high) when any of: a risk detection for the user in the ``blocked_risk_lookback_days``
    before a block (risk source needed); an IP the user was blocked from (or, without one, an IP of the user's
    flows) also used for at least ``blocked_ip_other_accounts`` other accounts' SSPR events this week; gates
    failed for methods the user never registered (registration source needed). Otherwise
    ``needs_registration_help`` (low), with the registration signals found: not SSPR-registered or capable,
    fewer methods than needed, configuration failures, or no registration row. Sources that were not available
    are listed in ``evidence.not_evaluated`` (and why in ``evidence.missing_signals``); without an attack signal
    and with risk or registration missing, an attack is not ruled out: ``attack_not_ruled_out`` (high, the
    severity the missing signal could have raised it to), the title and action naming the missing data.
    """
    events = data.events
    times = events["time"].to_numpy()
    rows = np.flatnonzero(is_kind(events, "blocked") & _window_mask(times, window))
    if rows.size == 0:
        return []
    audit = data.audit
    blocked = take_rows(audit, rows, ["user_id", "user_upn", "ip"]).reset_index(drop=True)
    blocked["time"] = times[rows]
    blocked["key"] = _key(blocked).to_numpy()
    blocked["shown"] = _display(blocked).to_numpy()
    users = (
        blocked.groupby("key", sort=True)
        .agg(
            user_id=("user_id", "first"),
            user_upn=("user_upn", "first"),
            shown=("shown", "first"),
            first=("time", "min"),
            last=("time", "max"),
            blocks=("time", "size"),
        )
        .reset_index()
    )
    n = len(users)
    block_ips = blocked.dropna(subset=["ip"]).groupby("key")["ip"].agg(lambda s: sorted(set(s)))

    # Flows of these users this week: their IPs, failed methods, configuration failures.
    flows = data.flows
    fmask = _window_mask(ns(flows["start"]), window) | _window_mask(ns(flows["end"]), window)
    week_flows = flows[fmask].reset_index(drop=True)
    week_flows["key"] = _key(week_flows).to_numpy()
    mine = week_flows[week_flows["key"].isin(users["key"]).to_numpy()]
    failed_bits = mine.groupby("key")["failed_bits"].agg(lambda s: int(np.bitwise_or.reduce(s.to_numpy())))
    config = mine[(mine["end_state"] == "failed_configuration").to_numpy()].groupby("key").size()
    flow_ips = mine.dropna(subset=["ip"]).groupby("key")["ip"].agg(lambda s: sorted(set(s)))

    # Accounts seen this week in SSPR events from the IPs these users came from.
    candidate_ips = {ip for ips in (*block_ips.tolist(), *flow_ips.tolist()) for ip in ips}
    sspr_rows = np.flatnonzero(is_kind(events, "progress", "sspr_reset", "blocked") & _window_mask(times, window))
    sspr_rows = sspr_rows[isin(audit["ip"].iloc[sspr_rows], candidate_ips)]
    seen = take_rows(audit, sspr_rows, ["user_id", "user_upn", "ip"]).reset_index(drop=True)
    seen = pd.DataFrame(
        {"ip": seen["ip"].to_numpy(), "key": _key(seen).to_numpy(), "shown": _display(seen).to_numpy()}
    ).dropna(subset=["ip"])
    seen = seen.drop_duplicates(["ip", "key"])
    per_ip = {str(ip): group for ip, group in seen.groupby("ip", sort=False)} if len(seen) else {}

    risk_hits = _blocked_risk(data, users, settings) if data.has("risk") else None
    reg = registration_lookup(data, users["last"].to_numpy(), users["user_id"], users["user_upn"])
    priv = privileged_lookup(data, users["last"].to_numpy(), users["user_id"], users["user_upn"])
    not_evaluated = [s for s in ("risk", "registration") if not data.has(s)]
    missing_text = " and ".join(not_evaluated)
    missing_why = [why for src in not_evaluated for why in data.lacks(src)]

    out = []
    for i in range(n):
        key = str(users.at[i, "key"])
        ips = block_ips.get(key) or flow_ips.get(key) or []
        ip_others = {}
        for ip in ips:
            group = per_ip.get(ip)
            if group is None:
                continue
            others = group[group["key"] != key]
            if len(others):
                ip_others[ip] = sorted(others["shown"].astype(str))
        attack: dict[str, Any] = {}
        help_signals: dict[str, Any] = {}
        crowded = {ip: o for ip, o in ip_others.items() if len(o) >= settings.blocked_ip_other_accounts}
        if crowded:
            attack["ip_used_for_other_accounts"] = {
                ip: {"other_accounts": len(o), "sample": o[:20]} for ip, o in crowded.items()
            }
        if risk_hits is not None and key in risk_hits:
            attack["recent_risk_detections"] = risk_hits[key]
        found = bool(reg.at[i, "found"])
        if data.has("registration"):
            failed = int(failed_bits.get(key, 0))
            if found and failed:
                registered = _registered_bits(reg.at[i, "methods_registered"])
                strange = failed & ~registered
                if strange:
                    attack["failed_methods_never_registered"] = [m for j, m in enumerate(METHODS) if strange >> j & 1]
            if not found:
                help_signals["no_registration_row"] = True
            else:
                if _flag(reg.at[i, "is_sspr_registered"]) is False:
                    help_signals["not_sspr_registered"] = True
                if _flag(reg.at[i, "is_sspr_capable"]) is False:
                    help_signals["not_sspr_capable"] = True
                is_admin = _flag(priv.at[i, "privileged"]) or _flag(reg.at[i, "is_admin"]) or False
                needed = settings.admin_methods_required if is_admin else settings.sspr_methods_required
                count = reg.at[i, "method_count"]
                if count is not pd.NA and count is not None and _int(count) < needed:
                    help_signals["too_few_methods"] = {"registered": _int(count), "needed": needed}
        if int(config.get(key, 0)):
            help_signals["configuration_failures"] = int(config.get(key, 0))
        if attack:
            assessment = "possible_attack"
        elif not_evaluated:  # a signal that could have shown an attack is missing: not ruled out
            assessment = "attack_not_ruled_out"
        else:
            assessment = "needs_registration_help"
        shown = str(users.at[i, "shown"])
        blocks = _int(users.at[i, "blocks"])
        evidence = {
            "assessment": assessment,
            "blocks": blocks,
            "first_blocked": iso(_int(users.at[i, "first"])),
            "last_blocked": iso(_int(users.at[i, "last"])),
            "ips": list(ips),
            "attack_signals": attack,
            "registration_signals": help_signals,
            "not_evaluated": not_evaluated,
        }
        if not_evaluated:
            evidence["missing_signals"] = {src: list(data.lacks(src)) for src in not_evaluated}
        if assessment == "attack_not_ruled_out":
            action = (
                f"The {missing_text} data was not available, so an attack could not be ruled out: check the "
                "user's risk detections and sign-ins in the Entra admin center and verify the person through a "
                "known channel (call back on a number on file, or their manager) before helping them register or "
                f"resetting anything. Then fix the {missing_text} source ({'; '.join(missing_why)}) so the next "
                "review can tell."
            )
        elif assessment == "possible_attack":
            action = (
                "Treat this as a possible account-takeover attempt: verify the person through a known channel "
                "(call back on a number on file, or their manager) and issue a Temporary Access Pass rather than "
                "resetting the password manually; review the user's risk detections and sign-ins."
            )
        else:
            action = (
                "Contact the user and help them register enough SSPR methods (https://aka.ms/mysecurityinfo); "
                "if configuration failures are listed, check that SSPR is enabled and licensed for them."
            )
        suffix = {
            "possible_attack": " (possible attack)",
            "attack_not_ruled_out": f" — {missing_text} data missing, attack not ruled out",
        }.get(assessment, "")
        out.append(
            Finding(
                kind="blocked_user",
                severity="low" if assessment == "needs_registration_help" else "high",
                title=f"{shown} was blocked from self-service password reset{suffix}",
                users=(shown,),
                start=as_datetime(_int(users.at[i, "first"])),
                end=as_datetime(_int(users.at[i, "last"])),
                evidence=plain(evidence),
                action=action,
                fingerprint=fingerprint("blocked_user", key),
            )
        )
    return out


def _registered_bits(methods: Any) -> int:
    if not isinstance(methods, str):
        return 0
    names = {m.strip().lower() for m in methods.split(",")}
    bits = 0
    for i, method in enumerate(METHODS):
        if names.intersection(METHOD_REGISTRATIONS[method]):
            bits |= 1 << i
    return bits


def _blocked_risk(data: ReviewData, users: pd.DataFrame, settings: AnalysisSettings) -> dict[str, list[dict[str, Any]]]:
    risk = data.risk
    if risk.empty:
        return {}
    pairs = _pairs(users, risk)
    if pairs.empty:
        return {}
    when = ns(risk["detected_time"].fillna(risk["activity_time"]))
    li_all, r = pairs["l"].to_numpy(), pairs["r"].to_numpy()
    first = users["first"].to_numpy()[li_all]
    last = users["last"].to_numpy()[li_all]
    lookback = settings.blocked_risk_lookback_days * NS_PER_DAY
    ok = (when[r] != NAT) & (when[r] >= first - lookback) & (when[r] <= last)
    out: dict[str, list[dict[str, Any]]] = {}
    for li, ri in zip(li_all[ok], r[ok], strict=True):
        key = str(users.at[int(li), "key"])
        out.setdefault(key, []).append(
            {
                "id": plain(risk.at[int(ri), "id"]),
                "risk_event_type": plain(risk.at[int(ri), "risk_event_type"]),
                "risk_level": plain(risk.at[int(ri), "risk_level"]),
                "risk_state": plain(risk.at[int(ri), "risk_state"]),
                "detected": iso(int(when[ri])),
                "ip": plain(risk.at[int(ri), "ip"]),
            }
        )
    return out


# ------------------------------------------------------------------------------------------ leaked credentials


def _leaks(data: ReviewData, window: ReviewWindow) -> pd.DataFrame:
    """leakedCredentials detections up to the window end, with their first later reset/change (before the end)."""
    risk = data.risk
    kind = lower(risk["risk_event_type"])
    detected = ns(risk["detected_time"].fillna(risk["activity_time"]))
    leaks = risk[(kind == "leakedcredentials").to_numpy(dtype=bool, na_value=False)].copy()
    det = detected[(kind == "leakedcredentials").to_numpy(dtype=bool, na_value=False)]
    keep = (det != NAT) & (det < to_ns(window.end))
    leaks = leaks[keep].reset_index(drop=True)
    leaks["detected_ns"] = det[keep]
    # Remediations: completed SSPR resets and successful self-service password changes, of these users only
    # (an account matches on its id or UPN: rows with neither in common cannot pair in _pairs).
    ids, upns = set(lower(leaks["user_id"]).dropna()), set(lower(leaks["user_upn"]).dropna())
    end = to_ns(window.end)
    events = data.events
    change_rows = np.flatnonzero(
        is_kind(events, "change") & events["success"].to_numpy(dtype=bool) & (events["time"].to_numpy() < end)
    )
    change_rows = change_rows[
        _may_pair(data.audit["user_id"].iloc[change_rows], data.audit["user_upn"].iloc[change_rows], ids, upns)
    ]
    changes = take_rows(data.audit, change_rows, ["user_id", "user_upn"]).reset_index(drop=True)
    changes["time"] = events["time"].to_numpy()[change_rows]
    changes["how"] = "password_change"
    reset_time = ns(data.resets["time"])
    reset_rows = np.flatnonzero(reset_time < end)
    reset_rows = reset_rows[
        _may_pair(data.resets["user_id"].iloc[reset_rows], data.resets["user_upn"].iloc[reset_rows], ids, upns)
    ]
    resets = data.resets[["user_id", "user_upn"]].iloc[reset_rows].reset_index(drop=True)
    resets["time"] = reset_time[reset_rows]
    resets["how"] = "sspr_reset"
    fixes = pd.concat([resets, changes], ignore_index=True)
    leaks["fix_ns"] = NAT
    leaks["fix_how"] = pd.array([None] * len(leaks), dtype="string")
    if len(leaks) and len(fixes):
        pairs = _pairs(leaks, fixes)
        pairs["d"] = leaks["detected_ns"].to_numpy()[pairs["l"].to_numpy()]
        pairs["t"] = fixes["time"].to_numpy()[pairs["r"].to_numpy()]
        pairs["how"] = fixes["how"].to_numpy()[pairs["r"].to_numpy()]
        pairs = pairs[pairs["t"] > pairs["d"]].sort_values(["l", "t"]).drop_duplicates("l")
        leaks.loc[pairs["l"].to_numpy(), "fix_ns"] = pairs["t"].to_numpy()
        leaks.loc[pairs["l"].to_numpy(), "fix_how"] = pairs["how"].to_numpy()
    result: pd.DataFrame = leaks
    return result


def _may_pair(user_ids: pd.Series, user_upns: pd.Series, ids: set[str], upns: set[str]) -> np.ndarray:
    """Rows whose lower-cased id or UPN is among ``ids``/``upns`` (a superset of what :func:`_pairs` pairs)."""
    return np.asarray(lower_isin(user_ids, ids) | lower_isin(user_upns, upns), dtype=bool)


def _leak_records(leaks: pd.DataFrame) -> list[dict[str, Any]]:
    """Per detection: shown user, identity for the fingerprint, and the common evidence (plain values)."""
    shown = _display(leaks).tolist()
    ident = lower(leaks["user_id"]).fillna("upn:" + lower(leaks["user_upn"])).fillna("(unknown)").tolist()
    columns = {c: leaks[c].astype(object).where(leaks[c].notna(), None).tolist() for c in _LEAK_COLUMNS}
    updated = ns(leaks["last_updated_time"]).tolist()
    out = []
    fixes = leaks["fix_ns"].tolist()
    for i, detected in enumerate(leaks["detected_ns"].tolist()):
        out.append(
            {
                "shown": shown[i],
                "ident": ident[i],
                "detected_ns": int(detected),
                "fix_ns": int(fixes[i]),
                "fix_how": columns["fix_how"][i],
                "evidence": {
                    "detection_id": columns["id"][i],
                    "detected": iso(int(detected)),
                    "risk_level": columns["risk_level"][i],
                    "risk_state": columns["risk_state"][i],
                    "risk_detail": columns["risk_detail"][i],
                    "last_updated": iso(updated[i]),
                },
            }
        )
    return out


_LEAK_COLUMNS: Final = ("id", "risk_level", "risk_state", "risk_detail", "fix_how")


def find_leaked_credentials_remediated(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings
) -> list[Finding]:
    """``leaked_credentials_remediated`` (info): a leakedCredentials detection followed, after its detection time
    and within ``leak_remediation_days``, by the same user's SSPR reset or self-service password change, the
    remediation falling in the week (so each is reported once)."""
    leaks = _leaks(data, window)
    fix = leaks["fix_ns"].to_numpy(dtype=np.int64)
    limit = leaks["detected_ns"].to_numpy(dtype=np.int64) + settings.leak_remediation_days * NS_PER_DAY
    hit = (fix != NAT) & (fix <= limit) & _window_mask(fix, window)
    out = []
    for rec in _leak_records(leaks[hit]):
        shown, detected, fixed = rec["shown"], rec["detected_ns"], rec["fix_ns"]
        hours = (fixed - detected) / NS_PER_HOUR
        evidence = rec["evidence"] | {
            "remediation": str(rec["fix_how"]),
            "remediated": iso(fixed),
            "hours_to_remediate": round(hours, 1),
        }
        out.append(
            Finding(
                kind="leaked_credentials_remediated",
                severity="info",
                title=f"{shown} changed their password {hours:.0f} h after a leaked-credentials detection",
                users=(shown,),
                start=as_datetime(detected),
                end=as_datetime(fixed),
                evidence=evidence,
                action="Nothing to do for the user; this shows the leaked-credentials notification reaches users "
                "and they act on it. Close the detection if Identity Protection has not.",
                fingerprint=fingerprint("leaked_credentials_remediated", rec["ident"], evidence["detection_id"]),
            )
        )
    return out


def find_leaked_credentials_unremediated(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings
) -> list[Finding]:
    """``leaked_credentials_unremediated`` (high): a leakedCredentials detection older than ``leak_grace_days`` at
    the end of the week, with no later SSPR reset or password change by the user, and not dismissed, remediated
    or confirmed safe."""
    leaks = _leaks(data, window)
    state = lower(leaks["risk_state"]).fillna("")
    closed = state.isin(["dismissed", "remediated", "confirmedsafe"]).to_numpy(dtype=bool)
    old = leaks["detected_ns"].to_numpy(dtype=np.int64) <= to_ns(window.end) - settings.leak_grace_days * NS_PER_DAY
    open_ = (leaks["fix_ns"].to_numpy(dtype=np.int64) == NAT) & ~closed & old
    audit_from = data.events["time"].to_numpy()
    audit_from = audit_from[audit_from != NAT]
    first_audit = iso(int(audit_from.min())) if audit_from.size else None
    end = to_ns(window.end)
    out = []
    for rec in _leak_records(leaks[open_]):
        shown, detected = rec["shown"], rec["detected_ns"]
        age = (end - detected) / NS_PER_DAY
        evidence = rec["evidence"] | {"age_days": round(age, 1), "audit_history_from": first_audit}
        out.append(
            Finding(
                kind="leaked_credentials_unremediated",
                severity="high",
                title=f"{shown}'s leaked password has not been changed ({age:.0f} days)",
                users=(shown,),
                start=as_datetime(detected),
                end=None,
                evidence=evidence,
                action="Have the user change their password now (or reset it and issue a Temporary Access Pass), "
                "then confirm the detection is remediated; check their sign-ins since the detection for misuse.",
                fingerprint=fingerprint("leaked_credentials_unremediated", rec["ident"], evidence["detection_id"]),
            )
        )
    return out


# ------------------------------------------------------------------------------- admin and helpdesk resets


def _week_resets(data: ReviewData, window: ReviewWindow) -> pd.DataFrame:
    """Every password reset of the week: self-service (completed flows) and by an administrator."""
    return resets_between(data, to_ns(window.start), to_ns(window.end))


def resets_between(data: ReviewData, start: int, end: int) -> pd.DataFrame:
    """Every password reset in ``[start, end)`` (ns): self-service (one per completed flow, with its
    ``flow_id``) and by an administrator (``flow_id`` missing), in time order, with ``key`` and ``shown``."""
    resets = data.resets
    t = ns(resets["time"])
    sspr = resets[(t >= start) & (t < end) & (t != NAT)]
    admin = data.admin_resets
    ta = ns(admin["time"])
    admin = admin[(ta >= start) & (ta < end) & (ta != NAT)]
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "time": ns(sspr["time"]),
                    "user_id": sspr["user_id"].to_numpy(),
                    "user_upn": sspr["user_upn"].to_numpy(),
                    "type": "self_service",
                    "initiator": sspr["user_upn"].to_numpy(),
                    "initiator_type": "user",
                    "ip": sspr["ip"].to_numpy(),
                    "flow_id": sspr["flow_id"].to_numpy(),
                    "correlation_id": sspr["correlation_id"].to_numpy(),
                    "activity": "Reset password (self-service)",
                }
            ),
            pd.DataFrame(
                {
                    "time": ns(admin["time"]),
                    "user_id": admin["user_id"].to_numpy(),
                    "user_upn": admin["user_upn"].to_numpy(),
                    "type": "admin",
                    "initiator": admin["initiator_upn"].fillna(admin["initiator_name"]).to_numpy(),
                    "initiator_type": admin["initiator_type"].to_numpy(),
                    "ip": admin["ip"].to_numpy(),
                    "flow_id": pd.NA,
                    "correlation_id": admin["correlation_id"].to_numpy(),
                    "activity": admin["activity"].to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    )
    for col in (
        "user_id",
        "user_upn",
        "initiator",
        "initiator_type",
        "ip",
        "flow_id",
        "correlation_id",
        "activity",
        "type",
    ):
        frame[col] = frame[col].astype("string")
    frame["time"] = frame["time"].astype(np.int64)
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    frame["key"] = _key(frame).to_numpy()
    frame["shown"] = _display(frame).to_numpy()
    return frame


_RESET_FIELDS: Final = ("type", "initiator", "initiator_type", "ip", "correlation_id", "activity")


def _columns(frame: pd.DataFrame, names: Iterable[str]) -> dict[str, list[Any]]:
    """Columns as plain Python lists (missing values as ``None``), for building findings without pandas."""
    return {n: frame[n].astype(object).where(frame[n].notna(), None).tolist() for n in names}


def _groups(frame: pd.DataFrame) -> list[tuple[str, list[int]]]:
    """Row positions per account key, accounts sorted, rows in time order."""
    indices = frame.groupby("key", sort=False).indices
    return [(str(k), np.asarray(v).tolist()) for k, v in sorted(indices.items())]


def _resets_by_user(frame: pd.DataFrame) -> tuple[dict[str, list[Any]], list[tuple[str, list[int]]]]:
    cols = _columns(
        frame, (*_RESET_FIELDS, "shown", "roles", "assignments", "groups", "basis", "privileged", "mismatch")
    )
    cols["time"] = frame["time"].tolist()
    cols["iso"] = [iso(t) for t in cols["time"]]
    return cols, _groups(frame)


def _reset_list(cols: dict[str, list[Any]], rows: list[int], limit: int) -> list[dict[str, Any]]:
    return [{"time": cols["iso"][i]} | {f: cols[f][i] for f in _RESET_FIELDS} for i in rows[:limit]]


def _distinct(cols: dict[str, list[Any]], name: str, rows: list[int], split: bool = False) -> list[str]:
    values = [cols[name][i] for i in rows]
    if split:
        return sorted({p for v in values for p in _split(v)})
    return texts(values)


def find_admin_password_resets(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``admin_password_reset`` (high): any password reset of a privileged role holder in the week, self-service
    or by someone else; one finding per account. Privileged = any available signal (see
    :func:`~.prepare.privileged_lookup`): in the latest roles snapshot at or before the reset (active, eligible,
    through a group, or ``isAdmin``), or flagged ``is_admin`` by the registration report. An account only the
    flag names is reported as not in the role data (``evidence.not_in_role_data``), with what the role data
    lacked (``evidence.role_data_gaps``)."""
    frame = _week_resets(data, window)
    if frame.empty:
        return []
    priv = privileged_lookup(data, frame["time"].to_numpy(), frame["user_id"], frame["user_upn"])
    frame = pd.concat([frame, priv], axis=1)
    frame = frame[frame["privileged"].fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)
    cols, groups = _resets_by_user(frame)
    out = []
    for key, rows in groups:
        shown = str(cols["shown"][rows[0]])
        roles = _distinct(cols, "roles", rows, split=True)
        by_admin = sum(1 for i in rows if cols["type"][i] == "admin")
        how = {0: "by self-service", len(rows): "by an administrator"}.get(
            by_admin, "by self-service and by an administrator"
        )
        mismatch = any(bool(cols["mismatch"][i]) for i in rows)
        gaps = list(data.lacks("roles"))
        evidence = {
            "roles": roles,
            "assignments": _distinct(cols, "assignments", rows, split=True),
            "via_groups": _distinct(cols, "groups", rows, split=True),
            "privilege_basis": cols["basis"][rows[0]],
            "not_in_role_data": mismatch,
            "role_data_gaps": gaps,
            "resets": _reset_list(cols, rows, settings.max_users_listed),
            "initiators": _distinct(cols, "initiator", rows),
            "ips": _distinct(cols, "ip", rows),
        }
        what = ", ".join(roles[:3]) or "privileged"
        action = (
            "Confirm through a known channel that the administrator (or an authorised colleague) made this reset; "
            "if not, treat the account as compromised: revoke sessions, reset it with a Temporary Access Pass and "
            "review the role's recent activity."
        )
        if mismatch:
            what = "isAdmin in the registration report, not in the role data"
            action += (
                " The registration report flags this account as an administrator but the role data does not list it"
                + (f" (the role data is incomplete: {'; '.join(gaps)})" if gaps else "")
                + ": check which roles it holds in the Entra admin center."
            )
        elif cols["basis"][rows[0]] == "registration" and gaps:
            what += "; role data missing"
        out.append(
            Finding(
                kind="admin_password_reset",
                severity="high",
                title=f"Password of administrator {shown} ({what}) was reset {how}",
                users=(shown,),
                start=as_datetime(cols["time"][rows[0]]),
                end=as_datetime(cols["time"][rows[-1]]),
                evidence=evidence,
                action=action,
                fingerprint=fingerprint("admin_password_reset", key),
            )
        )
    return out


def find_helpdesk_resets(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``helpdesk_reset`` (medium): an administrator reset a non-privileged user's password in the week; one
    finding per user. ``evidence.tap_issued`` says whether a Temporary Access Pass was issued for the user within
    ``tap_match_hours`` of a reset; ``evidence.privileged`` is null when privilege could not be fully checked.
    When the role data is missing or lacks a part (PIM eligibility, a group's members), the account may be an
    administrator's: the finding is then high (what an administrator's reset would be), and its title and action
    say so, naming what was missing (``evidence.role_data_gaps``)."""
    frame = _week_resets(data, window)
    frame = frame[(frame["type"] == "admin").to_numpy(dtype=bool)].reset_index(drop=True)
    if frame.empty:
        return []
    priv = privileged_lookup(data, frame["time"].to_numpy(), frame["user_id"], frame["user_upn"])
    frame = pd.concat([frame, priv], axis=1)
    frame = frame[~frame["privileged"].fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)
    if frame.empty:
        return []
    taps = data.taps
    tap_time = ns(taps["time"])
    tap_of = np.full(len(frame), NAT, dtype=np.int64)
    if len(taps):
        pairs = _pairs(frame, taps)
        diff = np.abs(tap_time[pairs["r"].to_numpy()] - frame["time"].to_numpy()[pairs["l"].to_numpy()])
        pairs = pairs[diff <= settings.tap_match_hours * NS_PER_HOUR]
        pairs = pairs.assign(t=tap_time[pairs["r"].to_numpy()]).sort_values("t").drop_duplicates("l")
        tap_of[pairs["l"].to_numpy()] = pairs["t"].to_numpy()
    cols, groups = _resets_by_user(frame)
    out = []
    for key, rows in groups:
        shown = str(cols["shown"][rows[0]])
        taps_seen = sorted({int(tap_of[i]) for i in rows if tap_of[i] != NAT})
        issued = bool(taps_seen)
        initiators = _distinct(cols, "initiator", rows)
        gaps = list(data.lacks("roles"))
        evidence = {
            "resets": _reset_list(cols, rows, settings.max_users_listed),
            "initiators": initiators,
            "ips": _distinct(cols, "ip", rows),
            "tap_issued": issued,
            "tap_times": [iso(t) for t in taps_seen],
            "privileged": None if gaps else _flag(cols["privileged"][rows[0]]),
            "role_data_gaps": gaps,
        }
        if issued:
            action = (
                "Check the reset followed the procedure: the user was verified through a known channel and then "
                "re-registered their methods with the Temporary Access Pass; ask why the password was reset too."
            )
        else:
            action = (
                "Ask the helpdesk why self-service was not used: the intended procedure is SSPR, or a Temporary "
                "Access Pass and re-registration, not a password handed over by the helpdesk."
            )
        title = f"{shown}'s password was reset by {', '.join(initiators[:2]) or 'an administrator'}"
        if gaps:  # the missing role data could have made this an administrator's reset (high)
            state = "missing" if not data.has("roles") else "incomplete"
            title += f" — role data {state}, administrator not ruled out"
            action = (
                f"The role data is {state} ({'; '.join(gaps)}), so this account may hold an administrator role: "
                "check its roles in the Entra admin center, and if it holds one, confirm through a known channel "
                "that the reset was authorised, as for an administrator's reset. " + action
            )
        out.append(
            Finding(
                kind="helpdesk_reset",
                severity="high" if gaps else "medium",
                title=title,
                users=(shown,),
                start=as_datetime(cols["time"][rows[0]]),
                end=as_datetime(cols["time"][rows[-1]]),
                evidence=evidence,
                action=action,
                fingerprint=fingerprint("helpdesk_reset", key),
            )
        )
    return out


# ------------------------------------------------------------------------------------------ writeback_failure

#: Writeback failure causes by the rule (pattern of ``result_reasons.csv``) that recognised the reason.
WRITEBACK_CAUSES: Final[Mapping[str, str]] = {
    "password is managed on-premises": "writeback_disabled",
    "could not reach your on-premises": "agent_unreachable",
    "onpremisesconnectivityerror": "agent_unreachable",
    "onpremisesadminactionrequired": "ad_refused",
    "onpremisessuccesscloudfailure": "cloud_update_failed",
    "on-premises operation result: changesuccess": "cloud_update_failed",
    "writebacknotenabled": "writeback_disabled",
}
_WRITEBACK_REMEDIES: Final[Mapping[str, str]] = {
    "writeback_disabled": "Password writeback is off for these users: enable it in Entra Connect (optional "
    "features) or Cloud Sync, or have them change their password on-premises.",
    "agent_unreachable": "The on-premises agent was unreachable: check that the Entra Connect server or Cloud Sync "
    "agent is running and can reach Microsoft (outbound 443), and its event log.",
    "ad_refused": "Active Directory refused the change: check the connector (AD DS) service account's Reset "
    "password, Change password and Write pwdLastSet/lockoutTime permissions on the users' OUs, protected accounts "
    "(adminCount=1) and the domain password policy (minimum age, history).",
    "cloud_update_failed": "The on-premises password changed but the cloud update failed: check the sync service "
    "logs on the Entra Connect server and ask the users to sign in with the new password once sync has run.",
}
_WRITEBACK_DEFAULT: Final = (
    "Check the Entra Connect (AD DS connector) service account's Reset password and Change password permissions on "
    "the users' OUs, and the Application event log (source PasswordResetService / ADSync) on the sync server."
)


def find_writeback_failures(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``writeback_failure`` (medium): on-premises writeback failures in the week, one finding per cause
    (:data:`WRITEBACK_CAUSES`, from the rule of ``result_reasons.csv`` that recognised the reason; ``other``
    for the rest), listing the reason texts and the remedy."""
    events = data.events
    times = events["time"].to_numpy()
    failed = np.asarray(events["end_state"].cat.codes) == END_STATES.index("failed_writeback")
    rows = np.flatnonzero(failed & _window_mask(times, window))
    if rows.size == 0:
        return []
    audit = data.audit
    frame = take_rows(audit, rows, ["user_id", "user_upn", "result_reason", "activity", "on_premises_agent"])
    rules = events["end_state_rule"].iloc[rows].astype("string").fillna("onpremises")
    frame = frame.reset_index(drop=True).assign(
        time=times[rows],
        flow=events["flow"].to_numpy()[rows] if "flow" in events else np.full(rows.size, -1),
        rule=rules.to_numpy(),
        cause=rules.map(dict(WRITEBACK_CAUSES)).fillna("other").astype(str).to_numpy(),
    )
    frame["shown"] = _display(frame).to_numpy()
    out = []
    for cause, group in frame.groupby("cause", sort=True):
        users = sorted(set(group["shown"].astype(str)))
        reasons = texts(group["result_reason"].astype("string").str.strip())
        remedy = _WRITEBACK_REMEDIES.get(str(cause), _WRITEBACK_DEFAULT)
        flow = group["flow"].to_numpy()
        attempts = len(np.unique(flow[flow >= 0])) + int((flow < 0).sum())  # one per SSPR flow
        evidence = {
            "cause": str(cause),
            "rules": texts(group["rule"]),
            "reasons": reasons[:10],
            "attempts": attempts,
            "events": len(group),
            "users_count": len(users),
            "activities": texts(group["activity"]),
            "on_premises_agents": texts(group["on_premises_agent"]),
            "remedy": remedy,
        }
        out.append(
            Finding(
                kind="writeback_failure",
                severity="medium",
                title=f"Password writeback failed {attempts} times for {len(users)} users: "
                f"{(reasons or [str(cause)])[0][:80]}",
                users=tuple(users[: settings.max_users_listed]),
                start=as_datetime(int(group["time"].min())),
                end=as_datetime(int(group["time"].max())),
                evidence=plain(evidence),
                action=remedy + " Then ask the affected users to try again.",
                fingerprint=fingerprint("writeback_failure", cause),
            )
        )
    return out


# ------------------------------------------------------------------------------------------- registration_gap


def _week_snapshot(data: ReviewData, window: ReviewWindow) -> pd.DataFrame:
    """Registration rows of the snapshot the window uses (:attr:`ReviewData.snapshots`); without a chosen one,
    the latest snapshot dated within the week (see :mod:`.metrics`), else the latest snapshot dated on or before
    the week's end day."""
    reg = data.registration
    if reg.empty:
        return reg
    snap = ns(reg["snapshot_date"])
    day = np.where(snap == NAT, np.iinfo(np.int64).min, snap // NS_PER_DAY)
    columns = ["snapshot_date", "user_id", "user_upn", "user_type", "is_sspr_enabled", "is_sspr_capable", "is_admin"]
    wanted = data.snapshot_day("registration")
    if wanted is not None:
        picked: pd.DataFrame = reg[columns][day == wanted]
        return picked
    tz = zone(window.timezone)
    epoch = pd.Timestamp("1970-01-01").date().toordinal()
    end_day = window.end.astimezone(tz).date().toordinal() - epoch
    usable = (snap != NAT) & (day <= end_day)
    if not usable.any():
        return reg.iloc[0:0]
    chosen = day[usable].max()
    result: pd.DataFrame = reg[columns][day == chosen]
    return result


def find_registration_gaps(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``registration_gap``: SSPR-capable share of SSPR-enabled member users below ``registration_target``
    (low), or administrators not SSPR-capable (medium). With the role data missing or incomplete, administrators
    may hide among the users not capable: medium, the title saying so (``evidence.role_data_gaps``)."""
    snap = _week_snapshot(data, window)
    if snap.empty:
        return []
    member = lower_isin(snap["user_type"], ["member"])
    enabled = snap["is_sspr_enabled"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    capable = snap["is_sspr_capable"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    admin = snap["is_admin"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    admin |= in_roles(data, snap, ns(snap["snapshot_date"]))
    scope = member & enabled
    den = int(scope.sum())
    cap = int((scope & capable).sum())
    graph_capable = data.registration_lean.get(int(ns(snap["snapshot_date"])[0]) // NS_PER_DAY)
    if graph_capable is not None:  # a lean snapshot: the capable members from Graph's count (see .lean)
        den, cap = lean_member_counts(graph_capable, member, enabled, capable)
    coverage = cap / den if den else None
    admins_missing = sorted(_display(snap[admin & ~capable]).astype(str))
    missing = sorted(_display(snap[scope & ~capable & ~admin]).astype(str))
    below = coverage is not None and coverage < settings.registration_target
    if not below and not admins_missing:
        return []
    limit = settings.max_users_listed
    parts = []
    if coverage is not None:
        parts.append(
            f"SSPR registration {coverage:.1%} of {den} enabled members (target {settings.registration_target:.0%})"
        )
    if admins_missing:
        parts.append(f"{len(admins_missing)} administrators not SSPR-capable")
    gaps = list(data.gaps.get("roles", ()))  # as the coverage names them (no coverage given: isAdmin suffices)
    if gaps and not admins_missing:  # administrators the role data lacks could be among the users not capable
        parts.append("role data incomplete, administrators not ruled out among them")
    evidence = {
        "snapshot_date": iso(snap["snapshot_date"].iloc[0]),
        "coverage": coverage,
        "target": settings.registration_target,
        "enabled_members": den,
        "capable_members": cap,
        "not_registered": den - cap,
        "admins": int(admin.sum()),
        "admins_not_capable": admins_missing,
        "not_registered_sample": missing[:limit],
        "role_data_gaps": gaps,
    }
    return [
        Finding(
            kind="registration_gap",
            severity="medium" if admins_missing or gaps else "low",
            title="; ".join(parts),
            users=tuple((admins_missing + missing)[:limit]),
            start=as_datetime(snap["snapshot_date"].iloc[0]),
            end=as_datetime(snap["snapshot_date"].iloc[0]),
            evidence=plain(evidence),
            action="Ask the listed administrators to register SSPR methods now, and run a registration campaign "
            "(combined registration enforced at sign-in, or a registration policy) for the other users.",
            fingerprint=fingerprint("registration_gap"),
        )
    ]


def admins_not_in_roles(data: ReviewData, window: ReviewWindow) -> list[str]:
    """Accounts the week's registration snapshot flags ``isAdmin`` that the role data does not list (sorted; empty
    unless both sources are complete). They count as privileged (:func:`~.prepare.privileged_lookup`); the
    review notes the mismatch."""
    if not (data.has("roles") and data.has("registration")):
        return []
    snap = _week_snapshot(data, window)
    if snap.empty:
        return []
    flagged = snap["is_admin"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    listed = in_roles(data, snap, ns(snap["snapshot_date"]))
    return sorted(set(_display(snap[flagged & ~listed]).astype(str)))


# ----------------------------------------------------------------------------------------------- rule registry


@dataclass(frozen=True)
class Rule:
    """A rule and its sources: every group in ``requires`` needs one complete source; ``uses`` are optional
    sources whose absence weakens the rule."""

    kind: str
    function: Callable[[ReviewData, ReviewWindow, AnalysisSettings], list[Finding]]
    requires: tuple[tuple[str, ...], ...]
    uses: tuple[str, ...] = field(default=())


# The account-takeover rules live in their own module, which imports Finding, Rule and the account-matching
# helpers from this one (all defined above this point).
from . import takeover as _takeover  # noqa: E402

#: Every rule, by kind (``data_gap`` comes from :func:`data_gaps`).
RULES: Final[Mapping[str, Rule]] = {
    r.kind: r
    for r in (
        Rule("reset_spike", find_reset_spikes, (("audit",),)),
        Rule("blocked_user", find_blocked_users, (("audit",),), ("risk", "registration", "roles")),
        Rule("leaked_credentials_unremediated", find_leaked_credentials_unremediated, (("risk",), ("audit",))),
        Rule("leaked_credentials_remediated", find_leaked_credentials_remediated, (("risk",), ("audit",))),
        Rule("admin_password_reset", find_admin_password_resets, (("audit",), ("roles", "registration")), ("roles",)),
        Rule("helpdesk_reset", find_helpdesk_resets, (("audit",),), ("roles", "registration")),
        Rule("writeback_failure", find_writeback_failures, (("audit",),)),
        Rule("registration_gap", find_registration_gaps, (("registration",),), ("roles",)),
        *_takeover.RULES,
    )
}


def evaluate(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings
) -> tuple[list[Finding], tuple[str, ...]]:
    """Run every rule whose sources are complete; returns the findings and the kinds not evaluated."""
    findings: list[Finding] = []
    skipped = []
    for kind, rule in RULES.items():
        if all(any(data.has(s) for s in group) for group in rule.requires):
            findings.extend(rule.function(data, window, settings))
        else:
            skipped.append(kind)
    return findings, tuple(skipped)


def data_gaps(
    coverage: Mapping[str, SourceCoverage],
    complete: Iterable[str],
    not_evaluated: Sequence[str],
    window: ReviewWindow,
) -> list[Finding]:
    """``data_gap`` (critical): one per source that is missing or incomplete for the window, naming the finding
    kinds not evaluated and the metrics left empty because of it (and the rules it weakens)."""
    complete = set(complete)
    needed = {s for r in RULES.values() for g in r.requires for s in g} | {s for r in RULES.values() for s in r.uses}
    sources = [s for s in SOURCES if s in needed or s in coverage] + sorted(set(coverage) - set(SOURCES))
    out = []
    for source in sources:
        if source in complete:
            continue
        cov = coverage.get(source)
        reason = (cov.reason if cov is not None else None) or (
            "no coverage information for this source" if cov is None else "incomplete for the review window"
        )
        blocked = [k for k in not_evaluated if any(source in g for g in RULES[k].requires)]
        weakened = [
            k
            for k, r in RULES.items()
            if k not in not_evaluated and (source in r.uses or any(source in g for g in r.requires))
        ]
        metrics = [s.name for s in METRIC_SPECS if s.source == source]
        evidence = {
            "source": source,
            "from": iso(cov.start) if cov is not None else None,
            "to": iso(cov.end) if cov is not None else None,
            "complete": False,
            "reason": reason,
            "not_evaluated": blocked,
            "evaluated_without_it": weakened,
            "metrics_missing": metrics,
        }
        what = f"; not evaluated: {', '.join(blocked)}" if blocked else ""
        out.append(
            Finding(
                kind="data_gap",
                severity="critical",
                title=f"{source} data missing or incomplete for the week ({reason}){what}",
                users=(),
                start=window.start,
                end=window.end,
                evidence=plain(evidence),
                action=f"Fix the {source} source ({reason}) and run the review again; until then, read missing "
                "metrics and the kinds listed under not_evaluated as unknown, not as zero.",
                fingerprint=fingerprint("data_gap", source),
            )
        )
    return out


# --------------------------------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class Comparison:
    """This week's findings against last week's, by fingerprint.

    ``unknown`` holds last week's findings of kinds that could not be evaluated this week: they are neither
    continuing nor resolved.
    """

    new: tuple[Finding, ...]
    continuing: tuple[Finding, ...]
    resolved: tuple[Finding, ...]
    unknown: tuple[Finding, ...] = ()

    def status(self, finding: Finding) -> str | None:
        """ "new" or "continuing" for a current finding; ``None`` if it is not one of them."""
        if any(f.fingerprint == finding.fingerprint for f in self.new):
            return "new"
        if any(f.fingerprint == finding.fingerprint for f in self.continuing):
            return "continuing"
        return None


def compare(
    current: Iterable[Finding],
    previous: Iterable[Finding],
    *,
    not_evaluated: Iterable[str] = (),
) -> Comparison:
    """Classify findings as new, continuing or resolved by fingerprint (see the module docstring)."""
    current = list(current)
    previous = list(previous)
    skipped = set(not_evaluated)
    before = {f.fingerprint for f in previous}
    now = {f.fingerprint for f in current}
    return Comparison(
        new=tuple(f for f in current if f.fingerprint not in before),
        continuing=tuple(f for f in current if f.fingerprint in before),
        resolved=tuple(f for f in previous if f.fingerprint not in now and f.kind not in skipped),
        unknown=tuple(f for f in previous if f.fingerprint not in now and f.kind in skipped),
    )


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """A finding as a JSON-ready dictionary (the ``findings`` items of findings.json, without ``status``)."""
    return {
        "kind": finding.kind,
        "severity": finding.severity,
        "title": finding.title,
        "users": list(finding.users),
        "start": iso(finding.start),
        "end": iso(finding.end),
        "evidence": plain(finding.evidence),
        "action": finding.action,
        "fingerprint": finding.fingerprint,
    }


def finding_from_dict(item: Mapping[str, Any]) -> Finding:
    """A finding read back from findings.json (for :func:`compare` with last week's file)."""
    return Finding(
        kind=str(item["kind"]),
        severity=str(item["severity"]),
        title=str(item.get("title", "")),
        users=tuple(str(u) for u in item.get("users", ())),
        start=as_datetime(item.get("start")),
        end=as_datetime(item.get("end")),
        evidence=dict(item.get("evidence") or {}),
        action=str(item.get("action", "")),
        fingerprint=str(item["fingerprint"]),
    )
