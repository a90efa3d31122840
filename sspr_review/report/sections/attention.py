"""Needs attention: every finding of the week with what to do, grouped by kind (most urgent kind first), each
kind under the anchor the verdict's actions link to; more than ``[analysis] rollup_threshold`` findings of one
kind and severity as one entry with a table of the users."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...analysis.verdict import anchor, urgency
from ...app.notebook import Context
from ...core.labels import FINDING_NOUNS, humanise
from ...core.vocabulary import SEVERITIES
from ...core.wording import capitalised
from ..rollup import Rollup, distinct, roll_up, status_counts
from .contents import DETAIL, heading_id
from .render import section, table, user_list, when

if TYPE_CHECKING:
    from IPython.display import HTML

    from ...analysis import Finding, Review


def _row(review: Review, entry: Rollup[Finding] | Finding) -> dict[str, Any]:
    """One row: a finding, or a roll-up with a table of its users."""
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


def _per_severity(findings: Iterable[Finding]) -> str:
    """How many findings of each severity, most severe first: "2 high, 5 medium" (severities without any left out)."""
    tally = Counter(f.severity for f in findings)
    return ", ".join(f"{tally[s]} {s}" for s in SEVERITIES if tally[s])


def _group(review: Review, kind: str, findings: list[Finding]) -> dict[str, Any]:
    """A kind's block: its heading (the kind in words, how many of each severity), its rows, and a link to the
    section that shows it in detail."""
    rows = roll_up(findings, review.settings.rollup_threshold, lambda f: f.kind, lambda f: f.severity)
    tally = status_counts([review.status(f) for f in findings])
    detail = DETAIL.get(kind)
    return {
        "anchor": anchor(kind),
        "heading": capitalised(FINDING_NOUNS.get(kind, ("", humanise(kind) + " findings"))[1]),
        "counts": _per_severity(findings) + (f"; {tally}" if tally else ""),
        "rows": [_row(review, entry) for entry in rows],
        "detail": None if detail is None else {"href": f"#{heading_id(detail)}", "text": detail},
    }


def needs_attention(ctx: Context) -> HTML:
    """Every finding with what to do, by kind, the most urgent kind first (as the verdict orders them)."""
    r = ctx.review
    kinds: dict[str, list[Finding]] = {}
    for f in r.findings:
        kinds.setdefault(f.kind, []).append(f)
    order = sorted(kinds, key=lambda k: min(urgency(k, f.severity) for f in kinds[k]))
    groups = [_group(r, kind, kinds[kind]) for kind in order]
    return section("needs_attention.html.j2", groups=groups, counts=_per_severity(r.findings), total=len(r.findings))
