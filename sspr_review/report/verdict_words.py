"""The verdict's words as every reader gets them: the weekly report, the terminal summary and the e-mail render
the same :class:`~sspr_review.analysis.Verdict` (the review's, or findings.json's ``verdict`` read back) with
these helpers, so the three say the same thing the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..analysis import Verdict
from ..analysis.verdict import Action
from ..core.vocabulary import SEVERITIES
from ..core.wording import words_list

__all__ = ["Verdict", "counts_text", "of_document", "users_text"]


def counts_text(verdict: Verdict) -> str:
    """ "0 critical · 13 high · 8 medium · 3 low · 3 info" (every severity, zeros too: "0 critical" is news)."""
    return " · ".join(f"{verdict.counts.get(s, 0):,} {s}" for s in SEVERITIES)


def users_text(action: Action, user: Callable[[str], str] = str) -> str:
    """The action's users as a reader sees them: "a, b, c and 11 more" ("" without users); ``user`` shows one
    (the e-mail's pseudonyms)."""
    shown = [user(u) for u in action.users]
    if action.more_users:
        shown.append(f"{action.more_users:,} more")
    return words_list(shown)


def of_document(doc: Mapping[str, Any]) -> Verdict | None:
    """findings.json's verdict, read back (``None`` for a document older than schema 1.2)."""
    item = doc.get("verdict")
    return Verdict.from_dict(item) if isinstance(item, Mapping) else None
