"""Rules on password resets by someone else or of someone privileged: resets of administrators
(``admin_password_reset``) and resets by the helpdesk (``helpdesk_reset``). Bursts of self-service resets
(``reset_spike``) are :mod:`.rules_spikes`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import (
    NAT,
    NS_PER_HOUR,
    as_datetime,
    iso,
    ns,
    texts,
)
from .accounts import account_pairs, as_flag, week_resets
from .model import Finding, fingerprint
from .prepare import ReviewData
from .privileged import privileged_lookup
from .window import ReviewWindow

__all__ = ["find_admin_password_resets", "find_helpdesk_resets"]

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


def resets_with_privilege(data: ReviewData, window: ReviewWindow) -> pd.DataFrame:
    """The week's resets (:func:`~.accounts.week_resets`) with each account's privilege at its time
    (:func:`~.privileged.privileged_lookup`'s columns): what both rules of this module read, built once per window
    (:meth:`~.prepare.ReviewData.derived`)."""
    frame = week_resets(data, window)
    priv = privileged_lookup(data, frame["time"].to_numpy(), frame["user_id"], frame["user_upn"])
    return pd.concat([frame, priv], axis=1)


def find_admin_password_resets(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``admin_password_reset`` (high): any password reset of a privileged role holder in the week, self-service
    or by someone else; one finding per account. Privileged = any available signal (see
    :func:`~.privileged.privileged_lookup`): in the latest roles snapshot at or before the reset (active, eligible,
    through a group, or ``isAdmin``), or flagged ``is_admin`` by the registration report. An account only the
    flag names is reported as not in the role data (``evidence.not_in_role_data``), with what the role data
    lacked (``evidence.role_data_gaps``)."""
    frame = data.derived(resets_with_privilege, window)
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
    frame = data.derived(resets_with_privilege, window)
    admin, privileged = (frame["type"] == "admin").to_numpy(dtype=bool), frame["privileged"].fillna(False)
    frame = frame[admin & ~privileged.to_numpy(dtype=bool)].reset_index(drop=True)
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
