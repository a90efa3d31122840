from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from sspr_review.analysis import (
    KINDS,
    METRIC_SPECS,
    SEVERITIES,
    AnalysisSettings,
    ReviewInputs,
    build_review,
    find_reset_spikes,
    findings_json,
    findings_schema,
    fingerprint,
    review_window,
)
from sspr_review.core import schema
from tests.support.analysis import (
    BLOCKED,
    BY_ADMIN,
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

GENERATED = datetime(2024, 3, 11, 7, 0, tzinfo=UTC)


def _tables() -> dict[str, Any]:
    spike = [
        row for i in range(10) for row in completed_flow(t("2d 3h") + i * (t("1min") - t()), f"s{i}", ip="203.0.113.7")
    ]
    return {
        "audit": audit(
            spike,
            completed_flow(t("1d"), "boss"),
            ev(BY_ADMIN, t("1d 2h"), "alice", initiator="helpdesk"),
            ev(BLOCKED, t("3d"), "victim"),
            step(t("4d"), "w", "OnPremisesConnectivityError", "wb"),
            step(t("4d"), "x", "A reason nobody has seen", "new"),
            ev("Some future activity", t("4d"), "x"),
            completed_flow(t("-3d"), "prev"),
        ),
        "risk": risk(risk_row("leaky", t("-10d"), det_id="det-9")),
        "registration": registration(reg_row("alice"), reg_row("boss", admin=True), reg_row("victim", capable=False)),
        "privileged": privileged(priv_row("boss")),
    }


def _validate(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(findings_schema()).validate(doc)
    json.dumps(doc, allow_nan=False)


def test_build_review_and_findings_json_validate_against_the_schema() -> None:
    review = build_review(
        ReviewInputs(_tables(), coverage(), WINDOW, tenant={"id": "t-1", "name": "Contoso"}), AnalysisSettings()
    )
    kinds = {f.kind for f in review.findings}
    assert {"reset_spike", "admin_password_reset", "helpdesk_reset", "blocked_user", "writeback_failure"} <= kinds
    assert {"leaked_credentials_unremediated", "registration_gap"} <= kinds
    assert "data_gap" not in kinds
    doc = findings_json(review, generated_at=GENERATED)
    _validate(doc)
    assert doc["schema_version"] == "1.2"
    assert doc["tenant"] == {"id": "t-1", "name": "Contoso"}
    assert doc["window"] == {
        "start": "2024-03-04T00:00:00Z",
        "end": "2024-03-11T00:00:00Z",
        "previous_start": "2024-02-26T00:00:00Z",
        "time_zone": "UTC",
        "week_ending": "2024-03-11",
    }
    assert doc["generated_at"] == "2024-03-11T07:00:00Z"
    assert doc["coverage"]["audit"]["complete"] is True
    assert doc["metrics"]["sspr_resets"]["value"] == 11
    severities = [SEVERITIES.index(f["severity"]) for f in doc["findings"]]
    assert severities == sorted(severities)
    assert all(f["status"] is None for f in doc["findings"])
    assert doc["unrecognised_reasons"][0]["reason"] == "A reason nobody has seen"
    assert doc["unknown_activities"] == [
        {"activity": "Some future activity", "service": "Self-service Password Management", "events": 1}
    ]
    assert doc["flows"]["by_end_state"]["failed_writeback"] == 1


def test_a_missing_source_is_a_data_gap_and_its_metrics_are_null() -> None:
    cov = coverage(missing={"audit": "the store holds audit events only from 2024-03-06", "roles": "403 Forbidden"})
    review = build_review(ReviewInputs(_tables(), cov, WINDOW), AnalysisSettings())
    doc = findings_json(review, generated_at=GENERATED)
    _validate(doc)
    gaps = {f["evidence"]["source"]: f for f in doc["findings"] if f["kind"] == "data_gap"}
    assert set(gaps) == {"audit", "roles"}
    assert doc["findings"][0]["kind"] == "data_gap"
    assert "reset_spike" in gaps["audit"]["evidence"]["not_evaluated"]
    assert set(doc["not_evaluated"]) >= {"reset_spike", "blocked_user", "helpdesk_reset", "admin_password_reset"}
    assert not {f["kind"] for f in doc["findings"]} & set(doc["not_evaluated"])
    for spec in METRIC_SPECS:
        if spec.kind == "audit":
            assert doc["metrics"][spec.name]["value"] is None, spec.name
    assert doc["metrics"]["registration_coverage"]["value"] is not None
    assert doc["flows"] == {"started": None, "by_end_state": None}


def test_an_empty_week_has_zero_counts_and_no_findings() -> None:
    tables = {
        "audit": schema.empty("audit"),
        "risk": schema.empty("risk"),
        "registration": registration(reg_row("a"), reg_row("b")),
        "privileged": privileged(priv_row("a")),
    }
    review = build_review(ReviewInputs(tables, coverage(), WINDOW))
    doc = findings_json(review, generated_at=GENERATED)
    _validate(doc)
    assert doc["findings"] == []
    assert doc["metrics"]["sspr_resets"] == {"value": 0, "previous": None, "unit": "count", "source": "audit"}
    assert doc["metrics"]["blocked_users"]["value"] == 0
    assert doc["flows"]["started"] == 0


def test_previous_findings_json_marks_new_continuing_and_resolved() -> None:
    tables = _tables()
    first = findings_json(build_review(ReviewInputs(tables, coverage(), WINDOW)), generated_at=GENERATED)
    next_window = WINDOW.shift(-1)
    tables["audit"] = audit(ev(BLOCKED, t("9d"), "victim"), ev(BLOCKED, t("9d"), "newcomer"))
    second = build_review(
        ReviewInputs(tables, coverage(next_window), next_window, previous_findings=json.loads(json.dumps(first)))
    )
    doc = findings_json(second, generated_at=GENERATED)
    _validate(doc)
    status = {(f["kind"], tuple(f["users"])): f["status"] for f in doc["findings"]}
    assert status[("blocked_user", ("victim@contoso.com",))] == "continuing"
    assert status[("blocked_user", ("newcomer@contoso.com",))] == "new"
    assert status[("leaked_credentials_unremediated", ("leaky@contoso.com",))] == "continuing"
    resolved = {r["kind"] for r in doc["resolved"]}
    assert {"reset_spike", "helpdesk_reset", "writeback_failure"} <= resolved


def test_schema_enums_match_the_code() -> None:
    s = findings_schema()
    assert s["$defs"]["kind"]["enum"] == list(KINDS)
    assert s["$defs"]["finding"]["properties"]["severity"]["enum"] == list(SEVERITIES)
    assert set(s["properties"]["metrics"]["required"]) == {m.name for m in METRIC_SPECS}


def test_schema_rejects_a_broken_document() -> None:
    doc = findings_json(
        build_review(ReviewInputs({"audit": schema.empty("audit")}, coverage(), WINDOW)), generated_at=GENERATED
    )
    broken = json.loads(json.dumps(doc))
    broken["window"]["start"] = "2024-03-04 00:00"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, findings_schema())


def test_findings_json_needs_an_aware_generated_at() -> None:
    review = build_review(ReviewInputs({"audit": schema.empty("audit")}, coverage(), WINDOW))
    with pytest.raises(ValueError, match="timezone-aware"):
        findings_json(review, generated_at=datetime(2024, 3, 11))


@pytest.fixture(scope="module")
def demo_review() -> tuple[Any, Any]:
    """The review of the demo tenant's last week, and what it planted."""
    from sspr_review.ingest import normalize
    from sspr_review.sources.demo import tenant as demo

    end = datetime(2024, 3, 11, tzinfo=UTC)
    tenant = demo.DemoTenant(users=600, weeks=6, seed=11, end=end)
    planted = tenant.planted
    window = review_window(planted.review_end, "UTC")
    audit_frame, _ = normalize.audit(tenant.directory_audits(window.end - timedelta(weeks=6), window.end))
    risk_frame, _ = normalize.risk(tenant.risk_detections(window.end))
    reg_frame, _ = normalize.registration(tenant.user_registration_details(window.end), window.end)
    assignments = tenant.role_assignments()
    groups = {
        str(a["principal"]["id"])
        for a in assignments
        if str(a.get("principal", {}).get("@odata.type", "")).endswith(".group")
    }
    priv_frame = normalize.privileged(
        tenant.role_definitions(),
        assignments,
        tenant.role_eligibility_schedule_instances(),
        {g: tenant.group_members(g) for g in sorted(groups)},
        window.end,
        users=reg_frame,
    )
    tables = {"audit": audit_frame, "risk": risk_frame, "registration": reg_frame, "privileged": priv_frame}
    review = build_review(ReviewInputs(tables, coverage(window), window), AnalysisSettings())
    return review, planted


def _users_of(review: Any, kind: str, **evidence: Any) -> set[str]:
    return {
        u.lower()
        for f in review.findings
        if f.kind == kind and all(f.evidence.get(k) == v for k, v in evidence.items())
        for u in f.users
    }


def _upns(users: Any) -> set[str]:
    return {u.upn.lower() for u in users}


def test_demo_tenant_spike_burst_and_near_miss(demo_review: tuple[Any, Any]) -> None:
    review, p = demo_review
    spikes = [f for f in review.findings if f.kind == "reset_spike"]
    assert len(spikes) == 1
    assert {u.lower() for u in spikes[0].users} == _upns(p.spike_users)
    assert set(spikes[0].evidence["source_ips"]) <= set(p.spike_ips)
    assert p.burst_user.upn.lower() not in {u.lower() for f in spikes for u in f.users}
    # as before the tenant-relative rule (issue 28): found by the chapter's rule, the same fingerprint (the UTC
    # hour of its first reset), high; six weeks of history are too few for a baseline, and the finding says so
    spike = spikes[0]
    hour = p.spike_start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    assert spike.fingerprint == fingerprint("reset_spike", hour.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert spike.severity == "high" and "volume" in spike.evidence["trigger"]
    assert "one_network" in spike.evidence["signals_fired"]  # 203.0.113.45-47, new to every planted account
    assert spike.evidence["baseline"]["applied"] is False and "absolute rule" in spike.evidence["baseline"]["note"]
    # the near miss (nine accounts, each from its own IP, within 45 minutes) two weeks before stays silent
    assert p.near_miss_start < review.window.start
    earlier = find_reset_spikes(review.data, review.window.shift(2), review.settings)
    assert review.window.shift(2).start <= p.near_miss_start < review.window.shift(2).end and earlier == []


def test_demo_tenant_leaked_credentials(demo_review: tuple[Any, Any]) -> None:
    review, p = demo_review
    assert _users_of(review, "leaked_credentials_remediated") == _upns(p.leak_remediated_users)
    unremediated = _users_of(review, "leaked_credentials_unremediated")
    assert _upns(p.leak_unremediated_users) | {p.leak_reset_before_user.upn.lower()} <= unremediated
    assert p.leak_grace_user.upn.lower() not in unremediated
    assert p.leak_dismissed_user.upn.lower() not in unremediated


def test_demo_tenant_blocked_users(demo_review: tuple[Any, Any]) -> None:
    review, p = demo_review
    help_ = _users_of(review, "blocked_user", assessment="needs_registration_help")
    attack = _users_of(review, "blocked_user", assessment="possible_attack")
    assert _upns(p.blocked_unregistered_users) <= help_
    assert p.blocked_risk_user.upn.lower() in attack
    assert p.blocked_ip_users[0].upn.lower() in attack
    assert p.blocked_voice_user.upn.lower() in attack


def test_demo_tenant_admin_and_helpdesk_resets(demo_review: tuple[Any, Any]) -> None:
    review, p = demo_review
    admins = _users_of(review, "admin_password_reset")
    assert {p.admin_self_reset_user.upn.lower(), p.admin_group_reset_user.upn.lower()} <= admins
    helpdesk = _users_of(review, "helpdesk_reset")
    assert _upns(p.helpdesk_reset_users) <= helpdesk
    assert _upns(p.helpdesk_tap_users) <= _users_of(review, "helpdesk_reset", tap_issued=True)
    assert not admins & helpdesk


def test_demo_tenant_writeback_banned_and_unknowns(demo_review: tuple[Any, Any]) -> None:
    review, p = demo_review
    assert _upns(p.writeback_users) <= _users_of(review, "writeback_failure")
    assert review.metrics["banned_password_rejections"].value >= len(p.banned_users)
    assert p.unknown_activity in set(review.unknown_activities["activity"])
    assert p.unknown_reason in set(review.unrecognised_reasons["reason"])
    _validate(findings_json(review, generated_at=GENERATED))


def test_demo_tenant_takeover_signals(demo_review: tuple[Any, Any]) -> None:
    """Both takeover kinds on the demo tenant: the planted cases in their weeks, the near misses not."""
    from sspr_review.analysis.review import week_findings

    review, p = demo_review
    before = review.window.shift(1)
    earlier, _ = week_findings(review.data, coverage(before), before, review.settings)

    def of(findings: Any, kind: str) -> dict[str, str]:
        return {u.lower(): f.severity for f in findings if f.kind == kind for u in f.users}

    chains, chains_before = (
        of(review.findings, "security_info_changed_after_reset"),
        of(earlier, "security_info_changed_after_reset"),
    )
    assert chains[p.takeover_high_user.upn.lower()] == "high"
    assert chains_before[p.takeover_medium_user.upn.lower()] == "medium"
    assert chains_before[p.takeover_deleted_user.upn.lower()] == "high"
    for near in (p.takeover_late_user, p.takeover_before_user, p.takeover_tap_user):
        assert near.upn.lower() not in chains | chains_before
    (high,) = [
        f
        for f in review.findings
        if p.takeover_high_user.upn.lower() in {u.lower() for u in f.users}
        and f.kind == "security_info_changed_after_reset"
    ]
    assert high.evidence["changes_count"] == 3  # one sitting: registered twice, default changed; one finding
    assert high.evidence["ips_not_used_by_reset"] == [p.takeover_ip]

    phones, phones_before = of(review.findings, "phone_only_reset_new_ip"), of(earlier, "phone_only_reset_new_ip")
    assert phones[p.phone_new_ip_user.upn.lower()] == "high"
    assert phones_before[p.phone_new_ip_medium_user.upn.lower()] == "medium"
    for near in (p.phone_usual_ip_user, p.app_new_ip_user, p.phone_no_history_user):
        assert near.upn.lower() not in phones | phones_before
    assert review.not_judged["phone_only_reset_new_ip"]["resets"] >= 2  # takeover_high_user, phone_no_history_user
    _validate(findings_json(review, generated_at=GENERATED))
