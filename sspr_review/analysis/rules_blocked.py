"""The ``blocked_user`` rule: users blocked from SSPR, assessed as a possible attack or a registration problem."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import (
    NAT,
    NS_PER_DAY,
    as_datetime,
    isin,
    iso,
    ns,
    plain,
    take_rows,
)
from .accounts import account_key, account_pairs, as_flag, as_int, display_name, in_window
from .flows import is_kind
from .model import Finding, fingerprint
from .prepare import ReviewData
from .privileged import privileged_lookup, registration_lookup
from .reasons import METHOD_REGISTRATIONS, METHODS
from .window import ReviewWindow

__all__ = ["find_blocked_users"]


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
    users, block_ips = _blocked_accounts(data, window)
    if users.empty:
        return []
    failed_bits, config, flow_ips = _flow_signals(data, window, users)
    per_ip = _accounts_by_ip(data, window, {ip for ips in (*block_ips.tolist(), *flow_ips.tolist()) for ip in ips})
    last, ids, upns = users["last"].to_numpy(), users["user_id"], users["user_upn"]
    reg = registration_lookup(data, last, ids, upns)
    context = _Context(
        data=data,
        settings=settings,
        risk_hits=_blocked_risk(data, users, settings) if data.has("risk") else None,
        reg=reg.to_dict("records"),
        privileged=privileged_lookup(data, last, ids, upns, reg)["privileged"].tolist(),
        failed_bits=failed_bits,
        config=config,
        not_evaluated=[s for s in ("risk", "registration") if not data.has(s)],
    )
    out = []
    for i, user in enumerate(users.to_dict("records")):  # one finding per blocked account: a row as a dict
        key = str(user["key"])
        ips = block_ips.get(key) or flow_ips.get(key) or []
        attack = _attack_signals(context, i, key, _others_by_ip(per_ip, ips, key))
        out.append(_blocked_finding(context, user, ips, attack, _registration_signals(context, i, key)))
    return out


@dataclass(frozen=True)
class _Context:
    """What the per-user assessment reads: the signals looked up once for all blocked users."""

    data: ReviewData
    settings: AnalysisSettings
    risk_hits: dict[str, list[dict[str, Any]]] | None
    reg: list[dict[Hashable, Any]]
    privileged: list[Any]
    failed_bits: pd.Series
    config: pd.Series
    not_evaluated: list[str]


def _blocked_accounts(data: ReviewData, window: ReviewWindow) -> tuple[pd.DataFrame, pd.Series]:
    """The accounts blocked in the week (one row each: key, ids, shown, first/last block, blocks) and the IPs each
    was blocked from."""
    events = data.events
    times = events["time"].to_numpy()
    rows = np.flatnonzero(is_kind(events, "blocked") & in_window(times, window))
    blocked = take_rows(data.audit, rows, ["user_id", "user_upn", "ip"]).reset_index(drop=True)
    blocked["time"] = times[rows]
    blocked["key"] = account_key(blocked).to_numpy()
    blocked["shown"] = display_name(blocked).to_numpy()
    by_key = blocked.groupby("key", sort=True)  # two aggregations, not six: each one costs its own pass
    users = by_key[["user_id", "user_upn", "shown"]].first()
    when = by_key["time"]
    users["first"], users["last"], users["blocks"] = when.min(), when.max(), when.size()
    users = users.reset_index()
    block_ips = blocked.dropna(subset=["ip"]).groupby("key")["ip"].agg(lambda s: sorted(set(s)))
    return users, block_ips


def _flow_signals(
    data: ReviewData, window: ReviewWindow, users: pd.DataFrame
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Per blocked account, from its flows this week: the failed gates (method bits), the number of configuration
    failures and the IPs."""
    flows = data.flows
    fmask = in_window(ns(flows["start"]), window) | in_window(ns(flows["end"]), window)
    week_flows = flows[fmask].reset_index(drop=True)
    week_flows["key"] = account_key(week_flows).to_numpy()
    mine = week_flows[week_flows["key"].isin(users["key"]).to_numpy()]
    failed_bits = mine.groupby("key")["failed_bits"].agg(lambda s: int(np.bitwise_or.reduce(s.to_numpy())))
    config = mine[(mine["end_state"] == "failed_configuration").to_numpy()].groupby("key").size()
    flow_ips = mine.dropna(subset=["ip"]).groupby("key")["ip"].agg(lambda s: sorted(set(s)))
    return failed_bits, config, flow_ips


def _accounts_by_ip(
    data: ReviewData, window: ReviewWindow, candidate_ips: set[str]
) -> dict[str, list[tuple[str, str]]]:
    """Accounts seen this week in SSPR events from the given IPs (``key``, ``shown``), by IP."""
    events, audit = data.events, data.audit
    times = events["time"].to_numpy()
    sspr_rows = np.flatnonzero(is_kind(events, "progress", "sspr_reset", "blocked") & in_window(times, window))
    sspr_rows = sspr_rows[isin(audit["ip"].iloc[sspr_rows], candidate_ips)]
    seen = take_rows(audit, sspr_rows, ["user_id", "user_upn", "ip"]).reset_index(drop=True)
    seen = pd.DataFrame(
        {"ip": seen["ip"].to_numpy(), "key": account_key(seen).to_numpy(), "shown": display_name(seen).to_numpy()}
    ).dropna(subset=["ip"])
    seen = seen.drop_duplicates(["ip", "key"])
    out: dict[str, list[tuple[str, str]]] = {}
    for ip, account, shown in zip(seen["ip"].tolist(), seen["key"].tolist(), seen["shown"].tolist(), strict=True):
        out.setdefault(str(ip), []).append((str(account), str(shown)))
    return out


def _others_by_ip(per_ip: dict[str, list[tuple[str, str]]], ips: list[str], key: str) -> dict[str, list[str]]:
    """The other accounts (shown, sorted) seen from each of ``ips``."""
    ip_others = {}
    for ip in ips:
        others = sorted(shown for account, shown in per_ip.get(ip, ()) if account != key)
        if others:
            ip_others[ip] = others
    return ip_others


def _attack_signals(context: _Context, i: int, key: str, ip_others: dict[str, list[str]]) -> dict[str, Any]:
    """The signals of an attack on blocked user ``i``: a crowded IP, recent risk, gates never registered."""
    attack: dict[str, Any] = {}
    crowded = {ip: o for ip, o in ip_others.items() if len(o) >= context.settings.blocked_ip_other_accounts}
    if crowded:
        attack["ip_used_for_other_accounts"] = {
            ip: {"other_accounts": len(o), "sample": o[:20]} for ip, o in crowded.items()
        }
    if context.risk_hits is not None and key in context.risk_hits:
        attack["recent_risk_detections"] = context.risk_hits[key]
    reg = context.reg
    if context.data.has("registration"):
        failed = int(context.failed_bits.get(key, 0))
        if bool(reg[i]["found"]) and failed:
            strange = failed & ~_registered_bits(reg[i]["methods_registered"])
            if strange:
                attack["failed_methods_never_registered"] = [m for j, m in enumerate(METHODS) if strange >> j & 1]
    return attack


def _registration_signals(context: _Context, i: int, key: str) -> dict[str, Any]:
    """The signals that blocked user ``i`` needs help registering: no row, not registered or capable, too few
    methods, configuration failures."""
    help_signals: dict[str, Any] = {}
    reg, settings = context.reg, context.settings
    if context.data.has("registration"):
        row = reg[i]
        if not bool(row["found"]):
            help_signals["no_registration_row"] = True
        else:
            if as_flag(row["is_sspr_registered"]) is False:
                help_signals["not_sspr_registered"] = True
            if as_flag(row["is_sspr_capable"]) is False:
                help_signals["not_sspr_capable"] = True
            is_admin = as_flag(context.privileged[i]) or as_flag(row["is_admin"]) or False
            needed = settings.admin_methods_required if is_admin else settings.sspr_methods_required
            count = row["method_count"]
            if count is not pd.NA and count is not None and as_int(count) < needed:
                help_signals["too_few_methods"] = {"registered": as_int(count), "needed": needed}
    if int(context.config.get(key, 0)):
        help_signals["configuration_failures"] = int(context.config.get(key, 0))
    return help_signals


def _blocked_finding(
    context: _Context,
    user: dict[Hashable, Any],
    ips: list[str],
    attack: dict[str, Any],
    help_signals: dict[str, Any],
) -> Finding:
    """The finding of a blocked ``user`` (its row of the blocked accounts): its assessment, evidence, title and
    action."""
    data, not_evaluated = context.data, context.not_evaluated
    if attack:
        assessment = "possible_attack"
    elif not_evaluated:  # a signal that could have shown an attack is missing: not ruled out
        assessment = "attack_not_ruled_out"
    else:
        assessment = "needs_registration_help"
    shown = str(user["shown"])
    evidence = {
        "assessment": assessment,
        "blocks": as_int(user["blocks"]),
        "first_blocked": iso(as_int(user["first"])),
        "last_blocked": iso(as_int(user["last"])),
        "ips": list(ips),
        "attack_signals": attack,
        "registration_signals": help_signals,
        "not_evaluated": not_evaluated,
    }
    if not_evaluated:
        evidence["missing_signals"] = {src: list(data.lacks(src)) for src in not_evaluated}
    missing_text = " and ".join(not_evaluated)
    suffix = {
        "possible_attack": " (possible attack)",
        "attack_not_ruled_out": f" — {missing_text} data missing, attack not ruled out",
    }.get(assessment, "")
    return Finding(
        kind="blocked_user",
        severity="low" if assessment == "needs_registration_help" else "high",
        title=f"{shown} was blocked from self-service password reset{suffix}",
        users=(shown,),
        start=as_datetime(as_int(user["first"])),
        end=as_datetime(as_int(user["last"])),
        evidence=plain(evidence),
        action=_blocked_action(assessment, missing_text, [why for src in not_evaluated for why in data.lacks(src)]),
        fingerprint=fingerprint("blocked_user", str(user["key"])),
    )


def _blocked_action(assessment: str, missing_text: str, missing_why: list[str]) -> str:
    """What to do about a blocked user, by assessment."""
    if assessment == "attack_not_ruled_out":
        return (
            f"The {missing_text} data was not available, so an attack could not be ruled out: check the "
            "user's risk detections and sign-ins in the Entra admin center and verify the person through a "
            "known channel (call back on a number on file, or their manager) before helping them register or "
            f"resetting anything. Then fix the {missing_text} source ({'; '.join(missing_why)}) so the next "
            "review can tell."
        )
    if assessment == "possible_attack":
        return (
            "Treat this as a possible account-takeover attempt: verify the person through a known channel "
            "(call back on a number on file, or their manager) and issue a Temporary Access Pass rather than "
            "resetting the password manually; review the user's risk detections and sign-ins."
        )
    return (
        "Contact the user and help them register enough SSPR methods (https://aka.ms/mysecurityinfo); "
        "if configuration failures are listed, check that SSPR is enabled and licensed for them."
    )


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
    pairs = account_pairs(users, risk)
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
