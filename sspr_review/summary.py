"""The week's summary printed by ``sspr-review fetch`` and ``sspr-review demo``."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from .workspace import Workspace


def week_summary(ws: Workspace, week_ending: datetime) -> list[str]:
    """Plain-text lines: the coverage of each source and the week's SSPR activity counts.

    A source without data says so; it never reads as zero events.
    """
    start = week_ending - timedelta(days=7)
    lines = [f"Week {start:%Y-%m-%d %H:%M} → {week_ending:%Y-%m-%d %H:%M} UTC ({ws.config.review.timezone} week)"]
    coverage = ws.coverage(start, week_ending)
    for name, cov in coverage.items():
        state = (
            "complete" if cov.complete else f"NO DATA: {cov.reason}" if not cov.available else f"partial: {cov.reason}"
        )
        lines.append(f"  {name:<13} {state}")
    if coverage["audit"].available:
        audit = ws.read("audit", start, week_ending)
        counts = audit.groupby("activity", dropna=False).size().sort_values(ascending=False)
        flows = audit.loc[audit["activity"] == "Self-service password reset flow activity progress", "correlation_id"]
        lines.append(f"  {len(audit)} audit events, {flows.nunique()} SSPR flows")
        lines.extend(f"    {count:>6}  {_clean(name)}" for name, count in counts.head(12).items())
    if coverage["risk"].available:
        risk = ws.read("risk", start, week_ending)
        leaked = int((risk["risk_event_type"] == "leakedCredentials").sum())
        lines.append(f"  {len(risk)} risk detections, {leaked} leaked credentials")
    return lines


def _clean(value: object) -> str:
    """Tenant text for a terminal: no control characters (an activity name could carry escape codes)."""
    text = "<missing>" if value is None or value is pd.NA else str(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text)
