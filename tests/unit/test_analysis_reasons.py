from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from sspr_review.analysis import (
    METHODS,
    AnalysisSettings,
    classify_reasons,
    prepare,
    reason_rules,
    unrecognised_reasons,
)
from sspr_review.analysis.reasons import explain_reasons, load_rules, parse_rules
from sspr_review.core.errors import ReasonRulesError
from tests.support.analysis import WINDOW, audit, step, t

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
    ("OnPremisesSuccessCloudFailure", None, None, "cloud_password_rejected"),
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
        ("pattern,stage,method,end_state,note\nx,,,,note only\n", "line 2, column stage"),
        ("pattern,stage,method,note\nx,started,,\n", "line 1: missing column 'end_state'"),
        ("pattern,stage,method,outcome,note\nx,started,,,\n", "unknown column 'outcome'"),
        ("pattern,stage,method,end_state\nx,started,,,\n", "line 2: 5 fields but the header has 4 columns"),
        (
            "pattern,stage,method,end_state\nx,,,throtled\n",
            "line 2, column end_state: 'throtled'.*did you mean throttled",
        ),
        ("pattern,stage,method,end_state\nx,,sms,\n\nx,,sms,\n", "line 4, column pattern: .*twice .*line 2"),
        ("pattern,stage,method,end_state\nre:user (started,gate_started,,\n", "line 2, column pattern: bad regular"),
        ("pattern,stage,method,end_state\nre:  ,gate_started,,\n", "line 2, column pattern: empty pattern"),
        ("pattern,stage,method,end_state\nre:.*,gate_started,,\n", "matches every text"),
        ("", "line 1: no header"),
    ],
)
def test_malformed_rule_tables_are_rejected(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rules(text)


def test_malformed_rule_errors_name_the_file() -> None:
    with pytest.raises(ReasonRulesError, match=r"^my_rules.csv line 3, column stage: 'flying' is not a known stage"):
        parse_rules("pattern,stage,method,end_state,note\nok,started,,,\nx,flying,,,\n", "my_rules.csv")


def test_regular_expression_rules_match_case_insensitively_anywhere() -> None:
    rules = parse_rules(
        'pattern,stage,method,end_state\n"re:^user (started|began) the \\w+ option$",gate_started,sms,\n'
    )
    out = classify_reasons(
        pd.Series(["User BEGAN the pigeon option", "User began the pigeon option today", "x"]), rules
    )
    assert out["stage"].tolist()[:1] == ["gate_started"] and out["method"].tolist()[:1] == ["sms"]
    assert out["recognised"].tolist() == [True, False, False]


MY_RULES = """pattern,stage,method,end_state,note
passkey verification,,app_notification,,Our tenant's passkeys count as the Authenticator app
too many,,,abandoned,We treat throttling as abandoning (overrides the packaged rule of the same pattern)
"re:^user verified (with|by) a passkey$",gate_verified,app_notification,in_progress,A wording we saw
"""


def _rules_file(tmp_path: Path, text: str = MY_RULES) -> Path:
    path = tmp_path / "my_rules.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_user_rules_are_tried_before_the_packaged_ones(tmp_path: Path) -> None:
    rules = load_rules(_rules_file(tmp_path))
    assert [r.pattern for r in rules[:3]] == [
        "passkey verification",
        "too many",
        "re:^user verified (with|by) a passkey$",
    ]
    assert [r.pattern for r in rules].count("too many") == 1  # the packaged rule of that pattern is replaced
    assert len(rules) == len(reason_rules()) + 2
    texts = pd.Series(
        [
            "User completed the passkey verification option",
            "User entered too many invalid SMS verification codes and is blocked for 24 hours",
            "User verified with a passkey",
            "User successfully reset password",
        ]
    )
    out = classify_reasons(texts, rules).astype(object).where(lambda f: f.notna(), None)
    assert out["recognised"].all()
    assert out["stage"].tolist() == ["gate_verified", None, "gate_verified", "completed"]
    assert out["method"].tolist() == ["app_notification", "sms", "app_notification", None]
    assert out["end_state"].tolist() == ["in_progress", "abandoned", "in_progress", "completed"]
    shown = explain_reasons(texts, rules)["rule"].tolist()
    assert shown[0] == "user completed the (result_reasons.csv:12) + passkey verification (my_rules.csv:2)"
    assert shown[1] == "sms verification (result_reasons.csv:47) + too many (my_rules.csv:3)"


def test_the_review_uses_the_configured_rules(tmp_path: Path) -> None:
    rows = [step(t("1d"), "u1", "User started the passkey verification option", "c1")]
    tables = {"audit": audit(rows)}
    before = prepare(tables)
    assert unrecognised_reasons(before.audit, before.events, WINDOW.start, WINDOW.end)["events"].tolist() == [1]
    after = prepare(tables, AnalysisSettings(reason_rules=str(_rules_file(tmp_path))))
    assert unrecognised_reasons(after.audit, after.events, WINDOW.start, WINDOW.end).empty
    assert after.flows["methods_tried"].tolist() == ["app_notification"]


def test_an_edited_rules_file_is_read_again(tmp_path: Path) -> None:
    path = _rules_file(tmp_path)
    assert load_rules(path)[0].pattern == "passkey verification"
    path.write_text("pattern,stage,method,end_state\nfido key,,app_code,\n", encoding="utf-8")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)  # a clock-independent change of the mtime
    assert load_rules(path)[0].pattern == "fido key"


def test_unusable_rules_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ReasonRulesError, match=r"reason rules file .*nope.csv does not exist"):
        load_rules(tmp_path / "nope.csv")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("pattern,stage,method,end_state\nr\xe9initialis\xe9,started,,\n".encode("latin-1"))
    with pytest.raises(ReasonRulesError, match=r"latin1.csv is not UTF-8 text"):
        load_rules(bad)
    with pytest.raises(ValueError, match=r"my_rules.csv line 2, column method: 'pigeon'"):
        AnalysisSettings(reason_rules=str(_rules_file(tmp_path, "pattern,stage,method,end_state\nx,,pigeon,\n")))


def test_a_spreadsheet_export_with_bom_and_crlf_is_read(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffPattern,Stage,Method,End_State,Note\r\npasskey,,app_code,,x\r\n".encode())
    assert load_rules(path)[0].method == "app_code"
