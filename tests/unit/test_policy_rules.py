"""The SSPR configuration rules and findings.json's ``policy``: weakening changes, writeback, the critical chain,
the configuration as far as it is known and its posture (issue 23, points 2 and 3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
import pandas as pd
import pytest

from sspr_review.analysis import Finding, ReviewInputs, build_review, findings_json, findings_schema
from sspr_review.core.coverage import Coverage
from sspr_review.core.settings import AnalysisSettings
from sspr_review.core.vocabulary import PASSWORD_RULE_TEMPLATE
from tests.support.analysis import (
    ADMIN_REGISTERED,
    BY_ADMIN,
    WINDOW,
    audit,
    completed_flow,
    coverage,
    ev,
    risk,
    risk_row,
)
from tests.support.policy import audit_of, double, prop, update, writeback

GENERATED = datetime(2024, 3, 11, 7, tzinfo=UTC)
SNAPSHOT_TIME = datetime(2024, 3, 10, 23, tzinfo=UTC)
WEAKER = prop("NumberOfRequiredContactMethodsForUsers", double("2"), double("1"))


def snapshot(**over: Any) -> dict[str, Any]:
    """A policy snapshot as the fetch stores it, meeting every recommendation unless ``over`` says otherwise."""
    values = {
        "EnableBannedPasswordCheck": "True",
        "BannedPasswordList": "contoso\tspring",
        "BannedPasswordCheckOnPremisesMode": "Enforce",
        "EnableBannedPasswordCheckOnPremises": "True",
    }
    values |= over.pop("rules", {})
    methods = {"TemporaryAccessPass": "enabled", "MicrosoftAuthenticator": "enabled"} | over.pop("methods", {})
    doc = {
        "passwordRuleSettings": {
            "templateId": PASSWORD_RULE_TEMPLATE,
            "values": [{"name": k, "value": v} for k, v in values.items()],
        },
        "authenticationMethodsPolicy": {
            "policyMigrationState": "migrationComplete",
            "authenticationMethodConfigurations": [{"id": k, "state": v} for k, v in methods.items()],
        },
        "authorizationPolicy": {"allowedToUseSSPR": True},
        "organization": {"onPremisesSyncEnabled": True},
    }
    doc.update(over)
    return doc


def review_of(
    *records: dict[str, Any],
    rows: list[dict[str, Any]] | None = None,
    risks: list[dict[str, Any]] | None = None,
    policy: dict[str, Any] | None = None,
    compare: bool = False,
    history_start: datetime | None = None,
) -> Any:
    """The review of WINDOW over the policy ``records`` (Graph JSON), other audit ``rows``, ``risks`` and a policy
    snapshot taken at SNAPSHOT_TIME (``None``: none)."""
    events = audit_of(*records)
    tables = {"audit": pd.concat([events, audit(*(rows or []))], ignore_index=True), "risk": risk(*(risks or []))}
    cov: dict[str, Coverage] = coverage()
    if policy is not None:
        cov["policy"] = Coverage("policy", SNAPSHOT_TIME, SNAPSHOT_TIME, True, snapshot=SNAPSHOT_TIME)
    else:
        cov["policy"] = Coverage("policy", None, None, False, "no policy snapshot yet")
    previous = coverage(WINDOW.shift(1)) if compare else None
    if previous is not None:
        previous["policy"] = cov["policy"]
    inputs = ReviewInputs(
        tables,
        cov,
        WINDOW,
        previous_coverage=previous,
        history_start={"audit": history_start} if history_start else None,
        policy_snapshots={SNAPSHOT_TIME: policy} if policy is not None else None,
    )
    return build_review(inputs, AnalysisSettings())


def of_kind(review: Any, kind: str) -> list[Finding]:
    return [f for f in review.findings if f.kind == kind]


def test_a_weakening_change_is_high_and_says_it_in_words() -> None:
    review = review_of(update("2024-03-05T10:00:00Z", WEAKER, by="mallory", ip="203.0.113.9"), policy=snapshot())
    (finding,) = of_kind(review, "sspr_policy_changed")
    assert finding.severity == "high"
    assert finding.title == "Methods required to reset lowered from 2 to 1 by mallory@contoso.com"
    e = finding.evidence
    assert (e["setting"], e["old"], e["new"], e["weakens"]) == ("NumberOfRequiredContactMethodsForUsers", 2, 1, True)
    assert (e["changed_by"], e["changed_at"], e["ip"], e["recommended"]) == (
        "mallory@contoso.com",
        "2024-03-05T10:00:00Z",
        "203.0.113.9",
        "2",
    )
    assert finding.users == ("mallory@contoso.com",) and e["chain"] == []


def test_a_neutral_or_strengthening_change_is_low() -> None:
    review = review_of(
        update(
            "2024-03-05T10:00:00Z",
            prop("CustomContactAdminLink", double("https://a.example"), double("https://b.example")),
            prop("NumberOfRequiredContactMethodsForUsers", double("1"), double("2")),
        ),
        policy=snapshot(),
    )
    found = of_kind(review, "sspr_policy_changed")
    assert sorted(f.severity for f in found) == ["low", "low"]
    assert {f.evidence["direction"] for f in found} == {"neutral", "strengthens"}


def test_methods_as_lists_and_security_questions_in_the_title() -> None:
    change = prop(
        "SelectedContactMethodsForUsers", '["MobileAppNotification","Email"]', '["MobileAppNotification","Email",'
        '"SecurityQuestions"]',
    )  # fmt: skip
    (finding,) = of_kind(review_of(update("2024-03-05T10:00:00Z", change), policy=snapshot()), "sspr_policy_changed")
    assert finding.severity == "high" and "security questions added" in finding.title
    assert finding.evidence["new"] == ["MobileAppNotification", "Email", "SecurityQuestions"]


@pytest.mark.parametrize(("hybrid", "severity"), [(True, "high"), (None, "medium"), ("absent", "medium")])
def test_writeback_disabled_is_high_in_a_hybrid_tenant(hybrid: Any, severity: str) -> None:
    policy = snapshot(organization={"onPremisesSyncEnabled": hybrid})
    if hybrid == "absent":
        del policy["organization"]
    review = review_of(writeback("2024-03-06T18:30:00Z", enable=False), policy=policy)
    (finding,) = of_kind(review, "password_writeback_disabled")
    assert finding.severity == severity
    assert finding.title.startswith("Password writeback disabled by admin@contoso.com")
    e = finding.evidence
    assert (e["changed_by"], e["changed_at"], e["ip"]) == ("admin@contoso.com", "2024-03-06T18:30:00Z", "198.51.100.7")
    assert e["hybrid"] == {True: True, None: False, "absent": None}[hybrid]
    assert not of_kind(review, "sspr_policy_changed")


def test_writeback_enabled_again_is_a_low_note() -> None:
    review = review_of(writeback("2024-03-06T18:30:00Z", enable=True), policy=snapshot())
    (finding,) = of_kind(review, "sspr_policy_changed")
    assert (finding.severity, finding.title) == ("low", "Password writeback enabled by admin@contoso.com")


CHANGE_AT = pd.Timestamp("2024-03-06T12:00:00Z")


@pytest.mark.parametrize(
    ("signal", "rows", "risks"),
    [
        (
            "password reset by an administrator",
            [ev(BY_ADMIN, CHANGE_AT - pd.Timedelta("3h"), "admin", initiator="h")],
            [],
        ),
        ("self-service password reset", completed_flow(CHANGE_AT - pd.Timedelta("23h"), "admin", ip="203.0.113.5"), []),
        (
            "security info changed",
            [
                ev(
                    ADMIN_REGISTERED,
                    CHANGE_AT - pd.Timedelta("1h"),
                    "admin",
                    service="Authentication Methods",
                    reason="Admin registered phone",
                )
            ],
            [],
        ),
        ("risk detection", [], [risk_row("admin", CHANGE_AT - pd.Timedelta("20h"), kind="unfamiliarFeatures")]),
    ],
)
def test_a_weakening_change_after_a_takeover_signal_is_critical(
    signal: str, rows: list[dict[str, Any]], risks: list[dict[str, Any]]
) -> None:
    record = update(CHANGE_AT.isoformat().replace("+00:00", "Z"), WEAKER)
    benign = update("2024-03-06T12:05:00Z", prop("CustomizeContactAdminLink", "False", "True"))
    review = review_of(record, benign, rows=rows, risks=risks, policy=snapshot())
    by_setting = {f.evidence["setting"]: f for f in of_kind(review, "sspr_policy_changed")}
    weak = by_setting["NumberOfRequiredContactMethodsForUsers"]
    assert weak.severity == "critical"
    assert [c["signal"] for c in weak.evidence["chain"]] == [signal]
    assert signal in weak.title and "in the 24 hours before" in weak.title
    assert by_setting["CustomizeContactAdminLink"].severity == "low"  # not weakening: no chain
    assert by_setting["CustomizeContactAdminLink"].evidence["chain"] == []


@pytest.mark.parametrize("offset", ["-25h", "1h"])
def test_a_signal_outside_the_24_hours_before_is_no_chain(offset: str) -> None:
    record = update(CHANGE_AT.isoformat().replace("+00:00", "Z"), WEAKER)
    rows = [ev(BY_ADMIN, CHANGE_AT + pd.Timedelta(offset), "admin", initiator="helpdesk")]
    (finding,) = of_kind(review_of(record, rows=rows, policy=snapshot()), "sspr_policy_changed")
    assert finding.severity == "high" and finding.evidence["chain"] == []


def test_a_signal_on_another_account_is_no_chain() -> None:
    record = update(CHANGE_AT.isoformat().replace("+00:00", "Z"), WEAKER)
    rows = [ev(BY_ADMIN, CHANGE_AT - pd.Timedelta("1h"), "someone", initiator="helpdesk")]
    (finding,) = of_kind(review_of(record, rows=rows, policy=snapshot()), "sspr_policy_changed")
    assert finding.severity == "high"


def test_writeback_disabled_after_a_signal_is_critical() -> None:
    rows = [ev(BY_ADMIN, CHANGE_AT - pd.Timedelta("2h"), "admin", initiator="helpdesk")]
    review = review_of(writeback(CHANGE_AT.isoformat().replace("+00:00", "Z"), False), rows=rows, policy=snapshot())
    (finding,) = of_kind(review, "password_writeback_disabled")
    assert finding.severity == "critical" and finding.evidence["chain"][0]["detail"] == "by helpdesk@contoso.com"


def test_the_configuration_as_far_as_it_is_known() -> None:
    review = review_of(
        update("2024-02-20T09:00:00Z", prop("NotifyUsersOfReset", "False", "True"), by="alice"),
        update("2024-03-05T10:00:00Z", WEAKER, by="mallory"),
        writeback("2024-03-06T18:30:00Z", enable=False),
        update("2024-03-12T10:00:00Z", prop("EnablementForUsers", '"All"', '"Selected"')),  # after the week
        policy=snapshot(),
        history_start=datetime(2024, 1, 1, tzinfo=UTC),
    )
    doc = findings_json(review, generated_at=GENERATED)
    jsonschema.validate(doc, findings_schema())
    sspr = doc["policy"]["sspr"]
    assert sspr["NumberOfRequiredContactMethodsForUsers"] == {
        "value": 1,
        "as_of": "2024-03-05T10:00:00Z",
        "changed_by": "mallory@contoso.com",
        "note": None,
    }
    assert (
        sspr["NotifyUsersOfReset"]["value"] is True and sspr["NotifyUsersOfReset"]["changed_by"] == "alice@contoso.com"
    )
    assert sspr["EnablementForUsers"]["value"] is None  # its change lies after the week's end
    assert sspr["EnablementForUsers"]["note"] == "no change recorded since 2024-01-01 (the store's first event)"
    assert doc["policy"]["writeback"]["state"] == "disabled"
    assert doc["policy"]["week"]["events"] == 2 and doc["policy"]["week"]["weakening"] == 2
    status = {row["setting"]: row["status"] for row in doc["policy"]["posture"]}
    assert status["NumberOfRequiredContactMethodsForUsers"] == "deviates"
    assert status["NotifyUsersOfReset"] == "ok"
    assert status["EnablementForUsers"] == "unknown"
    assert status["PasswordWriteback"] == "deviates"
    assert {status[k] for k in ("BannedPasswordList", "TemporaryAccessPass", "allowedToUseSSPR")} == {"ok"}


def test_the_posture_reads_what_the_snapshot_can() -> None:
    policy = snapshot(
        rules={"BannedPasswordList": "", "BannedPasswordCheckOnPremisesMode": "Audit"},
        methods={"TemporaryAccessPass": "disabled"},
        authorizationPolicy={"allowedToUseSSPR": False},
    )
    (gap,) = of_kind(review_of(policy=policy), "configuration_gap")
    assert gap.severity == "low"
    deviating = {d["setting"] for d in gap.evidence["deviations"]}
    assert deviating == {"BannedPasswordList", "BannedPasswordCheckOnPremisesMode", "TemporaryAccessPass",
                         "allowedToUseSSPR"}  # fmt: skip
    assert gap.title.startswith("SSPR configuration deviates from the recommendation in 4 settings: ")


def test_a_cloud_only_tenant_needs_no_writeback_or_on_premises_protection() -> None:
    policy = snapshot(
        organization={"onPremisesSyncEnabled": None}, rules={"BannedPasswordCheckOnPremisesMode": "Audit"}
    )
    review = review_of(policy=policy)
    status = {
        row["setting"]: row["status"] for row in findings_json(review, generated_at=GENERATED)["policy"]["posture"]
    }
    assert status["PasswordWriteback"] == status["BannedPasswordCheckOnPremisesMode"] == "ok"
    assert not of_kind(review, "configuration_gap")


def test_unreadable_snapshot_parts_are_unknown_not_deviations() -> None:
    policy = {
        "passwordRuleSettings": None,
        "passwordRuleSettingsError": "403 Forbidden",
        "authorizationPolicyError": "403",
    }
    review = review_of(policy=policy)
    status = {
        row["setting"]: row["status"] for row in findings_json(review, generated_at=GENERATED)["policy"]["posture"]
    }
    assert status["BannedPasswordList"] == status["allowedToUseSSPR"] == status["TemporaryAccessPass"] == "unknown"
    assert not of_kind(review, "configuration_gap")


def test_a_persisting_deviation_is_one_continuing_finding() -> None:
    earlier = update("2024-02-20T09:00:00Z", WEAKER)  # two weeks before: both weeks deviate
    review = review_of(earlier, policy=snapshot(), compare=True)
    (gap,) = of_kind(review, "configuration_gap")
    assert review.status(gap) == "continuing"
    assert not of_kind(review, "sspr_policy_changed")  # the change itself belongs to its own week


def test_without_policy_events_the_settings_are_unknown() -> None:
    review = review_of(policy=snapshot())
    doc = findings_json(review, generated_at=GENERATED)
    assert all(entry["value"] is None for entry in doc["policy"]["sspr"].values())
    assert doc["policy"]["writeback"]["state"] == "unknown"
    assert not of_kind(review, "configuration_gap")  # unknown is not a deviation
    assert json.loads(json.dumps(doc))["policy"]["week"]["events"] == 0


def test_a_value_a_save_logged_unchanged_is_known_though_never_changed() -> None:
    saved = update("2024-03-05T10:00:00Z", prop("EnablementForUsers", '"All"', double("All")), by="bob")
    review = review_of(saved, policy=snapshot(), history_start=datetime(2024, 1, 1, tzinfo=UTC))
    assert not of_kind(review, "sspr_policy_changed")
    doc = findings_json(review, generated_at=GENERATED)
    assert doc["policy"]["sspr"]["EnablementForUsers"] == {
        "value": "All",
        "as_of": "2024-03-05T10:00:00Z",
        "changed_by": None,
        "note": "logged unchanged in a save by bob@contoso.com on 2024-03-05; no change recorded since 2024-01-01 "
        "(the store's first event)",
    }
    (row,) = [r for r in doc["policy"]["posture"] if r["setting"] == "EnablementForUsers"]
    assert (row["status"], row["since"], row["source"]) == ("ok", None, "audit event")
