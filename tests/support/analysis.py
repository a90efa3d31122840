"""Terse builders of normalised tables for the analysis tests (imported by the ``test_analysis_*`` modules)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from sspr_review.analysis import ReviewWindow, review_window
from sspr_review.core import schema
from sspr_review.core.coverage import Coverage
from sspr_review.core.vocabulary import DATA_KINDS

#: The review week used by most tests: Monday 2024-03-04 00:00 UTC to Monday 2024-03-11 00:00 UTC.
WINDOW: ReviewWindow = review_window("2024-03-11", "UTC")
START = pd.Timestamp("2024-03-04T00:00:00Z")

PROGRESS = "Self-service password reset flow activity progress"
SSPR_RESET = "Reset password (self-service)"
BLOCKED = "Blocked from self-service password reset"
UNLOCK = "Unlock user account (self-service)"
CHANGE = "Change password (self-service)"
BY_ADMIN = "Reset password (by admin)"
DIRECTORY_RESET = "Reset user password"
ADMIN_REGISTERED = "Admin registered security info"
TAP_REASON = "Admin registered temporary access pass method for user"

_counter = iter(range(1, 10**9))


def t(offset: str = "0s", base: pd.Timestamp = START) -> pd.Timestamp:
    """A time ``offset`` after the window start, e.g. ``t("1d 2h")``, ``t("-3d")``."""
    return base + pd.Timedelta(offset)


def upn(user: str) -> str:
    return f"{user}@contoso.com"


def uid(user: str) -> str:
    return f"id-{user}"


def ev(
    activity: str,
    time: pd.Timestamp | str,
    user: str | None = "u1",
    *,
    reason: str | None = None,
    result: str = "success",
    corr: str | None = None,
    ip: str | None = None,
    initiator: str | None = None,
    initiator_type: str | None = None,
    service: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One audit row about ``user``, initiated by ``initiator`` (default: the user themselves)."""
    who = initiator if initiator is not None else user
    row: dict[str, Any] = {
        "id": f"a{next(_counter)}",
        "activity_time": pd.Timestamp(time),
        "service": service or ("Core Directory" if activity == DIRECTORY_RESET else "Self-service Password Management"),
        "activity": activity,
        "result": result,
        "result_reason": reason,
        "correlation_id": corr,
        "initiator_type": initiator_type or ("user" if who else None),
        "initiator_id": uid(who) if who else None,
        "initiator_upn": upn(who) if who else None,
        "ip": ip,
        "target_id": uid(user) if user else None,
        "target_upn": upn(user) if user else None,
        "user_id": uid(user) if user else None,
        "user_upn": upn(user) if user else None,
    }
    row.update(extra)
    return row


def step(time: pd.Timestamp, user: str, reason: str | None, corr: str | None, ip: str | None = None) -> dict[str, Any]:
    """A progress event."""
    return ev(PROGRESS, time, user, reason=reason, corr=corr, ip=ip)


def completed_flow(
    time: pd.Timestamp, user: str, corr: str | None = None, ip: str | None = None, *, both: bool = True
) -> list[dict[str, Any]]:
    """A successful SSPR flow whose completion is at ``time``; ``both``: with the progress completion event too."""
    corr = corr if corr is not None else f"c-{user}-{next(_counter)}"
    rows = [
        step(time - pd.Timedelta("3min"), user, "User submitted their user ID", corr, ip),
        step(time - pd.Timedelta("2min"), user, "User started the mobile SMS verification option", corr, ip),
        step(time - pd.Timedelta("1min"), user, "User completed the mobile SMS verification option", corr, ip),
    ]
    if both:
        rows.append(step(time, user, "User successfully reset password", corr, ip))
    rows.append(ev(SSPR_RESET, time, user, corr=corr, ip=ip))
    return rows


def audit(*rows: dict[str, Any] | Iterable[dict[str, Any]]) -> pd.DataFrame:
    flat: list[dict[str, Any]] = []
    for r in rows:
        if isinstance(r, dict):
            flat.append(r)
        else:
            flat.extend(r)
    return schema.conform(pd.DataFrame(flat), "audit")


def risk_row(
    user: str,
    detected: pd.Timestamp,
    *,
    kind: str = "leakedCredentials",
    state: str = "atRisk",
    det_id: str | None = None,
    level: str = "high",
) -> dict[str, Any]:
    return {
        "id": det_id or f"r{next(_counter)}",
        "risk_event_type": kind,
        "risk_state": state,
        "risk_level": level,
        "risk_detail": "none",
        "detected_time": detected,
        "activity_time": detected,
        "last_updated_time": detected,
        "user_id": uid(user),
        "user_upn": upn(user),
    }


def risk(*rows: dict[str, Any]) -> pd.DataFrame:
    return schema.conform(pd.DataFrame(list(rows)), "risk")


def reg_row(
    user: str,
    snapshot: pd.Timestamp | str = "2024-03-11",
    *,
    capable: bool | None = True,
    registered: bool | None = None,
    enabled: bool | None = True,
    admin: bool = False,
    methods: str = "email,mobilePhone",
    user_type: str = "member",
) -> dict[str, Any]:
    registered = capable if registered is None else registered
    return {
        "snapshot_date": pd.Timestamp(snapshot, tz="UTC") if isinstance(snapshot, str) else snapshot,
        "user_id": uid(user),
        "user_upn": upn(user),
        "user_type": user_type,
        "is_admin": admin,
        "is_sspr_registered": registered,
        "is_sspr_enabled": enabled,
        "is_sspr_capable": capable,
        "methods_registered": methods,
        "method_count": len([m for m in methods.split(",") if m]),
    }


def registration(*rows: dict[str, Any]) -> pd.DataFrame:
    return schema.conform(pd.DataFrame(list(rows)), "registration")


def priv_row(
    user: str,
    role: str = "Global Administrator",
    snapshot: str = "2024-02-26",
    *,
    assignment: str = "active",
    group: str | None = None,
    principal_type: str = "user",
) -> dict[str, Any]:
    return {
        "snapshot_date": pd.Timestamp(snapshot, tz="UTC"),
        "principal_id": uid(user),
        "principal_type": principal_type,
        "user_upn": upn(user),
        "role_id": f"role-{role}",
        "role_name": role,
        "assignment": assignment,
        "via_group_id": f"g-{group}" if group else None,
        "via_group_name": group,
    }


def privileged(*rows: dict[str, Any]) -> pd.DataFrame:
    return schema.conform(pd.DataFrame(list(rows)), "privileged")


def coverage(
    window: ReviewWindow = WINDOW,
    *,
    missing: Mapping[str, str] | None = None,
) -> dict[str, Coverage]:
    """Complete coverage of every source, except ``missing`` (source → reason)."""
    missing = missing or {}
    return {
        s: Coverage(s, None, None, False, missing[s]) if s in missing else Coverage(s, window.start, window.end, True)
        for s in DATA_KINDS
    }
