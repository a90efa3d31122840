"""The plain-text summary of a review, printed by ``sspr-review fetch``, ``demo`` and ``review``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .analysis import Metric, Review

#: Metrics shown in the terminal summary, in order.
HEADLINE = (
    "sspr_resets",
    "flows_started",
    "flow_success_rate",
    "blocked_users",
    "helpdesk_resets",
    "taps_issued",
    "self_service_share",
    "registration_coverage",
    "users_not_registered",
)


def clean(value: object) -> str:
    """Tenant text for a terminal: control characters (escape sequences) replaced."""
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def fmt(metric: Metric, value: float | int | None) -> str:
    if value is None:
        return "no data"
    if metric.unit == "ratio":
        return f"{value:.0%}"
    if metric.unit == "currency":
        return f"{value:,.0f}"
    return f"{value:,}"


def review_lines(review: Review) -> list[str]:
    """Coverage, headline metrics with last week's values, and the findings with their actions."""
    window = review.window
    lines = [
        f"Review of {clean(review.tenant.get('name'))}: week ending {window.week_ending:%a %Y-%m-%d} "
        f"({window.timezone}; {window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC)",
        "",
        "Data coverage",
    ]
    for name, cov in review.coverage.items():
        state = "complete" if cov.whole else ("NO DATA" if not cov.available else "PARTIAL")
        reason = f": {clean(cov.reason)}" if cov.reason and not cov.complete else ""
        if cov.missing:
            reason += (": " if not reason else "; ") + "; ".join(clean(m) for m in cov.missing)
        lines.append(f"  {name:<13} {state}{reason}")
    lines += [f"  note: {clean(note)}" for note in review.notes]
    lines += ["", f"  {'metric':<26}{'this week':>12}{'last week':>12}"]
    for name in HEADLINE:
        metric = review.metrics.get(name)
        if metric is not None:
            lines.append(
                f"  {name.replace('_', ' '):<26}{fmt(metric, metric.value):>12}{fmt(metric, metric.previous):>12}"
            )
    by_severity: dict[str, int] = {}
    for finding in review.findings:
        by_severity[finding.severity] = by_severity.get(finding.severity, 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in by_severity.items()) or "none"
    lines += ["", f"Findings: {counts}"]
    for finding in review.findings:
        status = review.status(finding)
        tag = f" [{status}]" if status else ""
        lines.append(f"  {finding.severity.upper():<9}{clean(finding.title)}{tag}")
        lines.append(f"  {'':<9}→ {clean(finding.action)}")
    unjudged = review.not_judged.get("phone_only_reset_new_ip")
    if unjudged:
        lines.append(
            f"Phone-only resets not judged (no earlier IP for the user in {review.settings.new_ip_lookback_days} "
            f"days): {unjudged.get('resets', 0)}"
        )
    if review.comparison is not None and review.comparison.resolved:
        lines.append(f"Resolved since last week: {len(review.comparison.resolved)}")
    return lines
