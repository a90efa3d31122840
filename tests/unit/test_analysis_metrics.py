from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from sspr_review.analysis import METRIC_SPECS, AnalysisSettings, prepare, review_window, weekly_metrics, window_metrics
from sspr_review.core import schema
from tests.support.analysis import (
    ADMIN_REGISTERED,
    BLOCKED,
    BY_ADMIN,
    CHANGE,
    TAP_REASON,
    UNLOCK,
    WINDOW,
    audit,
    completed_flow,
    coverage,
    ev,
    priv_row,
    privileged,
    reg_row,
    registration,
    step,
    t,
)


def _week() -> pd.DataFrame:
    return audit(
        completed_flow(t("1d"), "u1", both=True),
        completed_flow(t("1d 2h"), "u2", both=False),
        completed_flow(t("2d"), "u3", both=True),
        step(t("2d 1h"), "u4", "User started the email verification option", "x4"),
        step(t("2d 1h 1min"), "u4", "User abandoned after trying the email verification option", "x4"),
        step(t("2d 2h"), "u5", "FuzzyPolicyViolationInvalidPassword", "x5"),
        ev(CHANGE, t("3d"), "u6", result="failure", reason="PasswordDoesnotComplyFuzzyPolicy"),
        ev(CHANGE, t("3d 1h"), "u6"),
        ev(UNLOCK, t("3d 2h"), "u7"),
        ev(BLOCKED, t("4d"), "u8"),
        ev(BLOCKED, t("4d 1h"), "u8"),
        ev(BLOCKED, t("4d 2h"), "u9"),
        ev(BY_ADMIN, t("5d"), "u10", initiator="helpdesk"),
        ev(ADMIN_REGISTERED, t("5d 1h"), "u10", initiator="helpdesk", reason=TAP_REASON),
        # the previous week: one reset
        completed_flow(t("-2d"), "u11"),
        # the week after: ignored
        completed_flow(t("8d"), "u12"),
    )


def test_counts_for_the_week_with_previous_values() -> None:
    data = prepare({"audit": _week()})
    m = window_metrics(data, WINDOW, AnalysisSettings(helpdesk_reset_cost=40.0), history_start={"audit": t("-30d")})
    assert m["sspr_resets"].value == 3
    assert m["sspr_resets"].previous == 1
    assert m["sspr_resets"].change == 2
    assert m["flows_started"].value == 5
    assert m["flow_success_rate"].value == pytest.approx(3 / 5)
    assert m["blocked_users"].value == 2
    assert m["account_unlocks"].value == 1
    assert m["password_changes"].value == 1
    assert m["banned_password_rejections"].value == 2
    assert m["helpdesk_resets"].value == 1
    assert m["taps_issued"].value == 1
    assert m["self_service_share"].value == pytest.approx(3 / 4)
    assert m["helpdesk_cost_avoided"].value == pytest.approx(120.0)
    assert m["method_sms_tried"].value == 3
    assert m["method_sms_failure_rate"].value == 0.0
    assert m["method_email_tried"].value == 1
    assert m["method_email_failure_rate"].value == 1.0
    assert m["method_voice_failure_rate"].value is None  # never tried: undefined, not 0
    assert set(m) == {s.name for s in METRIC_SPECS}


def test_previous_week_before_the_history_is_unknown_not_zero() -> None:
    data = prepare({"audit": _week()})
    m = window_metrics(data, WINDOW, history_start={"audit": WINDOW.start})
    assert m["sspr_resets"].value == 3
    assert m["sspr_resets"].previous is None


def test_an_empty_week_with_complete_sources_is_zero() -> None:
    tables = {
        "audit": schema.empty("audit"),
        "risk": schema.empty("risk"),
        "registration": registration(reg_row("u1"), reg_row("u2")),
        "privileged": schema.empty("privileged"),
    }
    data = prepare(tables, coverage=coverage())
    m = window_metrics(data, WINDOW)
    for name in ("sspr_resets", "flows_started", "blocked_users", "helpdesk_resets", "taps_issued"):
        assert m[name].value == 0, name
    assert m["helpdesk_cost_avoided"].value == 0.0
    assert m["flow_success_rate"].value is None  # no flows: a rate is undefined
    assert m["self_service_share"].value is None
    assert m["registration_coverage"].value == 1.0


def test_a_missing_source_gives_none_never_zero() -> None:
    tables = {"audit": _week(), "registration": registration(reg_row("u1"))}
    data = prepare(tables, coverage=coverage(missing={"audit": "AuditLog.Read.All missing", "registration": "no P1"}))
    m = window_metrics(data, WINDOW)
    assert all(metric.value is None for metric in m.values())


def test_registration_coverage_members_admins_and_snapshot_choice() -> None:
    reg = registration(
        # last week's snapshot (dated within the previous week)
        reg_row("u1", "2024-03-04", capable=False),
        reg_row("u2", "2024-03-04", capable=False),
        # this week: the Monday-morning fetch dated on the week_ending day
        reg_row("u1", "2024-03-11", capable=True),
        reg_row("u2", "2024-03-11", capable=False),
        reg_row("u3", "2024-03-11", capable=True),
        reg_row("u4", "2024-03-11", capable=False, enabled=False),  # SSPR not enabled: not counted
        reg_row("guest", "2024-03-11", capable=False, user_type="guest"),  # guests not counted
        reg_row("adm1", "2024-03-11", capable=False, admin=True),
        reg_row("adm2", "2024-03-11", capable=True),  # admin only through the roles table
        reg_row("u1", "2024-03-12", capable=False),  # after the week: ignored
    )
    roles = privileged(priv_row("adm2", "Helpdesk Administrator", "2024-03-01", group="IT admins"))
    data = prepare({"registration": reg, "privileged": roles})
    weekly = weekly_metrics(data, WINDOW, weeks=2)
    this, last = weekly.iloc[-1], weekly.iloc[-2]
    assert this["sspr_enabled_members"] == 5  # u1 u2 u3 adm1 adm2
    assert this["registration_coverage"] == pytest.approx(3 / 5)
    assert this["users_not_registered"] == 2
    assert this["admin_registration_coverage"] == pytest.approx(1 / 2)
    assert this["admins_not_capable"] == 1
    assert last["registration_coverage"] == 0.0


def test_weekly_trend_covers_the_whole_history_in_local_weeks() -> None:
    frame = audit(
        completed_flow(t("-20d"), "a"),
        completed_flow(t("-13d"), "b"),
        completed_flow(t("-13d 1h"), "c"),
        completed_flow(t("1d"), "d"),
    )
    weekly = weekly_metrics(prepare({"audit": frame}), WINDOW, history_start={"audit": t("-18d")})
    assert weekly["week_ending"].tolist() == ["2024-02-19", "2024-02-26", "2024-03-04", "2024-03-11"]
    assert weekly["sspr_resets"].fillna(-1).tolist() == [-1, 2, 0, 1]  # the first week starts before the history


def test_weekly_weeks_follow_daylight_saving_time() -> None:
    window = review_window("2024-04-08", "Europe/Berlin")
    frame = audit(completed_flow(pd.Timestamp("2024-03-31T22:30:00Z"), "a"))  # Monday 00:30 CEST
    weekly = weekly_metrics(prepare({"audit": frame}), window, weeks=2, history_start={"audit": datetime(2024, 1, 1)})
    hours = (weekly["week_end"] - weekly["week_start"]).dt.total_seconds() / 3600
    assert hours.tolist() == [167.0, 168.0]
    assert weekly["sspr_resets"].tolist() == [0, 1]
