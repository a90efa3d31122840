"""The weekly review's frame: the header, the numbers, the charts, what changed, the configuration, the data
coverage, what the kit could not classify, and where to dig further (the verdict is :mod:`.verdict`, what needs
attention :mod:`.attention`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ...analysis import verdict_of
from ...analysis.verdict import phrase, urgency
from ...app.notebook import Context
from ...core.coverage import describe_offset
from ...core.labels import label, metric_label
from ...core.vocabulary import KPIS, SNAPSHOT_KINDS
from ...core.wording import capitalised, count, words_list
from .. import charts, numbers
from .contents import heading_id
from .render import note, section, table, user_list

if TYPE_CHECKING:
    from IPython.display import HTML

    from ...analysis import Finding, Review

#: What :func:`explore` lists: expression → what it holds.
EXPLORE = {
    "ctx.flows": "the week's SSPR flows, one row per flow (also ctx.review.flows)",
    "ctx.audit": "the week's audit events (SSPR and password activities)",
    "ctx.risk": "the week's risk detections",
    "ctx.registration": "the registration snapshot in force at the end of the week",
    "ctx.review.findings": "the findings (kind, severity, users, evidence, action)",
    "ctx.review.weekly": "one row per week of history: the trend numbers",
    'ctx.ws.read("audit", start, end)': "any table of the store (audit, risk, registration, privileged), any UTC range",
}


def explore(ctx: Context) -> HTML:
    """The DataFrames behind the review, with their size and columns: where to dig further."""
    rows = []
    values = {
        "ctx.flows": ctx.flows,
        "ctx.audit": ctx.audit,
        "ctx.risk": ctx.risk,
        "ctx.registration": ctx.registration,
        "ctx.review.weekly": ctx.review.weekly,
    }
    for expression, meaning in EXPLORE.items():
        frame = values.get(expression)
        if expression == "ctx.review.findings":
            size, columns = f"{len(ctx.review.findings)} findings", ""
        elif frame is None:
            size, columns = "", ""
        else:
            size = f"{len(frame):,} rows"
            columns = ", ".join(map(str, frame.columns[:12])) + (" …" if len(frame.columns) > 12 else "")
        rows.append({"expression": expression, "holds": meaning, "size": size, "columns": columns})
    return section("explore.html.j2", table=table(pd.DataFrame(rows), ""))


def header(ctx: Context) -> HTML:
    """The title, the week, and the data in one line: complete, or what is missing (the coverage section has the
    detail)."""
    w = ctx.review.window
    issues = verdict_of(ctx.review).data_issues
    kinds = [f"{label('data_kind', k)}" for k in ctx.review.coverage]
    data = (
        capitalised(words_list([i.words for i in issues]))
        if issues
        else f"Data complete for the week: {words_list(kinds)} data"
    )
    return section(
        "header.html.j2",
        tenant=ctx.review.tenant.get("name") or "",
        week_ending=f"{w.week_ending:%A} {w.week_ending.day} {w.week_ending:%B %Y}",
        timezone=w.timezone,
        start=f"{w.start:%Y-%m-%d %H:%M}",
        end=f"{w.end:%Y-%m-%d %H:%M}",
        data=data,
        data_ok=not issues,
        coverage=f"#{heading_id('Data coverage')}",
    )


def _snapshots_line(review: Review) -> str:
    """Which snapshots a complete week uses, grouped by how far from the week's end: "registration, roles and
    policy at the week's end"."""
    by_offset: dict[str, list[str]] = {}
    for kind in SNAPSHOT_KINDS:
        cov = review.coverage.get(kind)
        if cov is not None and cov.offset is not None:
            by_offset.setdefault(describe_offset(cov.offset), []).append(kind)
    lean = [f"{kind}: {cov.snapshot_note()}" for kind, cov in review.coverage.items() if cov.mode == "lean"]
    return "; ".join([*(f"{words_list(kinds)} from snapshots {when}" for when, kinds in by_offset.items()), *lean])


def coverage_banner(ctx: Context) -> HTML:
    """What each kind of data covers this week. Complete: one line. Otherwise loudly what is missing (a missing
    kind is not zero events) with a table of every kind, and which snapshot each snapshot kind uses (an
    approximate one, far from the week, with its date)."""
    rows = []
    missing: list[str] = []
    parts: list[str] = []
    approximate: list[str] = []
    suspect: list[str] = []
    for name, cov in ctx.review.coverage.items():
        if cov.suspect and cov.available:  # the opt-in trap: unobserved, not quiet
            state = "SUSPECT"
            suspect.append(f"{name}: {cov.suspect}")
        elif cov.approximate:
            state = "APPROXIMATE"
            approximate.append(f"{name} ({cov.snapshot_note()})")
            if cov.missing:
                parts.append(name)
        elif cov.whole:
            state = "complete"
        elif cov.available:
            state = "PARTIAL"
            (missing if not cov.complete else parts).append(name)
        else:
            state = "NO DATA"
            missing.append(name)
        why = [] if (cov.complete and not cov.approximate) or not cov.reason else [cov.reason]
        rows.append(
            {
                "data": name,
                "state": state,
                "snapshot used": cov.snapshot_note() or "",
                "why": "; ".join([*why, *cov.missing]),
            }
        )
    complete = not (missing or parts or approximate or suspect)
    return section(
        "coverage_banner.html.j2",
        missing=missing,
        parts=parts,
        approximate=approximate,
        suspect=suspect,
        complete=complete,
        kinds=count(len(rows), "kind") + " of data",
        snapshots=_snapshots_line(ctx.review) if complete else "",
        table=table(pd.DataFrame(rows), ""),
        notes=[*ctx.review.notes, *(c.selection for c in ctx.review.coverage.values() if c.selection)],
    )


def kpi_tiles(ctx: Context) -> HTML:
    """The week's headline numbers with their change from last week, coloured by what the change means for the
    metric (:data:`sspr_review.core.labels.METRICS`: a rise in blocked users is bad, a fall in members not
    SSPR-capable good, a change in resets neither); a rate's change in percentage points."""
    tiles = []
    for name in (*(kpi for kpi, _ in KPIS), "helpdesk_cost_avoided"):
        metric = ctx.review.metrics.get(name)
        if metric is None:
            continue
        words = metric_label(name)
        if name == "helpdesk_cost_avoided":
            words += f" ({ctx.review.settings.currency})"
        better = numbers.better_of(name)
        change = metric.change
        meaning = numbers.meaning(change, better)
        if change is None:
            delta = "no comparison"
        else:
            delta = f"{numbers.change(change, metric.unit)} vs last week"
            delta += numbers.JUDGED.get(meaning, "")
        tiles.append(
            {
                "metric": name,
                "value": numbers.number(metric.value, metric.unit, missing="no data"),
                "label": words,
                "delta": delta,
                "meaning": meaning,
                "hint": {"higher": "Higher is better", "lower": "Lower is better"}.get(better, "Neither way is better"),
            }
        )
    return section("kpi_tiles.html.j2", tiles=tiles)


def chart(ctx: Context, name: str) -> Any:
    """One of the weekly charts by name: resets_per_hour, resets_per_day, funnel, method_outcomes."""
    return charts.weekly(ctx.review, name)


def _finding_rows(findings: tuple[Finding, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"severity": f.severity, "kind": label("finding_kind", f.kind), "finding": f.title} for f in findings]
    )


def _new_rows(findings: tuple[Finding, ...]) -> pd.DataFrame:
    """The new findings by kind and severity, most urgent first: how many, in words, and who (they are listed in
    full under "needs attention")."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        groups.setdefault((f.kind, f.severity), []).append(f)
    rows = []
    for kind, severity in sorted(groups, key=lambda key: urgency(*key)):
        items = groups[(kind, severity)]
        users = list(dict.fromkeys(u for f in items for u in f.users))
        rows.append(
            {
                "severity": severity,
                "new": capitalised(phrase(kind, severity, len(items))),
                "who": user_list(users) if users and kind != "registration_gap" else "",
            }
        )
    return pd.DataFrame(rows)


def changes(ctx: Context) -> HTML:
    """What changed since last week: the new findings and the resolved ones, listed; the continuing ones counted
    (they are in "needs attention", marked continuing)."""
    comparison = ctx.review.comparison
    if comparison is None:
        return note("No comparison with last week.")
    return section(
        "changes.html.j2",
        new=len(comparison.new),
        resolved=len(comparison.resolved),
        continuing=count(len(comparison.continuing), "finding continues", "findings continue"),
        unknown=len(comparison.unknown),
        attention=f"#{heading_id('Needs attention')}",
        new_table=table(_new_rows(comparison.new), "Nothing new this week."),
        resolved_table=table(_finding_rows(comparison.resolved), "Nothing was resolved since last week."),
        unknown_table=table(_finding_rows(comparison.unknown), ""),
    )


PASSWORD_RULES = {
    "EnableBannedPasswordCheck": "Banned-password check (cloud)",
    "EnableBannedPasswordCheckOnPremises": "Banned-password check on-premises",
    "BannedPasswordCheckOnPremisesMode": "On-premises mode (Audit or Enforce)",
    "LockoutThreshold": "Smart lockout threshold (failed sign-ins)",
    "LockoutDurationInSeconds": "Smart lockout duration (seconds)",
}


def _setting(value: Any) -> str:
    """A setting's value in words: true and false as yes and no (the directory holds them as text)."""
    return label("boolean", value) if str(value).lower() in ("true", "false") else str(value)


def _password_rules(policy: dict[str, Any]) -> pd.DataFrame:
    rules = policy.get("passwordRuleSettings") or {}
    if not rules:
        return pd.DataFrame([{"setting": "Password protection", "value": "defaults (no custom settings saved)"}])
    values = {str(v.get("name")): v.get("value") for v in rules.get("values", []) if isinstance(v, dict)}
    rows = [{"setting": words, "value": _setting(values.get(key, "default"))} for key, words in PASSWORD_RULES.items()]
    banned = str(values.get("BannedPasswordList") or "")
    rows.append({"setting": "Custom banned passwords", "value": f"{len(banned.split()) if banned else 0} terms"})
    return pd.DataFrame(rows)


def configuration(ctx: Context) -> HTML:
    """Password protection settings and the authentication methods policy, from the policy snapshot the week uses
    (see the coverage banner).

    Graph has no API for the SSPR policy itself (methods required, notifications): check those in the portal.
    """
    cov = ctx.review.coverage.get("policy")
    used = cov.snapshot if cov is not None and cov.snapshot is not None else ctx.review.window.end
    snapshot = ctx.ws.store.read_policy(used)
    if snapshot is None:
        return note(f"No data: {cov.reason if cov else 'no policy snapshot'}")
    day, policy = snapshot
    methods_policy = policy.get("authenticationMethodsPolicy") or {}
    methods = [
        {"method": label("policy_method", m.get("id", "")), "state": str(m.get("state", ""))}
        for m in methods_policy.get("authenticationMethodConfigurations", [])
        if isinstance(m, dict)
    ]
    return section(
        "configuration.html.j2",
        day=f"{day:%d %B %Y}",
        approximate=" (approximate: far from the week under review)" if cov is not None and cov.approximate else "",
        rules=table(_password_rules(policy), ""),
        methods=table(pd.DataFrame(methods), "The authentication methods policy was not readable."),
    )


def _words(frame: pd.DataFrame) -> pd.DataFrame:
    """A frame whose column names are words (``first_seen`` → "first seen")."""
    return frame.rename(columns=lambda c: str(c).replace("_", " "))


def unrecognised(ctx: Context) -> HTML:
    """What the kit could not classify this week (kept and counted, never dropped)."""
    tz = ctx.review.window.timezone
    parts = [
        {"table": table(_words(ctx.review.unrecognised_reasons), "Every SSPR step this week was recognised.", tz)},
        {"table": table(_words(ctx.review.unknown_activities), "Every activity this week was known.", tz)},
    ]
    return section("tables.html.j2", parts=parts)


def write_findings(ctx: Context, path: str = "") -> HTML:
    """What the last cell of an analyst's older copy of weekly_review calls. The notebook no longer writes
    findings.json (``sspr-review run`` and ``review --json`` build it from the review): this says so and writes
    nothing, instead of failing the copy at its last cell."""
    return note(
        "This cell is no longer needed: sspr-review run and sspr-review review --json write findings.json "
        "themselves. Delete the cell, or take a fresh copy with sspr-review notebooks --force."
    )
