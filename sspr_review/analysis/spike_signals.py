"""What makes a burst of self-service resets suspicious whatever its size: the reset-spike rule's signals.

Per reset (:func:`familiarity`): its IP address and network (IPv4 /24, IPv6 /48), whether the IP is **new to
the account** (the account initiated no SSPR, password-change or security-info event from it in the
``new_ip_lookback_days`` before the reset's flow began; an account with no such event at all is new to every
IP), whether the account had **no earlier SSPR use** (no SSPR flow in that lookback), and whether the reset was
verified **by phone only** (SMS, voice call, office phone).

Per burst (:func:`burst_signals`), each signal fires on its own rule:

==========================  ======================================================================================
``one_ip``                  at least ``spike_burst_accounts`` accounts from one IP new to them within
                            ``spike_burst_minutes``
``one_network``             at least ``spike_accounts`` accounts from one network new to them within
                            ``spike_window_minutes``
``few_ips``                 the three IPs new to the most of the burst's accounts serve at least ``spike_accounts``
``new_ips``                 accounts from IPs new to them: an unusual share (below)
``no_earlier_sspr``         accounts with no earlier SSPR use: an unusual share
``phone_only``              accounts verified by phone only: an unusual share
``security_info_changed``   accounts whose reset was followed by a security-info change (as
                            ``security_info_changed_after_reset`` chains them): an unusual share, at least 2
``blocked_from_burst_ips``  an account blocked from SSPR around the burst from an IP that reset an account new to it
==========================  ======================================================================================

An **unusual share**: ``k`` of the burst's ``n`` accounts, at least 3, a share at least :data:`RATIO` times
``p`` and more than chance allows (``k > n·p + 3·√(n·p·(1−p))``), where ``p`` is the share among the week's
other resets: a trait every reset of the tenant shows does not make a burst suspicious. With fewer than
:data:`USUAL_MIN` other resets the usual share is unknown and these signals do not fire.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import NAT, NS_PER_DAY, NS_PER_MINUTE, lower, ns, user_key
from .accounts import account_key
from .ip_history import ip_history
from .prepare import ReviewData
from .security_info import flow_rows
from .sliding import sliding_accounts
from .takeover import PHONE_BITS

__all__ = [
    "RATIO",
    "SIGNALS",
    "USUAL_MIN",
    "burst_signals",
    "familiarity",
    "network_of",
    "signal_phrases",
    "usual_shares",
]

#: The signals, in the order the evidence and the severity reason list them.
SIGNALS: Final = (
    "one_ip",
    "one_network",
    "few_ips",
    "new_ips",
    "no_earlier_sspr",
    "phone_only",
    "security_info_changed",
    "blocked_from_burst_ips",
)
#: Fewest other resets in the week to measure a trait's usual share on.
USUAL_MIN: Final = 20
#: A burst's share of a trait must be at least this many times the usual share to count as unusual.
RATIO: Final = 1.5
#: The traits measured as shares: signal → column of :func:`familiarity` (True: the account shows it).
_SHARES: Final = {"new_ips": "new_ip", "no_earlier_sspr": "first_sspr", "phone_only": "phone_only"}
_FEW: Final = 3


#: An IPv4 address as :func:`ipaddress.ip_address` reads one: four decimal octets, none above 255 and none with a
#: leading zero.
_IPV4: Final = (
    r"((25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])\.){3}(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
)


def network_of(ips: pd.Series) -> pd.Series:
    """Each IP's network: ``a.b.c.0/24`` (IPv4), ``x:y:z::/48`` (IPv6); text that is no IP stays as it is
    (computed on the distinct values)."""
    codes, uniques = pd.factorize(lower(ips), use_na_sentinel=True)
    text = pd.Series(uniques, dtype="string")
    v4 = text.str.fullmatch(_IPV4).fillna(False).to_numpy(dtype=bool)
    nets = text.str.replace(r"\.[0-9]+$", ".0/24", regex=True).to_numpy(dtype=object)
    for i in np.flatnonzero(~v4).tolist():  # IPv6 and text that is no IP (IPv4 is the rule)
        try:
            address = ipaddress.ip_address(str(text.iat[i]))
        except ValueError:
            nets[i] = str(text.iat[i])
            continue
        prefix = 24 if address.version == 4 else 48
        nets[i] = str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))
    return pd.Series(np.array([*nets, None], dtype=object)[codes], dtype="string")


def _flow_facts(data: ReviewData, resets: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per reset: its flow's start (the reset's time when the flow is not found) and verified bits."""
    times = ns(resets["time"])
    if not len(times):
        return times, np.zeros(0, dtype=np.int64)
    # a reset's time is its flow's completion: only the flows completed from the first to the last are looked at
    row = flow_rows(data, resets["flow_id"], int(times.min()), int(times.max()) + 1)
    found, at_row = row >= 0, np.maximum(row, 0)
    flows = data.flows
    starts, bits = ns(flows["start"]), flows["verified_bits"].to_numpy()
    at = np.where(found, starts[at_row] if starts.size else 0, times)
    verified = np.where(found, bits[at_row] if bits.size else 0, 0)
    return np.asarray(at, dtype=np.int64), np.asarray(verified, dtype=np.int64)


def _seen_before(left: pd.DataFrame, right: pd.DataFrame, on: str, by: list[str], lookback: int) -> np.ndarray:
    """Per row of ``left`` (columns ``row``, ``at``, ``by``): a row of ``right`` with the same ``by`` lies in the
    ``lookback`` before ``at`` (not at it)."""
    hit = np.zeros(len(left), dtype=bool)
    left = left.dropna(subset=by).sort_values("at", kind="stable")
    right = right.dropna(subset=by).sort_values(on, kind="stable")
    if left.empty or right.empty:
        return hit
    found = pd.merge_asof(
        left,
        right,
        left_on="at",
        right_on=on,
        by=by,
        allow_exact_matches=False,
        direction="backward",
        tolerance=lookback,
    )
    hit[found["row"].to_numpy()[found[on].notna().to_numpy()]] = True
    return hit


def _flows_begun(data: ReviewData, begin: int, end: int) -> pd.DataFrame:
    """The SSPR flows begun in ``[begin, end)``: ``key`` (the account) and ``begun`` (int64 ns); with
    ``data.history``, those begun before its ``since`` are each account's last one in a week, from the history."""
    flows = data.flows
    started = ns(flows["start"])
    start, kept = data.lookback("starts", begin, end)
    keep = (started >= start) & (started < end) & (started != NAT)
    frames = [flows[keep][["user_id", "user_upn"]].assign(begun=started[keep])]
    if kept is not None:
        frames.append(kept.rename(columns={"time": "begun"}))
    found = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    return pd.DataFrame({"key": user_key(found).array, "begun": found["begun"].to_numpy(dtype=np.int64)})


def familiarity(data: ReviewData, resets: pd.DataFrame, settings: AnalysisSettings) -> pd.DataFrame:
    """Per row of ``resets`` (rows of ``data.resets``): ``key`` (the account), ``ip`` (lower case),
    ``network``, ``new_ip``, ``first_sspr`` (no earlier SSPR use) and ``phone_only`` (see the module
    docstring)."""
    at, bits = _flow_facts(data, resets)
    key = account_key(resets).astype("string")
    ip = lower(resets["ip"]).reset_index(drop=True)
    lookback = settings.new_ip_lookback_days * NS_PER_DAY
    left = pd.DataFrame({"row": np.arange(len(resets)), "key": key.array, "ip": ip.array, "at": at})
    known = np.zeros(len(resets), dtype=bool)
    earlier = np.zeros(len(resets), dtype=bool)
    if len(resets):
        ids = set(lower(resets["user_id"]).dropna())
        upns = set(lower(resets["user_upn"]).dropna())
        hist = ip_history(data, ids, upns, int(at.min()) - lookback, int(at.max()))
        seen = pd.DataFrame({"key": user_key(hist).array, "ip": hist["ip"].array, "seen": hist["time"].to_numpy()})
        known = _seen_before(left, seen, "seen", ["key", "ip"], lookback)
        begun = _flows_begun(data, int(at.min()) - lookback, int(at.max()) + 1)
        earlier = _seen_before(left.drop(columns="ip"), begun, "begun", ["key"], lookback)
    return pd.DataFrame(
        {
            "key": key.array,
            "ip": ip.array,
            "network": network_of(ip).array,
            "new_ip": ip.notna().to_numpy() & ~known,
            "first_sspr": ~earlier,
            "phone_only": (bits != 0) & (bits & ~PHONE_BITS == 0),
        }
    )


def usual_shares(others: pd.DataFrame, chained: pd.DataFrame) -> dict[str, float | None]:
    """The share of each trait among ``others`` (the week's resets in no burst, with :func:`familiarity`'s
    columns and ``time``); ``None`` when fewer than :data:`USUAL_MIN`."""
    if len(others) < USUAL_MIN:
        return dict.fromkeys([*_SHARES, "security_info_changed"])
    out: dict[str, float | None] = {name: float(others[col].mean()) for name, col in _SHARES.items()}
    out["security_info_changed"] = float(_chained(others, chained).mean())
    return out


def _chained(rows: pd.DataFrame, chained: pd.DataFrame) -> np.ndarray:
    """Which ``rows`` are resets followed by a security-info change (``chained``: ``key``, ``time``)."""
    if chained.empty or rows.empty:
        return np.zeros(len(rows), dtype=bool)
    pairs = pd.MultiIndex.from_arrays([chained["key"].astype("string"), chained["time"].astype(np.int64)])
    mine = pd.MultiIndex.from_arrays([rows["key"].astype("string"), rows["time"].astype(np.int64)])
    return np.asarray(mine.isin(pairs), dtype=bool)


def _unusual(k: int, n: int, p: float | None, *, least: int = 3) -> bool:
    """``k`` of ``n`` accounts show a trait whose usual share is ``p``: more than chance allows, and by a margin
    that matters (see the module docstring); never when the usual share is unknown."""
    if p is None or k < least or k < RATIO * p * n:
        return False
    return k > n * p + 3 * math.sqrt(n * p * (1 - p))


def _busiest(rows: pd.DataFrame, width: int, group: str) -> tuple[int, str | None]:
    """The most accounts of ``rows`` from one value of ``group`` within ``width`` ns, and that value."""
    if rows.empty:
        return 0, None
    keys, _ = pd.factorize(rows["key"])
    groups, labels = pd.factorize(rows[group])
    steps = sliding_accounts(rows["time"].to_numpy(), keys, width, groups)
    top = int(np.argmax(steps.counts))
    return int(steps.counts[top]), str(labels[int(steps.groups[top])])


def _accounts(rows: pd.DataFrame, mask: np.ndarray) -> int:
    return int(rows["key"][mask].nunique())


def burst_signals(
    rows: pd.DataFrame,
    usual: Mapping[str, float | None],
    chained: pd.DataFrame,
    blocked: pd.DataFrame,
    settings: AnalysisSettings,
) -> dict[str, dict[str, Any]]:
    """The signals of one burst (``rows``: its resets with ``time`` and :func:`familiarity`'s columns), each
    with ``fired`` and its figures. ``blocked``: accounts blocked from SSPR around the burst (``key``, ``ip``)."""
    n = int(rows["key"].nunique())
    new = rows[rows["new_ip"].to_numpy(dtype=bool)]
    out: dict[str, dict[str, Any]] = {}
    k, ip = _busiest(new, settings.spike_burst_minutes * NS_PER_MINUTE, "ip")
    need = settings.spike_burst_accounts
    minutes = settings.spike_burst_minutes
    out["one_ip"] = {"fired": k >= need, "ip": ip, "accounts": k, "within_minutes": minutes, "needed": need}
    k, net = _busiest(new, settings.spike_window_minutes * NS_PER_MINUTE, "network")
    need = settings.spike_accounts
    minutes = settings.spike_window_minutes
    out["one_network"] = {"fired": k >= need, "network": net, "accounts": k, "within_minutes": minutes, "needed": need}
    per_ip = new.groupby("ip", sort=True)["key"].nunique().sort_values(ascending=False, kind="stable")
    top = [str(v) for v in per_ip.index[:_FEW]]
    k = _accounts(new, new["ip"].isin(top).to_numpy(dtype=bool))
    out["few_ips"] = {"fired": len(top) > 1 and k >= need, "ips": top, "accounts": k, "needed": need}
    for name, col in _SHARES.items():
        k = _accounts(rows, rows[col].to_numpy(dtype=bool))
        out[name] = {"fired": _unusual(k, n, usual.get(name)), "accounts": k, "share": round(k / n, 3) if n else None}
        out[name]["usual_share"] = None if usual.get(name) is None else round(float(usual[name] or 0), 3)
    k = _accounts(rows, _chained(rows, chained))
    p = usual.get("security_info_changed")
    out["security_info_changed"] = {
        "fired": _unusual(k, n, p, least=2),
        "accounts": k,
        "usual_share": None if p is None else round(p, 3),
    }
    new_ips = set(new["ip"].dropna().astype(str))
    hits = blocked[blocked["ip"].isin(new_ips).to_numpy(dtype=bool)] if len(blocked) else blocked
    k = int(hits["key"].nunique()) if len(hits) else 0
    out["blocked_from_burst_ips"] = {
        "fired": k >= 1,
        "accounts": k,
        "ips": sorted(set(hits["ip"].astype(str))) if len(hits) else [],
    }
    return out


def signal_phrases(signals: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The fired signals in words, for the title and the severity reason."""
    words = {
        "one_ip": lambda s: f"{s['accounts']} from one IP address new to them ({s['ip']})",
        "one_network": lambda s: f"{s['accounts']} from one network new to them ({s['network']})",
        "few_ips": lambda s: f"{s['accounts']} from {len(s['ips'])} IP addresses new to them",
        "new_ips": lambda s: f"{s['accounts']} from IP addresses new to them",
        "no_earlier_sspr": lambda s: f"{s['accounts']} with no earlier SSPR use",
        "phone_only": lambda s: f"{s['accounts']} verified by phone only",
        "security_info_changed": lambda s: f"{s['accounts']} changed their security info after the reset",
        "blocked_from_burst_ips": lambda s: f"{s['accounts']} blocked from SSPR from the same IP addresses",
    }
    fired = [name for name in SIGNALS if signals.get(name, {}).get("fired")]
    if "one_ip" in fired or "one_network" in fired:  # a few IPs of one network or IP say nothing more
        fired = [name for name in fired if name != "few_ips"]
    return [words[name](signals[name]) for name in fired]
