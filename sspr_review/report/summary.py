"""The plain-text summary of a review, printed by ``sspr-review fetch``, ``demo`` and ``review``: the verdict and
the top actions first, then the data, the numbers and every finding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..analysis import Verdict, verdict_of
from ..core.labels import label, metric_label
from ..core.vocabulary import KPIS
from ..core.wording import capitalised, words_list
from .numbers import JUDGED, better_of, change, meaning, number
from .rollup import Rollup, distinct, roll_up, status_counts
from .verdict_words import counts_text, of_document, who_text

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


def verdict_lines(verdict: Verdict) -> list[str]:
    """The verdict as the terminal shows it: the sentence, the counts, and the top actions with what to do."""
    lines = [f"Verdict: {clean(verdict.sentence)}", f"Findings this week: {counts_text(verdict)}."]
    if verdict.actions:
        lines.append("Top actions:")
    for i, action in enumerate(verdict.actions, 1):
        who = who_text(action)
        status = f" ({action.status})" if action.status else ""
        lines.append(f"  {i}. {action.severity.upper():<8} {clean(action.headline)}{status}")
        if who:
            lines.append(f"     {'':<8} {clean(who)}")
        lines.append(f"     {'':<8} → {clean(action.do)}")
    return lines


def document_verdict_lines(doc: Mapping[str, Any]) -> list[str]:
    """:func:`verdict_lines` of findings.json's verdict (none for a document older than schema 1.2): what ``run``
    prints after where the reports are."""
    verdict = of_document(doc)
    return [] if verdict is None else verdict_lines(verdict)


def _coverage_lines(review: Review) -> list[str]:
    """One line when every kind of data is complete; otherwise each kind with its state and why."""
    if all(cov.state() == "complete" for cov in review.coverage.values()):
        kinds = words_list([label("data_kind", k) for k in review.coverage])
        lean = "".join(f" {k}: {clean(c.snapshot_note())}." for k, c in review.coverage.items() if c.mode == "lean")
        return [f"Data: complete for the week ({kinds} data).{lean}"]
    lines = ["Data coverage (this review is incomplete)"]
    for name, cov in review.coverage.items():
        state = cov.state().upper() if cov.state() != "complete" else "complete"
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
    return lines


def _metric_lines(review: Review) -> list[str]:
    """The headline numbers: this week, last week, and the change with what it means."""
    lines = [f"  {'metric':<28}{'this week':>11}{'last week':>11}  change"]
    for name, _ in KPIS:
        metric = review.metrics.get(name)
        if metric is None:
            continue
        delta = ""
        if metric.change is not None:
            what = meaning(metric.change, better_of(name))
            delta = change(metric.change, metric.unit) + JUDGED.get(what, "")
        now, before = fmt(metric, metric.value), fmt(metric, metric.previous)
        lines.append(f"  {metric_label(name):<28}{now:>11}{before:>11}  {delta}")
    return lines


def review_lines(review: Review) -> list[str]:
    """The verdict and the top actions first, then the data (one line when complete), the headline metrics with
    last week's values, and every finding with its action (more than ``[analysis] rollup_threshold`` of one kind
    and severity as one entry with a table of the users)."""
    window = review.window
    verdict = verdict_of(review)
    lines = [
        f"SSPR weekly review — {clean(review.tenant.get('name'))} — week ending {window.week_ending:%a %Y-%m-%d} "
        f"({window.timezone}; {window.start:%Y-%m-%d %H:%M} → {window.end:%Y-%m-%d %H:%M} UTC)",
        "",
        *verdict_lines(verdict),
        "",
        *_coverage_lines(review),
    ]
    lines += [f"  note: {clean(note)}" for note in review.notes]
    lines += ["", *_metric_lines(review)]
    lines += ["", f"All findings: {counts_text(verdict)}"]
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
    if review.comparison is not None:
        c = review.comparison
        lines.append(
            capitalised(
                f"{len(c.new)} new, {len(c.resolved)} resolved since last week, {len(c.continuing)} continuing."
            )
        )
    return lines
