"""Account-takeover signals around password resets: two finding kinds, one unit.

``security_info_changed_after_reset``
    A password reset (SSPR completed, or by an administrator) followed within ``takeover_window_hours`` by a
    change to the same user's security info: the attacker who got through SSPR, or talked the helpdesk into a
    reset, registers their own method so the account stays theirs. A Temporary Access Pass is not a change, and
    a change within ``takeover_window_hours`` after a TAP was issued for the user is the intended recovery path,
    not a chain. Changes attach to the latest reset before them, so one reset with several registration events
    (one sitting) is one finding. A chain is reported in the week of its first change, so that a reset late on
    Sunday followed by a change on Monday is seen by the next review rather than by none.
``phone_only_reset_new_ip``
    A completed SSPR reset in the week whose verified gates were all phone-based (mobile SMS, mobile voice
    call, office phone), from an IP address the user did not use in the ``new_ip_lookback_days`` before it (any
    SSPR, password-change or security-info event the user initiated): the shape of a SIM swap. Users with no
    earlier event with an IP in that lookback cannot be judged; :func:`phone_only_unjudged` counts those resets.

Both are pure, vectorised functions over :class:`~.prepare.ReviewData`, registered in :data:`.registry.RULES`;
they share the :class:`~.model.Finding` model and the account-matching helpers of :mod:`.accounts` with the other
rule families.

Fingerprints: the user and the reset (its kind and UTC time for a chain; its flow for a phone-only reset). Both
are event-like: the same reset is not reported twice, so next week's review lists it as resolved.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import NAT, NS_PER_DAY, NS_PER_HOUR, as_datetime, iso, lower, ns, plain, to_ns
from .accounts import account_key, account_pairs, as_int, display_name
from .flows import method_labels
from .ip_history import ip_history
from .model import Finding, fingerprint
from .prepare import ReviewData
from .privileged import WindowRegistration, registration_lookup
from .reasons import METHODS
from .security_info import (
    CHANGE_ACTIVITIES,
    reset_ips,
    reset_record,
    resets_with_flows,
    security_info_changes,
)
from .window import ReviewWindow

__all__ = [
    "CHANGE_ACTIVITIES",
    "NON_PHONE_REGISTERED",
    "PHONE_BITS",
    "PHONE_METHODS",
    "chained_resets",
    "find_phone_only_resets_new_ip",
    "find_security_info_changes_after_reset",
    "phone_only_unjudged",
    "security_info_changes",
]

#: SSPR verification methods that are phone-based (see :data:`~.reasons.METHODS`).
PHONE_METHODS: Final = ("sms", "voice", "office_phone")
#: Non-phone SSPR methods a user may have used in an earlier flow.
NON_PHONE_USED: Final = ("app_notification", "app_code")
#: ``methodsRegistered`` names (lower case) of non-phone methods: Authenticator notification or code,
#: passkey / FIDO2, Windows Hello.
NON_PHONE_REGISTERED: Final = frozenset(
    {
        "microsoftauthenticatorpush",
        "microsoftauthenticatorpasswordless",
        "softwareonetimepasscode",
        "fido2",
        "passkeydevicebound",
        "passkeydeviceboundauthenticator",
        "passkeydeviceboundwindowshello",
        "windowshelloforbusiness",
    }
)
#: The bits of :data:`PHONE_METHODS` in a flow's ``verified_bits``.
PHONE_BITS: Final = sum(1 << METHODS.index(m) for m in PHONE_METHODS)
_NON_PHONE_BITS: Final = sum(1 << METHODS.index(m) for m in NON_PHONE_USED)
_MAX_EARLIER_IPS: Final = 5
_GATE_NAMES: Final[dict[str, str]] = {"sms": "SMS", "voice": "voice call", "office_phone": "office phone"}


# --------------------------------------------------------------------------- security_info_changed_after_reset


def find_security_info_changes_after_reset(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings
) -> list[Finding]:
    """``security_info_changed_after_reset``: see the module docstring. One finding per reset whose chain of
    changes (each change attached to the latest reset of the user before it, at most ``takeover_window_hours``
    later, and not within ``takeover_window_hours`` after a Temporary Access Pass for the user) has its first
    change in the week. **high** when a change deleted a method or came from an IP address none of the reset's
    events used, or when a change or the reset has no IP so that cannot be ruled out (``evidence.ip_compared``
    is then false and the title says so), else **medium**."""
    found = data.derived(_chains, window, settings)  # once for the window: this rule's and the spike rule's
    if found is None:
        return []
    resets, changes, pairs, chains = found
    by_reset = reset_ips(data, resets, chains)
    known_ip = set(by_reset["l"].tolist())
    change_ip = lower(changes["ip"]).to_numpy()[pairs["r"].to_numpy()]  # IPv6 text may differ in case
    match = pairs[["l", "r"]].assign(ip=pd.array(change_ip, dtype="string"))
    match = match.merge(by_reset.assign(ip=lower(by_reset["ip"])), on=["l", "ip"], how="left", indicator=True)
    same_ip = set(map(tuple, match[match["_merge"] == "both"][["l", "r"]].to_numpy().tolist()))
    ips_of = {as_int(li): sorted(set(g.astype(str))) for li, g in by_reset.groupby("l")["ip"]}
    resets = resets.assign(_key=account_key(resets).to_numpy(), _shown=display_name(resets).to_numpy())
    out = []
    for label, group in pairs.sort_values(["l", "tc"], kind="stable").groupby("l", sort=True):
        li = as_int(label)
        listed, foreign, deleted, uncompared = _chain_changes(changes, group["r"].tolist(), li, li in known_ip, same_ip)
        out.append(
            _chain_finding(resets, li, group, list(ips_of.get(li, [])), listed, foreign, deleted, uncompared, settings)
        )
    return out


def _chains(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, np.ndarray] | None:
    """The resets and security-info changes around the week, the (reset ``l``, change ``r``) pairs of the chains
    whose first change lies in the week (with reset time ``tr`` and change time ``tc``), and those chains' resets;
    ``None`` when there are none. Read, not changed, by its callers (built once per window)."""
    width = settings.takeover_window_hours * NS_PER_HOUR
    start, end = to_ns(window.start), to_ns(window.end)
    # every change of a chain that may start in the week: its reset is at most one window before the week
    changes = security_info_changes(data, start - width, end + width)
    if changes.empty:
        return None
    resets = resets_with_flows(data, start - width, end)
    if resets.empty:
        return None
    pairs = account_pairs(resets, changes)
    if pairs.empty:
        return None
    tr = resets["time"].to_numpy()[pairs["l"].to_numpy()]
    tc = changes["time"].to_numpy()[pairs["r"].to_numpy()]
    pairs = pairs.assign(tr=tr, tc=tc)
    pairs = pairs[((tc > tr) & (tc - tr <= width)).astype(bool)]
    # each change belongs to the latest reset before it
    pairs = pairs.sort_values(["r", "tr"], ascending=[True, False], kind="stable").drop_duplicates("r")
    # no chain for changes within the window after a Temporary Access Pass for the user
    taps = data.taps
    tt = ns(taps["time"])
    taps = taps[(tt >= start - 2 * width) & (tt < end + width)].reset_index(drop=True)  # those that can excuse
    if len(pairs) and len(taps):
        tap_pairs = account_pairs(changes, taps)
        tap_t = ns(taps["time"])[tap_pairs["r"].to_numpy()]
        change_t = changes["time"].to_numpy()[tap_pairs["l"].to_numpy()]
        covered = tap_pairs["l"].to_numpy()[(tap_t <= change_t) & (change_t - tap_t <= width)]
        pairs = pairs[~np.isin(pairs["r"].to_numpy(), covered)]
    if pairs.empty:
        return None
    first = pairs.groupby("l")["tc"].min()
    chains = first[(first >= start) & (first < end)].index.to_numpy()
    pairs = pairs[np.isin(pairs["l"].to_numpy(), chains)]
    if pairs.empty:
        return None
    return resets, changes, pairs, chains


def chained_resets(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> pd.DataFrame:
    """The resets followed by a change to the user's security info, as :func:`find_security_info_changes_after_reset`
    chains them (first change in the week): ``key`` (the account), ``time`` (of the reset, int64 ns)."""
    found = data.derived(_chains, window, settings)  # once for the window: this rule's and the spike rule's
    if found is None:
        return pd.DataFrame({"key": pd.Series(dtype="string"), "time": pd.Series(dtype=np.int64)})
    resets, _, pairs, _ = found
    rows = np.unique(pairs["l"].to_numpy())
    return pd.DataFrame(
        {"key": account_key(resets).to_numpy()[rows], "time": resets["time"].to_numpy()[rows].astype(np.int64)}
    ).astype({"key": "string"})


def _chain_changes(
    changes: pd.DataFrame, rows: list[int], li: int, known: bool, same_ip: set[tuple[int, int]]
) -> tuple[list[dict[str, Any]], list[Any], bool, int]:
    """The changes of reset ``li``'s chain as evidence records, with the IPs the reset did not use, whether a
    method was deleted and how many changes could not be compared (``known``: the reset has an IP)."""
    listed = []
    foreign, deleted, uncompared = [], False, 0
    for ri in rows:
        ip = plain(changes.at[ri, "ip"])
        compared = ip is not None and known
        other = compared and (li, ri) not in same_ip
        foreign += [ip] if other else []
        uncompared += 0 if compared else 1
        deleted |= bool(changes.at[ri, "deletion"])
        listed.append(
            {
                "time": iso(as_int(changes.at[ri, "time"])),
                "activity": plain(changes.at[ri, "activity"]),
                "ip": ip,
                "ip_used_by_reset": None if not compared else not other,
                "method": plain(changes.at[ri, "method"]),
                "reason": plain(changes.at[ri, "reason"]),
                "initiator": plain(changes.at[ri, "initiator"]),
                "deletion": bool(changes.at[ri, "deletion"]),
            }
        )
    return listed, foreign, deleted, uncompared


def _chain_finding(
    resets: pd.DataFrame,
    li: int,
    group: pd.DataFrame,
    reset_ip_list: list[str],
    listed: list[dict[str, Any]],
    foreign: list[Any],
    deleted: bool,
    uncompared: int,
    settings: AnalysisSettings,
) -> Finding:
    """The finding of reset ``li``'s chain of changes (``group``: its pairs, with the change times ``tc``)."""
    # a change or reset without an IP could have come from elsewhere: keep the severity that could raise
    high = bool(foreign) or deleted or uncompared > 0
    reset = reset_record(resets, li, reset_ip_list)
    reset_t = as_int(resets.at[li, "time"])
    first_t, last_t = int(group["tc"].min()), int(group["tc"].max())
    minutes = round((first_t - reset_t) / (NS_PER_HOUR / 60), 1)
    shown = str(resets.at[li, "_shown"])
    why = []
    if deleted:
        why.append("a method was deleted")
    if foreign:
        why.append("from an IP address the reset did not use")
    if uncompared and not foreign:
        why.append("an IP address is missing: a change from elsewhere is not ruled out")
    evidence = {
        "reset": reset,
        "changes": listed[: settings.max_users_listed],
        "changes_count": len(listed),
        "minutes_to_first_change": minutes,
        "hours_to_last_change": round((last_t - reset_t) / NS_PER_HOUR, 2),
        "window_hours": settings.takeover_window_hours,
        "ips_not_used_by_reset": sorted(set(foreign)),
        "method_deleted": deleted,
        "ip_compared": uncompared == 0,
        "changes_without_ip_comparison": uncompared,
        "severity_reason": "; ".join(why) or "changes from the reset's own IP address",
    }
    how = "an administrator reset" if resets.at[li, "type"] == "admin" else "a self-service reset"
    return Finding(
        kind="security_info_changed_after_reset",
        severity="high" if high else "medium",
        title=f"{shown}'s security info changed {_duration(first_t - reset_t)} after {how} of their "
        f"password" + (f" ({why[0]})" if why else ""),
        users=(shown,),
        start=as_datetime(reset_t),
        end=as_datetime(last_t),
        evidence=plain(evidence),
        action="Confirm with the user through a known channel (call back on a number on file, or their "
        "manager) that they made these changes; if not, remove the method, revoke their sessions and reset "
        "the account with a Temporary Access Pass.",
        fingerprint=fingerprint(
            "security_info_changed_after_reset", resets.at[li, "_key"], resets.at[li, "type"], iso(reset_t)
        ),
    )


def _duration(delta: int) -> str:
    minutes = delta / (NS_PER_HOUR / 60)
    return f"{minutes:.0f} min" if minutes < 90 else f"{delta / NS_PER_HOUR:.1f} h"


# ----------------------------------------------------------------------------------------- phone_only_reset_new_ip


#: The last :func:`_phone_only` result, for the same events table, window and settings: the rule and
#: :func:`phone_only_unjudged` share it. The table is held weakly, so the cache never keeps a review alive.
_LAST: list[tuple[weakref.ref[pd.DataFrame], ReviewWindow, AnalysisSettings, tuple[pd.DataFrame, pd.DataFrame]]] = []


def _phone_only(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The week's phone-only SSPR resets (``judged``: an earlier IP in the lookback) and the earlier
    ``(l, ip, last_seen)`` of each (copies: callers may change them)."""
    for ref, win, sett, result in _LAST:
        if ref() is data.events and win == window and sett == settings:
            return result[0].copy(), result[1].copy()
    result = _compute_phone_only(data, window, settings)
    _LAST[:] = [(weakref.ref(data.events), window, settings, result)]
    return result[0].copy(), result[1].copy()


def _compute_phone_only(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    start, end = to_ns(window.start), to_ns(window.end)
    resets = resets_with_flows(data, start, end)
    resets = resets[(resets["type"] == "self_service").to_numpy(dtype=bool)]
    bits = resets["verified_bits"].to_numpy()
    resets = resets[(bits != 0) & (bits & ~PHONE_BITS == 0)].reset_index(drop=True)
    empty = pd.DataFrame(
        {"l": pd.Series(dtype=np.int64), "ip": pd.Series(dtype="string"), "last_seen": pd.Series(dtype=np.int64)}
    )
    if resets.empty:
        return resets.assign(judged=np.zeros(0, dtype=bool), flow_start=np.zeros(0, dtype=np.int64)), empty
    flows = data.flows
    flow_start = ns(flows["start"])[resets["flow"].to_numpy()]
    resets["flow_start"] = flow_start
    ids = set(lower(resets["user_id"]).dropna())
    upns = set(lower(resets["user_upn"]).dropna())
    lookback = settings.new_ip_lookback_days * NS_PER_DAY
    hist = ip_history(data, ids, upns, int(flow_start.min()) - lookback, int(flow_start.max()))
    pairs = account_pairs(resets, hist)
    ht = hist["time"].to_numpy()[pairs["r"].to_numpy()]
    fs = flow_start[pairs["l"].to_numpy()]
    own_flow = hist["flow"].to_numpy()[pairs["r"].to_numpy()] == resets["flow"].to_numpy()[pairs["l"].to_numpy()]
    keep = (ht < fs) & (ht >= fs - lookback) & ~own_flow
    earlier = pd.DataFrame(
        {"l": pairs["l"].to_numpy()[keep], "ip": hist["ip"].to_numpy()[pairs["r"].to_numpy()[keep]], "t": ht[keep]}
    )
    earlier = earlier.groupby(["l", "ip"], sort=False)["t"].max().rename("last_seen").reset_index()
    resets["judged"] = np.isin(np.arange(len(resets)), earlier["l"].to_numpy())
    return resets, earlier


def phone_only_unjudged(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> dict[str, int]:
    """Phone-only SSPR resets of the week that :func:`find_phone_only_resets_new_ip` could not judge:
    ``resets`` (of users with no earlier event with an IP in the lookback, or without an IP themselves) and
    ``users``; empty when audit data is incomplete for the week."""
    if not data.has("audit"):
        return {}
    resets, _ = _phone_only(data, window, settings)
    no_ip = ~np.isin(np.arange(len(resets)), reset_ips(data, resets)["l"].to_numpy())
    unjudged = resets[~resets["judged"].to_numpy(dtype=bool) | no_ip]
    return {"resets": len(unjudged), "users": int(account_key(unjudged).nunique()) if len(unjudged) else 0}


def find_phone_only_resets_new_ip(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``phone_only_reset_new_ip``: see the module docstring. **high** when the user has a non-phone method
    (Authenticator notification or code, passkey / FIDO2, Windows Hello) verified in an earlier SSPR flow or
    registered in the registration snapshot in force at the reset (the first one when none is older), else
    **medium**. Without registration data a registered method cannot be ruled out: the finding stays **high**,
    says so in its title and action, and ``evidence.not_evaluated`` names the source."""
    resets, earlier = _phone_only(data, window, settings)
    if resets.empty or not resets["judged"].any():
        return []
    found = _new_ips(data, resets, earlier)
    if found is None:
        return []
    hits, new_ips, all_ips = found
    sub = resets.iloc[hits].reset_index(drop=True)
    used_bits = _non_phone_used(data, sub)
    reg = registration_lookup(data, sub["time"].to_numpy(), sub["user_id"], sub["user_upn"])
    snap = _snapshot_dates(data, sub)
    sub = sub.assign(_key=account_key(sub).to_numpy(), _shown=display_name(sub).to_numpy())
    context = _PhoneOnly(
        data=data,
        settings=settings,
        sub=sub,
        earlier=earlier,
        new_ips=new_ips,
        all_ips=all_ips,
        used_bits=used_bits,
        reg=reg,
        snap=snap,
        history_from=iso(data.first_time("audit")),
    )
    return [_phone_only_finding(context, j, li) for j, li in enumerate(hits.tolist())]


@dataclass(frozen=True)
class _PhoneOnly:
    """What the finding of each phone-only reset from a new IP reads: the resets (``sub``) and their signals."""

    data: ReviewData
    settings: AnalysisSettings
    sub: pd.DataFrame
    earlier: pd.DataFrame
    new_ips: pd.Series
    all_ips: pd.Series
    used_bits: pd.Series
    reg: pd.DataFrame
    snap: list[str | None]
    history_from: str | None


def _new_ips(
    data: ReviewData, resets: pd.DataFrame, earlier: pd.DataFrame
) -> tuple[np.ndarray, pd.Series, pd.Series] | None:
    """The judged resets (rows of ``resets``) with an IP not in their ``earlier`` IPs, their new IPs and all their
    IPs (by row); ``None`` when there are none."""
    by_reset = reset_ips(data, resets).assign(ip=lambda f: lower(f["ip"]))
    known = earlier[["l", "ip"]].assign(_seen=True)
    tagged = by_reset.merge(known, on=["l", "ip"], how="left")
    new = tagged[tagged["_seen"].isna().to_numpy()]
    new = new[np.isin(new["l"].to_numpy(), np.flatnonzero(resets["judged"].to_numpy(dtype=bool)))]
    if new.empty:
        return None
    hits = np.unique(new["l"].to_numpy())
    new_ips = new.groupby("l")["ip"].agg(lambda s: sorted(set(s.astype(str))))
    all_ips = by_reset.groupby("l")["ip"].agg(lambda s: sorted(set(s.astype(str))))
    return hits, new_ips, all_ips


def verified_non_phone(data: ReviewData) -> pd.DataFrame:
    """The SSPR flows in which a non-phone method was verified: ``user_id``, ``user_upn``, ``start`` (int64 ns),
    ``bits`` (those methods). With ``data.history``, the flows started before its ``since`` are each account's
    methods there (``start`` just before ``since``; the tables' own flows are not whole before it)."""
    flows = data.flows
    start = ns(flows["start"])
    bits = flows["verified_bits"].to_numpy() & _NON_PHONE_BITS
    keep = bits != 0
    since = data.since()
    if since is not None:
        keep &= start >= since
    out = pd.DataFrame(
        {
            "user_id": flows["user_id"].to_numpy()[keep],
            "user_upn": flows["user_upn"].to_numpy()[keep],
            "start": start[keep],
            "bits": bits[keep].astype(np.int64),
        }
    ).astype({"user_id": "string", "user_upn": "string"})
    if data.history is None or data.history.methods.empty:
        return out
    earlier = data.history.methods[["user_id", "user_upn", "bits"]].assign(start=data.history.since - 1)
    return pd.concat([out, earlier[list(out.columns)]], ignore_index=True)


def _non_phone_used(data: ReviewData, sub: pd.DataFrame) -> pd.Series:
    """Per reset of ``sub``: the non-phone methods (bits) verified in an earlier flow of the user."""
    flows = verified_non_phone(data)
    fpairs = account_pairs(sub, flows)
    fstart = flows["start"].to_numpy()[fpairs["r"].to_numpy()]
    fbits = flows["bits"].to_numpy()[fpairs["r"].to_numpy()]
    before = fstart < sub["flow_start"].to_numpy()[fpairs["l"].to_numpy()]
    used = pd.DataFrame({"l": fpairs["l"].to_numpy()[before], "bits": fbits[before]})
    return used.groupby("l")["bits"].agg(lambda s: int(np.bitwise_or.reduce(s.to_numpy())))


def _phone_only_finding(context: _PhoneOnly, j: int, li: int) -> Finding:
    """The finding of reset ``j`` of ``context.sub`` (row ``li`` of the week's phone-only resets)."""
    data, settings, sub, reg, earlier = context.data, context.settings, context.sub, context.reg, context.earlier
    used_bits, new_ips, all_ips, snap = context.used_bits, context.new_ips, context.all_ips, context.snap
    history_from, flows = context.history_from, data.flows
    used_list = [m for m in method_labels(np.asarray([int(used_bits.get(j, 0))]))[0].split(",") if m]
    registered_all = (
        [m for m in str(reg.at[j, "methods_registered"] or "").split(",") if m] if bool(reg.at[j, "found"]) else []
    )
    registered_non_phone = [m for m in registered_all if m.strip().lower() in NON_PHONE_REGISTERED]
    has_other = bool(used_list or registered_non_phone)
    # without registration data a registered non-phone method cannot be ruled out: keep the severity it
    # could have raised the finding to, and say so
    unknown = not has_other and not data.has("registration")
    high = has_other or unknown
    ips = earlier[earlier["l"] == li].sort_values("last_seen", ascending=False, kind="stable")
    gates = [m for m in str(method_labels(np.asarray([as_int(sub.at[j, "verified_bits"])]))[0]).split(",") if m]
    reset = reset_record(sub, j, list(all_ips.get(li, [])))
    evidence = {
        "reset": reset,
        "gates": gates,
        "new_ips": list(new_ips.get(li, [])),
        "earlier_ips": [
            {"ip": str(ip), "last_seen": iso(int(t))}
            for ip, t in zip(ips["ip"].tolist()[:_MAX_EARLIER_IPS], ips["last_seen"].tolist(), strict=False)
        ],
        "earlier_ips_count": len(ips),
        "lookback_days": settings.new_ip_lookback_days,
        "audit_history_from": history_from,
        "non_phone_methods_used_before": used_list,
        "non_phone_methods_registered": registered_non_phone if data.has("registration") else None,
        "methods_registered": registered_all if data.has("registration") else None,
        "registration_snapshot": snap[j] if data.has("registration") else None,
        "not_evaluated": [] if data.has("registration") else ["registration"],
        "severity_reason": "a non-phone method registered or used before"
        if has_other
        else "registration data missing: a non-phone method is not ruled out"
        if unknown
        else "no non-phone method registered or used before",
    }
    shown = str(sub.at[j, "_shown"])
    gate_names = " and ".join(_GATE_NAMES.get(g, g) for g in gates)
    return Finding(
        kind="phone_only_reset_new_ip",
        severity="high" if high else "medium",
        title=f"{shown} reset their password by SSPR verified only by {gate_names} from a new IP address "
        f"({', '.join(list(new_ips.get(li, []))[:2])})"
        + (
            " although they have a non-phone method"
            if has_other
            else " (registration data missing: a non-phone method is not ruled out)"
            if unknown
            else ""
        ),
        users=(shown,),
        start=as_datetime(as_int(sub.at[j, "flow_start"])),
        end=as_datetime(as_int(sub.at[j, "time"])),
        evidence=plain(evidence),
        action="Check with the user through a channel other than that phone (their manager, a call to a "
        "number not on the account) that they made this reset; if a SIM swap is suspected, ask the mobile "
        "operator; revoke the user's sessions."
        + (" Registration data was missing: check the user's registered methods in the portal." if unknown else ""),
        fingerprint=fingerprint(
            # the flow's id (its correlationId), not its row number, which shifts with the history held
            "phone_only_reset_new_ip",
            sub.at[j, "_key"],
            flows["flow_id"].iat[as_int(sub.at[j, "flow"])],
            iso(as_int(sub.at[j, "time"])),
        ),
    )


def _snapshot_dates(data: ReviewData, frame: pd.DataFrame) -> list[str | None]:
    """Date (ISO) of the registration snapshot :func:`~.privileged.registration_lookup` uses for each row: the one
    the window uses when one is chosen, else the latest at or before the row's time (the first when none is)."""
    if not data.has("registration") or data.registration.empty:
        return [None] * len(frame)
    snap = data.derived(WindowRegistration.of).snap  # the rows the lookup reads: the chosen day's, else all
    dates = np.unique(snap[snap != NAT])
    if dates.size == 0:
        return [None] * len(frame)
    pos = np.clip(np.searchsorted(dates, frame["time"].to_numpy(), side="right") - 1, 0, None)
    return [iso(int(d)) for d in dates[pos].tolist()]
