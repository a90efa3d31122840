"""The plain-text summary of a review, printed by ``sspr-review fetch``, ``demo`` and ``review``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.vocabulary import KPIS
from .numbers import number
from .rollup import Rollup, distinct, roll_up, status_counts

if TYPE_CHECKING:
    from ..analysis import Metric, Review


def clean(value: object) -> str:
    """Tenant text for a terminal: control characters (escape sequences) replaced."""
    text = "" if value is None else str(value)
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def fmt(metric: Metric, value: float | int | None) -> str:
    return fmt_value(value, metric.unit)


def fmt_value(value: float | int | None, unit: str) -> str:
    """A metric's value as the terminal, the report and the e-mail show it ("no data" when not known), through
    :func:`sspr_review.report.numbers.number`, the one number formatter."""
    return number(value, unit, missing="no data")


def review_lines(review: Review) -> list[str]:
    """Coverage, headline metrics with last week's values, and the findings with their actions (more than
    ``[analysis] rollup_threshold`` of one kind and severity as one entry with a table of the users)."""
    window = review.window
    lines = [
        f"Review of {clean(review.tenant.get('name'))}: week ending {window.week_ending:%a %Y-%m-%d} "
        f"({window.timezone}; {window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC)",
        "",
        "Data coverage",
    ]
    for name, cov in review.coverage.items():
        if cov.approximate:
            state = "APPROXIMATE"
        else:
            state = "complete" if cov.whole else ("NO DATA" if not cov.available else "PARTIAL")
        reason = f": {clean(cov.reason)}" if cov.reason and (not cov.complete or cov.approximate) else ""
        if cov.missing:
            reason += (": " if not reason else "; ") + "; ".join(clean(m) for m in cov.missing)
        used_note = cov.snapshot_note()
        used = f" ({clean(used_note)})" if used_note and not cov.approximate else ""
        if cov.suspect and cov.available:  # the opt-in trap: unobserved, not quiet
            state, reason = "SUSPECT", f"{reason}: {clean(cov.suspect)}"
        lines.append(f"  {name:<13} {state}{used}{reason}")
        if cov.selection:
            lines.append(f"  {'':<13} {clean(cov.selection)}")
    lines += [f"  note: {clean(note)}" for note in review.notes]
    lines += ["", f"  {'metric':<26}{'this week':>12}{'last week':>12}"]
    for name, _ in KPIS:
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
    threshold = review.settings.rollup_threshold
    for entry in roll_up(review.findings, threshold, lambda f: f.kind, lambda f: f.severity):
        if isinstance(entry, Rollup):
            items = entry.items
            tag = status_counts([review.status(f) for f in items])
            lines.append(f"  {entry.severity.upper():<9}{entry.title}" + (f" [{tag}]" if tag else ""))
            width = min(60, max(len(clean(", ".join(f.users) or f.title)) for f in items))
            for f in items:
                shown = clean(", ".join(f.users) or f.title)
                lines.append(f"  {'':<11}{shown:<{width}}  {review.status(f) or ''}")
            lines += [f"  {'':<9}→ {clean(action)}" for action in distinct([f.action for f in items])]
            continue
        status = review.status(entry)
        tag = f" [{status}]" if status else ""
        lines.append(f"  {entry.severity.upper():<9}{clean(entry.title)}{tag}")
        lines.append(f"  {'':<9}→ {clean(entry.action)}")
    unjudged = review.not_judged.get("phone_only_reset_new_ip")
    if unjudged:
        lines.append(
            f"Phone-only resets not judged (no earlier IP for the user in {review.settings.new_ip_lookback_days} "
            f"days): {unjudged.get('resets', 0)}"
        )
    if review.comparison is not None and review.comparison.resolved:
        lines.append(f"Resolved since last week: {len(review.comparison.resolved)}")
    return lines
