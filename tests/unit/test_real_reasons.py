"""Real SSPR strings and the meaning their sources give them (tests/data/real-world-reasons.tsv, a copy of the
project's reference list: Microsoft's SSPR Reset Funnel workbook, Microsoft's documentation, public hunting queries
and a real tenant record). Each resultReason must be classified consistently with every meaning given to it.

The meanings are mapped onto the kit's vocabulary (stage, method, end state) by the rules in :data:`MEANINGS`, in
order, the first matching one applies; a meaning no rule covers fails the test, so a new row in the list needs a
decision here.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pandas as pd
import pytest

from sspr_review.analysis import (
    AnalysisSettings,
    classify_reasons,
    completed_resets,
    find_leaked_credentials_remediated,
    find_leaked_credentials_unremediated,
    find_writeback_failures,
    flows,
    prepare,
)
from sspr_review.core.reason_rules import NO_REASON
from tests.support.analysis import CHANGE, UNLOCK, WINDOW, audit, ev, risk, risk_row, step, t

TSV: Final = Path(__file__).parents[1] / "data" / "real-world-reasons.tsv"

FAILED: Final = frozenset(
    {"failed_configuration", "failed_writeback", "banned_password", "failed_password_policy", "failed_system"}
)
#: Method names the sources use for a gate -> the kit's methods.
GATE_METHOD: Final[Mapping[str, frozenset[str]]] = {
    "email": frozenset({"email"}),
    "sms": frozenset({"sms"}),
    "mobile call": frozenset({"voice"}),
    "voice": frozenset({"voice"}),
    "mobile app notification": frozenset({"app_notification"}),
    "mobile app": frozenset({"app_notification", "app_code"}),  # the workbook's "Mobile app gate verified"
    "authenticator app": frozenset({"app_notification", "app_code"}),
    "security questions": frozenset({"security_questions"}),
}

Expect = dict[str, frozenset[str | None]]


def _e(**values: str | frozenset[str] | None) -> Expect:
    return {k: v if isinstance(v, frozenset) else frozenset({v}) for k, v in values.items()}


#: (regular expression over the meaning, alternatives: the classification must satisfy one of them).
#: ``"method": "<gate>"`` takes the method from the expression's group ``gate`` through :data:`GATE_METHOD`.
MEANINGS: Final[list[tuple[str, list[Expect]]]] = [
    # SSPR Reset Funnel workbook: ResetStatus=...; Stage=...
    (
        r"ResetStatus=Success;",
        [_e(stage="completed", end_state="completed"), _e(end_state="unlocked")],  # an unlock is no reset
    ),
    (r"ResetStatus=Cancelled;", [_e(end_state="cancelled")]),
    (r"ResetStatus=Failed;", [_e(end_state=FAILED)]),
    (r"ResetStatus=Throttled;", [_e(end_state="throttled")]),
    (r"ResetStatus=Initiated reset;", [_e(stage="started", end_state="in_progress")]),
    (r"ResetStatus=Submitted Password;", [_e(stage="new_password_submitted", end_state="in_progress")]),
    (r"ResetStatus=Contacted Admin;", [_e(end_state="contacted_admin")]),
    (r"ResetStatus=All gates verified;", [_e(stage="all_gates_verified", end_state="in_progress")]),
    (r"ResetStatus=(?P<gate>.+) gate verified;", [_e(stage="gate_verified", method="<gate>", end_state="in_progress")]),
    (r"ResetStatus=(?P<gate>.+) gate started;", [_e(stage="gate_started", method="<gate>", end_state="in_progress")]),
    (r"ResetStatus=Started Gate verification;", [_e(stage="started", end_state="in_progress")]),
    # The classic portal's password reset activity report: Result Type=...
    (r"Result Type=Abandoned", [_e(end_state="abandoned")]),
    (r"Result Type=Blocked", [_e(end_state="throttled")]),
    (r"Result Type=Cancelled", [_e(end_state="cancelled")]),
    (r"Result Type=Contacted admin", [_e(end_state="contacted_admin")]),
    (r"Result Type=Failed", [_e(end_state=FAILED)]),
    (r"Result Type=Succeeded", [_e(stage="completed", end_state="completed")]),
    # Entra documentation: audit failure reasons and the troubleshooting page's error names and codes
    (r"banned password", [_e(end_state="banned_password")]),
    (r"does not meet on-prem AD policy", [_e(end_state="failed_password_policy")]),
    (
        r"SSPR disabled for the organisation|no password reset policy|licence missing|user not in SSPR group"
        r"|additional security info needed",
        [_e(end_state="failed_configuration")],
    ),
    # AD took the new password, the cloud refused it (logged as success): the passwords differ (issue 22)
    (r"cloud write failed|passwords differ", [_e(end_state="cloud_password_rejected")]),
    (
        r"password writeback not enabled|on-prem configuration error|on-prem connectivity",
        [_e(end_state="failed_writeback")],
    ),
    # Hunting queries
    (r"successful 'Unlock user account", [_e(end_state="unlocked")]),
    (
        r"successful 'Reset password|has-match: successful reset|flows without it counted as failed"
        r"|successful flow progress|Reset password \(by admin\), success",
        [_e(stage="completed", end_state="completed")],
    ),
    (r"failing to set a new password", [_e(stage="new_password_submitted")]),
    (r"lack of methods|not registered for SSPR", [_e(end_state="failed_configuration")]),
    (r"flows that stop here", [_e(stage="started", end_state="in_progress")]),
    (r"optional reconnaissance signal", [{}]),  # says why it is watched, not what it is: recognised is enough
    (
        r"^(?P<gate>SMS|voice|security questions|email|authenticator app) gate",
        [_e(stage=frozenset({"gate_started", "gate_verified"}), method="<gate>")],
    ),
    # A real tenant's record, and an unverified lab table
    (r"result failure, OnPremisesAgent", [_e(end_state="failed_writeback")]),
    (r"Change password \(self-service\) failure", [_e(end_state=FAILED)]),
    (r"flow progress, success", [_e(end_state="in_progress")]),
    (r"flow progress, failure", [_e(end_state=FAILED)]),
]


def _rows() -> list[dict[str, str]]:
    with TSV.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


def _reasons() -> dict[str, list[str]]:
    """Each distinct resultReason with the meanings its sources give."""
    out: dict[str, list[str]] = {}
    for row in _rows():
        if row["kind"] == "resultReason":
            out.setdefault(row["string"], []).append(row["meaning"])
    return out


def expectations(meaning: str) -> list[Expect]:
    """The classifications consistent with ``meaning`` (the first rule of :data:`MEANINGS` that matches)."""
    for expression, alternatives in MEANINGS:
        found = re.search(expression, meaning, re.IGNORECASE)
        if found is None:
            continue
        gate = found.groupdict().get("gate")
        resolved = []
        for alternative in alternatives:
            resolved.append(
                {
                    k: (GATE_METHOD[str(gate).lower()] if v == frozenset({"<gate>"}) else v)
                    for k, v in alternative.items()
                }
            )
        return resolved
    raise AssertionError(f"no rule in MEANINGS maps the meaning {meaning!r} onto the kit's vocabulary")


def test_the_fixture_is_the_reference_list() -> None:
    """The reference list, and four strings real tenants log that it lacked (issue 22)."""
    rows = _rows()
    assert len(rows) == 165
    assert {r["kind"] for r in rows} == {"activity", "resultReason"}
    assert len(_reasons()) == 83
    spaced = "User's account has insufficient authentication methods defined. Add authentication info to resolve this "
    assert spaced in _reasons()  # the trailing space survives


REASONS = _reasons()
#: Texts whose sources say they are no reason at all: the analyses treat them as no reason given.
NO_REASON_TEXTS = sorted(r for r, meanings in REASONS.items() if any(m.startswith("no reason") for m in meanings))


def test_no_reason_is_no_reason() -> None:
    assert NO_REASON_TEXTS == ["None"]
    assert all(text.strip().lower() in NO_REASON for text in NO_REASON_TEXTS)


@pytest.mark.parametrize("reason", sorted(set(REASONS) - set(NO_REASON_TEXTS)), ids=lambda s: s[:70])
def test_every_real_reason_is_classified_as_its_sources_say(reason: str) -> None:
    row = classify_reasons(pd.Series([reason], dtype="string")).iloc[0]
    got = {k: (None if pd.isna(row[k]) else str(row[k])) for k in ("stage", "method", "end_state")}
    assert bool(row["recognised"]), f"{reason!r} is not recognised (classified as {got})"
    for meaning in REASONS[reason]:
        alternatives = expectations(meaning)
        assert any(all(got[k] in allowed for k, allowed in alt.items()) for alt in alternatives), (
            f"{reason!r} is classified {got}, but its source says {meaning!r}"
        )


def test_an_unlock_is_no_reset_and_no_remediation() -> None:
    """The workbook counts "User successfully unlocked the account" as a success: the flow succeeded, but the
    password did not change, so it is neither a completed reset nor a leaked-credentials remediation."""
    rows = [
        step(t("1d"), "leaky", "User submitted their user ID", "u1"),
        step(t("1d 1min"), "leaky", "User started the mobile app", "u1"),
        step(t("1d 2min"), "leaky", "User completed the mobile app", "u1"),
        step(t("1d 3min"), "leaky", "User successfully unlocked the account", "u1"),
        ev(UNLOCK, t("1d 3min"), "leaky", corr="u1"),
    ]
    tables = {"audit": audit(rows), "risk": risk(risk_row("leaky", t("-4d"), det_id="det-1"))}
    table = flows(tables["audit"]).table
    assert table["end_state"].tolist() == ["unlocked"]
    assert table["completed"].tolist() == [False]
    assert table["methods_verified"].tolist() == ["app_notification"]
    assert completed_resets(table).empty
    data = prepare(tables)
    settings = AnalysisSettings()
    assert find_leaked_credentials_remediated(data, WINDOW, settings) == []
    unremediated = find_leaked_credentials_unremediated(data, WINDOW, settings)
    assert [f.evidence["detection_id"] for f in unremediated] == ["det-1"]


def test_the_real_writeback_record_is_a_cloud_update_failure() -> None:
    """The real tenant's failed password change: on-premises ChangeSuccess, cloud Unknown."""
    reason = "On-premises operation result: ChangeSuccess. Cloud operation result: Unknown"
    rows = [ev(CHANGE, t("2d"), "hybrid", result="failure", reason=reason, on_premises_agent="AADConnect")]
    found = find_writeback_failures(prepare({"audit": audit(rows)}), WINDOW, AnalysisSettings())
    assert [f.evidence["cause"] for f in found] == ["cloud_update_failed"]
    assert found[0].evidence["reasons"] == [reason]
