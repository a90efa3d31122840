"""The SSPR configuration events reach the review the same way from every source (issue 23, point 5): Microsoft
Graph (the real msgraph-sdk against the Graph-compatible server), a folder of Graph JSON exports (the files source)
and a Log Analytics workspace (the real azure-monitor-query client against the test endpoint, TargetResources as
the workspace's dynamic column)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from sspr_review.analysis.policy_changes import parse_policy_changes
from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.weeks import last_monday
from sspr_review.ingest import normalize
from sspr_review.ingest.store.policy_events import read_policy_events
from sspr_review.sources.demo.tenant import DemoTenant
from sspr_review.sources.log_analytics import queries
from sspr_review.sources.log_analytics.rows import StepText, audit_records
from tests.support.graph_server import GraphData, GraphServer
from tests.support.log_analytics_kql import output_rows, run
from tests.support.log_analytics_server import WORKSPACE_ID, LogAnalyticsServer, WorkspaceData

TOKEN = "test-token"
SCALE = 0.02
#: What must come out the same, whichever way the events came.
COLUMNS = ["time", "event_id", "setting", "old", "new", "old_raw", "new_raw", "direction", "changed_by", "ip"]
MINE = ("sspr_policy_changed", "password_writeback_disabled", "configuration_gap")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return DemoTenant(users=80, weeks=2, end=last_monday("UTC"))


@pytest.fixture(scope="module")
def moment(tenant: DemoTenant) -> datetime:
    return tenant.end + timedelta(hours=1)


@pytest.fixture(scope="module")
def expected(tenant: DemoTenant) -> pd.DataFrame:
    """The changes of the demo's records, read directly."""
    frame, _ = normalize.audit(tenant.directory_audits())
    changes = parse_policy_changes(frame).changes
    assert len(changes) == 5  # the planted ones
    return changes[COLUMNS]


@pytest.fixture
def graph(tenant: DemoTenant, moment: datetime) -> Iterator[GraphServer]:
    with GraphServer(GraphData.from_demo(tenant, moment), time_scale=SCALE, token=TOKEN) as server:
        yield server


def workspace(source: str, store: Path, moment: datetime, monkeypatch: pytest.MonkeyPatch, **env: str) -> Workspace:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = config.load(env={"SSPR_REVIEW_STORE_PATH": str(store), **env})
    return Workspace(settings, source, clock=lambda: moment, files=env.get("FILES"))


def graph_env(graph: GraphServer) -> dict[str, str]:
    return {
        "SSPR_REVIEW_GRAPH_URL": graph.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(SCALE),
    }


def stored_changes(ws: Workspace) -> pd.DataFrame:
    return parse_policy_changes(read_policy_events(ws.store)).changes[COLUMNS]


def mine(ws: Workspace) -> list[tuple[str, str, str]]:
    review = ws.review()
    return sorted((f.kind, f.severity, f.title) for f in review.findings if f.kind in MINE)


def test_graph(
    tenant: DemoTenant,
    moment: datetime,
    graph: GraphServer,
    expected: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ws = workspace("graph", tmp_path / "store", moment, monkeypatch, **graph_env(graph))
    result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    pd.testing.assert_frame_equal(stored_changes(ws), expected)
    found = mine(ws)
    assert ("password_writeback_disabled", "high", f"Password writeback disabled by {tenant.planted.policy_admin.upn}"
            " in a tenant that syncs from on-premises") in found  # fmt: skip
    assert sum(1 for k, s, _ in found if k == "sspr_policy_changed" and s == "high") == 3
    _, policy = ws.store.read_policy()  # type: ignore[misc]
    assert policy["authorizationPolicy"] == {"allowedToUseSSPR": True}
    assert policy["organization"] == {"onPremisesSyncEnabled": True}


def write_export(tenant: DemoTenant, folder: Path) -> None:
    folder.mkdir()
    page = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits"}
    (folder / "audits.json").write_text(json.dumps(page | {"value": tenant.directory_audits()}))
    (folder / "org.json").write_text(json.dumps({"value": tenant.organization()}))
    (folder / "settings.json").write_text(json.dumps({"value": tenant.group_settings()}))
    (folder / "methods.json").write_text(json.dumps(tenant.authentication_methods_policy()))
    (folder / "authorization.json").write_text(json.dumps(tenant.authorization_policy()))
    registration = tenant.user_registration_details(tenant.end)
    (folder / "registration.json").write_text(json.dumps({"value": registration}))


def test_files(
    tenant: DemoTenant, moment: datetime, expected: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_export(tenant, tmp_path / "export")
    ws = workspace("files", tmp_path / "store", moment, monkeypatch, FILES=str(tmp_path / "export"))
    result = ws.fetch(progress=False)
    assert result.outcomes["audit"].ok and result.outcomes["policy"].ok, result.lines()
    pd.testing.assert_frame_equal(stored_changes(ws), expected)
    _, policy = ws.store.read_policy()  # type: ignore[misc]
    assert policy["authorizationPolicy"] == {"allowedToUseSSPR": True}
    assert policy["organization"] == {"onPremisesSyncEnabled": True}


def test_log_analytics(
    tenant: DemoTenant,
    moment: datetime,
    graph: GraphServer,
    expected: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    via_graph = workspace("graph", tmp_path / "graph", moment, monkeypatch, **graph_env(graph))
    assert via_graph.fetch(progress=False).ok
    data = WorkspaceData.from_demo(tenant, delay=timedelta(0))
    with LogAnalyticsServer(data, token=TOKEN, now=f"{moment:%Y-%m-%dT%H:%M:%S}") as la:
        env = graph_env(graph) | {
            "SSPR_REVIEW_LOG_ANALYTICS_WORKSPACE_ID": WORKSPACE_ID,
            "SSPR_REVIEW_LOG_ANALYTICS_URL": la.url,
            "SSPR_REVIEW_LOG_ANALYTICS_INGESTION_DELAY_MINUTES": "0",
            "SSPR_REVIEW_LOG_ANALYTICS_BACKFILL_DAYS": "30",
            "SSPR_REVIEW_GRAPH_RISK_LOOKBACK_DAYS": "30",
        }
        ws = workspace("log-analytics", tmp_path / "la", moment, monkeypatch, **env)
        result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    pd.testing.assert_frame_equal(stored_changes(ws), expected)
    assert mine(ws) == mine(via_graph)


@pytest.mark.parametrize("as_text", [True, False])
def test_workspace_rows_give_the_same_changes_whether_targets_come_as_text_or_decoded(
    tenant: DemoTenant, expected: pd.DataFrame, as_text: bool
) -> None:
    """azure-monitor-query hands a dynamic column over as its JSON text; were it decoded already, the changes are
    the same (TargetResources is read by rows.decode either way)."""
    data = WorkspaceData.from_demo(tenant, delay=timedelta(0))
    described, rows = output_rows(run(queries.audit(tenant.start, tenant.end + timedelta(seconds=1)), data.tables))
    columns = [c["name"] for c in described]
    at = columns.index("TargetResources")
    if not as_text:
        rows = [[json.loads(v) if i == at and v else v for i, v in enumerate(row)] for row in rows]
    records = audit_records(columns, rows, StepText())
    frame, _ = normalize.audit(records)
    got = parse_policy_changes(frame).changes[COLUMNS]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True))
