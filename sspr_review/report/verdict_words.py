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

__all__ = ["Verdict", "banner_state", "counts_text", "of_document", "users_text", "who_text"]


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


def who_text(action: Action, user: Callable[[str], str] = str) -> str:
    """The action's users as its "who" line (:func:`users_text`), or "" when its headline already names its one
    user (or it has none)."""
    if action.count > 1 or any(u not in action.headline for u in action.users):
        return users_text(action, user)
    return ""


def banner_state(verdict: Verdict) -> str:
    """The verdict's banner: "ok" for a quiet week, "bad" with something urgent or a data caveat, else "warn"."""
    return "ok" if verdict.quiet else "bad" if (verdict.urgent or verdict.caveat) else "warn"


def of_document(doc: Mapping[str, Any]) -> Verdict | None:
    """findings.json's verdict, read back (``None`` for a document older than schema 1.2)."""
    item = doc.get("verdict")
    return Verdict.from_dict(item) if isinstance(item, Mapping) else None
