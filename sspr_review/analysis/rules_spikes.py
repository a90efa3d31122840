"""``reset_spike``: bursts of self-service password resets that mean something at any tenant size.

A burst is reported when one of three triggers fires:

``volume``
    Within a sliding window of ``spike_window_minutes``, at least ``spike_accounts`` distinct accounts complete
    an SSPR reset (the course chapter's rule), **and** more than the baseline of that hour of the week allows
    (:mod:`.spike_baseline`: the same hour in each of the ``spike_baseline_weeks`` weeks before, median plus
    ``spike_baseline_spread`` robust spreads). With fewer weeks of history held, the absolute rule alone.
``one_ip``
    At least ``spike_burst_accounts`` accounts complete a reset from one IP address new to them within
    ``spike_burst_minutes``, below the floor or not: an attacker working through stolen credentials from one
    machine, hidden in a busy Monday.
``one_network``
    At least ``spike_accounts`` accounts from one network (IPv4 /24, IPv6 /48) new to them within
    ``spike_window_minutes``, whatever the hour's baseline.

"New to them": the account used that IP for no SSPR, password-change or security-info event in the
``new_ip_lookback_days`` before (:mod:`.spike_signals`); an office IP the accounts always use is no burst.
Overlapping windows (of any trigger) form one finding. A volume burst holds every reset of its windows; a
burst found by ``one_ip``/``one_network`` alone holds the resets of that IP or network that were new to their
accounts. Resets from one window length before the week are included so a burst across the week boundary is
seen whole; a burst is reported when one of its resets lies in the week.

Severity: **high** when a signal of :mod:`.spike_signals` fires (the two concentration triggers are signals),
**medium** on volume alone. The evidence carries the peak window's count, the hour's expected range, the
ratio to its median and every signal's figures. Fingerprint: the UTC hour of the burst's first reset.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import NAT, NS_PER_HOUR, NS_PER_MINUTE, as_datetime, iso, lower, ns, plain, texts, to_ns, user_key
from .accounts import account_key, display_name
from .flows import is_kind
from .model import Finding, fingerprint
from .prepare import ReviewData
from .sliding import Hot, hot_intervals, sliding_accounts, split_at
from .spike_baseline import Baseline, spike_baseline
from .spike_signals import burst_signals, familiarity, signal_phrases, usual_shares
from .takeover import chained_resets
from .window import ReviewWindow

__all__ = ["TRIGGERS", "find_reset_spikes", "new_ip_reach", "spike_lookback", "spike_reach"]

#: The triggers, in the order the evidence lists them.
TRIGGERS = ("volume", "one_ip", "one_network")


def spike_lookback(settings: AnalysisSettings) -> timedelta:
    """How far before the review week the baseline reads completed resets: its weeks, a day and two windows."""
    return timedelta(weeks=settings.spike_baseline_weeks, minutes=2 * settings.spike_window_minutes, days=1)


def new_ip_reach(settings: AnalysisSettings) -> timedelta:
    """How far before the review week the rule asks whether an IP is new to an account: the lookback before the
    flows of the resets it reads, the first of them in a window starting before the week (two windows; a flow
    begun up to a day before its reset is in the reads' margin, :data:`~.reads.CONTINUITY`)."""
    return timedelta(days=settings.new_ip_lookback_days) + spike_reach(settings)


def spike_reach(settings: AnalysisSettings) -> timedelta:
    """How far around the review week the rule reads the events themselves: two windows (the resets of a window
    starting before the week, the blocked events around a burst)."""
    return timedelta(minutes=2 * settings.spike_window_minutes)


def _intervals(kind: str, hot: Hot, width: int, labels: Any = None) -> pd.DataFrame:
    """The hot runs of one trigger: each spans the resets from its first window's start to its last one's end."""
    return pd.DataFrame(
        {
            "kind": kind,
            "lo": hot.lo,
            "end": hot.hi + width,
            "peak": hot.peak,
            "peak_at": hot.peak_at,
            "label": None if labels is None else np.asarray(labels, dtype=object)[hot.group],
        }
    )


def _triggered(
    times: np.ndarray, keys: np.ndarray, facts: pd.DataFrame, base: Baseline, settings: AnalysisSettings
) -> pd.DataFrame:
    """Every hot run of the three triggers, with ``episode``: overlapping runs (of any trigger) share one."""
    width = settings.spike_window_minutes * NS_PER_MINUTE
    volume = split_at(sliding_accounts(times, keys, width), base.bounds)
    parts = [_intervals("volume", hot_intervals(volume, base.threshold[base.hour(volume.positions)]), width)]
    new = facts["new_ip"].to_numpy(dtype=bool)
    for kind, column, span, need in (
        ("one_ip", "ip", settings.spike_burst_minutes * NS_PER_MINUTE, settings.spike_burst_accounts),
        ("one_network", "network", width, settings.spike_accounts),
    ):
        groups, labels = pd.factorize(facts[column][new])
        hot = hot_intervals(sliding_accounts(times[new], keys[new], span, groups), need)
        parts.append(_intervals(kind, hot, span, labels))
    runs = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    runs["order"] = runs["kind"].map({k: i for i, k in enumerate(TRIGGERS)})
    runs = runs.sort_values(["lo", "order"], kind="stable").reset_index(drop=True)
    reach = np.maximum.accumulate(runs["end"].to_numpy()) if len(runs) else np.zeros(0, np.int64)
    runs["episode"] = np.cumsum(runs["lo"].to_numpy() > np.concatenate([[NAT], reach[:-1]])) - 1
    return runs


def _episode_rows(runs: pd.DataFrame, times: np.ndarray, facts: pd.DataFrame) -> np.ndarray:
    """Rows (of the resets, positional) of one episode: every reset of its windows when volume fired, else the
    resets new to their accounts from the IP or network that fired."""
    if (runs["kind"] == "volume").any():
        lo, end = int(runs["lo"].min()), int(runs["end"].max())
        return np.flatnonzero((times >= lo) & (times <= end))
    keep = np.zeros(len(times), dtype=bool)
    new = facts["new_ip"].to_numpy(dtype=bool)
    for kind, lo, end, label in runs[["kind", "lo", "end", "label"]].itertuples(index=False):  # a run or two
        column = "ip" if kind == "one_ip" else "network"
        keep |= new & (times >= lo) & (times <= end) & (facts[column] == label).to_numpy(dtype=bool, na_value=False)
    return np.flatnonzero(keep)


def _blocked(data: ReviewData, start: int, end: int) -> pd.DataFrame:
    """Accounts blocked from SSPR in ``[start, end]``: ``time``, ``key``, ``ip`` (lower case)."""
    events, audit = data.events, data.audit
    time = events["time"].to_numpy()
    rows = np.flatnonzero(is_kind(events, "blocked") & (time >= start) & (time <= end) & (time != NAT))
    picked = audit.iloc[rows]
    return pd.DataFrame(
        {
            "time": time[rows],
            "key": user_key(picked).array,
            "ip": lower(picked["ip"]).array,
        }
    ).dropna(subset=["key"])


def find_reset_spikes(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``reset_spike``: see the module docstring."""
    width = settings.spike_window_minutes * NS_PER_MINUTE
    start, end = to_ns(window.start), to_ns(window.end)
    times = ns(data.resets["time"])
    sub = data.resets[(times >= start - width) & (times < end) & (times != NAT)]
    sub = sub.sort_values("time", kind="stable").reset_index(drop=True)
    if sub.empty:
        return []
    t = ns(sub["time"])
    keys, _ = pd.factorize(account_key(sub))
    facts = familiarity(data, sub, settings).assign(time=t)
    base = spike_baseline(data, window, settings)
    runs = _triggered(t, np.asarray(keys, dtype=np.int64), facts, base, settings)
    episodes = []
    for _, group in runs.groupby("episode", sort=True):  # one per burst
        rows = _episode_rows(group, t, facts)
        if rows.size and (t[rows] >= start).any():
            episodes.append((group, rows))
    if not episodes:
        return []
    in_burst = np.zeros(len(sub), dtype=bool)
    for _, rows in episodes:
        in_burst[rows] = True
    chained = chained_resets(data, window, settings)
    usual = usual_shares(facts[~in_burst & (t >= start)], chained)
    blocked = _blocked(data, start - 2 * width, end + width)
    out = []
    for group, rows in episodes:
        first, last = int(t[rows].min()), int(t[rows].max())
        around = blocked[((blocked["time"] >= first - width) & (blocked["time"] <= last + width)).to_numpy()]
        signals = burst_signals(facts.iloc[rows], usual, chained, around, settings)
        out.append(_spike_finding(sub.iloc[rows], facts.iloc[rows], group, signals, base, settings))
    return out


def _peak(group: pd.DataFrame, base: Baseline, width: int) -> tuple[int, int]:
    """The burst's busiest window: the volume runs' peak, else the most accounts any window overlapping the
    burst held; and that window's start."""
    volume = group[group["kind"] == "volume"]
    if len(volume):
        best = volume.sort_values("peak", ascending=False, kind="stable").iloc[0]
        return int(best["peak"]), int(best["peak_at"])
    steps = base.steps
    lo, hi = int(group["lo"].min()) - width, int(group["end"].max())
    first = int(np.searchsorted(steps.positions, lo, side="left"))
    last = int(np.searchsorted(steps.positions, hi, side="right"))
    if last <= first:
        return 0, lo
    top = first + int(np.argmax(steps.counts[first:last]))
    return int(steps.counts[top]), int(steps.positions[top])


def _baseline_evidence(base: Baseline, peak: int, peak_at: int) -> dict[str, Any]:
    """The baseline of the hour the busiest window starts in: its figures, the ratio, and why it was not
    applied."""
    hour = int(base.hour(np.asarray([peak_at]))[0])
    applied = bool(base.applied[hour])
    median = float(base.median[hour]) if applied else None
    note = None
    if not applied:
        note = (
            "absolute rule: no baseline configured ([analysis] spike_baseline_weeks = 0)"
            if base.needed == 0
            else f"absolute rule: only {int(base.weeks[hour])} of the {base.needed} weeks of history the baseline "
            "needs are held for this hour"
        )
    return {
        "applied": applied,
        "hour": base.label(hour),
        "hour_start": iso(int(base.bounds[hour])),
        "weeks": int(base.weeks[hour]),
        "weeks_needed": base.needed,
        "median": median,
        "expected_low": round(float(base.low[hour]), 2) if applied else None,
        "expected_high": round(float(base.high[hour]), 2) if applied else None,
        "threshold": int(base.threshold[hour]),
        "ratio": round(peak / median, 2) if median else None,
        "note": note,
    }


def _accounts(rows: pd.DataFrame, facts: pd.DataFrame, limit: int) -> tuple[int, list[dict[str, Any]]]:
    """How many accounts, and the first ``limit`` of them in order of their first reset, one entry each (a burst
    can hold thousands)."""
    frame = pd.DataFrame(
        {
            "key": facts["key"].to_numpy(),
            "user": display_name(rows).to_numpy(),
            "user_id": rows["user_id"].to_numpy(),
            "time": ns(rows["time"]),
            "ip": rows["ip"].to_numpy(),
            "new_ip": facts["new_ip"].to_numpy(dtype=bool),
            "first_sspr": facts["first_sspr"].to_numpy(dtype=bool),
        }
    )
    per = frame.groupby("key", sort=False).agg(
        user=("user", "first"),
        user_id=("user_id", "first"),
        resets=("time", "size"),
        first=("time", "min"),
        new_ip=("new_ip", "any"),
        first_sspr=("first_sspr", "all"),
    )
    listed = per.sort_values(["first", "user"], kind="stable").head(limit)
    shown = frame[frame["key"].isin(listed.index).to_numpy(dtype=bool)]
    listed = listed.join(shown.groupby("key", sort=False)["ip"].agg(texts).rename("ips"))
    c: dict[str, list[Any]] = {name: listed[name].tolist() for name in listed.columns}
    return len(per), [
        {
            "user": str(c["user"][i]),
            "user_id": plain(c["user_id"][i]),
            "resets": int(c["resets"][i]),
            "first_reset": iso(int(c["first"][i])),
            "ips": list(c["ips"][i]),
            "new_ip": bool(c["new_ip"][i]),
            "earlier_sspr_use": not bool(c["first_sspr"][i]),
        }
        for i in range(len(listed))
    ]


def _title(count: int, peak: int, triggers: list[str], signals: dict[str, Any], baseline: dict[str, Any]) -> str:
    """The finding's title: what fired, with the usual count or why there is none, and the other signals."""
    plural = "account" if count == 1 else "accounts"
    minutes = signals["one_network"]["within_minutes"]  # the spike window
    if "volume" in triggers:
        usual = (
            f"usually at most {int(np.floor(baseline['expected_high']))} on {baseline['hour']}"
            if baseline["applied"]
            else f"absolute rule, {baseline['weeks']} of {baseline['weeks_needed']} weeks of history"
            if baseline["weeks_needed"]
            else "absolute rule"
        )
        head = (
            f"{count} {plural} reset their password by SSPR within a short time ({peak} within {minutes} minutes, "
            f"{usual})"
        )
        own: set[str] = set()
    elif "one_ip" in triggers:
        s = signals["one_ip"]
        head = (
            f"{count} {plural} reset their password by SSPR from one IP address new to them ({s['ip']}) within "
            f"{s['within_minutes']} minutes"
        )
        own = {"one_ip"}
    else:
        s = signals["one_network"]
        head = (
            f"{count} {plural} reset their password by SSPR from one network new to them ({s['network']}) within "
            f"{minutes} minutes"
        )
        own = {"one_network"}
    others = signal_phrases({k: v for k, v in signals.items() if k not in own})
    return head + (f" — {'; '.join(others[:2])}" if others else "")


def _spike_finding(
    rows: pd.DataFrame,
    facts: pd.DataFrame,
    group: pd.DataFrame,
    signals: dict[str, Any],
    base: Baseline,
    settings: AnalysisSettings,
) -> Finding:
    width = settings.spike_window_minutes * NS_PER_MINUTE
    peak, peak_at = _peak(group, base, width)
    count, accounts = _accounts(rows, facts, settings.max_users_listed)
    triggers = [k for k in TRIGGERS if (group["kind"] == k).any()]
    baseline = _baseline_evidence(base, peak, peak_at)
    fired = [name for name, s in signals.items() if s["fired"]]
    phrases = signal_phrases(signals)
    ip_counts = rows["ip"].astype("string").fillna("(none)").value_counts()
    first, last = rows["time"].min(), rows["time"].max()
    hour = (to_ns(first) // NS_PER_HOUR) * NS_PER_HOUR
    users = tuple(a["user"] for a in accounts)  # the first max_users_listed
    action = (
        "Check these accounts' risk detections and sign-ins since the resets, and ask a sample of the users "
        "whether they reset their password; if not, revoke their sessions and reset them again."
    )
    if signals["one_ip"]["fired"] or signals["one_network"]["fired"]:
        action += (
            " Find out whose IP address or network this is (yours, a VPN, a hosting provider) and block it if unknown."
        )
    return Finding(
        kind="reset_spike",
        severity="high" if fired else "medium",
        title=_title(count, peak, triggers, signals, baseline),
        users=users,
        start=as_datetime(first),
        end=as_datetime(last),
        evidence={
            "window_start": iso(first),
            "window_end": iso(last),
            "window_minutes": settings.spike_window_minutes,
            "threshold_accounts": settings.spike_accounts,
            "accounts_count": count,
            "peak_accounts": peak,
            "peak_window_start": iso(peak_at),
            "peak_window_end": iso(peak_at + width),
            "resets": len(rows),
            "accounts": accounts,
            "source_ips": {str(k): int(v) for k, v in ip_counts.items()},
            "trigger": triggers,
            "baseline": baseline,
            "signals": signals,
            "signals_fired": fired,
            "severity_reason": "; ".join(phrases) if phrases else "volume alone: no signal of an attack",
        },
        action=action,
        fingerprint=fingerprint("reset_spike", iso(hour)),
    )
