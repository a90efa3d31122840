"""The findings model: :class:`Finding`, the finding kinds, :class:`Rule`, fingerprints, and findings as JSON.

A finding is what the reviewer should look at; its severity is one of :data:`sspr_review.core.vocabulary.SEVERITIES`.
The rules live in modules by family (:mod:`.rules_resets`, :mod:`.rules_blocked`, :mod:`.rules_leaked`,
:mod:`.rules_writeback`, :mod:`.rules_registration`, :mod:`.takeover`, :mod:`.rules_policy`), registered in
:data:`.registry.RULES`; :mod:`.compare` matches a week's findings with the week before by fingerprint.

Fingerprints
------------
``fingerprint`` is the first 16 hex digits of the SHA-256 of the kind and the parts that identify *the situation*
(lower-cased, joined with a unit separator), chosen so that the same situation next week compares as
"continuing" and a fixed one as "resolved":

============================== ===============================================================================
kind                           identifying parts
============================== ===============================================================================
reset_spike                    the UTC hour of the spike's first reset (re-running the week gives the same one)
blocked_user                   the user (object id, else UPN): a user blocked again next week is continuing
leaked_credentials_*           the user and the detection id: the detection stays open until fixed
admin_password_reset           the user: an administrator reset again next week is continuing
helpdesk_reset                 the user
writeback_failure              the cause (:data:`~.rules_writeback.WRITEBACK_CAUSES`, a stable, finite set)
registration_gap               nothing but the kind: one per tenant, continuing until coverage is met
security_info_changed_*        the user and the reset (kind and UTC time); see :mod:`.takeover`
phone_only_reset_new_ip        the user and the reset (flow and UTC time); see :mod:`.takeover`
sspr_policy_changed            the audit event and the setting; see :mod:`.rules_policy`
password_writeback_disabled    the audit event
configuration_gap              nothing but the kind: one per tenant, continuing while a deviation persists
data_gap                       the source
============================== ===============================================================================
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ..core.settings import AnalysisSettings
from ..core.vocabulary import SEVERITIES
from ._util import as_datetime, iso, plain
from .prepare import ReviewData
from .reads import Reads
from .window import ReviewWindow

__all__ = [
    "KINDS",
    "SEVERITIES",
    "Finding",
    "Rule",
    "finding_from_dict",
    "finding_to_dict",
    "fingerprint",
    "sort_findings",
]

#: Finding kinds, in report order.
KINDS: Final = (
    "data_gap",
    "reset_spike",
    "blocked_user",
    "leaked_credentials_unremediated",
    "security_info_changed_after_reset",
    "phone_only_reset_new_ip",
    "sspr_policy_changed",
    "password_writeback_disabled",
    "admin_password_reset",
    "helpdesk_reset",
    "writeback_failure",
    "registration_gap",
    "configuration_gap",
    "leaked_credentials_remediated",
)


@dataclass(frozen=True)
class Finding:
    """One thing the reviewer should look at.

    ``users`` are UPNs (object ids when the UPN is unknown); ``start``/``end`` the time span of the evidence
    (UTC); ``evidence`` a JSON-ready dictionary; ``action`` what to do, in one or two sentences;
    ``fingerprint`` identifies the situation across reviews (see the module docstring).
    """

    kind: str
    severity: str
    title: str
    users: tuple[str, ...]
    start: datetime | None
    end: datetime | None
    evidence: dict[str, Any]
    action: str
    fingerprint: str

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {SEVERITIES}")
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {KINDS}")


def fingerprint(kind: str, *parts: object) -> str:
    """Stable id of a situation: SHA-256 of the kind and identifying parts (first 16 hex digits).

    >>> fingerprint("data_gap", "risk") == fingerprint("data_gap", "RISK")
    True
    """
    text = "\x1f".join([kind, *(str(p).strip().lower() for p in parts)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def sort_findings(findings: Iterable[Finding]) -> tuple[Finding, ...]:
    """Most severe first; then by kind (report order), start time and title."""

    def key(f: Finding) -> tuple[int, int, float, str]:
        start = f.start.timestamp() if f.start is not None else float("-inf")
        return (SEVERITIES.index(f.severity), KINDS.index(f.kind), start, f.title)

    return tuple(sorted(findings, key=key))


@dataclass(frozen=True)
class Rule:
    """A rule and its sources: every group in ``requires`` needs one complete source; ``uses`` are optional
    sources whose absence weakens the rule; ``reads`` what it reads of the time-ranged kinds outside the week it
    reviews (:class:`~.reads.Reads`: the review reads the store for that and no more)."""

    kind: str
    function: Callable[[ReviewData, ReviewWindow, AnalysisSettings], list[Finding]]
    requires: tuple[tuple[str, ...], ...]
    uses: tuple[str, ...] = field(default=())
    reads: tuple[Reads, ...] = field(default=())


def finding_to_dict(finding: Finding) -> dict[str, Any]:
    """A finding as a JSON-ready dictionary (the ``findings`` items of findings.json, without ``status``)."""
    return {
        "kind": finding.kind,
        "severity": finding.severity,
        "title": finding.title,
        "users": list(finding.users),
        "start": iso(finding.start),
        "end": iso(finding.end),
        "evidence": plain(finding.evidence),
        "action": finding.action,
        "fingerprint": finding.fingerprint,
    }


def finding_from_dict(item: Mapping[str, Any]) -> Finding:
    """A finding read back from findings.json (for :func:`compare` with last week's file)."""
    return Finding(
        kind=str(item["kind"]),
        severity=str(item["severity"]),
        title=str(item.get("title", "")),
        users=tuple(str(u) for u in item.get("users", ())),
        start=as_datetime(item.get("start")),
        end=as_datetime(item.get("end")),
        evidence=dict(item.get("evidence") or {}),
        action=str(item.get("action", "")),
        fingerprint=str(item["fingerprint"]),
    )
