"""The leaked-credentials rules: detections remediated by a reset or password change
(``leaked_credentials_remediated``) and detections left open (``leaked_credentials_unremediated``)."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import (
    NAT,
    NS_PER_DAY,
    NS_PER_HOUR,
    as_datetime,
    iso,
    lower,
    ns,
    take_rows,
    to_ns,
)
from .accounts import account_pairs, display_name, in_window, may_pair
from .flows import is_kind
from .model import Finding, fingerprint
from .prepare import ReviewData
from .window import ReviewWindow

__all__ = [
    "find_leaked_credentials_remediated",
    "find_leaked_credentials_unremediated",
    "leak_tally",
    "password_fixes",
]


def _leaks(data: ReviewData, window: ReviewWindow) -> pd.DataFrame:
    """leakedCredentials detections up to the window end, with their first later reset/change (before the end).
    Read, not changed, by its callers (:meth:`~.prepare.ReviewData.derived` hands them the one frame)."""
    risk = data.risk
    kind = lower(risk["risk_event_type"])
    detected = ns(risk["detected_time"].fillna(risk["activity_time"]))
    leaks = risk[(kind == "leakedcredentials").to_numpy(dtype=bool, na_value=False)].copy()
    det = detected[(kind == "leakedcredentials").to_numpy(dtype=bool, na_value=False)]
    keep = (det != NAT) & (det < to_ns(window.end))
    leaks = leaks[keep].reset_index(drop=True)
    leaks["detected_ns"] = det[keep]
    # Remediations: completed SSPR resets and successful self-service password changes, of these users only
    # (an account matches on its id or UPN: rows with neither in common cannot pair in account_pairs).
    ids, upns = set(lower(leaks["user_id"]).dropna()), set(lower(leaks["user_upn"]).dropna())
    fixes = password_fixes(data, to_ns(window.end), ids, upns)
    leaks["fix_ns"] = NAT
    leaks["fix_how"] = pd.array([None] * len(leaks), dtype="string")
    if len(leaks) and len(fixes):
        pairs = account_pairs(leaks, fixes)
        pairs["d"] = leaks["detected_ns"].to_numpy()[pairs["l"].to_numpy()]
        pairs["t"] = fixes["time"].to_numpy()[pairs["r"].to_numpy()]
        pairs["how"] = fixes["how"].to_numpy()[pairs["r"].to_numpy()]
        pairs = pairs[pairs["t"] > pairs["d"]].sort_values(["l", "t"]).drop_duplicates("l")
        leaks.loc[pairs["l"].to_numpy(), "fix_ns"] = pairs["t"].to_numpy()
        leaks.loc[pairs["l"].to_numpy(), "fix_how"] = pairs["how"].to_numpy()
    result: pd.DataFrame = leaks
    return result


def password_fixes(
    data: ReviewData, end: int | None = None, ids: set[str] | None = None, upns: set[str] | None = None
) -> pd.DataFrame:
    """The password fixes before ``end`` (int64 ns; ``None``: all): completed SSPR resets (one per flow) and
    successful self-service password changes, of the accounts ``ids``/``upns`` (lower-cased; ``None``: all):
    ``user_id``, ``user_upn``, ``time`` (int64 ns), ``how`` (``sspr_reset``, ``password_change``). With
    ``data.history``, the fixes before its ``since`` are each account's last one there (the tables' own are not
    whole before it): a fix after a detection is then found exactly when there is one."""
    since = data.since()

    def rows(frame: pd.DataFrame, times: np.ndarray, keep: np.ndarray) -> np.ndarray:
        """Positions of ``frame``'s rows ``keep`` marks, before ``end``, from ``since`` on, of the accounts."""
        keep = keep & (times < end) if end is not None else keep
        keep = keep & (times >= since) if since is not None else keep
        found = np.flatnonzero(keep)
        if ids is None or upns is None:
            return found
        mine: np.ndarray = found[may_pair(frame["user_id"].iloc[found], frame["user_upn"].iloc[found], ids, upns)]
        return mine

    events = data.events
    times = events["time"].to_numpy()
    change_rows = rows(data.audit, times, is_kind(events, "change") & events["success"].to_numpy(dtype=bool))
    changes = take_rows(data.audit, change_rows, ["user_id", "user_upn"]).reset_index(drop=True)
    changes["time"] = times[change_rows]
    changes["how"] = "password_change"
    reset_time = ns(data.resets["time"])
    reset_rows = rows(data.resets, reset_time, np.ones(len(reset_time), dtype=bool))
    resets = data.resets[["user_id", "user_upn"]].iloc[reset_rows].reset_index(drop=True)
    resets["time"] = reset_time[reset_rows]
    resets["how"] = "sspr_reset"
    parts = [resets, changes]
    if data.history is not None:
        earlier = data.history.fixes
        if ids is not None and upns is not None:
            earlier = earlier[may_pair(earlier["user_id"], earlier["user_upn"], ids, upns)]
        parts.append(earlier[["user_id", "user_upn", "time", "how"]].reset_index(drop=True))
    return pd.concat(parts, ignore_index=True)


def _leak_records(leaks: pd.DataFrame) -> list[dict[str, Any]]:
    """Per detection: shown user, identity for the fingerprint, and the common evidence (plain values)."""
    shown = display_name(leaks).tolist()
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
#: How a remediated finding's title says what the user did.
_FIXED: Final = {"sspr_reset": "reset their password by SSPR", "password_change": "changed their password"}


def find_leaked_credentials_remediated(
    data: ReviewData, window: ReviewWindow, settings: AnalysisSettings
) -> list[Finding]:
    """``leaked_credentials_remediated`` (info): a leakedCredentials detection followed, after its detection time
    and within ``leak_remediation_days``, by the same user's SSPR reset or self-service password change, the
    remediation falling in the week (so each is reported once)."""
    leaks = data.derived(_leaks, window)  # built once for the window's two rules and its tally
    fix = leaks["fix_ns"].to_numpy(dtype=np.int64)
    limit = leaks["detected_ns"].to_numpy(dtype=np.int64) + settings.leak_remediation_days * NS_PER_DAY
    hit = (fix != NAT) & (fix <= limit) & in_window(fix, window)
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
                title=f"{shown} {_FIXED.get(str(rec['fix_how']), 'changed their password')} {hours:.0f} h after a "
                "leaked-credentials detection",
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
    leaks = data.derived(_leaks, window)  # built once for the window's two rules and its tally
    state = lower(leaks["risk_state"]).fillna("")
    closed = state.isin(["dismissed", "remediated", "confirmedsafe"]).to_numpy(dtype=bool)
    old = leaks["detected_ns"].to_numpy(dtype=np.int64) <= to_ns(window.end) - settings.leak_grace_days * NS_PER_DAY
    open_ = (leaks["fix_ns"].to_numpy(dtype=np.int64) == NAT) & ~closed & old
    first_audit = iso(data.first_time("audit"))
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


def leak_tally(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> dict[str, int]:
    """How the week's leakedCredentials detections divide, for a report to reconcile the leaked-credentials
    findings with the count of detections (the risk table counts the detections of the week; the findings list
    users and include open detections of earlier weeks):

    ``detected`` (in the week), and of those ``fixed`` (a later SSPR reset or password change by the user),
    ``open`` (neither, not closed, older than ``leak_grace_days``: each an unremediated finding), ``recent``
    (neither, younger than ``leak_grace_days``: not judged yet), ``closed`` (dismissed, remediated or confirmed
    safe by an administrator or Identity Protection, without a reset or change by the user: not a finding);
    ``earlier_open``: open detections from before the week (also unremediated findings)."""
    leaks = data.derived(_leaks, window)  # built once for the window's two rules and its tally
    detected = leaks["detected_ns"].to_numpy(dtype=np.int64)
    week = in_window(detected, window)
    fixed = leaks["fix_ns"].to_numpy(dtype=np.int64) != NAT
    state = lower(leaks["risk_state"]).fillna("")
    closed = state.isin(["dismissed", "remediated", "confirmedsafe"]).to_numpy(dtype=bool) & ~fixed
    old = detected <= to_ns(window.end) - settings.leak_grace_days * NS_PER_DAY
    open_ = ~fixed & ~closed & old
    return {
        "detected": int(week.sum()),
        "fixed": int((week & fixed).sum()),
        "open": int((week & open_).sum()),
        "recent": int((week & ~fixed & ~closed & ~old).sum()),
        "closed": int((week & closed).sum()),
        "earlier_open": int((~week & open_ & (detected < to_ns(window.start))).sum()),
    }
