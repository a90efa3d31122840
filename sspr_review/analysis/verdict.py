"""The week's verdict: what needs the reviewer, in one sentence and up to five actions, computed once.

:func:`judge` reads the week's findings, the coverage of each kind of data and each finding's status against last
week, and returns a :class:`Verdict`: the sentence ("2 administrator password resets, a password-reset spike and 4
leaked passwords not changed need you this week", or "Nothing needs you this week"), the number of findings per
severity, and the top actions, most urgent first. The review carries it (``Review.verdict``), findings.json writes
it as ``verdict``, and the weekly report, the e-mail and the terminal summary render that same object.

- **Data first.** When a kind of data is not complete (:meth:`~sspr_review.core.coverage.Coverage.state` is
  anything but "complete": missing, partial, approximate, or a state a source adds later), the sentence opens
  with it ("Audit data missing: this verdict is incomplete.") and the week is never called quiet.
- **Actions.** Findings are grouped by kind and severity (a group, like a roll-up, counts as one entry); info
  findings are never actions. Groups are ordered by severity, then by :data:`URGENCY` (administrators'
  accounts before a burst of resets, leaked passwords before blocked users...). Each says who or what (the
  finding's title, or the group's count in words, with the first users), what to do in one short sentence,
  whether it is new or continuing, and the anchor of its detail in the weekly report (:func:`anchor`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..core.coverage import Coverage
from ..core.labels import FINDING_NOUNS, humanise, label
from ..core.vocabulary import SEVERITIES
from ..core.wording import capitalised, count, shorten, words_list
from .model import KINDS, Finding

__all__ = ["TOP_ACTIONS", "Action", "DataIssue", "Verdict", "anchor", "judge", "phrase", "urgency"]

#: At most this many top actions.
TOP_ACTIONS: Final = 5
#: At most this many groups named in the sentence (the rest counted).
NAMED_IN_SENTENCE: Final = 3
#: At most this many users named per action (the rest counted).
USERS_NAMED: Final = 3
#: Severities that need the reviewer this week.
URGENT: Final = ("critical", "high")
#: Within a severity, which kind comes first: the data, then privileged accounts, a burst, passwords known to
#: have leaked, the SSPR configuration weakened, takeover signals, blocked users, then the helpdesk, writeback,
#: registration and the configuration's posture. A kind not listed (a new rule) comes after these, in the report's
#: order (:data:`~.model.KINDS`); a kind without its words in :data:`DO` says the first sentence of its action.
URGENCY: Final = (
    "data_gap",
    "admin_password_reset",
    "reset_spike",
    "leaked_credentials_unremediated",
    "sspr_policy_changed",
    "password_writeback_disabled",
    "security_info_changed_after_reset",
    "blocked_user",
    "phone_only_reset_new_ip",
    "helpdesk_reset",
    "writeback_failure",
    "registration_gap",
    "configuration_gap",
)

#: What to do, in one short sentence, per kind: (for one finding, for several). The finding's own ``action`` says
#: it in full in the detail the action links to.
DO: Final[Mapping[str, tuple[str, str]]] = {
    "data_gap": (
        "Fix this data source, then run the review again; until then read its numbers as unknown",
        "Fix these data sources, then run the review again; until then read their numbers as unknown",
    ),
    "reset_spike": (
        "Check these accounts' sign-ins since the resets and ask a sample of the users whether they reset",
        "Check these accounts' sign-ins since the resets and ask a sample of the users whether they reset",
    ),
    "leaked_credentials_unremediated": (
        "Have the user change their password now, then check their sign-ins since the detection",
        "Have these users change their passwords now, then check their sign-ins since the detection",
    ),
    "security_info_changed_after_reset": (
        "Confirm the change with the user through a known channel; if it was not them, remove the method",
        "Confirm each change with its user through a known channel; if it was not them, remove the method",
    ),
    "phone_only_reset_new_ip": (
        "Confirm the reset with the user through a channel other than that phone",
        "Confirm each reset with its user through a channel other than that phone",
    ),
    "admin_password_reset": (
        "Confirm through a known channel that the administrator made this reset",
        "Confirm through a known channel that each administrator made their reset",
    ),
    "helpdesk_reset": (
        "Ask the helpdesk why self-service or a Temporary Access Pass was not used",
        "Ask the helpdesk why self-service or a Temporary Access Pass was not used",
    ),
    "leaked_credentials_remediated": (
        "Nothing to do: close the detection if Identity Protection has not",
        "Nothing to do: close the detections if Identity Protection has not",
    ),
}
_BLOCKED_DO: Final = {
    "urgent": (
        "Verify the person through a known channel before helping; issue a Temporary Access Pass, not a reset",
        "Verify each person through a known channel before helping; issue Temporary Access Passes, not resets",
    ),
    "help": (
        "Help the user register enough SSPR methods",
        "Help these users register enough SSPR methods",
    ),
}
_WRITEBACK_DO: Final = {
    "writeback_disabled": "Enable password writeback for these users (Entra Connect or Cloud Sync)",
    "agent_unreachable": "Check that the Entra Connect server or Cloud Sync agent is running and reaches Microsoft",
    "ad_refused": "Check the AD connector account's reset-password permissions on the users' OUs",
    "cloud_update_failed": "Check the sync service's logs: these users' on-premises and cloud passwords differ",
}
_BLOCKED_URGENT_NOUNS: Final = ("a blocked user who may be under attack", "blocked users who may be under attack")


@dataclass(frozen=True)
class DataIssue:
    """A kind of data not complete for the week: its ``state`` (:meth:`Coverage.state`) and why."""

    kind: str
    state: str
    reason: str | None

    @property
    def words(self) -> str:
        """ "audit data missing", "registration data approximate"."""
        return f"{label('data_kind', self.kind)} data {label('coverage_state', self.state)}"


@dataclass(frozen=True)
class Action:
    """One top action: who or what (``headline`` and the first ``users``), what to do (``do``), how urgent
    (``severity``), whether it is new (``status``), and where its detail is (``anchor``); ``fingerprints`` are
    the findings it stands for."""

    kind: str
    severity: str
    headline: str
    users: tuple[str, ...]
    more_users: int
    do: str
    anchor: str
    status: str
    fingerprints: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.fingerprints)


@dataclass(frozen=True)
class Verdict:
    """The week's verdict (see the module docstring). ``quiet`` is true only when nothing critical or high was
    found and every kind of data is complete."""

    sentence: str
    caveat: str | None
    quiet: bool
    counts: Mapping[str, int]
    actions: tuple[Action, ...]
    data_issues: tuple[DataIssue, ...]

    @property
    def urgent(self) -> int:
        """The number of critical and high findings."""
        return sum(self.counts.get(s, 0) for s in URGENT)

    def to_dict(self) -> dict[str, Any]:
        """findings.json's ``verdict`` (docs/findings-json.md)."""
        return {
            "sentence": self.sentence,
            "caveat": self.caveat,
            "quiet": self.quiet,
            "counts": {s: int(self.counts.get(s, 0)) for s in SEVERITIES},
            "data_issues": [{"kind": i.kind, "state": i.state, "reason": i.reason} for i in self.data_issues],
            "actions": [
                {
                    "kind": a.kind,
                    "severity": a.severity,
                    "headline": a.headline,
                    "users": list(a.users),
                    "more_users": a.more_users,
                    "do": a.do,
                    "anchor": a.anchor,
                    "status": a.status,
                    "fingerprints": list(a.fingerprints),
                }
                for a in self.actions
            ],
        }

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> Verdict:
        """A verdict read back from findings.json (the e-mail renders it)."""
        return cls(
            sentence=str(item.get("sentence", "")),
            caveat=None if item.get("caveat") is None else str(item["caveat"]),
            quiet=bool(item.get("quiet", False)),
            counts={str(k): int(v) for k, v in dict(item.get("counts") or {}).items()},
            actions=tuple(
                Action(
                    kind=str(a.get("kind", "")),
                    severity=str(a.get("severity", "")),
                    headline=str(a.get("headline", "")),
                    users=tuple(str(u) for u in a.get("users", ())),
                    more_users=int(a.get("more_users", 0)),
                    do=str(a.get("do", "")),
                    anchor=str(a.get("anchor", "")),
                    status=str(a.get("status") or ""),
                    fingerprints=tuple(str(f) for f in a.get("fingerprints", ())),
                )
                for a in item.get("actions", ())
            ),
            data_issues=tuple(
                DataIssue(str(i.get("kind", "")), str(i.get("state", "")), i.get("reason"))
                for i in item.get("data_issues", ())
            ),
        )


def anchor(kind: str) -> str:
    """The id of a finding kind's detail in the weekly report ("finding-leaked-credentials-unremediated")."""
    return "finding-" + kind.replace("_", "-")


def judge(
    findings: Sequence[Finding],
    coverage: Mapping[str, Coverage],
    status: Callable[[Finding], str | None] = lambda _: None,
) -> Verdict:
    """The verdict of a week's ``findings`` (sorted or not) under ``coverage``; ``status`` says "new" or
    "continuing" of a finding (``None`` without a comparison)."""
    issues = tuple(
        DataIssue(kind, cov.state(), cov.reason) for kind, cov in coverage.items() if cov.state() != "complete"
    )
    groups = _groups(findings)
    urgent = [g for g in groups if g[0].severity in URGENT]
    caveat = _caveat(issues)
    main = _sentence(urgent, [g for g in groups if g[0].severity not in URGENT], caveat is not None)
    return Verdict(
        sentence=f"{caveat} {main}" if caveat else main,
        caveat=caveat,
        quiet=not urgent and not issues,
        counts={s: sum(1 for f in findings if f.severity == s) for s in SEVERITIES},
        actions=tuple(_action(g, status) for g in groups[:TOP_ACTIONS]),
        data_issues=issues,
    )


def _groups(findings: Sequence[Finding]) -> list[list[Finding]]:
    """The findings that need doing (info left out) by kind and severity, most urgent first."""
    grouped: dict[tuple[str, str], list[Finding]] = {}
    for f in findings:
        if f.severity != "info":
            grouped.setdefault((f.kind, f.severity), []).append(f)

    return [grouped[key] for key in sorted(grouped, key=lambda key: urgency(*key))]


def urgency(kind: str, severity: str) -> tuple[int, int, int]:
    """How urgent a group of findings of ``kind`` and ``severity`` is, as a sort key (most urgent first):
    severity, then :data:`URGENCY`, then the report's order of kinds."""
    listed = URGENCY.index(kind) if kind in URGENCY else len(URGENCY)
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES), listed, kind_order(kind)


def kind_order(kind: str) -> int:
    """A kind's place in the report's order (:data:`~.model.KINDS`; an unknown kind last)."""
    return KINDS.index(kind) if kind in KINDS else len(KINDS)


def _caveat(issues: Sequence[DataIssue]) -> str | None:
    """ "Audit data missing: this verdict is incomplete." (approximate snapshots only: it rests on older ones)."""
    if not issues:
        return None
    what = capitalised(words_list([i.words for i in issues]))
    if all(i.state == "approximate" for i in issues):
        return f"{what}: this verdict rests on a snapshot far from the week's end."
    return f"{what}: this verdict is incomplete."


def _noun(kind: str, severity: str) -> tuple[str, str]:
    if kind == "blocked_user" and severity in URGENT:
        return _BLOCKED_URGENT_NOUNS
    words = humanise(kind)
    return FINDING_NOUNS.get(kind, (f"a {words} finding", f"{words} findings"))


def phrase(kind: str, severity: str, n: int) -> str:
    """``n`` findings of ``kind`` and ``severity`` in words: "a password-reset spike", "3 blocked users who may be
    under attack", "4 leaked passwords not changed"."""
    one, many = _noun(kind, severity)
    return one if n == 1 else f"{n:,} {many}"


def _phrase(group: Sequence[Finding]) -> str:
    return phrase(group[0].kind, group[0].severity, len(group))


def _sentence(urgent: list[list[Finding]], other: list[list[Finding]], caveat: bool) -> str:
    """The sentence after the caveat: what needs the reviewer, or that nothing does."""
    urgent = [g for g in urgent if g[0].kind != "data_gap"]  # the caveat says it
    if urgent:
        phrases = [_phrase(g) for g in urgent[:NAMED_IN_SENTENCE]]
        rest = sum(len(g) for g in urgent[NAMED_IN_SENTENCE:])
        if rest:
            phrases.append(count(rest, "other urgent finding"))
        single = len(phrases) == 1 and len(urgent[0]) == 1
        return f"{capitalised(words_list(phrases))} {'needs' if single else 'need'} you this week."
    if caveat:
        return "Nothing urgent was found in the data there is, but the week cannot be called quiet."
    if other:
        phrases = [_phrase(g) for g in other[:2]]
        rest = sum(len(g) for g in other[2:])
        if rest:
            phrases.append(count(rest, "other finding"))
        return f"Nothing urgent this week: {words_list(phrases)} to look at when you can."
    return "Nothing needs you this week."


def _do(group: Sequence[Finding]) -> str:
    """What to do about a group, in one short sentence."""
    first, many = group[0], len(group) > 1
    if first.kind == "blocked_user":
        return _BLOCKED_DO["urgent" if first.severity in URGENT else "help"][many]
    if first.kind == "writeback_failure":
        causes = {str(f.evidence.get("cause", "")) for f in group}
        if len(causes) == 1 and (cause := causes.pop()) in _WRITEBACK_DO:
            return _WRITEBACK_DO[cause]
        return "Fix password writeback on-premises: each cause's remedy is in the detail"
    if first.kind == "sspr_policy_changed" and many and first.severity in URGENT:
        who = words_list(sorted({u for f in group for u in f.users})) or "whoever made them"
        return f"Confirm with {who}, through a known channel, that these changes were intended; if not, restore them"
    if first.kind == "registration_gap":
        if first.evidence.get("admins_not_capable"):
            return "Have the administrators register SSPR methods now, then run a registration campaign"
        return "Run a registration campaign (registration required at sign-in) for the users not yet capable"
    known = DO.get(first.kind)
    if known is not None:
        return known[many]
    sentence = first.action.split(". ")[0].rstrip(".")
    return shorten(sentence, 120)


def _action(group: Sequence[Finding], status: Callable[[Finding], str | None]) -> Action:
    first = group[0]
    many = _noun(first.kind, first.severity)[1]
    users: list[str] = []
    if first.kind not in ("data_gap", "registration_gap"):
        users = list(dict.fromkeys(u for f in group for u in f.users))
    tally = Counter(s for s in (status(f) for f in group) if s)
    return Action(
        kind=first.kind,
        severity=first.severity,
        headline=first.title if len(group) == 1 else f"{len(group):,} {many}",
        users=tuple(users[:USERS_NAMED]),
        more_users=max(0, len(users) - USERS_NAMED),
        do=_do(group),
        anchor=anchor(first.kind),
        status=", ".join(f"{tally[s]} {s}" for s in ("new", "continuing") if tally[s])
        if len(group) > 1
        else (status(first) or ""),
        fingerprints=tuple(f.fingerprint for f in group),
    )
