"""A second demo tenant (issue 26): its own name, domain, tenant id and seed, through ``[demo]``."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from sspr_review.core import config
from sspr_review.sources.demo.source import demo_tenant
from sspr_review.sources.demo.tenant import DEMO_TENANT_NAME, DemoTenant

END = datetime(2024, 3, 11, tzinfo=UTC)


def test_northgate_keeps_its_identity() -> None:
    northgate = DemoTenant(users=50, weeks=2, end=END)
    assert northgate.tenant_id == str(uuid.uuid5(uuid.NAMESPACE_DNS, "tenant.northgate-eng.example/seed/7"))
    assert northgate.organization()[0]["displayName"] == DEMO_TENANT_NAME
    assert {d["name"] for d in northgate.organization()[0]["verifiedDomains"]} == {
        "northgate-eng.example",
        "northgateeng.onmicrosoft.example",
    }


def test_a_second_demo_tenant_has_its_own_name_domain_id_and_people() -> None:
    cfg = config.load(env={"SSPR_REVIEW_DEMO_NAME": "Harbour Freight", "SSPR_REVIEW_DEMO_SEED": "11"}, demo__users=50)
    harbour = demo_tenant(cfg.demo, END)
    northgate = DemoTenant(users=50, weeks=cfg.demo.weeks, end=END)
    org = harbour.organization()[0]
    assert org["displayName"] == "Harbour Freight" and org["id"] == harbour.tenant_id != northgate.tenant_id
    default = next(d["name"] for d in org["verifiedDomains"] if d["isDefault"])
    assert default == "harbour-freight.example"
    upns = {r["userPrincipalName"] for r in harbour.user_registration_details()}
    assert upns and all(u.endswith("@harbour-freight.example") for u in upns)
    assert upns != {r["userPrincipalName"] for r in northgate.user_registration_details()}
    assert "Harbour Freight" in repr(harbour)


def test_a_second_demo_tenants_configuration_changes_name_its_own_domain() -> None:
    cfg = config.load(env={"SSPR_REVIEW_DEMO_NAME": "Harbour Freight", "SSPR_REVIEW_DEMO_SEED": "11"}, demo__users=50)
    harbour = demo_tenant(cfg.demo, END)
    changes = [r for r in harbour.directory_audits() if r["category"] in ("PolicyManagement", "DirectoryManagement")]
    text = json.dumps(changes)
    assert "helpdesk.harbour-freight.example" in text and "northgate" not in text
