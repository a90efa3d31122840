"""The message body, HTML and plain text, from one context rendered by two Jinja2 templates.

:func:`context` reads findings.json into plain values (identities pseudonymised when configured, numbers
formatted); ``templates/body.html.j2`` and ``templates/body.txt.j2`` lay them out, so the two parts say the same
by construction. The HTML uses inline styles only (Outlook and Gmail drop ``<style>`` blocks), with the report's
colours from :mod:`sspr_review.report.style`; it is autoescaped, the text template is not.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from ..core.settings import AnalysisSettings
from ..core.vocabulary import KPIS
from ..report.numbers import better_of, change, meaning
from ..report.rollup import Rollup, distinct, roll_up, status_counts
from ..report.style import BANNER, CHANGE_COLOURS, SEVERITY_COLOURS
from ..report.summary import fmt_value
from ..report.verdict_words import Verdict, banner_state, counts_text, of_document, who_text
from .identities import Identities

CHART_TITLES = {
    "resets_per_hour": "Accounts completing a reset per hour",
    "resets_per_day": "Self-service versus helpdesk resets per day",
    "registration": "Registration coverage per week",
}
#: A badge for a severity the report has no colour for.
OTHER_COLOUR = "#5f6368"
#: Findings of one kind and severity shown one by one name at most this many users each.
USERS_SHOWN = 6


@dataclass(frozen=True)
class Entry:
    """One line of "needs attention": a finding, or a roll-up of many (``rows`` then holds its users)."""

    severity: str
    title: str
    suffix: str  # " (new)" for a finding, " (3 new, 2 continuing)" for a roll-up
    users: str = ""
    actions: tuple[str, ...] = ()
    rows: tuple[tuple[str, str, str], ...] | None = None  # (user, vs last week, since)

    @property
    def colour(self) -> str:
        return SEVERITY_COLOURS.get(self.severity, OTHER_COLOUR)


@dataclass(frozen=True)
class TopAction:
    """One of the verdict's top actions, as the e-mail shows it (identities pseudonymised when configured)."""

    severity: str
    headline: str
    who: str
    status: str
    do: str

    @property
    def colour(self) -> str:
        return SEVERITY_COLOURS.get(self.severity, OTHER_COLOUR)


@dataclass(frozen=True)
class Kpi:
    """A headline number: this week, last week, and the change coloured by what it means."""

    label: str
    now: str
    before: str
    change: str
    colour: str


@dataclass(frozen=True)
class Body:
    """Everything the templates show, as plain values."""

    tenant: str
    week: str
    time_zone: str
    missing: str
    approximate: str
    entries: list[Entry]
    info_count: int
    kpis: list[Kpi]
    images: list[tuple[str, str, str]]  # (title, content id, name)
    footer: str
    notes: Sequence[str]
    #: The verdict: its sentence ("" for a findings.json older than schema 1.2), the counts and the top actions.
    sentence: str = ""
    counts: str = ""
    actions: list[TopAction] = field(default_factory=list)
    state: str = "ok"
    banner: Mapping[str, tuple[str, str]] = field(default_factory=lambda: BANNER)


def _escape(eval_ctx: jinja2.nodes.EvalContext, value: Any) -> Any:
    """Autoescaped output escaped by :func:`html.escape` (``&#x27;`` for a quote, as the body always had),
    not markupsafe's spelling (``&#39;``); text-template output untouched."""
    if eval_ctx.autoescape and not isinstance(value, Markup):
        return Markup(html.escape(str(value)))
    return value


@cache
def environment() -> jinja2.Environment:
    """The one Environment of the mail templates: ``*.html.j2`` autoescaped, ``*.txt.j2`` not."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("sspr_review.mail", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=True),
        finalize=jinja2.pass_eval_context(_escape),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render(body: Body) -> tuple[str, str]:
    """(HTML, plain text) of ``body``."""
    env = environment()
    html_part = env.get_template("body.html.j2").render(b=body)
    text = env.get_template("body.txt.j2").render(b=body)
    return html_part, text


def context(
    doc: Mapping[str, Any],
    ids: Identities,
    images: Sequence[tuple[str, str]],
    attached: Sequence[str],
    notes: Sequence[str],
) -> Body:
    """The body of findings.json ``doc``; ``images`` are (chart name, content id), ``attached`` the files."""
    window = doc.get("window", {})
    coverage = doc.get("coverage", {})
    missing = [
        f"{name}: " + "; ".join([*([c["reason"]] if c.get("reason") else []), *c.get("missing", [])])
        for name, c in coverage.items()
        if not c.get("complete")
    ]
    approximate = [f"{name}: {c.get('reason') or ''}" for name, c in coverage.items() if c.get("approximate")]
    findings = doc.get("findings", [])
    footer = (
        f"Attached, zipped: {'; '.join(attached)}. Unzip and open the HTML in a browser: the charts are "
        "interactive and need no internet."
        if attached
        else "The interactive report is not attached; it is in the report folder on the reporting host."
    )
    verdict = of_document(doc)
    return Body(
        sentence="" if verdict is None else verdict.sentence,
        counts="" if verdict is None else counts_text(verdict),
        actions=[] if verdict is None else top_actions(verdict, ids),
        state="ok" if verdict is None else banner_state(verdict),
        tenant=str(doc.get("tenant", {}).get("name", "")),
        week=str(window.get("week_ending", "")),
        time_zone=str(window.get("time_zone")),
        missing="; ".join(missing),
        approximate="; ".join(approximate),
        entries=entries([f for f in findings if f.get("severity") != "info"], _threshold(doc), ids),
        info_count=sum(1 for f in findings if f.get("severity") == "info"),
        kpis=kpis(doc.get("metrics", {})),
        images=[(CHART_TITLES.get(name, name), cid, name) for name, cid in images],
        footer=footer,
        notes=notes,
    )


def _threshold(doc: Mapping[str, Any]) -> int:
    value = (doc.get("settings") or {}).get("rollup_threshold")
    return value if isinstance(value, int) and not isinstance(value, bool) else AnalysisSettings().rollup_threshold


def top_actions(verdict: Verdict, ids: Identities) -> list[TopAction]:
    """The verdict's top actions with their users, titles and what to do pseudonymised when configured."""
    return [
        TopAction(
            severity=a.severity,
            headline=ids.text(a.headline),
            who=who_text(a, ids.user),
            status=a.status,
            do=ids.text(a.do),
        )
        for a in verdict.actions
    ]


def kpis(metrics: Mapping[str, Any]) -> list[Kpi]:
    """Each KPI findings.json has, in the catalogue's order: this week, last week, and the change coloured by what
    it means for the metric (a rate's change in percentage points)."""
    out = []
    for name, label in KPIS:
        m = metrics.get(name)
        if not isinstance(m, dict):
            continue
        unit = str(m.get("unit", "count"))
        value, previous = m.get("value"), m.get("previous")
        delta = value - previous if isinstance(value, int | float) and isinstance(previous, int | float) else None
        what = meaning(delta, str(m.get("better") or better_of(name)))
        out.append(
            Kpi(
                label=label,
                now=fmt_value(value, unit),
                before=fmt_value(previous, unit),
                change="" if delta is None else change(delta, unit),
                colour=CHANGE_COLOURS[what],
            )
        )
    return out


def entries(items: list[dict[str, Any]], threshold: int, ids: Identities) -> list[Entry]:
    """ "Needs attention": each finding, more than ``threshold`` of one kind and severity rolled up."""
    grouped = roll_up(items, threshold, lambda i: str(i.get("kind", "")), lambda i: str(i.get("severity", "")))
    return [_rollup_entry(f, ids) if isinstance(f, Rollup) else _entry(f, ids) for f in grouped]


def _entry(f: Mapping[str, Any], ids: Identities) -> Entry:
    users = [ids.user(u) for u in f.get("users", [])]
    more = len(users) - USERS_SHOWN
    return Entry(
        severity=str(f.get("severity", "")),
        title=ids.text(str(f.get("title", ""))),
        suffix=f" ({f['status']})" if f.get("status") else "",
        users=", ".join(users[:USERS_SHOWN]) + (f" and {more} more" if more > 0 else ""),
        actions=(ids.text(str(f.get("action", ""))),),
    )


def _rollup_entry(entry: Rollup[dict[str, Any]], ids: Identities) -> Entry:
    """Many findings of one kind and severity: a row per user, each new or continuing, and the distinct
    actions."""
    statuses = [str(f["status"]) if f.get("status") else "" for f in entry.items]
    tally = status_counts([s or None for s in statuses])
    rows = tuple(
        (
            ", ".join(ids.user(str(u)) for u in f.get("users", [])) or ids.text(str(f.get("title", ""))),
            status,
            str(f.get("start") or "")[:10],
        )
        for f, status in zip(entry.items, statuses, strict=True)
    )
    return Entry(
        severity=entry.severity,
        title=entry.title,
        suffix=f" ({tally})" if tally else "",
        actions=tuple(distinct([ids.text(str(f.get("action", ""))) for f in entry.items])),
        rows=rows,
    )
