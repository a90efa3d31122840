"""Risk detections and password resets, both ways: the weekly section and the frames the user investigation
shows for one user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ...analysis.correlations import risk_type_words
from ...app.notebook import Context
from ...core.labels import label
from ...core.wording import count
from .. import numbers
from .render import note, section, table, when, with_names

if TYPE_CHECKING:
    from IPython.display import HTML


def _types(kinds: Any) -> str:
    return ", ".join(risk_type_words(k) for k in kinds) if len(kinds) else ""


def _same_ip(flag: Any) -> str:
    if flag is None or flag is pd.NA:
        return "unknown (no IP on the reset)"
    return "YES: same IP as the reset" if bool(flag) else "no"


def _fixed(row: Any) -> int:
    return int(row["reset_by_sspr"] + row["changed_by_user"] + row["reset_by_admin"])


def risk_to_reset_frame(ctx: Context) -> pd.DataFrame:
    """Per detection type of the week: who fixed it, who is still at risk, and last week's count."""
    corr = ctx.review.correlations
    assert corr is not None and corr.risk_to_reset is not None
    table = corr.risk_to_reset
    previous = corr.previous_risk_to_reset
    last: dict[str, str] = {}
    if previous is not None:
        last = {
            str(r["risk_event_type"]): f"{r['detections']} ({_fixed(r)} of {r['users']} users fixed)"
            for _, r in previous.iterrows()
        }
    days = ctx.review.settings.remediation_days
    return pd.DataFrame(
        {
            "detection type": [risk_type_words(k) for k in table["risk_event_type"]],
            "detections": table["detections"],
            "users": table["users"],
            f"reset by SSPR within {days} d": table["reset_by_sspr"],
            "changed their password": table["changed_by_user"],
            "reset by the helpdesk": table["reset_by_admin"],
            "median time to fix": [numbers.hours(h, " h") for h in table["median_hours_to_fix"]],
            "still at risk": table["still_at_risk"],
            "dismissed or remediated (not by the user)": table["dismissed_or_remediated"],
            "last week: detections": [
                last.get(str(k), "0") if previous is not None else "no data" for k in table["risk_event_type"]
            ],
        }
    )


def reset_to_risk_frame(ctx: Context, table: pd.DataFrame) -> pd.DataFrame:
    """Per reset: the user's detections before and after it, and whether a later one came from its IP."""
    tz = ctx.review.window.timezone
    s = ctx.review.settings
    frame = pd.DataFrame(
        {
            f"reset ({tz})": [when(t, tz) for t in table["time"]],
            "user": table["user"].astype("string"),
            "kind": [label("reset_type", k) for k in table["kind"]],
            "reset by": table["initiator"],
            "IP": table["ip"],
            f"detections in the {s.blocked_risk_lookback_days} days before": [_types(k) for k in table["types_before"]],
            f"detections within {s.risk_after_reset_hours} h after": [_types(k) for k in table["types_after"]],
            "later detection from the reset's IP": [
                _same_ip(f) if n else "" for f, n in zip(table["same_ip_after"], table["detections_after"], strict=True)
            ],
        }
    )
    return with_names(ctx, frame, "user")


def _reset_counts(resets: pd.DataFrame) -> dict[str, int]:
    return {
        "total": len(resets),
        "before": int((resets["detections_before"] > 0).sum()),
        "after": int((resets["detections_after"] > 0).sum()),
        "same_ip": int(resets["same_ip_after"].fillna(False).astype(bool).sum()),
    }


def risk_and_resets(ctx: Context) -> HTML:
    """Risk detections and password resets, both ways: per detection type, who fixed it (the user, the helpdesk)
    and who is still at risk; per reset of the week, the user's detections before it and after it, flagged when
    a later one came from the reset's IP address."""
    corr = ctx.review.correlations
    if corr is None or corr.reason is not None or corr.risk_to_reset is None or corr.reset_to_risk is None:
        why = "the review has no correlation tables" if corr is None else corr.reason
        return note(f"No data: {why}")
    resets = corr.reset_to_risk
    touched = ((resets["detections_before"] > 0) | (resets["detections_after"] > 0)).to_numpy()
    counts = _reset_counts(resets)
    rest = resets[~touched]
    before = corr.previous_reset_to_risk
    return section(
        "risk_and_resets.html.j2",
        s=ctx.review.settings,
        previous_reason=corr.previous_reason,
        risk_table=table(risk_to_reset_frame(ctx), "No risk detections this week."),
        flagged=count(counts["same_ip"], "reset") if counts["same_ip"] else "",
        resets=counts,
        touched_table=table(
            reset_to_risk_frame(ctx, resets[touched]), "No reset this week had a detection before or after it."
        ),
        rest_count=len(rest),
        rest_table=table(reset_to_risk_frame(ctx, rest), "") if len(rest) else "",
        last=None if before is None else _reset_counts(before),
    )
