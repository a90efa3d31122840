"""The user investigation: one user's registration and roles, SSPR steps, risk detections and their rows of
the correlation tables (default: the user the notebook's ``user`` parameter named, ``ctx.user``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ...analysis.correlations import risk_type_words
from ...app.notebook import Context
from ...core.errors import ParameterError
from .. import numbers
from .render import note, section, table, when
from .risk import reset_to_risk_frame

if TYPE_CHECKING:
    from IPython.display import HTML

#: The registration columns the profile shows.
PROFILE_COLUMNS = [
    "snapshot_date",
    "user_name",
    "user_type",
    "is_sspr_registered",
    "is_sspr_capable",
    "is_mfa_registered",
    "methods_registered",
    "is_admin",
]
#: The risk-detection columns :func:`user_risk` shows.
RISK_COLUMNS = [
    "detected_time",
    "risk_event_type",
    "risk_level",
    "risk_state",
    "risk_detail",
    "ip",
    "country",
    "last_updated_time",
]


def _user_mask(frame: pd.DataFrame, upn: str, *columns: str) -> pd.Series:
    wanted = upn.strip().lower()
    mask = pd.Series(False, index=frame.index)
    for column in columns:
        mask |= frame[column].astype("string").str.lower().eq(wanted).fillna(False)
    return mask


def _upn(ctx: Context, upn: str | None) -> str:
    chosen = ctx.user if upn is None else upn
    if not chosen:
        raise ParameterError("no user: pass user= to open_review (a UPN or part of a display name)")
    return chosen


def user_profile(ctx: Context, upn: str | None = None) -> HTML:
    """The user's registration state (latest snapshot) and administrator roles (default: ``ctx.user``)."""
    upn = _upn(ctx, upn)
    data = ctx.review.data
    assert data is not None
    tz = ctx.review.window.timezone
    reg = data.registration[_user_mask(data.registration, upn, "user_upn")]
    latest = reg.sort_values("snapshot_date").iloc[[-1]][PROFILE_COLUMNS] if not reg.empty else reg
    roles = data.privileged[_user_mask(data.privileged, upn, "user_upn")]
    if not roles.empty:
        latest_day = roles["snapshot_date"].max()
        roles = roles[roles["snapshot_date"] == latest_day][["role_name", "assignment", "via_group_name"]]
    return section(
        "user_profile.html.j2",
        note=ctx.user_note if upn == ctx.user else "",
        upn=upn,
        registration=table(latest, _no_registration(ctx), tz),
        roles=table(roles, "No administrator role.", tz),
    )


def _no_registration(ctx: Context) -> str:
    coverage = ctx.review.coverage.get("registration")
    if coverage is not None and coverage.mode == "lean":
        return (
            "No registration record for this user in the store: the week's registration snapshot is lean "
            "([registration] mode), holding only the administrators, the members who are not SSPR-capable and "
            "the users the week's findings looked at."
        )
    return "No registration record for this user in the store."


def user_flows(ctx: Context, upn: str | None = None, weeks: int = 4) -> HTML:
    """Every SSPR step of the user in the last ``weeks`` weeks: method, IP and outcome, flow by flow."""
    upn = _upn(ctx, upn)
    data = ctx.review.data
    assert data is not None
    tz = ctx.review.window.timezone
    end = pd.Timestamp(ctx.review.window.end)
    audit = data.audit
    mask = _user_mask(audit, upn, "user_upn", "target_upn", "initiator_upn")
    mask &= (audit["activity_time"] >= end - pd.Timedelta(weeks=weeks)) & (audit["activity_time"] < end)
    events = data.events.loc[mask[mask].index] if len(data.events) == len(audit) else None
    columns = ["activity_time", "activity", "result", "result_reason", "ip", "initiator_upn", "correlation_id"]
    frame = audit.loc[mask, columns].copy()
    if events is not None:
        frame["stage"] = events["stage"].astype("string").to_numpy()
        frame["method"] = events["method"].astype("string").to_numpy()
        frame["end state"] = events["end_state"].astype("string").to_numpy()
    frame["activity_time"] = frame["activity_time"].dt.tz_convert(tz).dt.strftime("%a %d %b %H:%M:%S")
    frame = frame.rename(columns={"activity_time": f"time ({tz})", "correlation_id": "flow"})
    empty = f"No SSPR or password events for this user in the last {weeks} weeks."
    return section("tables.html.j2", parts=[{"table": table(frame, empty)}])


def user_risk(ctx: Context, upn: str | None = None) -> HTML:
    """The user's risk detections (as last updated)."""
    upn = _upn(ctx, upn)
    data = ctx.review.data
    assert data is not None
    if "risk" not in {n for n, c in ctx.review.coverage.items() if c.available}:
        return note("No risk data in the store (see the coverage banner).")
    risk = data.risk[_user_mask(data.risk, upn, "user_upn")]
    frame = risk.sort_values("detected_time")[RISK_COLUMNS]
    empty = "No risk detections for this user."
    return section("tables.html.j2", parts=[{"table": table(frame, empty, ctx.review.window.timezone)}])


def _outcomes(frame: pd.DataFrame, week: str, tz: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "week": week,
            "detection type": [risk_type_words(k) for k in frame["risk_event_type"]],
            "detections": frame["detections"],
            f"first detected ({tz})": [when(t, tz) for t in frame["first_detected"]],
            "outcome": frame["outcome"].astype(str).str.replace("_", " "),
            f"fixed ({tz})": [when(t, tz) for t in frame["fixed_at"]],
            "hours to fix": [numbers.hours(h) for h in frame["hours_to_fix"]],
            "risk state": frame["risk_state"],
        }
    )


def user_correlations(ctx: Context, upn: str) -> HTML:
    """The user's rows of both correlation tables, this week and last: what became of each detection type, and
    each reset with the detections before and after it."""
    corr = ctx.review.correlations
    if not upn:
        return section("tables.html.j2", parts=[])
    if corr is None or corr.reason is not None:
        why = "the review has no correlation tables" if corr is None else corr.reason
        return note(f"No data: {why}")
    tz = ctx.review.window.timezone
    outcomes = [
        _outcomes(frame[_user_mask(frame, upn, "user_upn", "user").to_numpy()], week, tz)
        for week, frame in (("this week", corr.outcomes), ("last week", corr.previous_outcomes))
        if frame is not None
    ]
    resets = [
        reset_to_risk_frame(ctx, frame[_user_mask(frame, upn, "user").to_numpy()].reset_index(drop=True)).assign(
            week=week
        )
        for week, frame in (("this week", corr.reset_to_risk), ("last week", corr.previous_reset_to_risk))
        if frame is not None
    ]
    detections = pd.concat(outcomes, ignore_index=True) if outcomes else pd.DataFrame()
    around = pd.concat(resets, ignore_index=True) if resets else pd.DataFrame()
    parts = [
        {
            "heading": "Risk detections: fixed, or still at risk?",
            "table": table(detections, "No risk detections in these weeks."),
        },
        {
            "heading": "Password resets and the detections around them",
            "table": table(around, "No password resets in these weeks."),
        },
    ]
    return section("tables.html.j2", parts=parts)
