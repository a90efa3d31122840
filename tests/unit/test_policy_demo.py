"""The demo tenant's planted SSPR configuration changes (issue 23, point 5): in Graph's shape, found by the review as
planted, and planted without moving any other case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sspr_review.analysis import ReviewInputs, build_review, findings_json, review_window
from sspr_review.core.coverage import Coverage
from sspr_review.core.settings import AnalysisSettings
from sspr_review.ingest import normalize
from sspr_review.mail import body
from sspr_review.mail.identities import Identities, pseudonym
from sspr_review.sources.base import run_sync
from sspr_review.sources.demo import plants
from sspr_review.sources.demo.source import DemoSource
from sspr_review.sources.demo.tenant import DemoTenant
from tests.support.analysis import coverage

END = datetime(2024, 3, 11, tzinfo=UTC)


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return DemoTenant(users=300, weeks=5, seed=11, end=END)


@pytest.fixture(scope="module")
def review(tenant: DemoTenant) -> Any:
    window = review_window(tenant.planted.review_end, "UTC")
    audit, _ = normalize.audit(tenant.directory_audits())
    risk, _ = normalize.risk(tenant.risk_detections(window.end))
    policy = run_sync(DemoSource(tenant).policy())
    taken = window.end - timedelta(hours=1)
    cov = coverage(window) | {"policy": Coverage("policy", taken, taken, True, snapshot=taken)}
    inputs = ReviewInputs(
        {"audit": audit, "risk": risk},
        cov,
        window,
        previous_coverage=coverage(window.shift(1)) | {"policy": cov["policy"]},
        policy_snapshots={taken: policy},
    )
    return build_review(inputs, AnalysisSettings())


def test_the_plants_are_graph_records_of_the_review_week(tenant: DemoTenant) -> None:
    p = tenant.planted
    ids = {p.policy_weakening_id, p.policy_admin_notify_id, p.policy_writeback_id, p.policy_benign_id}
    ids.add(p.policy_unchanged_id)
    records = {r["id"]: r for r in tenant.directory_audits(p.review_start, p.review_end) if r["id"] in ids}
    assert set(records) == ids
    weakening = records[p.policy_weakening_id]
    assert weakening["activityDisplayName"] == "Update SSPR Settings"
    assert weakening["initiatedBy"]["user"]["userPrincipalName"] == p.policy_admin.upn
    props = {m["displayName"]: m for m in weakening["targetResources"][0]["modifiedProperties"]}
    assert props["NumberOfRequiredContactMethodsForUsers"] == {
        "displayName": "NumberOfRequiredContactMethodsForUsers",
        "oldValue": '"\\"2\\""',
        "newValue": '"\\"1\\""',
    }
    assert "SecurityQuestions" in props["SelectedContactMethodsForUsers"]["newValue"]
    assert records[p.policy_writeback_id]["activityDisplayName"] == "Disable password writeback for directory"


def test_the_review_finds_what_was_planted(tenant: DemoTenant, review: Any) -> None:
    p = tenant.planted
    mine = {
        f.fingerprint: f for f in review.findings if f.kind in ("sspr_policy_changed", "password_writeback_disabled")
    }
    by_setting = {(f.evidence.get("setting") or "PasswordWriteback"): f for f in mine.values()}
    assert {k: f.severity for k, f in by_setting.items()} == {
        "NumberOfRequiredContactMethodsForUsers": "high",
        "SelectedContactMethodsForUsers": "high",
        "NotifyTenantAdminOfReset": "high",
        "PasswordWriteback": "high",  # a hybrid tenant
        "CustomContactAdminLink": "low",
    }
    assert by_setting["NumberOfRequiredContactMethodsForUsers"].title == (
        f"Methods required to reset lowered from 2 to 1 by {p.policy_admin.upn}"
    )
    assert by_setting["CustomContactAdminLink"].users == (p.policy_other_admin.upn,)
    assert all(f.evidence["chain"] == [] for f in mine.values())  # planted on accounts with no takeover signal
    (gap,) = [f for f in review.findings if f.kind == "configuration_gap"]
    assert {d["setting"] for d in gap.evidence["deviations"]} == {
        "NumberOfRequiredContactMethodsForUsers",
        "SelectedContactMethodsForUsers",
        "NotifyTenantAdminOfReset",
        "PasswordWriteback",
    }
    assert review.status(gap) == "new"  # the week before met every recommendation known
    doc = findings_json(review)
    assert doc["policy"]["week"]["unchanged_saves"] == 1
    assert doc["policy"]["sspr"]["EnablementForUsers"]["value"] == "All"  # logged unchanged by the saves
    assert doc["policy"]["writeback"]["state"] == "disabled"


def test_planting_the_changes_moves_no_other_case(monkeypatch: pytest.MonkeyPatch, tenant: DemoTenant) -> None:
    def nothing(history: Any, at: Any, found: dict[str, Any]) -> None:
        found |= {
            name: getattr(tenant.planted, name)
            for name in tenant.planted.__dataclass_fields__
            if name.startswith("policy_")
        }

    monkeypatch.setattr(plants, "plant_policy", nothing)
    without = DemoTenant(users=300, weeks=5, seed=11, end=END)
    planted = {
        tenant.planted.policy_weakening_id,
        tenant.planted.policy_admin_notify_id,
        tenant.planted.policy_writeback_id,
        tenant.planted.policy_benign_id,
        tenant.planted.policy_unchanged_id,
    }
    assert [r for r in tenant.directory_audits() if r["id"] not in planted] == without.directory_audits()
    assert tenant.risk_detections() == without.risk_detections()
    assert tenant.planted == without.planted


def test_the_mail_shows_the_weakening_changes_and_pseudonymises_who_made_them(tenant: DemoTenant, review: Any) -> None:
    """Issue 23, point 4: the e-mail's verdict lists a weakening change like any high finding; with
    ``[mail] pseudonymise`` the administrator who made it is a pseudonym there too."""
    doc = findings_json(review)
    admin = tenant.planted.policy_admin.upn
    html, text = body.render(body.context(doc, Identities(None, doc["findings"]), [], [], []))
    for part in (html, text):
        assert f"Methods required to reset lowered from 2 to 1 by {admin}" in part
        assert f"Password writeback disabled by {admin}" in part
    key = b"k" * 32
    html, text = body.render(body.context(doc, Identities(key, doc["findings"]), [], [], []))
    for part in (html, text):
        assert admin not in part and tenant.planted.policy_other_admin.upn not in part
        assert f"Methods required to reset lowered from 2 to 1 by {pseudonym(key, admin)}" in part
