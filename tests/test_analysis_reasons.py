from __future__ import annotations

import pandas as pd
import pytest

from sspr_review.analysis import METHODS, classify_reasons, reason_rules
from sspr_review.analysis.reasons import parse_rules

GATE_METHODS = {
    "email": "email",
    "mobile SMS": "sms",
    "mobile voice call": "voice",
    "office voice call": "office_phone",
    "mobile app notification": "app_notification",
    "mobile app code": "app_code",
    "security questions": "security_questions",
}

# (reason as seen in real tenants / Microsoft's list, stage, method, end_state)
EXAMPLES = [
    ("User submitted their user ID", "started", None, "in_progress"),
    ("User was presented with verification options", "started", None, "in_progress"),
    ("User completed all verification steps required", "all_gates_verified", None, "in_progress"),
    ("User submitted a new password", "new_password_submitted", None, "in_progress"),
    ("User successfully reset password", "completed", None, "completed"),
    ("Successfully completed reset.", "completed", None, "completed"),
    ("User abandoned after completing the email verification option", None, "email", "abandoned"),
    ("User abandoned before passing the required authentication methods", None, None, "abandoned"),
    ("User abandoned while on the verification page", None, None, "abandoned"),
    ("User cancelled before passing the required authentication methods", None, None, "cancelled"),
    ("User canceled before passing the required authentication methods", None, None, "cancelled"),
    ("User contacted an admin after trying the email verification option", None, "email", "contacted_admin"),
    ("User entered too many invalid SMS verification codes and is blocked for 24 hours", None, "sms", "throttled"),
    (
        "User tried the mobile voice call verification option too many times and is blocked for 24 hours",
        None,
        "voice",
        "throttled",
    ),
    ("Password reset is not enabled for this user. Enable password reset", None, None, "failed_configuration"),
    ("User does not have a license. Add a license", None, None, "failed_configuration"),
    (
        "User's account has insufficient authentication methods defined. Add authentication info to resolve this ",
        None,
        None,
        "failed_configuration",
    ),
    ("This user is not a member of the password reset users group. Add them", None, None, "failed_configuration"),
    (
        "Password reset has been disabled entirely for this tenant. See here to resolve",
        None,
        None,
        "failed_configuration",
    ),
    ("User tried to reset from a device without cookies enabled", None, None, "failed_configuration"),
    (
        "User's password is managed on-premises. You can enable Password Writeback to reset it",
        None,
        None,
        "failed_writeback",
    ),
    (
        "We could not reach your on-premises password reset service. Check your sync machine",
        None,
        None,
        "failed_writeback",
    ),
    (
        "We encountered a problem while resetting the user's on-premises password. Check the logs",
        None,
        None,
        "failed_writeback",
    ),
    ("OnPremisesAdminActionRequired", None, None, "failed_writeback"),
    ("OnPremisesConnectivityError", None, None, "failed_writeback"),
    ("OnPremisesSuccessCloudFailure", None, None, "failed_writeback"),
    ("FuzzyPolicyViolationInvalidPassword", None, None, "banned_password"),
    ("PasswordDoesnotComplyFuzzyPolicy", None, None, "banned_password"),
]
for _text, _method in GATE_METHODS.items():
    EXAMPLES.append((f"User started the {_text} verification option", "gate_started", _method, "in_progress"))
    EXAMPLES.append((f"User completed the {_text} verification option", "gate_verified", _method, "in_progress"))


@pytest.mark.parametrize(("reason", "stage", "method", "end_state"), EXAMPLES)
def test_every_documented_reason_is_classified(
    reason: str, stage: str | None, method: str | None, end_state: str | None
) -> None:
    row = classify_reasons(pd.Series([reason], dtype="string")).iloc[0]
    assert (None if pd.isna(row["stage"]) else row["stage"]) == stage
    assert (None if pd.isna(row["method"]) else row["method"]) == method
    assert (None if pd.isna(row["end_state"]) else row["end_state"]) == end_state
    assert bool(row["recognised"])


def test_classification_ignores_case_and_keeps_alignment() -> None:
    reasons = pd.Series(["OTHER", "user SUCCESSFULLY reset password", None, "  "], index=[10, 20, 30, 40])
    out = classify_reasons(reasons)
    assert list(out.index) == [10, 20, 30, 40]
    assert out.loc[20, "end_state"] == "completed"
    assert out["recognised"].tolist() == [False, True, False, False]


def test_unknown_reasons_and_unknown_gate_methods_are_unrecognised() -> None:
    out = classify_reasons(
        pd.Series(["Something Microsoft added last week", "User started the carrier pigeon verification option"])
    )
    assert out["recognised"].tolist() == [False, False]
    assert out["matched"].tolist() == [False, True]
    assert out.loc[1, "stage"] == "gate_started"


def test_rule_table_is_valid_and_names_every_method() -> None:
    rules = reason_rules()
    assert len(rules) >= 30
    assert {r.method for r in rules if r.method} == set(METHODS)
    assert all(r.pattern == r.pattern.lower() for r in rules)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pattern,stage\nx,started\n", "columns"),
        ("pattern,stage,method,end_state,note\nx,flying,,,\n", "stage"),
        ("pattern,stage,method,end_state,note\n,started,,,\n", "empty pattern"),
        ("pattern,stage,method,end_state,note\nx,,,,note only\n", "sets nothing"),
    ],
)
def test_malformed_rule_tables_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules(text)
