from __future__ import annotations

import pandas as pd

from sspr_review.analysis import activity_kind, completed_resets, flows, prepare, unrecognised_reasons
from tests.support.analysis import (
    ADMIN_REGISTERED,
    BLOCKED,
    BY_ADMIN,
    DIRECTORY_RESET,
    SSPR_RESET,
    TAP_REASON,
    WINDOW,
    audit,
    completed_flow,
    ev,
    step,
    t,
)


def test_a_flow_with_both_completion_events_counts_once() -> None:
    frame = audit(completed_flow(t("1d"), "u1", "c1", "10.0.0.1", both=True))
    result = flows(frame)
    assert len(result.table) == 1
    flow = result.table.iloc[0]
    assert flow["completed"]
    assert flow["completion_events"] == 2
    assert flow["has_reset_event"] and flow["has_progress_completion"]
    assert flow["end_state"] == "completed"
    assert flow["furthest_stage"] == "completed"
    assert flow["methods_tried"] == "sms" and flow["methods_verified"] == "sms" and flow["methods_failed"] == ""
    assert flow["ip"] == "10.0.0.1"
    assert flow["completed_time"] == t("1d")
    assert len(completed_resets(result.table)) == 1


def test_either_completion_event_alone_completes_a_flow() -> None:
    only_progress = audit(step(t("1h"), "u1", "Successfully completed reset.", "c1"))
    only_reset = audit(ev(SSPR_RESET, t("1h"), "u2", corr="c2"))
    failed_reset = audit(
        ev(SSPR_RESET, t("1h"), "u3", corr="c3", result="failure", reason="OnPremisesConnectivityError")
    )
    assert flows(only_progress).table["completed"].tolist() == [True]
    assert flows(only_reset).table["completed"].tolist() == [True]
    failed = flows(failed_reset).table.iloc[0]
    assert not failed["completed"]
    assert failed["end_state"] == "failed_writeback"


def test_events_without_correlation_id_are_flows_of_their_own() -> None:
    frame = audit(ev(SSPR_RESET, t("1h"), "u1"), ev(SSPR_RESET, t("2h"), "u1"), ev(SSPR_RESET, t("3h"), "u1", corr=""))
    table = flows(frame).table
    assert len(table) == 3
    assert table["correlation_id"].isna().all()
    assert len(completed_resets(table)) == 3


def test_correlation_ids_match_case_insensitively() -> None:
    frame = audit(
        step(t("1h"), "u1", "User submitted their user ID", "ABC-1"),
        step(t("1h 1min"), "u1", "User successfully reset password", "abc-1"),
    )
    assert len(flows(frame).table) == 1


def test_end_states_methods_and_stages() -> None:
    frame = audit(
        step(t("1h"), "u1", "User started the email verification option", "a"),
        step(t("1h 1min"), "u1", "User abandoned after completing the email verification option", "a"),
        step(t("2h"), "u2", "User started the mobile app notification verification option", "b"),
        step(t("2h 1min"), "u2", "User completed the mobile app notification verification option", "b"),
        step(t("2h 2min"), "u2", "User started the mobile SMS verification option", "b"),
        step(
            t("2h 3min"), "u2", "User entered too many invalid SMS verification codes and is blocked for 24 hours", "b"
        ),
        step(t("3h"), "u3", "User submitted a new password", "c"),
        step(t("3h 1min"), "u3", "PasswordDoesnotComplyFuzzyPolicy", "c"),
        step(t("3h 2min"), "u3", "User successfully reset password", "c"),
        step(t("4h"), "u4", "User does not have a license.", "d"),
        step(t("5h"), "u5", "User submitted their user ID", "e"),
        step(t("6h"), "u6", "User contacted an admin after trying the security questions verification option", "f"),
    )
    table = flows(frame).table.set_index("flow_id")
    assert table.loc["a", "end_state"] == "abandoned"
    assert table.loc["a", "methods_failed"] == "email"
    assert table.loc["b", "end_state"] == "throttled"
    assert table.loc["b", "methods_tried"] == "sms,app_notification"
    assert table.loc["b", "methods_verified"] == "app_notification"
    assert table.loc["b", "methods_failed"] == "sms"
    assert table.loc["b", "furthest_stage"] == "gate_verified"
    assert table.loc["c", "end_state"] == "completed"  # a banned password, then success
    assert table.loc["d", "end_state"] == "failed_configuration"
    assert table.loc["e", "end_state"] == "in_progress"
    assert table.loc["f", "end_state"] == "contacted_admin"
    assert table.loc["f", "methods_failed"] == "security_questions"


def test_unrecognised_reasons_are_counted_and_listed_not_dropped() -> None:
    frame = audit(
        step(t("1h"), "u1", "User submitted their user ID", "a"),
        step(t("1h 1min"), "u1", "Brand new step text", "a"),
        step(t("2h"), "u2", "Brand new step text", "b"),
        step(t("3h"), "u3", None, "c"),
        step(t("-1d"), "u3", "Old unknown text", "d"),  # before the window
    )
    result = flows(frame)
    assert len(result.table) == 4  # the unknown steps stay in their flows
    listed = unrecognised_reasons(frame, result.events, WINDOW.start, WINDOW.end)
    assert listed["reason"].tolist() == ["Brand new step text", ""]
    assert listed["events"].tolist() == [2, 1]
    everything = unrecognised_reasons(frame, result.events)
    assert "Old unknown text" in everything["reason"].tolist()


def test_activity_names_match_case_insensitively_and_unknown_ones_are_kept() -> None:
    frame = audit(
        ev("reset PASSWORD (self-service) ", t("1h"), "u1"),
        ev("Some future activity", t("1h"), "u1"),
        ev(ADMIN_REGISTERED, t("1h"), "u1", reason=TAP_REASON),
        ev(ADMIN_REGISTERED, t("1h"), "u1", reason="Admin registered phone method for user"),
        ev("Reset password", t("1h"), "u1", initiator="admin"),
        ev(BLOCKED, t("1h"), "u1"),
    )
    assert activity_kind(frame).tolist() == ["sspr_reset", "unknown", "tap", "other", "directory_reset", "blocked"]


def test_admin_resets_merge_sspr_and_directory_events_and_skip_self_and_sync() -> None:
    frame = audit(
        ev(BY_ADMIN, t("1h"), "u1", initiator="helpdesk1"),
        ev(DIRECTORY_RESET, t("1h 30s"), "u1", initiator="helpdesk1"),  # same reset, logged twice
        ev(DIRECTORY_RESET, t("2h"), "u2", initiator="u2"),  # own password: not an admin reset
        ev(DIRECTORY_RESET, t("3h"), "u3", initiator="Sync_SERVER1_abc"),  # hybrid writeback
        ev(DIRECTORY_RESET, t("4h"), "u4", initiator="svc", initiator_type="app"),  # an app, not a person
        ev(DIRECTORY_RESET, t("5h"), "u5", initiator="helpdesk2", corr="flow-5"),
        step(t("5h"), "u5", "User successfully reset password", "flow-5"),  # part of an SSPR flow
        ev(BY_ADMIN, t("6h"), "u6", initiator="helpdesk1", result="failure"),
        ev(BY_ADMIN, t("1d"), "u1", initiator="helpdesk1"),  # another reset a day later
    )
    resets = prepare({"audit": frame}).admin_resets
    assert resets["user_upn"].tolist() == ["u1@contoso.com", "u1@contoso.com"]
    assert resets["events"].tolist() == [2, 1]
    assert resets["initiator_upn"].tolist() == ["helpdesk1@contoso.com"] * 2
    assert isinstance(resets["time"].dtype, pd.DatetimeTZDtype)
