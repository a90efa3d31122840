"""The week's verdict (analysis/verdict.py): the sentence in the reader's words, the data caveat first, the counts,
and the top actions, most urgent first, a group counting as one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sspr_review.analysis import Finding, Verdict, fingerprint, judge
from sspr_review.analysis import verdict as verdict_module
from sspr_review.analysis.verdict import TOP_ACTIONS, anchor
from sspr_review.core.coverage import Coverage
from tests.support.analysis import WINDOW, coverage


def finding(kind: str, severity: str, n: int, *, title: str = "", **evidence: object) -> Finding:
    return Finding(
        kind=kind,
        severity=severity,
        title=title or f"{kind} {n}",
        users=(f"user{n}@contoso.example",),
        start=WINDOW.start + timedelta(hours=n),
        end=None,
        evidence=dict(evidence),
        action=f"Do the full thing for {kind} {n}. Then more.",
        fingerprint=fingerprint(kind, n),
    )


def many(kind: str, severity: str, count: int, **evidence: object) -> list[Finding]:
    return [finding(kind, severity, n, **evidence) for n in range(count)]


def test_a_quiet_week_with_all_data_says_nothing_needs_you() -> None:
    verdict = judge([finding("leaked_credentials_remediated", "info", 1)], coverage())
    assert verdict.sentence == "Nothing needs you this week."
    assert verdict.quiet and verdict.caveat is None and verdict.actions == () and verdict.urgent == 0
    assert verdict.counts == {"critical": 0, "high": 0, "medium": 0, "low": 0, "info": 1}


def test_urgent_groups_are_named_most_urgent_first_and_the_rest_counted() -> None:
    findings = [
        *many("blocked_user", "high", 3, assessment="possible_attack"),
        *many("leaked_credentials_unremediated", "high", 4),
        finding("reset_spike", "high", 1),
        *many("admin_password_reset", "high", 2),
        finding("phone_only_reset_new_ip", "high", 9),
        *many("helpdesk_reset", "medium", 5),
    ]
    verdict = judge(findings, coverage())
    assert verdict.sentence == (
        "2 administrator password resets, a password-reset spike, 4 leaked passwords not changed and "
        "4 other urgent findings need you this week."
    )
    assert not verdict.quiet and verdict.urgent == 11
    assert [a.kind for a in verdict.actions] == [
        "admin_password_reset",
        "reset_spike",
        "leaked_credentials_unremediated",
        "blocked_user",
        "phone_only_reset_new_ip",
    ]
    assert len(verdict.actions) == TOP_ACTIONS
    leaked = verdict.actions[2]
    assert leaked.headline == "4 leaked passwords not changed" and leaked.count == 4
    assert leaked.users == ("user0@contoso.example", "user1@contoso.example", "user2@contoso.example")
    assert leaked.more_users == 1 and leaked.anchor == anchor("leaked_credentials_unremediated")
    assert leaked.do.startswith("Have these users change their passwords now")
    spike = verdict.actions[1]
    assert spike.headline == "reset_spike 1" and spike.count == 1  # one finding: its own title
    assert verdict.actions[3].headline == "3 blocked users who may be under attack"


def test_a_roll_up_of_many_counts_as_one_action_and_one_finding_says_needs() -> None:
    verdict = judge(many("leaked_credentials_unremediated", "high", 40), coverage())
    assert len(verdict.actions) == 1 and verdict.actions[0].count == 40
    assert verdict.sentence == "40 leaked passwords not changed need you this week."
    one = judge([finding("reset_spike", "high", 1)], coverage())
    assert one.sentence == "A password-reset spike needs you this week."
    assert one.actions[0].do.startswith("Check these accounts' sign-ins")


def test_missing_data_comes_first_and_the_week_is_never_quiet() -> None:
    cov = coverage(missing={"audit": "the audit fetch failed (HTTP 403: AuditLog.Read.All)"})
    gap = finding("data_gap", "critical", 1, title="audit data missing or incomplete for the week")
    verdict = judge([gap], cov)
    assert verdict.sentence.startswith("Audit data missing: this verdict is incomplete.")
    assert "Nothing urgent was found in the data there is, but the week cannot be called quiet." in verdict.sentence
    assert not verdict.quiet and verdict.counts["critical"] == 1
    assert verdict.actions[0].kind == "data_gap" and verdict.actions[0].do.startswith("Fix this data source")
    assert [(i.kind, i.state) for i in verdict.data_issues] == [("audit", "no data")]


def test_the_caveat_is_generic_over_coverage_states() -> None:
    cov = coverage()
    # the opt-in trap (issue 22): audit data held, but probably not collected — never a quiet week
    cov["audit"] = Coverage("audit", WINDOW.start, WINDOW.end, True, None, suspect="no SSPR event in 30 days")
    cov["registration"] = Coverage(
        "registration", WINDOW.end, WINDOW.end, True, "far", snapshot=WINDOW.end, approximate=True
    )
    verdict = judge([], cov)
    assert verdict.caveat == (
        "Audit data probably not collected and registration data approximate: this verdict is incomplete."
    )
    assert not verdict.quiet and "Nothing needs you" not in verdict.sentence
    only_old = coverage()
    only_old["roles"] = Coverage("roles", WINDOW.end, WINDOW.end, True, "far", snapshot=WINDOW.end, approximate=True)
    assert judge([], only_old).caveat == (
        "Role data approximate: this verdict rests on a snapshot far from the week's end."
    )


def test_nothing_urgent_names_what_to_look_at_when_you_can() -> None:
    findings = [*many("helpdesk_reset", "medium", 2), finding("registration_gap", "low", 1, admins_not_capable=[])]
    verdict = judge(findings, coverage())
    assert verdict.sentence == (
        "Nothing urgent this week: 2 helpdesk password resets and a registration gap to look at when you can."
    )
    assert verdict.quiet
    assert verdict.actions[1].do.startswith("Run a registration campaign") and verdict.actions[1].users == ()


def test_status_per_action_and_a_round_trip_through_findings_json() -> None:
    findings = many("leaked_credentials_unremediated", "high", 3)
    verdict = judge(findings, coverage(), lambda f: "continuing" if f is findings[0] else "new")
    assert verdict.actions[0].status == "2 new, 1 continuing"
    assert Verdict.from_dict(verdict.to_dict()) == verdict


def test_registration_gap_with_administrators_asks_them_first() -> None:
    gap = finding("registration_gap", "medium", 1, admins_not_capable=["admin@contoso.example"])
    verdict = judge([gap], coverage())
    assert verdict.actions[0].do.startswith("Have the administrators register SSPR methods now")


def test_a_kind_without_a_short_action_gets_the_first_sentence_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verdict_module, "DO", {})  # as for a rule added later
    verdict = judge([finding("helpdesk_reset", "medium", 1)], coverage())
    assert verdict.actions[0].do == "Do the full thing for helpdesk_reset 1"


def test_weakening_changes_to_the_sspr_configuration_come_after_leaks_and_say_these_changes() -> None:
    """Issue 23's kinds in the verdict (merged from main): words for each kind, placed after the leaked passwords,
    and a group of weakening changes asks about *these* changes of the administrators who made them."""
    admin = "admin@contoso.example"
    changes = [
        Finding(
            kind="sspr_policy_changed",
            severity="high",
            title=f"Setting {n} weakened by {admin}",
            users=(admin,),
            start=WINDOW.start + timedelta(hours=n),
            end=None,
            evidence={},
            action=f"Confirm with {admin}, through a known channel, that this change was intended. Then more.",
            fingerprint=fingerprint("sspr_policy_changed", n),
        )
        for n in range(3)
    ]
    findings = [*changes, *many("leaked_credentials_unremediated", "high", 2), finding("reset_spike", "high", 1)]
    findings.append(finding("password_writeback_disabled", "high", 7))
    verdict = judge(findings, coverage())
    assert [a.kind for a in verdict.actions] == [
        "reset_spike",
        "leaked_credentials_unremediated",
        "sspr_policy_changed",
        "password_writeback_disabled",
    ]
    assert verdict.sentence == (
        "A password-reset spike, 2 leaked passwords not changed, 3 changes to the SSPR configuration and "
        "1 other urgent finding need you this week."
    )
    assert verdict.actions[2].do == (
        f"Confirm with {admin}, through a known channel, that these changes were intended; if not, restore them"
    )
    assert verdict.actions[3].do == "Do the full thing for password_writeback_disabled 7"
