"""The portfolio: one row per tenant of a tenants file, sorted by urgency, as ``portfolio.json`` and ``portfolio.html``.

Every row is made by one function, :func:`tenant_row`, from what the tenant's run left: its findings.json (``None``
when no report was made) and its :class:`Outcome` (the exit code and message of its run). Nothing is recomputed:
the counts are those of the tenant's own findings.json, so the portfolio always agrees with each tenant's report.

Written to ``OUT/portfolio/<week ending>/`` (owner-only, atomically; docs/portfolio-json.md)::

    portfolio.json    the rows, machine-readable (schema: sspr_review/data/portfolio.schema.json)
    portfolio.html    the same rows on one page in the reports' look, each tenant linking to its weekly review

Seams for findings.json's later additions: the headline is the verdict's sentence when findings.json has a
``verdict`` (issue 21), else the most urgent finding's title; weakening SSPR policy changes are counted from
``sspr_policy_changed`` findings marked weakening (issue 23) and are ``null`` where the kit has no such kind.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from markupsafe import Markup

from ..analysis.model import KINDS
from ..core.files import private_dir, write_private_text
from ..core.timefmt import iso_z
from ..core.vocabulary import SEVERITIES
from . import style
from .numbers import number
from .templating import ENV

#: portfolio.json's format version (docs/portfolio-json.md): readers accept any 1.x.
SCHEMA_VERSION = "1.0"
#: The folder below the output folder that holds the portfolio.
FOLDER = "portfolio"
#: The finding kind of SSPR policy changes (issue 23), and how many of them weakened the policy.
POLICY_CHANGED = "sspr_policy_changed"

Status = Literal["ok", "partial", "failed"]

#: The key numbers of a row: (key, metric of findings.json or finding kind counted, label, unit).
NUMBERS: tuple[tuple[str, str, str, str], ...] = (
    ("sspr_resets", "sspr_resets", "self-service resets", "count"),
    ("blocked_users", "blocked_users", "blocked users", "count"),
    ("registration_coverage", "registration_coverage", "registration coverage", "ratio"),
    ("leaked_unremediated", "leaked_credentials_unremediated", "leaked credentials unremediated", "count"),
    ("weakening_policy_changes", POLICY_CHANGED, "weakening policy changes", "count"),
)


@dataclass(frozen=True)
class Outcome:
    """What a tenant's run left besides its findings.json: the exit code (``None``: not run) and what its run said
    when it did not succeed, the report folder and how long it took."""

    name: str
    source: str
    code: int | None
    message: str = ""
    folder: Path | None = None
    seconds: float | None = None


def headline(findings: Mapping[str, Any]) -> tuple[str, str]:
    """The tenant's week in words, and where it came from: the verdict's sentence (``verdict``), else the most
    urgent finding's title (``finding``: findings.json lists them most severe first), else ``none``."""
    verdict = findings.get("verdict")
    if isinstance(verdict, Mapping) and isinstance(verdict.get("sentence"), str) and verdict["sentence"]:
        return str(verdict["sentence"]), "verdict"
    items = findings.get("findings") or []
    if items:
        ranked = sorted(items, key=lambda f: SEVERITIES.index(f["severity"]))
        return str(ranked[0]["title"]), "finding"
    return "No findings this week.", "none"


def _is_weakening(finding: Mapping[str, Any]) -> bool:
    """A policy change that weakens SSPR: its evidence's ``weakens`` (or ``direction`` "weakens"), as issue 23
    documents ``sspr_policy_changed``."""
    evidence = finding.get("evidence") or {}
    return evidence.get("weakens") is True or evidence.get("direction") == "weakens"


def key_numbers(findings: Mapping[str, Any]) -> dict[str, float | int | None]:
    """The row's key numbers: metrics as findings.json has them (``null`` when unknown, never 0), and finding counts,
    ``null`` when the kind was not evaluated (or, for policy changes, when the kit has no such kind)."""
    metrics = findings.get("metrics") or {}
    not_evaluated = set(findings.get("not_evaluated") or [])
    items = findings.get("findings") or []
    out: dict[str, float | int | None] = {}
    for key, name, _, _ in NUMBERS:
        if name in metrics:
            out[key] = metrics[name].get("value")
        elif name not in KINDS or name in not_evaluated:
            out[key] = None
        elif name == POLICY_CHANGED:
            out[key] = sum(1 for f in items if f["kind"] == name and _is_weakening(f))
        else:
            out[key] = sum(1 for f in items if f["kind"] == name)
    return out


def _gaps(findings: Mapping[str, Any]) -> str:
    """The kinds of data a review lacked, with why: ``risk (403 ...); roles (PIM-eligible ...)``."""
    gaps = []
    for kind, entry in (findings.get("coverage") or {}).items():
        if not entry.get("complete", False):
            why = entry.get("reason") or "; ".join(entry.get("missing") or []) or "incomplete"
            gaps.append(f"{kind} ({why})")
    return "; ".join(gaps)


def tenant_row(outcome: Outcome, findings: Mapping[str, Any] | None, link: str | None = None) -> dict[str, Any]:
    """A tenant's row of the portfolio (docs/portfolio-json.md): its status with the reason, findings by severity,
    new since last week, the headline and the key numbers, from its findings.json and its run's outcome.

    ``failed``: no findings.json (the reason is what the run said); ``partial``: a review was made, but some kind
    of data was missing or incomplete for the week, or the run reported a problem (exit code not 0); else ``ok``."""
    if findings is None:
        reason = outcome.message or ("not run" if outcome.code is None else f"exit code {outcome.code}")
        return _row(outcome, "failed", reason, None, link=None)
    gaps = _gaps(findings)
    problem = outcome.message if outcome.code not in (0, None) else ""
    reasons = [r for r in (problem, f"no data or incomplete: {gaps}" if gaps else "") if r]
    status: Status = "partial" if reasons else "ok"
    return _row(outcome, status, "; ".join(reasons) or None, findings, link)


def _row(
    outcome: Outcome, status: Status, reason: str | None, findings: Mapping[str, Any] | None, link: str | None
) -> dict[str, Any]:
    items = (findings or {}).get("findings") or []
    counts = Counter(f["severity"] for f in items)
    statuses = [f.get("status") for f in items]
    text, origin = headline(findings) if findings is not None else (reason or "", "failure")
    tenant = (findings or {}).get("tenant") or {}
    return {
        "name": outcome.name,
        "display_name": tenant.get("name") or None,
        "tenant_id": tenant.get("id") or None,
        "source": outcome.source,
        "status": status,
        "reason": reason,
        "week_ending": ((findings or {}).get("window") or {}).get("week_ending"),
        "findings": {severity: counts.get(severity, 0) for severity in SEVERITIES} if findings is not None else None,
        "new": sum(s == "new" for s in statuses) if findings is not None and any(statuses) else None,
        "headline": text,
        "headline_from": origin,
        "numbers": key_numbers(findings) if findings is not None else None,
        "report": link,
        "seconds": None if outcome.seconds is None else round(outcome.seconds, 1),
    }


def urgency(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The sort key, most urgent first: a failed tenant (nothing is known about its week), then by its findings'
    counts from critical down (a partial review's data gap is a critical finding), new ones first among equals."""
    counts = row["findings"] or {}
    return (
        row["status"] != "failed",
        *(-counts.get(severity, 0) for severity in SEVERITIES[:2]),
        -(row["new"] or 0),
        *(-counts.get(severity, 0) for severity in SEVERITIES[2:]),
        row["name"].lower(),
    )


def portfolio_week(rows: Iterable[Mapping[str, Any]], default: str) -> str:
    """The week the portfolio is of: the one most tenants' reviews are of (the latest on a tie), else ``default``."""
    weeks = Counter(str(row["week_ending"]) for row in rows if row["week_ending"])
    if not weeks:
        return default
    return max(weeks, key=lambda week: (weeks[week], week))


def document(rows: Sequence[Mapping[str, Any]], *, week: str, title: str, generated_at: datetime) -> dict[str, Any]:
    """portfolio.json's content: the rows sorted by :func:`urgency`, and the counts of each status."""
    ordered = sorted(rows, key=urgency)
    statuses = Counter(row["status"] for row in ordered)
    attention = sum(
        1 for r in ordered if r["status"] == "failed" or any((r["findings"] or {}).get(s) for s in ("critical", "high"))
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "title": title,
        "week_ending": week,
        "generated_at": iso_z(generated_at.astimezone(UTC), 0, trim=True),
        "counts": {
            "tenants": len(ordered),
            "attention": attention,
            **{s: statuses.get(s, 0) for s in ("ok", "partial", "failed")},
        },
        "tenants": [dict(row) for row in ordered],
    }


def report_link(name: str, week: str) -> str:
    """The tenant's weekly review, relative to ``OUT/portfolio/<week>/portfolio.html``."""
    return f"../../{quote(name)}/{quote(week)}/weekly-review.html"


def _page_css() -> str:
    """The reports' stylesheet (:data:`.style.CSS`) and the page's own rules: the status badges."""
    r = f".{style.ROOT}"
    rules = [
        "body { font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif;"
        " margin: 0; color: #202124; }",
        f"{r} {{ max-width: 1240px; margin: 16px auto; padding: 0 16px; }}",
        f"{r} .sspr-counts .sspr-sev {{ min-width: 0; margin: 0 2px 2px 0; white-space: nowrap; }}",
        f"{r} td.sspr-headline {{ max-width: 28em; }}",
        f"{r} .sspr-why {{ color: #555; font-size: 12px; }}",
        *(
            f"{r} .sspr-sev.sspr-status-{status} {{ background: {colour}; }}"
            for status, colour in style.STATUS_COLOURS.items()
        ),
    ]
    return style.CSS + "\n" + "\n".join(rules)


def render(doc: Mapping[str, Any]) -> str:
    """portfolio.html for ``doc`` (:func:`document`): one offline page, no script, in the reports' look."""
    shown = [key for key, *_ in NUMBERS if any((row["numbers"] or {}).get(key) is not None for row in doc["tenants"])]
    labels = {key: (label, unit) for key, _, label, unit in NUMBERS}

    def cell(row: Mapping[str, Any], key: str) -> str:
        unit = labels[key][1]
        return number((row["numbers"] or {}).get(key), unit)

    # autoescaped: tenant names, reasons and titles are text, never markup
    return ENV.get_template("portfolio.html.j2").render(
        doc=doc,
        css=Markup(_page_css()),  # the kit's own stylesheet: escaped, 'Segoe UI' broke the whole font rule
        severities=SEVERITIES,
        numbers=[(key, labels[key][0]) for key in shown],
        cell=cell,
    )


def write(doc: Mapping[str, Any], out: Path) -> Path:
    """Write portfolio.json and portfolio.html into ``out/portfolio/<week>/`` (owner-only); the folder."""
    folder = Path(out) / FOLDER / str(doc["week_ending"])
    private_dir(folder)
    write_private_text(folder / "portfolio.json", json.dumps(doc, indent=2) + "\n")
    write_private_text(folder / "portfolio.html", render(doc))
    return folder


def schema() -> dict[str, Any]:
    """The JSON Schema of portfolio.json (``sspr_review/data/portfolio.schema.json``)."""
    text = resources.files("sspr_review").joinpath("data/portfolio.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def load(folder: Path) -> dict[str, Any]:
    """A portfolio.json written by :func:`write` (for ``email --tenants``)."""
    document_: dict[str, Any] = json.loads((Path(folder) / "portfolio.json").read_text(encoding="utf-8"))
    return document_
