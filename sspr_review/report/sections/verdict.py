"""The top of the weekly review: the week's verdict, what needs the reviewer and what to do, each action linking
to its detail below (the review's :class:`~sspr_review.analysis.Verdict`, as findings.json carries it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...analysis import verdict_of
from ...app.notebook import Context
from ..verdict_words import banner_state, counts_text, who_text
from .render import section

if TYPE_CHECKING:
    from IPython.display import HTML


def verdict(ctx: Context) -> HTML:
    """The week's verdict: one sentence (the data caveat first), the findings per severity, and up to five top
    actions, most urgent first, each with who or what, what to do and a link to its detail."""
    v = verdict_of(ctx.review)
    actions = [
        {
            "severity": a.severity,
            "headline": a.headline,
            "who": who_text(a),
            "status": a.status,
            "do": a.do,
            "anchor": a.anchor,
        }
        for a in v.actions
    ]
    return section(
        "verdict.html.j2", sentence=v.sentence, counts=counts_text(v), state=banner_state(v), actions=actions
    )
