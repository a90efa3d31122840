"""Rules on password resets: bursts of self-service resets (``reset_spike``), resets of administrators
(``admin_password_reset``) and resets by the helpdesk (``helpdesk_reset``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import (
    NAT,
    NS_PER_HOUR,
    NS_PER_MINUTE,
    as_datetime,
    iso,
    ns,
    plain,
    texts,
    to_ns,
)
from .accounts import account_key, account_pairs, as_flag, display_name, week_resets
from .model import Finding, fingerprint
from .prepare import ReviewData, privileged_lookup
from .window import ReviewWindow

__all__ = ["find_admin_password_resets", "find_helpdesk_resets", "find_reset_spikes"]

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
    keys = account_key(sub).to_numpy()
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
    shown = rows.assign(_user=display_name(rows).to_numpy(), _key=account_key(rows).to_numpy())
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


# ------------------------------------------------------------------------------- admin and helpdesk resets


def _split(text: Any) -> list[str]:
    if text is None or text is pd.NA or not isinstance(text, str):
        return []
    return [p.strip() for p in text.split(";") if p.strip()]


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
    frame = week_resets(data, window)
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
    frame = week_resets(data, window)
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
        pairs = account_pairs(frame, taps)
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
            "privileged": None if gaps else as_flag(cols["privileged"][rows[0]]),
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
