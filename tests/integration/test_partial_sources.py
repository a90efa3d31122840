"""A source that fails in part: the review says what is missing and never turns the gap into a number or a
milder verdict (issue 14 §3, issue 15 items 1-3).

Each case drives the real CLI (real msgraph-sdk over HTTP) against tests/support/graph_server/ with a fault or a
denial injected, then reviews the week through the CLI and the Workspace the report notebooks use.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.sources.demo.tenant import DemoTenant
from tests.support.graph_server import Fault, GraphData, GraphServer

# each case fetches and reviews through the CLI against the Graph test server (4 to 7 s)
pytestmark = pytest.mark.slow
SCALE = 0.02
TOKEN = "test-token"
CLI = [sys.executable, "-m", "sspr_review.cli"]
AUDIT_METRICS = ("sspr_resets", "helpdesk_resets", "self_service_share", "flows_started", "flow_success_rate")


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    # The tenant's history ends at the start of the current hour, so the fetch (minutes later) takes its
    # snapshots within the review week whatever day the tests run on.
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return DemoTenant(users=600, weeks=3, end=end)


@pytest.fixture(scope="module")
def data(tenant: DemoTenant) -> GraphData:
    return GraphData.from_demo(tenant)


@pytest.fixture
def server(data: GraphData) -> Iterator[GraphServer]:
    with GraphServer(copy.deepcopy(data), time_scale=SCALE, token=TOKEN) as srv:
        yield srv


def _env(server: GraphServer, store: Path) -> dict[str, str]:
    return {
        "SSPR_REVIEW_GRAPH_URL": server.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(SCALE),
        "SSPR_REVIEW_STORE_PATH": str(store),
    }


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False
    )


def _week(tenant: DemoTenant) -> str:
    return f"{tenant.end:%Y-%m-%dT%H:%M}"


def _fetch_and_review(
    server: GraphServer, tenant: DemoTenant, tmp_path: Path
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str], dict[str, Any], Workspace]:
    env = _env(server, tmp_path / "store")
    fetched = _cli(env, "fetch", "--no-progress")
    out = tmp_path / "findings.json"
    reviewed = _cli(env, "review", "--week-ending", _week(tenant), "--json", str(out))
    assert reviewed.returncode == 0, reviewed.stderr
    ws = Workspace(config.load(env=env), "graph")
    return fetched, reviewed, json.loads(out.read_text()), ws


def _findings(doc: dict[str, Any], kind: str, user: str) -> list[dict[str, Any]]:
    return [f for f in doc["findings"] if f["kind"] == kind and user in f["users"]]


# ------------------------------------------------------------------------------ 15.1 figures from partial data


@pytest.fixture(scope="module")
def larger_tenant(tenant: DemoTenant) -> DemoTenant:
    # enough SSPR events in the first fetch's 30 days for several pages of 999
    return DemoTenant(users=3000, weeks=5, end=tenant.end)


def test_audit_failing_part_way_gives_no_figures_for_any_week(larger_tenant: DemoTenant, tmp_path: Path) -> None:
    tenant = larger_tenant
    with GraphServer(GraphData.from_demo(tenant), time_scale=SCALE, token=TOKEN) as server:
        # The four queries' first pages, then one more page: a stream asks for its next page only after its
        # last one was stored, so at least one full page has landed when the sixth request on fails.
        server.add_fault(Fault("/auditLogs/directoryAudits", 401, times=100_000, after=5))
        fetched, reviewed, doc, ws = _fetch_and_review(server, tenant, tmp_path)
    assert fetched.returncode != 0
    assert not ws.read("audit").empty, "some audit pages landed before the failure (the case under test)"
    assert ws.store.intervals("audit") == []
    for name in AUDIT_METRICS:
        metric = doc["metrics"][name]
        assert metric["value"] is None and metric["previous"] is None, (name, metric)
    resets_line = next(line for line in reviewed.stdout.splitlines() if line.strip().startswith("Self-service resets"))
    assert resets_line.count("no data") == 2, resets_line  # this week and last week
    review = ws.review(_week(tenant))
    weekly = review.weekly
    for name in AUDIT_METRICS:
        assert weekly[name].isna().all(), (name, weekly[name].tolist())
    # the trend charts draw those weeks as gaps, not zeros
    from sspr_review.report import charts

    figure = charts.trend(review, ["sspr_resets", "helpdesk_resets"], "Password resets", y_title="Resets")
    from sspr_review.report.policy_marks import LEGEND

    metrics = [trace for trace in figure.data if trace.name != LEGEND]  # not the configuration changes' marks
    assert len(metrics) == 2
    for trace in metrics:
        assert all(v is None or pd.isna(v) for v in trace.y), trace.y


# ------------------------------------------------------------------ 15.2 a verdict whose evidence is missing


def test_blocked_user_under_attack_stays_high_when_risk_is_denied(
    server: GraphServer, tenant: DemoTenant, tmp_path: Path
) -> None:
    server.deny("/identityProtection/riskDetections")
    fetched, reviewed, doc, _ws = _fetch_and_review(server, tenant, tmp_path)
    assert fetched.returncode == 3, fetched.stderr
    user = tenant.planted.blocked_risk_user.upn
    (finding,) = _findings(doc, "blocked_user", user)
    assert finding["severity"] == "high", finding
    assert finding["evidence"]["assessment"] == "attack_not_ruled_out"
    assert "risk data missing, attack not ruled out" in finding["title"]
    assert "risk" in finding["action"] and "help them register" not in finding["action"]
    assert "risk data missing, attack not ruled out" in reviewed.stdout


# ------------------------------------------------------ 14 §3 and 15.3: a roles source that failed in part


def test_pim_eligibility_unlicensed_is_shown_as_missing_and_eligible_admins_stay_privileged(
    server: GraphServer, tenant: DemoTenant, tmp_path: Path
) -> None:
    server.deny(
        "/roleManagement/directory/roleEligibilityScheduleInstances",
        code="AadPremiumLicenseRequired",
        message="The tenant needs an AAD Premium 2 license.",
    )
    fetched, reviewed, doc, ws = _fetch_and_review(server, tenant, tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    assert "PIM-eligible administrators are not included" in fetched.stdout  # as before, during the fetch
    # ... and now kept in the store's coverage, and shown by the review, findings.json and the report
    stored = json.loads((ws.store.path / "coverage.json").read_text())["sources"]["roles"]
    assert any("PIM-eligible" in part for parts in stored["missing"].values() for part in parts)
    roles_line = next(line for line in reviewed.stdout.splitlines() if line.strip().startswith("roles"))
    assert "complete" not in roles_line and "PARTIAL" in roles_line and "PIM-eligible" in roles_line
    roles = doc["coverage"]["roles"]
    assert roles["complete"] is False and any("PIM-eligible" in m for m in roles["missing"])
    from sspr_review.analysis import findings_schema

    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, findings_schema())
    from sspr_review.app.notebook import Context
    from sspr_review.report.sections import coverage_banner

    banner = coverage_banner(Context(ws, ws.review(_week(tenant)))).data
    assert "PARTIAL" in banner and "PIM-eligible administrators are not included" in banner
    # the eligible administrators are still privileged: the registration report flags them isAdmin
    eligible = {u.upn for u in tenant.planted.eligible_admins}
    review = ws.review(_week(tenant))
    from sspr_review.analysis.privileged import privileged_lookup

    assert review.data is not None
    upns = pd.Series(sorted(eligible), dtype="string")
    found = privileged_lookup(
        review.data, pd.Series(pd.Timestamp(review.window.end), index=upns.index).to_numpy(dtype="int64"), upns, upns
    )
    assert found["privileged"].tolist() == [True] * len(eligible)
    assert found["mismatch"].tolist() == [True] * len(eligible)
    # ... and the review notes the mismatch (terminal, findings.json, report)
    (note,) = doc["notes"]
    assert f"{len(eligible)} accounts the registration report flags as administrators are not in the role data" in note
    assert all(u in note for u in eligible) and "PIM-eligible" in note
    assert "note: " + note[:60] in reviewed.stdout
    assert note[:60] in banner


def test_group_members_unreadable_keep_the_group_admin_privileged(
    server: GraphServer, tenant: DemoTenant, tmp_path: Path
) -> None:
    server.deny("/transitiveMembers/graph.user")
    fetched, reviewed, doc, _ws = _fetch_and_review(server, tenant, tmp_path)
    assert fetched.returncode == 0, fetched.stderr
    user = tenant.planted.admin_group_reset_user.upn
    assert _findings(doc, "helpdesk_reset", user) == []
    (finding,) = _findings(doc, "admin_password_reset", user)
    assert finding["severity"] == "high"
    assert finding["evidence"]["privilege_basis"] == "registration"
    assert finding["evidence"]["not_in_role_data"] is True
    assert "not in the role data" in finding["title"]
    roles = doc["coverage"]["roles"]
    assert roles["complete"] is False and any("members of role group" in m for m in roles["missing"])
    roles_line = next(line for line in reviewed.stdout.splitlines() if line.strip().startswith("roles"))
    assert "PARTIAL" in roles_line and "members of role group" in roles_line


# ------------------------------------------- issue 27.2: a 401 on one part of a source is never "ok"


@pytest.mark.parametrize(
    ("path", "kind", "part"),
    [
        ("/roleManagement/directory/roleAssignments", "roles", "role assignments are not included"),
        ("/groupSettings", "policy", "password protection settings are not included"),
    ],
)
def test_token_rejected_on_one_part_is_partial_and_exit_5(
    server: GraphServer, tenant: DemoTenant, tmp_path: Path, path: str, kind: str, part: str
) -> None:
    server.add_fault(Fault(path, 401, times=100))
    env = _env(server, tmp_path / "store")
    fetched = _cli(env, "fetch", "--no-progress")
    assert fetched.returncode == 5, fetched.stdout[-2000:] + fetched.stderr
    line = next(line for line in fetched.stdout.splitlines() if line.startswith(f"{kind} "))
    assert " ok" not in line and "PARTIAL" in line and part in line and "HTTP 401" in line, line
    assert fetched.stderr.count("authentication failed") == 1 and "HTTP 401" in fetched.stderr
    assert "Traceback" not in fetched.stderr
    reviewed = _cli(env, "review", "--week-ending", _week(tenant))
    assert reviewed.returncode == 0, reviewed.stderr
    assert "PARTIAL" in next(x for x in reviewed.stdout.splitlines() if x.strip().startswith(f"{kind} "))
