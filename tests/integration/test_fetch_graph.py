"""The real msgraph-sdk, over real HTTP, against the Graph-compatible server in tests/support/graph_server/."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.errors import AuthError, TokenRejected
from sspr_review.core.weeks import last_monday
from sspr_review.ingest.fetch import FetchResult
from sspr_review.sources.demo.tenant import DemoTenant
from sspr_review.sources.graph.endpoints import SSPR, audit_filters, graph_time, risk_filter
from tests.support.graph_server import Fault, GraphData, GraphServer

SCALE = 0.02  # 10 s throttle windows become 0.2 s; client and server use the same scale
TOKEN = "test-token"
CLI = [sys.executable, "-m", "sspr_review.cli"]


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return DemoTenant(users=2000, weeks=5, end=last_monday("UTC"))


@pytest.fixture(scope="module")
def data(tenant: DemoTenant) -> GraphData:
    return GraphData.from_demo(tenant)


@pytest.fixture
def server(data: GraphData) -> Iterator[GraphServer]:
    with GraphServer(copy.deepcopy(data), time_scale=SCALE, token=TOKEN) as srv:
        yield srv


def graph_env(server: GraphServer, store: Path, **extra: str) -> dict[str, str]:
    return {
        "SSPR_REVIEW_GRAPH_URL": server.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(SCALE),
        "SSPR_REVIEW_STORE_PATH": str(store),
        **extra,
    }


def workspace(server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: str) -> Workspace:
    env = graph_env(server, tmp_path / "store", **extra)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Workspace(config.load(env=env), "graph")


def expected_audit_ids(data: GraphData, start: datetime, end: datetime) -> set[str]:
    lo, hi = start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S.9999999")

    def wanted(r: dict[str, Any]) -> bool:
        service, name = r.get("loggedByService"), str(r.get("activityDisplayName") or "")
        return (
            service in (SSPR, "Authentication Methods")
            or (service == "Core Directory" and (name == "Reset user password" or name.startswith("Reset password")))
        ) and lo <= str(r["activityDateTime"]) <= hi

    return {r["id"] for r in data.directory_audits if wanted(r)}


def first_requests(server: GraphServer, suffix: str) -> list[dict[str, str]]:
    return [r.query for r in server.requests if r.path.endswith(suffix) and "$skiptoken" not in r.query]


def test_complete_fetch_pages_everything_without_429(
    server: GraphServer, data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(server, tmp_path, monkeypatch)
    result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    audit = result.outcomes["audit"]
    assert audit.start is not None and audit.end is not None
    stored = ws.read("audit")
    assert set(stored["id"]) == expected_audit_ids(data, audit.start, audit.end)
    assert stored["id"].is_unique
    assert audit.stats is not None and audit.stats.pages > len(audit_filters(audit.start, audit.end))  # paged
    assert set(ws.read("risk")["id"]) == {r["id"] for r in data.risk_detections}
    assert len(ws.read("registration")) == len(data.user_registration_details)
    # the limiter was exercised (more report requests than one window allows) and no 429 came back
    reports = server.count("/auditLogs/directoryAudits") + server.count("/userRegistrationDetails")
    # more report requests than one window allows, so the limiter had to pace them; the server enforces the
    # documented sliding window at admission and counts every 429 (its log's arrival stamps are taken earlier,
    # before parsing, so they are not the moments it judged)
    assert reports > 5
    assert [r.path for r in server.requests if r.status == 429] == []  # (count("") matches no path)
    assert server.throttled == {"reports": 0, "identityProtection": 0}
    assert all(o.stats is None or o.stats.throttled == 0 for o in result.outcomes.values())


def test_filters_and_page_sizes_sent(server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = workspace(server, tmp_path, monkeypatch).fetch(progress=False)
    audit, risk = result.outcomes["audit"], result.outcomes["risk"]
    assert audit.start and audit.end and risk.start and risk.end
    every = first_requests(server, "/auditLogs/directoryAudits")
    sent = [q for q in every if q["$top"] != "1"]
    assert sorted(q["$filter"] for q in sent) == sorted(audit_filters(audit.start, audit.end))
    assert {q["$top"] for q in sent} == {"999"}
    # the first fetch probed which loggedByService value selects SSPR's events, once each (sources/graph/sspr_service)
    since = f"activityDateTime ge {graph_time(audit.end - timedelta(days=30))}"
    assert sorted(q["$filter"] for q in every if q["$top"] == "1") == sorted(
        [f"loggedByService eq '{SSPR}' and {since}", f"loggedByService eq 'SSPR' and {since}"]
    )
    assert audit.end - audit.start == timedelta(days=30)
    (risk_query,) = first_requests(server, "/identityProtection/riskDetections")
    assert risk_query["$filter"] == risk_filter(risk.start, risk.end) and risk_query["$top"] == "500"
    (roles,) = first_requests(server, "/roleManagement/directory/roleAssignments")
    assert roles["$expand"] == "principal"
    # every nextLink was followed verbatim: each follow-up carries its query's filter
    follow = [r.query for r in server.requests if "$skiptoken" in r.query and r.path.endswith("directoryAudits")]
    assert follow and all(q["$filter"] in {s["$filter"] for s in sent} for q in follow)


def test_identity_protection_429_without_retry_after(
    server: GraphServer, data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add_fault(Fault("/identityProtection/riskDetections", 429, times=2))
    result = workspace(server, tmp_path, monkeypatch).fetch(progress=False)
    risk = result.outcomes["risk"]
    assert risk.ok and risk.stats is not None
    assert risk.stats.throttled == 2 and risk.stats.retries == 2
    assert server.count("/identityProtection/riskDetections", status=429) == 2
    assert risk.records == len(data.risk_detections)


def test_5xx_and_timeouts_are_retried(
    server: GraphServer, data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add_fault(Fault("/auditLogs/directoryAudits", 503, times=1, after=1, retry_after=0.01))
    server.add_fault(Fault("/auditLogs/directoryAudits", 500, times=2, after=3))
    server.add_fault(Fault("/userRegistrationDetails", 0, times=1, delay=2.0))
    ws = workspace(server, tmp_path, monkeypatch, SSPR_REVIEW_GRAPH_TIMEOUT_SECONDS="0.5")
    result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    audit = result.outcomes["audit"]
    assert audit.stats is not None and audit.stats.retries == 3
    assert audit.stats.statuses.get(503) == 1 and audit.stats.statuses.get(500) == 2
    assert audit.start and audit.end
    assert set(ws.read("audit")["id"]) == expected_audit_ids(data, audit.start, audit.end)
    registration = result.outcomes["registration"]
    assert registration.stats is not None and registration.stats.retries == 1
    assert len(ws.read("registration")) == len(data.user_registration_details)


def test_retries_are_bounded_and_the_source_is_recorded_missing(
    server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.add_fault(Fault("/identityProtection/riskDetections", 503, times=100))
    ws = workspace(server, tmp_path, monkeypatch, SSPR_REVIEW_GRAPH_MAX_RETRIES="2")
    result = ws.fetch(progress=False)
    risk = result.outcomes["risk"]
    assert not risk.ok and risk.kind == "failed" and "gave up after 3 attempts" in risk.reason
    assert server.count("/identityProtection/riskDetections") == 3
    assert result.outcomes["audit"].ok
    end = result.outcomes["audit"].end
    assert end is not None
    cov = ws.coverage(end - timedelta(days=7), end)
    assert cov["audit"].complete and not cov["risk"].available
    assert "gave up" in (cov["risk"].reason or "")


def test_403_names_the_permission_and_other_sources_land(
    server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.deny("/identityProtection/riskDetections")
    server.deny("/policies/authenticationMethodsPolicy")
    ws = workspace(server, tmp_path, monkeypatch)
    result = ws.fetch(progress=False)
    risk, policy = result.outcomes["risk"], result.outcomes["policy"]
    assert risk.kind == "permission" and "IdentityRiskEvent.Read.All" in risk.reason
    assert policy.kind == "permission" and "Policy.Read.AuthenticationMethod" in policy.reason
    assert result.outcomes["audit"].ok and result.outcomes["registration"].ok and result.outcomes["roles"].ok
    assert server.count("/identityProtection/riskDetections") == 1  # a 403 is not retried
    assert not ws.read("audit").empty
    status = ws.status()["sources"]["risk"]
    assert status["intervals"] == [] and "IdentityRiskEvent.Read.All" in status["last_failure"]["reason"]


def test_missing_licence_is_named(server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server.deny(
        "/identityProtection/riskDetections",
        code="Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        message="Your tenant is not licensed for this feature.",
    )
    result = workspace(server, tmp_path, monkeypatch).fetch(progress=False)
    risk = result.outcomes["risk"]
    assert risk.kind == "licence" and "Microsoft Entra ID P2" in risk.reason


def test_roles_fall_back_to_is_admin_and_pim_gap_is_noted(
    server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.deny("/roleManagement/directory/roleAssignments")
    ws = workspace(server, tmp_path, monkeypatch)
    result = ws.fetch(progress=False)
    roles = result.outcomes["roles"]
    assert roles.ok and any("isAdmin" in n for n in roles.notes)
    # the part not read is named, with the permission it needs, and the source is PARTIAL, never "ok" (issue 27.2)
    assert any("isAdmin" in p and "RoleManagement.Read.Directory" in p for p in roles.partial)
    assert "PARTIAL" in roles.line()
    privileged = ws.read("privileged")
    registration = ws.read("registration")
    assert set(privileged["assignment"]) == {"isAdmin"}
    assert set(privileged["user_upn"]) == set(registration.loc[registration["is_admin"].fillna(False), "user_upn"])


def test_group_assigned_and_eligible_admins_are_listed(
    server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tenant: DemoTenant
) -> None:
    ws = workspace(server, tmp_path, monkeypatch)
    assert ws.fetch(progress=False).ok
    privileged = ws.read("privileged")
    assert privileged["via_group_id"].notna().any()
    assert (privileged["assignment"] == "eligible").any()
    assert privileged.loc[privileged["principal_type"] == "user", "user_upn"].notna().all()


def test_second_fetch_is_incremental_and_overlap_never_duplicates(
    server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(server, tmp_path, monkeypatch)
    first = ws.fetch(progress=False)
    before = ws.read("audit")
    second = ws.fetch(progress=False)
    audit1, audit2 = first.outcomes["audit"], second.outcomes["audit"]
    assert audit1.end and audit2.start
    assert audit2.start == audit1.end - timedelta(hours=ws.config.store.audit_overlap_hours)
    assert audit2.new == 0 and second.outcomes["risk"].new == 0
    after = ws.read("audit")
    assert after["id"].is_unique and len(after) == len(before)
    assert len(ws.store.intervals("audit")) == 1


def test_duplicates_across_pages_and_odd_records(
    data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd = copy.deepcopy(data)
    sspr = [r for r in odd.directory_audits if r["loggedByService"] == SSPR]
    newest = max(r["activityDateTime"] for r in sspr)
    odd.directory_audits.append(copy.deepcopy(sspr[0]))  # the same record again, on another page
    odd.directory_audits.append(
        {
            "id": "odd-1",
            "loggedByService": SSPR,
            "activityDateTime": newest,
            "activityDisplayName": "Self-service password reset notification sent (preview)",
            "result": "unknownFutureValue",
            "initiatedBy": None,
            "targetResources": None,
            "additionalDetails": "not a list",
            "brandNewProperty": {"nested": [1, 2]},
        }
    )
    with GraphServer(odd, time_scale=SCALE, token=TOKEN) as srv:
        ws = workspace(srv, tmp_path, monkeypatch)
        result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    stored = ws.read("audit", raw=True)
    assert stored["id"].is_unique
    row = stored.set_index("id").loc["odd-1"]
    assert not row["known_activity"] and not row["known_result"]
    assert '"brandNewProperty":{"nested":[1,2]}' in row["raw"]
    assert result.report.unknown_activities.get("Self-service password reset notification sent (preview)") == 1


def test_rejected_token_is_explained(server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = workspace(server, tmp_path, monkeypatch, SSPR_REVIEW_ACCESS_TOKEN="wrong")
    monkeypatch.setenv("SSPR_REVIEW_ACCESS_TOKEN", "wrong")
    with pytest.raises(TokenRejected, match="rejected the access token") as raised:
        ws.fetch(progress=False)
    assert isinstance(raised.value, AuthError) and "SSPR_REVIEW_ACCESS_TOKEN" in str(raised.value)
    assert len(server.requests) == 1  # the first request's 401 stops the fetch: no source is tried
    assert all(entry["last_failure"] is None for entry in ws.status()["sources"].values())


def test_cli_rejected_token_exits_5_with_one_authentication_error(server: GraphServer, tmp_path: Path) -> None:
    """Issue 15 item 4: a 401 is an authentication failure (exit 5), said once, not a permission per source."""
    done = _run_cli(graph_env(server, tmp_path / "s", SSPR_REVIEW_ACCESS_TOKEN="expired-token"))
    assert done.returncode == 5, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.count("authentication failed") == 1
    assert done.stderr.count("rejected the access token") == 1 and "HTTP 401" in done.stderr
    assert "SSPR_REVIEW_ACCESS_TOKEN" in done.stderr  # the fix
    assert "permission" not in done.stdout + done.stderr and "NO DATA" not in done.stdout
    assert [r.status for r in server.requests] == [401]


@pytest.mark.slow
def test_cli_401_part_way_exits_5_once_and_the_other_sources_land(server: GraphServer, tmp_path: Path) -> None:
    server.add_fault(Fault("/auditLogs/directoryAudits", 401, times=1000, after=1))
    done = _run_cli(graph_env(server, tmp_path / "s"))
    assert done.returncode == 5, (done.returncode, done.stdout, done.stderr)
    assert done.stderr.count("rejected the access token") == 1
    fetched = done.stdout.split("\n\n")[0].splitlines()  # the fetch's lines (the week's review follows)
    assert fetched[0].startswith("audit") and "NO DATA (auth)" in fetched[0] and "HTTP 401" not in fetched[0]
    assert [line.split()[1].rstrip(":") for line in fetched[1:5]] == [
        "ok"
    ] * 4  # risk, registration, roles, policy landed
    assert "permission" not in done.stdout + done.stderr


@pytest.mark.slow
def test_doctor_says_once_that_the_token_was_rejected(server: GraphServer, tmp_path: Path) -> None:
    env = graph_env(server, tmp_path / "s", SSPR_REVIEW_ACCESS_TOKEN="wrong")
    done = subprocess.run([*CLI, "doctor"], env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout.count("rejected the access token") == 1 and "[FAIL] token" in done.stdout
    assert "(directoryAudits)" not in done.stdout and "permission" not in done.stdout


def _store_rows(store: Path) -> dict[str, Any]:
    ws = Workspace(config.load(env={"SSPR_REVIEW_STORE_PATH": str(store)}), "graph")
    out = {}
    for table in ("audit", "risk", "registration", "privileged"):
        frame = ws.read(table, raw=table in ("audit", "risk"))
        frame = frame.drop(columns=[c for c in ("snapshot_date",) if c in frame])
        out[table] = frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)
    return out


def _run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "fetch", "--no-progress", *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_fetch_killed_part_way_then_rerun_equals_uninterrupted_run(
    server: GraphServer, data: GraphData, tmp_path: Path
) -> None:
    clean = _run_cli(graph_env(server, tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    # second store: audit paging hangs after two pages; kill the process once the snapshots are on disk
    server.add_fault(Fault("/auditLogs/directoryAudits", 200, times=1, after=2, delay=60))
    env = graph_env(server, tmp_path / "killed")
    proc = subprocess.Popen([*CLI, "fetch", "--no-progress"], env={**os.environ, **env}, stderr=subprocess.PIPE)
    tenant_dir = tmp_path / "killed" / "graph"
    deadline = time.monotonic() + 60
    while not list(tenant_dir.glob("privileged/*.parquet")) or not list(tenant_dir.glob("risk/*.parquet")):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    partial = Workspace(config.load(env={"SSPR_REVIEW_STORE_PATH": str(tmp_path / "killed")}), "graph")
    assert partial.store.intervals("audit") == []  # nothing claimed that was not written
    assert partial.read("audit").empty
    rerun = _run_cli(env)
    assert rerun.returncode == 0, rerun.stderr
    killed_rows, clean_rows = _store_rows(tmp_path / "killed"), _store_rows(tmp_path / "clean")
    for table, frame in clean_rows.items():
        assert frame.equals(killed_rows[table]), table


@pytest.mark.slow
def test_cli_fetch_against_server_and_exit_code_for_missing_source(server: GraphServer, tmp_path: Path) -> None:
    env = graph_env(server, tmp_path / "s")
    ok = _run_cli(env)
    assert ok.returncode == 0, ok.stderr
    assert "audit" in ok.stdout and "records" in ok.stdout and "Findings this week:" in ok.stdout
    server.deny("/identityProtection/riskDetections")
    denied = _run_cli(env)
    assert denied.returncode == 3
    assert "IdentityRiskEvent.Read.All" in denied.stdout and "no data from: risk" in denied.stderr


def test_fetch_result_lines_are_readable(server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result: FetchResult = workspace(server, tmp_path, monkeypatch).fetch(progress=False)
    lines = result.lines()
    assert lines[0].startswith("audit") and "requests" in lines[0] and "0 throttled" in lines[0]
    assert [line.split()[1].rstrip(":") for line in lines[:5]] == ["ok"] * 5
