from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from sspr_review.analysis import (
    AnalysisSettings,
    Finding,
    compare,
    data_gaps,
    evaluate,
    find_admin_password_resets,
    find_blocked_users,
    find_helpdesk_resets,
    find_leaked_credentials_remediated,
    find_leaked_credentials_unremediated,
    find_registration_gaps,
    find_reset_spikes,
    find_writeback_failures,
    fingerprint,
    prepare,
    sort_findings,
)
from sspr_review.core import schema
from tests.support.analysis import (
    ADMIN_REGISTERED,
    BLOCKED,
    BY_ADMIN,
    CHANGE,
    DIRECTORY_RESET,
    SSPR_RESET,
    TAP_REASON,
    WINDOW,
    audit,
    completed_flow,
    coverage,
    ev,
    priv_row,
    privileged,
    reg_row,
    registration,
    risk,
    risk_row,
    step,
    t,
)

S = AnalysisSettings()


def _resets(
    count: int, spread_minutes: float, *, base: str = "2d 10h", ip: str = "203.0.113.7"
) -> list[dict[str, Any]]:
    """``count`` completed resets of distinct accounts, evenly spread from ``base`` over ``spread_minutes``."""
    step_ = spread_minutes / max(count - 1, 1)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        rows += completed_flow(t(base) + pd.Timedelta(minutes=step_ * i), f"s{i}", ip=ip)
    return rows


def _json_ready(findings: list[Finding]) -> None:
    for f in findings:
        json.dumps(f.evidence)
        assert f.fingerprint and len(f.fingerprint) == 16


# ------------------------------------------------------------------------------------------------ reset_spike


def test_ten_accounts_in_an_hour_is_a_spike() -> None:
    found = find_reset_spikes(prepare({"audit": audit(_resets(10, 59))}), WINDOW, S)
    assert len(found) == 1
    spike = found[0]
    assert spike.kind == "reset_spike" and spike.severity == "high"
    assert spike.evidence["accounts_count"] == 10
    assert spike.evidence["peak_accounts"] == 10
    assert spike.evidence["source_ips"] == {"203.0.113.7": 10}
    assert {a["user"] for a in spike.evidence["accounts"]} == {f"s{i}@contoso.com" for i in range(10)}
    assert spike.evidence["accounts"][0]["ips"] == ["203.0.113.7"]
    assert "risk detections" in spike.action and "sign-ins" in spike.action
    _json_ready(found)


def test_nine_accounts_is_not_a_spike() -> None:
    assert find_reset_spikes(prepare({"audit": audit(_resets(9, 30))}), WINDOW, S) == []


def test_exactly_sixty_minutes_apart_is_inside_the_window() -> None:
    assert len(find_reset_spikes(prepare({"audit": audit(_resets(10, 60))}), WINDOW, S)) == 1


def test_ten_accounts_spread_over_61_minutes_is_not_a_spike() -> None:
    assert find_reset_spikes(prepare({"audit": audit(_resets(10, 61))}), WINDOW, S) == []


def test_sliding_window_not_clock_hours() -> None:
    # 10:40-11:20 straddles two clock hours with only five resets in each.
    found = find_reset_spikes(prepare({"audit": audit(_resets(10, 40, base="2d 10h 40min"))}), WINDOW, S)
    assert len(found) == 1


def test_one_user_resetting_twelve_times_is_not_a_spike() -> None:
    rows: list[dict[str, Any]] = []
    for i in range(12):
        rows += completed_flow(t("2d 10h") + pd.Timedelta(minutes=4 * i), "same")
    data = prepare({"audit": audit(rows)})
    assert len(data.resets) == 12
    assert find_reset_spikes(data, WINDOW, S) == []


def test_repeats_do_not_make_nine_accounts_ten() -> None:
    rows = _resets(9, 30) + completed_flow(t("2d 10h 5min"), "s0")
    assert find_reset_spikes(prepare({"audit": audit(rows)}), WINDOW, S) == []


def test_a_flow_with_both_completion_events_is_one_account_reset() -> None:
    # Nine accounts with both completion events: still nine resets, not eighteen. Each from its own IP: nine
    # accounts from one IP within ten minutes are a burst of their own (test_analysis_spikes.py).
    rows = [
        row
        for i in range(9)
        for row in completed_flow(t("2d 10h") + pd.Timedelta(minutes=i), f"s{i}", ip=f"198.18.{i}.1")
    ]
    data = prepare({"audit": audit(rows)})
    assert len(data.resets) == 9
    assert find_reset_spikes(data, WINDOW, S) == []


def test_overlapping_windows_are_one_spike_and_separate_bursts_are_two() -> None:
    one = find_reset_spikes(prepare({"audit": audit(_resets(30, 150))}), WINDOW, S)
    assert len(one) == 1 and one[0].evidence["accounts_count"] == 30
    two = audit(_resets(10, 20, base="1d 8h"), [dict(r, id=r["id"] + "b") for r in _resets(10, 20, base="3d 8h")])
    found = find_reset_spikes(prepare({"audit": two}), WINDOW, S)
    assert len(found) == 2
    assert len({f.fingerprint for f in found}) == 2


def test_spike_fingerprint_is_stable_across_reruns_and_settings() -> None:
    a = find_reset_spikes(prepare({"audit": audit(_resets(10, 30))}), WINDOW, S)[0]
    b = find_reset_spikes(prepare({"audit": audit(_resets(12, 40))}), WINDOW, AnalysisSettings(spike_accounts=5))[0]
    assert a.fingerprint == b.fingerprint  # same hour of the first reset


def test_spike_outside_the_week_is_not_reported() -> None:
    assert find_reset_spikes(prepare({"audit": audit(_resets(10, 30, base="-2d"))}), WINDOW, S) == []


# ----------------------------------------------------------------------------------------------- blocked_user


def _blocked_tables(extra_audit: list[dict[str, Any]] | None = None, **tables: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rows = [
        step(t("3d"), "victim", "User started the mobile SMS verification option", "v1", "198.51.100.9"),
        ev(BLOCKED, t("3d 1h"), "victim", ip="198.51.100.9"),
        *(extra_audit or []),
    ]
    out = {
        "audit": audit(rows),
        "risk": schema.empty("risk"),
        "registration": registration(reg_row("victim", "2024-03-01", methods="email,mobilePhone")),
        "privileged": schema.empty("privileged"),
    }
    out.update(tables)
    return out


def test_blocked_user_with_registered_methods_and_no_signal_needs_help() -> None:
    found = find_blocked_users(prepare(_blocked_tables()), WINDOW, S)
    assert len(found) == 1
    f = found[0]
    assert f.evidence["assessment"] == "needs_registration_help"
    assert f.severity == "low"
    assert f.users == ("victim@contoso.com",)
    assert "register" in f.action
    _json_ready(found)


def test_blocked_user_not_registered_needs_registration_help() -> None:
    tables = _blocked_tables(
        registration=registration(reg_row("victim", "2024-03-01", capable=False, methods="mobilePhone"))
    )
    f = find_blocked_users(prepare(tables), WINDOW, S)[0]
    assert f.evidence["assessment"] == "needs_registration_help"
    assert f.evidence["registration_signals"]["not_sspr_capable"] is True


def test_blocked_user_with_configuration_failures_needs_help() -> None:
    extra = [step(t("3d 2h"), "victim", "User's account has insufficient authentication methods defined. ", "v2")]
    f = find_blocked_users(prepare(_blocked_tables(extra)), WINDOW, S)[0]
    assert f.evidence["assessment"] == "needs_registration_help"
    assert f.evidence["registration_signals"]["configuration_failures"] == 1


def test_blocked_user_with_recent_risk_detection_is_a_possible_attack() -> None:
    tables = _blocked_tables(risk=risk(risk_row("victim", t("-10d"), kind="unfamiliarFeatures")))
    f = find_blocked_users(prepare(tables), WINDOW, S)[0]
    assert f.evidence["assessment"] == "possible_attack"
    assert f.severity == "high"
    assert f.evidence["attack_signals"]["recent_risk_detections"][0]["risk_event_type"] == "unfamiliarFeatures"
    assert "Temporary Access Pass" in f.action and "known channel" in f.action


def test_risk_detection_older_than_the_lookback_is_no_signal() -> None:
    tables = _blocked_tables(risk=risk(risk_row("victim", t("-12d"), kind="unfamiliarFeatures")))
    assert find_blocked_users(prepare(tables), WINDOW, S)[0].evidence["assessment"] == "needs_registration_help"


def test_blocking_ip_trying_three_other_accounts_is_a_possible_attack() -> None:
    others = [step(t("3d"), f"o{i}", "User submitted their user ID", f"o{i}", "198.51.100.9") for i in range(3)]
    f = find_blocked_users(prepare(_blocked_tables(others)), WINDOW, S)[0]
    assert f.evidence["assessment"] == "possible_attack"
    assert f.evidence["attack_signals"]["ip_used_for_other_accounts"]["198.51.100.9"]["other_accounts"] == 3
    two = find_blocked_users(prepare(_blocked_tables(others[:2])), WINDOW, S)[0]
    assert two.evidence["assessment"] == "needs_registration_help"


def test_failed_gate_for_a_method_never_registered_is_a_possible_attack() -> None:
    tables = _blocked_tables(registration=registration(reg_row("victim", "2024-03-01", methods="email")))
    f = find_blocked_users(prepare(tables), WINDOW, S)[0]
    assert f.evidence["assessment"] == "possible_attack"
    assert f.evidence["attack_signals"]["failed_methods_never_registered"] == ["sms"]


def test_blocked_user_without_risk_data_says_so() -> None:
    data = prepare(_blocked_tables(), coverage=coverage(missing={"risk": "no P2 licence"}))
    f = find_blocked_users(data, WINDOW, S)[0]
    assert f.evidence["not_evaluated"] == ["risk"]


def test_one_finding_per_blocked_user() -> None:
    extra = [ev(BLOCKED, t("4d"), "victim"), ev(BLOCKED, t("4d"), "other"), ev(BLOCKED, t("-1d"), "old")]
    found = find_blocked_users(prepare(_blocked_tables(extra)), WINDOW, S)
    assert sorted(f.users[0] for f in found) == ["other@contoso.com", "victim@contoso.com"]
    victim = next(f for f in found if f.users[0].startswith("victim"))
    assert victim.evidence["blocks"] == 2


# ------------------------------------------------------------------------------------------ leaked credentials


def _leak_tables(reset_at: str | None, detected: str = "-1d", **kw: Any) -> dict[str, pd.DataFrame]:
    rows = completed_flow(t(reset_at), "leaky") if reset_at else []
    return {"audit": audit(rows), "risk": risk(risk_row("leaky", t(detected), det_id="det-1", **kw))}


def test_reset_after_the_detection_is_remediated() -> None:
    data = prepare(_leak_tables("1d"))
    found = find_leaked_credentials_remediated(data, WINDOW, S)
    assert len(found) == 1
    f = found[0]
    assert f.severity == "info"
    assert f.evidence["detection_id"] == "det-1"
    assert f.evidence["remediation"] == "sspr_reset"
    assert f.evidence["hours_to_remediate"] == 48.0
    assert find_leaked_credentials_unremediated(data, WINDOW, S) == []


def test_reset_before_the_detection_is_not_a_remediation() -> None:
    data = prepare(_leak_tables("-2d"))
    assert find_leaked_credentials_remediated(data, WINDOW, S) == []
    found = find_leaked_credentials_unremediated(data, WINDOW, S)
    assert len(found) == 1
    assert found[0].severity == "high"
    assert found[0].evidence["age_days"] == 8.0


def test_password_change_counts_as_remediation() -> None:
    tables = {"audit": audit(ev(CHANGE, t("2d"), "leaky")), "risk": risk(risk_row("leaky", t("1d")))}
    found = find_leaked_credentials_remediated(prepare(tables), WINDOW, S)
    assert found[0].evidence["remediation"] == "password_change"


def test_reset_later_than_the_remediation_window_is_not_reported_as_remediated() -> None:
    data = prepare(_leak_tables("5d", detected="-5d"))
    assert find_leaked_credentials_remediated(data, WINDOW, S) == []
    assert find_leaked_credentials_remediated(data, WINDOW, AnalysisSettings(leak_remediation_days=14))


def test_unremediated_within_the_grace_period_is_not_yet_a_finding() -> None:
    assert find_leaked_credentials_unremediated(prepare(_leak_tables(None, detected="5d")), WINDOW, S) == []
    assert find_leaked_credentials_unremediated(prepare(_leak_tables(None, detected="4d")), WINDOW, S)


@pytest.mark.parametrize("state", ["dismissed", "remediated", "confirmedSafe"])
def test_closed_detections_are_not_unremediated(state: str) -> None:
    assert find_leaked_credentials_unremediated(prepare(_leak_tables(None, state=state)), WINDOW, S) == []


def test_other_users_resets_do_not_remediate() -> None:
    tables = {"audit": audit(completed_flow(t("1d"), "someone")), "risk": risk(risk_row("leaky", t("-1d")))}
    data = prepare(tables)
    assert find_leaked_credentials_remediated(data, WINDOW, S) == []
    assert len(find_leaked_credentials_unremediated(data, WINDOW, S)) == 1


def test_leak_fingerprint_is_stable_week_to_week() -> None:
    data = prepare(_leak_tables(None, detected="-10d"))
    now = find_leaked_credentials_unremediated(data, WINDOW, S)[0]
    later = find_leaked_credentials_unremediated(data, WINDOW.shift(-1), S)[0]
    assert now.fingerprint == later.fingerprint


# ------------------------------------------------------------------------------- admin and helpdesk resets


def test_self_service_reset_of_a_group_assigned_admin_is_an_admin_reset() -> None:
    tables = {
        "audit": audit(completed_flow(t("2d"), "boss", ip="192.0.2.1")),
        "privileged": privileged(
            priv_row(
                "boss", "Privileged Role Administrator", "2024-03-01", group="Tier0 admins", assignment="eligible"
            ),
            priv_row("boss", "Privileged Role Administrator", "2024-03-01", principal_type="group"),
        ),
    }
    found = find_admin_password_resets(prepare(tables), WINDOW, S)
    assert len(found) == 1
    f = found[0]
    assert f.severity == "high"
    assert f.evidence["roles"] == ["Privileged Role Administrator"]
    assert f.evidence["via_groups"] == ["Tier0 admins"]
    assert f.evidence["assignments"] == ["eligible"]
    assert f.evidence["resets"][0]["type"] == "self_service"
    assert f.evidence["ips"] == ["192.0.2.1"]
    assert find_helpdesk_resets(prepare(tables), WINDOW, S) == []


def test_admin_reset_by_someone_else_names_the_initiator() -> None:
    tables = {
        "audit": audit(ev(BY_ADMIN, t("2d"), "boss", initiator="helpdesk", ip="192.0.2.5")),
        "privileged": privileged(priv_row("boss")),
    }
    f = find_admin_password_resets(prepare(tables), WINDOW, S)[0]
    assert f.evidence["initiators"] == ["helpdesk@contoso.com"]
    assert f.evidence["resets"][0]["ip"] == "192.0.2.5"


def test_privilege_is_taken_from_the_latest_snapshot_before_the_reset() -> None:
    tables = {
        "audit": audit(completed_flow(t("2d"), "former")),
        "privileged": privileged(priv_row("former", snapshot="2024-02-20"), priv_row("someone", snapshot="2024-03-01")),
    }
    assert find_admin_password_resets(prepare(tables), WINDOW, S) == []


def test_registration_is_admin_is_the_fallback_without_roles() -> None:
    tables = {
        "audit": audit(completed_flow(t("2d"), "boss")),
        "registration": registration(reg_row("boss", admin=True)),
    }
    data = prepare(tables, coverage=coverage(missing={"roles": "RoleManagement.Read.Directory missing"}))
    found = find_admin_password_resets(data, WINDOW, S)
    assert len(found) == 1 and found[0].evidence["privilege_basis"] == "registration"


@pytest.mark.parametrize(
    ("reg_id", "reg_upn"),
    [(None, "Boss@Contoso.COM"), ("ID-BOSS", "someone.else@contoso.com"), (" id-Boss ", None)],
    ids=["upn-in-other-case", "id-in-other-case", "id-padded"],
)
def test_registration_rows_match_events_whatever_the_case(reg_id: str | None, reg_upn: str | None) -> None:
    # The registration report and the audit events may write a user's id or UPN in different cases: the row is
    # found all the same (its isAdmin flag makes the reset an administrator's).
    row = {**reg_row("boss", admin=True), "user_id": reg_id, "user_upn": reg_upn}
    tables = {"audit": audit(completed_flow(t("2d"), "boss")), "registration": registration(row)}
    data = prepare(tables, coverage=coverage(missing={"roles": "RoleManagement.Read.Directory missing"}))
    found = find_admin_password_resets(data, WINDOW, S)
    assert len(found) == 1 and found[0].evidence["privilege_basis"] == "registration"


def test_helpdesk_reset_of_a_normal_user_with_and_without_tap() -> None:
    rows = [
        ev(BY_ADMIN, t("2d"), "alice", initiator="helpdesk"),
        ev(ADMIN_REGISTERED, t("2d 10min"), "alice", initiator="helpdesk", reason=TAP_REASON),
        ev(DIRECTORY_RESET, t("3d"), "bob", initiator="helpdesk", service="Core Directory"),
        ev(ADMIN_REGISTERED, t("5d"), "bob", initiator="helpdesk", reason=TAP_REASON),  # 2 days later: not for it
    ]
    found = find_helpdesk_resets(prepare({"audit": audit(rows), "privileged": privileged(priv_row("root"))}), WINDOW, S)
    by_user = {f.users[0]: f for f in found}
    assert set(by_user) == {"alice@contoso.com", "bob@contoso.com"}
    assert by_user["alice@contoso.com"].evidence["tap_issued"] is True
    assert by_user["bob@contoso.com"].evidence["tap_issued"] is False
    assert by_user["bob@contoso.com"].severity == "medium"
    assert by_user["bob@contoso.com"].evidence["privileged"] is False
    _json_ready(found)


def test_own_password_change_is_not_a_helpdesk_reset() -> None:
    rows = [ev(DIRECTORY_RESET, t("2d"), "alice", initiator="alice"), ev(SSPR_RESET, t("2d"), "alice")]
    assert find_helpdesk_resets(prepare({"audit": audit(rows)}), WINDOW, S) == []


# ------------------------------------------------------------------------------------------ writeback_failure


def test_writeback_failures_are_grouped_by_cause_with_a_remedy() -> None:
    rows = [
        step(t("1d"), "a", "OnPremisesConnectivityError", "w1"),
        step(t("1d 1h"), "b", "We could not reach your on-premises password reset service.", "w2"),
        step(t("1d 2h"), "c", "OnPremisesConnectivityError", "w3"),
        ev(SSPR_RESET, t("2d"), "d", result="failure", reason="OnPremisesAdminActionRequired", corr="w4"),
        step(t("2d 1h"), "f", "We encountered a problem while resetting the user's on-premises password.", "w5"),
        step(t("2d"), "e", "User successfully reset password", "ok"),
        step(t("-1d"), "g", "OnPremisesConnectivityError", "old"),  # before the week
    ]
    found = find_writeback_failures(prepare({"audit": audit(rows)}), WINDOW, S)
    by_cause = {f.evidence["cause"]: f for f in found}
    assert set(by_cause) == {"agent_unreachable", "ad_refused", "other"}
    unreachable = by_cause["agent_unreachable"]
    assert unreachable.evidence["events"] == 3 and unreachable.evidence["attempts"] == 3
    assert unreachable.users == ("a@contoso.com", "b@contoso.com", "c@contoso.com")
    assert unreachable.evidence["rules"] == ["could not reach your on-premises", "onpremisesconnectivityerror"]
    assert "permissions" in by_cause["ad_refused"].action
    assert "event log" in by_cause["other"].action
    assert all(f.severity == "medium" for f in found)
    assert len({f.fingerprint for f in found}) == 3


# ------------------------------------------------------------------------------------------- registration_gap


def test_registration_gap_below_target_is_low_and_admins_make_it_medium() -> None:
    users = [reg_row(f"u{i}", capable=i < 9) for i in range(10)]  # 90 %
    low = find_registration_gaps(prepare({"registration": registration(*users)}), WINDOW, S)
    assert len(low) == 1 and low[0].severity == "low"
    assert low[0].evidence["coverage"] == pytest.approx(0.9)
    assert low[0].evidence["not_registered_sample"] == ["u9@contoso.com"]
    admins = [*users, reg_row("adm", capable=False, admin=True)]
    medium = find_registration_gaps(prepare({"registration": registration(*admins)}), WINDOW, S)
    assert medium[0].severity == "medium"
    assert medium[0].evidence["admins_not_capable"] == ["adm@contoso.com"]
    assert medium[0].users[0] == "adm@contoso.com"
    assert low[0].fingerprint == medium[0].fingerprint


def test_no_registration_gap_at_target() -> None:
    users = [reg_row(f"u{i}", capable=i < 19) for i in range(20)]  # 95 %
    assert find_registration_gaps(prepare({"registration": registration(*users)}), WINDOW, S) == []


# ------------------------------------------------------------------------------------ data gaps and evaluate


def test_missing_source_skips_dependent_rules_and_is_a_data_gap() -> None:
    cov = coverage(missing={"risk": "IdentityRiskEvent.Read.All not granted"})
    data = prepare({"audit": audit(completed_flow(t("1d"), "u1"))}, coverage=cov)
    _, skipped = evaluate(data, WINDOW, S)
    assert set(skipped) == {"leaked_credentials_remediated", "leaked_credentials_unremediated"}
    gaps = data_gaps(cov, data.complete, skipped, WINDOW)
    assert len(gaps) == 1
    gap = gaps[0]
    assert gap.kind == "data_gap" and gap.severity == "critical"
    assert gap.evidence["source"] == "risk"
    assert set(gap.evidence["not_evaluated"]) == set(skipped)
    assert "blocked_user" in gap.evidence["evaluated_without_it"]
    assert "IdentityRiskEvent.Read.All" in gap.title
    assert gap.fingerprint == fingerprint("data_gap", "risk")


def test_source_absent_from_coverage_is_missing() -> None:
    cov = {k: v for k, v in coverage().items() if k != "registration"}
    gaps = data_gaps(cov, {s for s, c in cov.items() if c.complete}, ["registration_gap"], WINDOW)
    assert [g.evidence["source"] for g in gaps] == ["registration"]
    assert gaps[0].evidence["reason"] == "no coverage information for this source"


# ------------------------------------------------------------------------------------------------- compare


def _finding(kind: str, fp: str, severity: str = "high") -> Finding:
    return Finding(kind, severity, fp, (), None, None, {}, "do it", fingerprint(kind, fp))


def test_compare_new_continuing_resolved_and_unknown() -> None:
    before = [
        _finding("blocked_user", "a"),
        _finding("blocked_user", "b"),
        _finding("leaked_credentials_unremediated", "x"),
    ]
    now = [_finding("blocked_user", "b"), _finding("blocked_user", "c")]
    result = compare(now, before, not_evaluated=["leaked_credentials_unremediated"])
    assert [f.title for f in result.new] == ["c"]
    assert [f.title for f in result.continuing] == ["b"]
    assert [f.title for f in result.resolved] == ["a"]
    assert [f.title for f in result.unknown] == ["x"]
    assert result.status(now[0]) == "continuing" and result.status(now[1]) == "new"


def test_sort_findings_by_severity() -> None:
    items = [
        _finding("leaked_credentials_remediated", "i", "info"),
        _finding("data_gap", "d", "critical"),
        _finding("helpdesk_reset", "m", "medium"),
    ]
    assert [f.severity for f in sort_findings(items)] == ["critical", "medium", "info"]


def test_finding_rejects_unknown_kind_and_severity() -> None:
    with pytest.raises(ValueError, match="severity"):
        Finding("data_gap", "urgent", "t", (), None, None, {}, "a", "f")
    with pytest.raises(ValueError, match="kind"):
        Finding("odd", "low", "t", (), None, None, {}, "a", "f")
