"""Never cross the wires (issue 26): a Graph token for another tenant than ``[auth] tenant_id`` is refused before
anything is fetched, by the real msgraph-sdk against the test Graph server, which serves tenants by token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sspr_review.core.weeks import last_monday
from sspr_review.sources.demo.tenant import DemoTenant
from tests.support.graph_server import GraphData, GraphServer, mint_token

CLI = [sys.executable, "-m", "sspr_review.cli"]
OTHER = "33333333-3333-3333-3333-333333333333"
pytestmark = pytest.mark.slow  # each case runs the CLI in a subprocess (3 to 6 s)


@pytest.fixture(scope="module")
def tenants() -> tuple[DemoTenant, DemoTenant]:
    end = last_monday("UTC")
    return DemoTenant(users=60, weeks=2, end=end), DemoTenant(users=60, weeks=2, end=end, seed=8, name="Harbour")


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=180)


def test_a_token_for_another_tenant_is_refused_before_any_request(
    tenants: tuple[DemoTenant, DemoTenant], tmp_path: Path
) -> None:
    northgate, harbour = tenants
    ours, theirs = mint_token(northgate.tenant_id), mint_token(harbour.tenant_id)
    data = {ours: GraphData.from_demo(northgate), theirs: GraphData.from_demo(harbour)}
    with GraphServer(GraphData(), tenants=data, throttle=False) as server:
        env = {
            "SSPR_REVIEW_GRAPH_URL": server.url,
            "SSPR_REVIEW_AUTH_TENANT_ID": northgate.tenant_id,
            "SSPR_REVIEW_STORE_PATH": str(tmp_path / "store"),
        }
        crossed = cli("fetch", "--no-progress", env=env | {"SSPR_REVIEW_ACCESS_TOKEN": theirs})
        assert crossed.returncode == 5, crossed.stderr
        assert f"issued for tenant {harbour.tenant_id}, not for [auth] tenant_id {northgate.tenant_id}" in (
            crossed.stderr
        )
        assert server.requests == []  # refused before the first request left
        assert not (tmp_path / "store" / northgate.tenant_id / "audit").exists()
        doctor = cli("doctor", env=env | {"SSPR_REVIEW_ACCESS_TOKEN": theirs})
        assert doctor.returncode == 1 and "[FAIL] token: the access token was issued for tenant" in doctor.stdout
        assert server.requests == []
        fetched = cli("fetch", "--no-progress", env=env | {"SSPR_REVIEW_ACCESS_TOKEN": ours})
        assert fetched.returncode == 0, fetched.stderr
        assert "Northgate Engineering" in fetched.stdout and "Harbour" not in fetched.stdout


def test_an_organization_other_than_the_configured_tenant_stops_the_fetch(
    tenants: tuple[DemoTenant, DemoTenant], tmp_path: Path
) -> None:
    """The token says the configured tenant, but Graph answers for another organization: nothing is stored."""
    northgate, harbour = tenants
    token = mint_token(northgate.tenant_id)
    with GraphServer(GraphData.from_demo(harbour), token=token, throttle=False) as server:
        env = {
            "SSPR_REVIEW_GRAPH_URL": server.url,
            "SSPR_REVIEW_AUTH_TENANT_ID": northgate.tenant_id,
            "SSPR_REVIEW_ACCESS_TOKEN": token,
            "SSPR_REVIEW_STORE_PATH": str(tmp_path / "store"),
        }
        done = cli("fetch", "--no-progress", env=env)
        assert done.returncode == 5, done.stderr
        assert f"answered for the organization {harbour.tenant_id}, not for [auth] tenant_id" in done.stderr
        assert [r.path for r in server.requests] == ["/v1.0/organization"]
    assert not (tmp_path / "store" / northgate.tenant_id / "audit").exists()
