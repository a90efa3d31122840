"""The weekly review's frame: header, coverage, what needs attention, the numbers, the charts, what changed,
the configuration, what the kit could not classify, and where to dig further."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ...app.notebook import Context
from ...core.vocabulary import KPIS, SEVERITIES
from .. import charts, numbers
from ..rollup import Rollup, distinct, roll_up, status_counts
from .render import note, section, table, user_list, when

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
    w = ctx.review.window
    return section(
        "header.html.j2",
        tenant=ctx.review.tenant.get("name") or "",
        week_ending=f"{w.week_ending:%A %d %B %Y}",
        timezone=w.timezone,
        start=f"{w.start:%Y-%m-%d %H:%M}",
        end=f"{w.end:%Y-%m-%d %H:%M}",
    )


def coverage_banner(ctx: Context) -> HTML:
    """What each source covers this week; loudly what is missing (a missing source is not zero events), and
    which snapshot each snapshot source uses (an approximate one, far from the week, with its date)."""
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
                "source": name,
                "state": state,
                "snapshot used": cov.snapshot_note() or "",
                "why": "; ".join([*why, *cov.missing]),
            }
        )
    return section(
        "coverage_banner.html.j2",
        missing=missing,
        parts=parts,
        approximate=approximate,
        suspect=suspect,
        table=table(pd.DataFrame(rows), ""),
        notes=[*ctx.review.notes, *(c.selection for c in ctx.review.coverage.values() if c.selection)],
    )


def _attention_row(review: Review, entry: Rollup[Finding] | Finding) -> dict[str, Any]:
    """One row of "needs attention": a finding, or a roll-up with a table of its users."""
    if isinstance(entry, Rollup):
        items = entry.items
        tz = review.window.timezone
        users = pd.DataFrame(
            {
                "user": [", ".join(f.users) or f.title for f in items],
                "vs last week": [review.status(f) or "" for f in items],
                "since": [when(f.start, tz) for f in items],
                "finding": [f.title for f in items],
            }
        )
        return {
            "severity": entry.severity,
            "status": status_counts([review.status(f) for f in items]),
            "title": entry.title,
            "count": len(items),
            "users_table": table(users, ""),
            "users": "",
            "actions": distinct([f.action for f in items]),
        }
    return {
        "severity": entry.severity,
        "status": review.status(entry) or "",
        "title": entry.title,
        "count": 1,
        "users_table": None,
        "users": user_list(list(entry.users)),
        "actions": [entry.action],
    }


def needs_attention(ctx: Context) -> HTML:
    """Findings by severity, each with what to do; more than ``[analysis] rollup_threshold`` of one kind and
    severity as one entry with a table of the users (each marked new or continuing)."""
    r = ctx.review
    entries = roll_up(r.findings, r.settings.rollup_threshold, lambda f: f.kind, lambda f: f.severity)
    counts = ", ".join(
        f"{sum(1 for f in r.findings if f.severity == s)} {s}"
        for s in SEVERITIES
        if any(f.severity == s for f in r.findings)
    )
    rows = [_attention_row(r, entry) for entry in entries]
    return section("needs_attention.html.j2", rows=rows, counts=counts)


def kpi_tiles(ctx: Context) -> HTML:
    """The week's headline numbers with their change from last week."""
    tiles = []
    for name in (*(kpi for kpi, _ in KPIS), "helpdesk_cost_avoided"):
        metric = ctx.review.metrics.get(name)
        if metric is None:
            continue
        label = name.replace("_", " ")
        if name == "helpdesk_cost_avoided":
            label += f" ({ctx.review.settings.currency})"
        change = metric.change
        if change is None:
            delta, direction = "no comparison", "sspr-flat"
        else:
            delta = f"{numbers.change(change, metric.unit)} vs last week"
            direction = "sspr-up" if change > 0 else "sspr-down" if change < 0 else "sspr-flat"
        value = numbers.number(metric.value, metric.unit, missing="no data")
        tiles.append({"value": value, "label": label, "delta": delta, "direction": direction})
    return section("kpi_tiles.html.j2", tiles=tiles)


def chart(ctx: Context, name: str) -> Any:
    """One of the weekly charts by name: resets_per_hour, resets_per_day, funnel, method_outcomes."""
    return charts.weekly(ctx.review, name)


def changes(ctx: Context) -> HTML:
    """New, continuing and resolved findings against last week."""
    comparison = ctx.review.comparison
    if comparison is None:
        return note("No comparison with last week.")
    rows = []
    for status, items in (
        ("new", comparison.new),
        ("continuing", comparison.continuing),
        ("resolved", comparison.resolved),
        ("unknown (not evaluated this week)", comparison.unknown),
    ):
        rows += [{"status": status, "severity": f.severity, "finding": f.title} for f in items]
    return section("tables.html.j2", parts=[{"table": table(pd.DataFrame(rows), "No findings this week or last.")}])


PASSWORD_RULES = {
    "EnableBannedPasswordCheck": "Banned-password check (cloud)",
    "EnableBannedPasswordCheckOnPremises": "Banned-password check on-premises",
    "BannedPasswordCheckOnPremisesMode": "On-premises mode (Audit or Enforce)",
    "LockoutThreshold": "Smart lockout threshold (failed sign-ins)",
    "LockoutDurationInSeconds": "Smart lockout duration (seconds)",
}


def _password_rules(policy: dict[str, Any]) -> pd.DataFrame:
    rules = policy.get("passwordRuleSettings") or {}
    if not rules:
        return pd.DataFrame([{"setting": "Password protection", "value": "defaults (no custom settings saved)"}])
    values = {str(v.get("name")): v.get("value") for v in rules.get("values", []) if isinstance(v, dict)}
    rows = [{"setting": label, "value": values.get(key, "default")} for key, label in PASSWORD_RULES.items()]
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
        {"method": str(m.get("id", "")), "state": str(m.get("state", ""))}
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


def unrecognised(ctx: Context) -> HTML:
    """What the kit could not classify this week (kept and counted, never dropped)."""
    tz = ctx.review.window.timezone
    parts = [
        {"table": table(ctx.review.unrecognised_reasons, "Every SSPR step this week was recognised.", tz)},
        {"table": table(ctx.review.unknown_activities, "Every activity this week was known.", tz)},
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
