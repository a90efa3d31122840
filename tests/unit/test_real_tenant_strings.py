"""Strings real tenants log that the documentation does not (issue 22, point 3).

- ``OnPremisesSuccessCloudFailure`` is logged with result *success* (MicrosoftDocs/entra-docs #694): Active
  Directory took the new password, the cloud did not, so the user's two passwords now differ. It is its own
  outcome, ``cloud_password_rejected``, counted in the writeback family with its own remedy; never a completed reset
  or change, never a plain writeback failure.
- ``OnPremisesConnectivtyFailure`` (sic, from a tenant's alert query) is a connectivity failure.
- "User completed the mobile app code verification option" is a verified app-code gate.
- "None" as the reason of a successful self-service change is no reason.
"""

from __future__ import annotations

import pandas as pd

from sspr_review.analysis import (
    METRIC_SPECS,
    AnalysisSettings,
    classify_reasons,
    completed_resets,
    find_leaked_credentials_remediated,
    find_writeback_failures,
    flows,
    prepare,
    window_metrics,
)
from sspr_review.analysis.flows import unrecognised_reasons
from tests.support.analysis import (
    CHANGE,
    SSPR_RESET,
    WINDOW,
    audit,
    coverage,
    ev,
    reg_row,
    registration,
    risk,
    risk_row,
    step,
    t,
)

S = AnalysisSettings()
SPLIT = "OnPremisesSuccessCloudFailure"


def _split_reset(user: str, corr: str, when: str = "2d") -> list[dict[str, object]]:
    """An SSPR flow whose reset Active Directory took and the cloud refused: every event logged as success."""
    at = t(when)
    return [
        step(at - pd.Timedelta("3min"), user, "User submitted their user ID", corr),
        step(at - pd.Timedelta("2min"), user, "User started the mobile app code verification option", corr),
        step(at - pd.Timedelta("1min"), user, "User completed the mobile app code verification option", corr),
        step(at, user, SPLIT, corr),
        ev(SSPR_RESET, at, user, corr=corr, reason=SPLIT),
    ]


def test_a_split_reset_is_no_completed_reset_but_its_own_outcome() -> None:
    table = flows(audit(_split_reset("hybrid", "f1"))).table
    assert table["end_state"].tolist() == ["cloud_password_rejected"]
    assert table["completed"].tolist() == [False]
    assert table["methods_verified"].tolist() == ["app_code"]
    assert completed_resets(table).empty


def test_the_reset_event_alone_with_success_is_no_completed_reset() -> None:
    """Only the "Reset password (self-service)" event carries the code, logged as success."""
    table = flows(audit([ev(SSPR_RESET, t("2d"), "hybrid", corr="f2", reason=SPLIT)])).table
    assert table["completed"].tolist() == [False]
    assert table["end_state"].tolist() == ["cloud_password_rejected"]


def test_a_split_reset_is_in_the_writeback_family_with_its_own_remedy() -> None:
    rows = [
        *_split_reset("hybrid", "f1"),
        step(t("3d"), "other", "OnPremisesConnectivityError", "f3"),
        ev(CHANGE, t("4d"), "changer", reason=SPLIT),  # a self-service change, logged as success
    ]
    found = find_writeback_failures(prepare({"audit": audit(rows)}), WINDOW, S)
    by_cause = {f.evidence["cause"]: f for f in found}
    assert set(by_cause) == {"cloud_password_rejected", "agent_unreachable"}
    split = by_cause["cloud_password_rejected"]
    assert split.users == ("changer@contoso.com", "hybrid@contoso.com")
    assert split.evidence["attempts"] == 2  # one flow, one change outside a flow
    assert "differ" in split.title and "cloud" in split.action.lower()
    assert "banned" in split.evidence["remedy"].lower() and "password policy" in split.evidence["remedy"].lower()
    assert split.fingerprint != by_cause["agent_unreachable"].fingerprint


def test_a_split_change_is_no_password_change_and_no_remediation() -> None:
    """The cloud password did not change: a leaked credential is not remediated by it, and the week's password
    changes and resets do not count it; the writeback failures do."""
    rows = [*_split_reset("leaky", "f1"), ev(CHANGE, t("3d"), "leaky", reason=SPLIT)]
    tables = {
        "audit": audit(rows),
        "risk": risk(risk_row("leaky", t("1d"), det_id="det-1")),
        "registration": registration(reg_row("leaky")),
    }
    data = prepare(tables, S, coverage=coverage())
    assert find_leaked_credentials_remediated(data, WINDOW, S) == []
    metrics = window_metrics(data, WINDOW, S)
    assert {"sspr_resets", "password_changes", "writeback_failures"} <= {m.name for m in METRIC_SPECS}
    assert metrics["sspr_resets"].value == 0
    assert metrics["password_changes"].value == 0
    assert metrics["writeback_failures"].value == 2


def test_the_misspelt_connectivity_code_is_a_connectivity_failure() -> None:
    rows = [
        step(t("1d"), "a", "OnPremisesConnectivtyFailure", "w1"),
        step(t("1d 1h"), "b", "OnPremisesConnectivityError", "w2"),
    ]
    (found,) = find_writeback_failures(prepare({"audit": audit(rows)}), WINDOW, S)
    assert found.evidence["cause"] == "agent_unreachable" and found.evidence["attempts"] == 2


def test_the_app_code_gate_is_verified() -> None:
    row = classify_reasons(pd.Series(["User completed the mobile app code verification option"])).iloc[0]
    assert (row["stage"], row["method"], row["end_state"], bool(row["recognised"])) == (
        "gate_verified",
        "app_code",
        "in_progress",
        True,
    )


def test_none_is_no_reason() -> None:
    """A successful change logged with the reason "None" is a change, and no reason to classify; a failed one
    with "None" is a failure without a reason, not an unrecognised text."""
    rows = [ev(CHANGE, t("1d"), "a", reason="None"), ev(CHANGE, t("2d"), "b", reason="None", result="failure")]
    data = prepare({"audit": audit(rows), "registration": registration(reg_row("a"))}, S, coverage=coverage())
    assert unrecognised_reasons(data.audit, data.events).empty
    assert window_metrics(data, WINDOW, S)["password_changes"].value == 1
