"""The SSPR configuration (issue 23): the week's changes of the SSPR policy (who, when, old → new, weakening
marked), then the posture against the recommended configuration (recommended, yours, since); and, for the user
investigation, the changes one user made. Everything comes from ``ctx.review.policy``
(:class:`~sspr_review.analysis.posture.PolicyState`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from ...analysis.sspr_settings import setting
from ...app.notebook import Context
from .render import note, section, when

if TYPE_CHECKING:
    from IPython.display import HTML

    from ...analysis.posture import PolicyState

#: A change's severity badge in the table: as its finding's (writeback disabled in a hybrid tenant: high).
_BADGE = {"weakens": "high", "strengthens": "info", "neutral": "low"}


def _change_rows(changes: pd.DataFrame, tz: str, severities: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    rows = []
    for c in changes.to_dict(orient="records"):
        direction = str(c["direction"])
        key = (str(c["event_id"]), str(c["setting"]))
        rows.append(
            {
                "when": when(c["time"], tz),
                "who": "" if pd.isna(c["changed_by"]) else str(c["changed_by"]),
                "ip": "" if pd.isna(c["ip"]) else str(c["ip"]),
                "label": str(c["label"]),
                "old": str(c["old_shown"]),
                "new": str(c["new_shown"]),
                "delta": _delta(c),
                "direction": direction,
                "badge": severities.get(key, _BADGE.get(direction, "low")),
                "reasons": "" if pd.isna(c["reasons"]) else str(c["reasons"]),
                "known": bool(c["known"]),
                "parsed": bool(c["parsed"]),
            }
        )
    return rows


def _delta(change: Mapping[Any, Any]) -> str:
    """For the methods: what was added and removed ("security questions added"), shorter than two lists; else
    empty (the table shows old → new)."""
    if setting(str(change["setting"])).type != "methods" or not bool(change["parsed"]):
        return ""
    phrase = str(change["phrase"])
    return phrase[phrase.find("(") + 1 : phrase.rfind(")")] if "(" in phrase else phrase


def _severities(ctx: Context) -> dict[tuple[str, str], str]:
    """Each change's finding severity this week, by (event id, setting): critical and writeback's show as such."""
    out = {}
    for f in ctx.review.findings:
        if f.kind == "sspr_policy_changed":
            out[(str(f.evidence.get("event_id")), str(f.evidence.get("setting")))] = f.severity
        elif f.kind == "password_writeback_disabled":
            out[(str(f.evidence.get("event_id")), "PasswordWriteback")] = f.severity
    return out


def _posture_rows(state: PolicyState, tz: str) -> list[dict[str, Any]]:
    rows = []
    for r in state.posture.to_dict(orient="records"):
        since = "" if pd.isna(r["since"]) else when(pd.Timestamp(str(r["since"])), tz)
        by = "" if pd.isna(r["changed_by"]) else f" by {r['changed_by']}"
        source = "" if pd.isna(r["source"]) else str(r["source"])
        rows.append(
            {
                "label": str(r["label"]),
                "recommended": str(r["recommended"]),
                "yours": str(r["yours"]),
                "since": f"{since}{by}" if since else "",
                "source": source,
                "status": str(r["status"]),
                "note": "" if pd.isna(r["note"]) else str(r["note"]),
            }
        )
    return rows


def _hybrid_words(hybrid: bool | None) -> str | None:
    if hybrid is None:
        return None
    return "syncs from on-premises" if hybrid else "does not sync from on-premises"


#: The week's counts the section mentions under the changes: count key → (one, many).
_NOTES = (
    ("unchanged_saves", ("save of the policy changed nothing", "saves of the policy changed nothing")),
    ("unknown_settings", ("change of a setting the kit does not know", "changes of settings the kit does not know")),
    (
        "unparseable_values",
        ("change with a value the kit could not read", "changes with a value the kit could not read"),
    ),
    (
        "unreadable_events",
        ("policy event whose record could not be read", "policy events whose record could not be read"),
    ),
)


def _week_notes(state: PolicyState) -> list[str]:
    counts = state.week.counts()
    return [f"{counts[key]} {words[counts[key] != 1]}" for key, words in _NOTES if counts[key]]


def sspr_configuration(ctx: Context) -> HTML:
    """This week's changes of the SSPR configuration first (who, when, old → new; a weakening change marked), then
    the posture table: each recommended setting, your value and since when, where it was learnt, and whether it
    meets the recommendation."""
    state = ctx.review.policy
    if state is None:
        return note("No data: the review holds no SSPR configuration.")
    tz = ctx.review.window.timezone
    audit = ctx.review.coverage.get("audit")
    policy = ctx.review.coverage.get("policy")
    gaps = []
    if audit is None or not audit.complete:
        gaps.append(
            f"audit data incomplete this week ({audit.reason if audit else 'no coverage'}): changes may be missing"
        )
    if policy is None or not policy.available:
        gaps.append(f"no policy snapshot ({policy.reason if policy else 'no coverage'}): the snapshot rows are unknown")
    elif policy.approximate:
        gaps.append(f"the policy snapshot is approximate: {policy.snapshot_note()}")
    weakening = int(state.week.changes["weakens"].fillna(False).sum())
    return section(
        "sspr_configuration.html.j2",
        changes=_change_rows(state.week.changes, tz, _severities(ctx)),
        weakening=weakening,
        notes=_week_notes(state),
        posture=_posture_rows(state, tz),
        deviating=int((state.posture["status"] == "deviates").sum()),
        unknown=int((state.posture["status"] == "unknown").sum()),
        hybrid=_hybrid_words(state.hybrid),
        gaps=gaps,
        end=when(state.end, tz),
        timezone=tz,
    )


def user_policy_changes(ctx: Context, upn: str | None = None) -> HTML:
    """The SSPR configuration changes the user made (default: ``ctx.user``), over the stored history up to the
    week's end."""
    chosen = (ctx.user if upn is None else upn).strip().lower()
    state = ctx.review.policy
    if state is None or not chosen:
        return note("No data: the review holds no SSPR configuration changes.")
    changes = state.changes
    mine = changes[changes["changed_by_upn"].astype("string").str.lower().eq(chosen).fillna(False).to_numpy(dtype=bool)]
    if mine.empty:
        return note(f"No change of the SSPR configuration by {chosen} is recorded in the stored history.")
    tz = ctx.review.window.timezone
    return section(
        "sspr_configuration.html.j2",
        changes=_change_rows(mine.iloc[::-1], tz, _severities(ctx)),
        weakening=int(mine["weakens"].fillna(False).sum()),
        notes=[],
        posture=None,
        deviating=0,
        unknown=0,
        hybrid=None,
        gaps=[],
        end=when(state.end, tz),
        timezone=tz,
    )
