"""The Log Analytics source: the real azure-monitor-query client over HTTP against the test endpoint
(tests/support/log_analytics_server.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.errors import AccessDenied, FetchFailed, TableMissing, WorkspaceNotFound
from sspr_review.core.weeks import last_monday
from sspr_review.sources.base import FetchStats
from sspr_review.sources.demo.tenant import DemoTenant
from sspr_review.sources.log_analytics import queries
from sspr_review.sources.log_analytics.client import Table
from tests.support.graph_server import GraphData, GraphServer
from tests.support.log_analytics_kql import KqlError, run
from tests.support.log_analytics_server import WORKSPACE_ID, Fault, LogAnalyticsServer, WorkspaceData

TOKEN = "test-token"
SCALE = 0.02


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return DemoTenant(users=600, weeks=5, end=last_monday("UTC"))


@pytest.fixture(scope="module")
def moment(tenant: DemoTenant) -> datetime:
    """When the fetches run: an hour after the demo's last week ended."""
    return tenant.end + timedelta(hours=1)


@pytest.fixture(scope="module")
def workspace_data(tenant: DemoTenant) -> WorkspaceData:
    return WorkspaceData.from_demo(tenant, delay=timedelta(0))


@pytest.fixture
def graph(tenant: DemoTenant, moment: datetime) -> Iterator[GraphServer]:
    with GraphServer(GraphData.from_demo(tenant, moment), time_scale=SCALE, token=TOKEN) as server:
        yield server


def workspace_server(data: WorkspaceData, moment: datetime, **kw: Any) -> LogAnalyticsServer:
    return LogAnalyticsServer(data, token=TOKEN, now=f"{moment:%Y-%m-%dT%H:%M:%S}", **kw)


def open_ws(
    source: str,
    graph: GraphServer,
    store: Path,
    moment: datetime,
    monkeypatch: pytest.MonkeyPatch,
    la: LogAnalyticsServer | None = None,
    **extra: str,
) -> Workspace:
    env = {
        "SSPR_REVIEW_GRAPH_URL": graph.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(SCALE),
        "SSPR_REVIEW_STORE_PATH": str(store),
        # the same history both ways: Graph keeps 30 days of audit events
        "SSPR_REVIEW_GRAPH_RISK_LOOKBACK_DAYS": "30",
        "SSPR_REVIEW_LOG_ANALYTICS_BACKFILL_DAYS": "30",
        "SSPR_REVIEW_LOG_ANALYTICS_INGESTION_DELAY_MINUTES": "0",
        "SSPR_REVIEW_LOG_ANALYTICS_RETRY_BACKOFF_SECONDS": "0.01",
        "SSPR_REVIEW_LOG_ANALYTICS_WORKSPACE_ID": WORKSPACE_ID,
        **({"SSPR_REVIEW_LOG_ANALYTICS_URL": la.url} if la is not None else {}),
        **extra,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Workspace(config.load(env=env), source, clock=lambda: moment)  # type: ignore[arg-type]


def tables(ws: Workspace) -> dict[str, pd.DataFrame]:
    out = {}
    for name in ("audit", "risk"):
        frame = ws.read(name).drop(columns=["fetched_at"], errors="ignore")
        out[name] = frame.sort_values(["id", *(["last_updated_time"] if name == "risk" else [])]).reset_index(drop=True)
    return out


def test_every_query_renders_and_the_server_parses_it() -> None:
    texts = queries.every_query()
    assert len(texts) == 8 and all("{" not in t for t in texts)
    data = WorkspaceData.from_demo(DemoTenant(users=50, weeks=2))
    for text in texts:
        run(text, data.tables)  # no KqlError


def test_strings_are_escaped_and_parameters_typed() -> None:
    assert queries.kql_string('a"b\\c\n') == '"a\\"b\\\\c\\n"'
    with pytest.raises(ValueError, match="control character"):
        queries.kql_string("a\x00b")
    with pytest.raises(ValueError, match="timezone-aware"):
        queries.kql_datetime(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="not a table the kit reads"):
        queries.probe("SigninLogs | take 1")


def test_the_server_rejects_what_it_does_not_know() -> None:
    data = WorkspaceData.from_demo(DemoTenant(users=50, weeks=2))
    for text in (
        "AuditLogs | extend X = 1",
        "AuditLogs | where ActivityDateTime > 'x'",
        "AuditLogs | where Nope == 'x'",
        "SigninLogs | take 1",
        "AuditLogs | where Id matches regex 'x'",
    ):
        with pytest.raises(KqlError):
            run(text, data.tables)


@pytest.mark.slow
@pytest.mark.parametrize("step_column", ["ResultReason", "ResultDescription"])
def test_graph_and_log_analytics_give_the_same_review(
    tenant: DemoTenant,
    moment: datetime,
    graph: GraphServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    step_column: str,
) -> None:
    via_graph = open_ws("graph", graph, tmp_path / "graph", moment, monkeypatch)
    assert via_graph.fetch(progress=False).ok
    data = WorkspaceData.from_demo(tenant, delay=timedelta(0), step_column=step_column)
    with workspace_server(data, moment) as la:
        via_la = open_ws("log-analytics", graph, tmp_path / "la", moment, monkeypatch, la)
        result = via_la.fetch(progress=False)
    assert result.ok, result.lines()
    assert (
        f"audit: from Log Analytics workspace {WORKSPACE_ID} (AuditLogs); step text from {step_column}"
        in result.lines()
    )
    week = tenant.end - timedelta(days=7)
    assert via_la.coverage(week, tenant.end)["audit"].notes == (
        f"Log Analytics workspace {WORKSPACE_ID} (AuditLogs); step text from {step_column}",
    )
    # the same rows, normalised the same way; raw keeps the workspace row as received
    a, b = tables(via_graph), tables(via_la)
    for name in ("audit", "risk"):
        pd.testing.assert_frame_equal(a[name], b[name])
    raw = json.loads(via_la.read("audit", raw=True)["raw"].iloc[0])
    assert raw["_logAnalytics"]["table"] == "AuditLogs" and "InitiatedBy" in raw["_logAnalytics"]["row"]
    # and the same review
    g, w = via_graph.review(), via_la.review()
    assert g.findings, "the demo week has findings to compare"
    assert g.findings == w.findings
    assert g.metrics == w.metrics
    assert g.flow_summary == w.flow_summary
    assert g.not_evaluated == w.not_evaluated
    pd.testing.assert_frame_equal(g.weekly, w.weekly)


def test_windows_are_split_under_the_row_cap(
    tenant: DemoTenant,
    moment: datetime,
    workspace_data: WorkspaceData,
    graph: GraphServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cap = 100
    with workspace_server(workspace_data, moment, max_rows=cap) as la:
        ws = open_ws(
            "log-analytics", graph, tmp_path / "s", moment, monkeypatch, la, SSPR_REVIEW_LOG_ANALYTICS_MAX_ROWS=str(cap)
        )
        result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    audits = la.data_queries("AuditLogs")
    assert len(audits) > 1 and all(q["rows"] <= cap and not q["partial"] for q in audits)
    total = sum(q["rows"] for q in audits)
    assert total == result.outcomes["audit"].records == len(ws.read("audit"))
    assert len(audits) <= 2 * -(-total // cap)  # within twice the fewest queries the cap allows
    # consecutive windows: each starts where the previous ended
    bounds = [q["query"].split("datetime(")[1:3] for q in audits]
    starts = sorted(b[0].split(")")[0] for b in bounds)
    ends = sorted(b[1].split(")")[0] for b in bounds)
    assert starts[1:] == ends[:-1]


def test_a_byte_capped_answer_is_read_again_in_halves(
    moment: datetime,
    workspace_data: WorkspaceData,
    graph: GraphServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with workspace_server(workspace_data, moment, max_bytes=200_000) as la:
        ws = open_ws("log-analytics", graph, tmp_path / "s", moment, monkeypatch, la)
        result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    audits = la.data_queries("AuditLogs")
    assert any(q["partial"] for q in audits)
    assert sum(q["rows"] for q in audits if not q["partial"]) == len(ws.read("audit"))


def test_throttling_is_retried(
    moment: datetime,
    workspace_data: WorkspaceData,
    graph: GraphServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with workspace_server(workspace_data, moment, throttle=(2, 0.3), retry_after=0.1) as la:
        ws = open_ws("log-analytics", graph, tmp_path / "s", moment, monkeypatch, la)
        result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    assert any(q["status"] == 429 for q in la.queries)
    stats = result.outcomes["audit"].stats or result.outcomes["risk"].stats
    assert stats is not None
    assert (result.outcomes["audit"].stats.throttled + result.outcomes["risk"].stats.throttled) > 0  # type: ignore[union-attr]


def test_a_partial_answer_is_incomplete_coverage_not_a_complete_week(
    tenant: DemoTenant,
    moment: datetime,
    workspace_data: WorkspaceData,
    graph: GraphServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with workspace_server(workspace_data, moment) as la:
        la.faults.append(
            Fault(
                partial="Query execution was cancelled: a cluster node did not answer", match="| project Id, Category"
            )
        )
        ws = open_ws("log-analytics", graph, tmp_path / "s", moment, monkeypatch, la)
        result = ws.fetch(progress=False)
    audit = result.outcomes["audit"]
    assert not audit.ok and audit.kind == "partial"
    assert "a cluster node did not answer" in audit.reason
    assert result.outcomes["risk"].ok and result.outcomes["registration"].ok
    cov = ws.coverage(tenant.end - timedelta(days=7), tenant.end)["audit"]
    assert not cov.complete and cov.reason is not None and "a cluster node did not answer" in cov.reason
    assert len(ws.read("audit")) > 0, "the rows that arrived are kept"


@pytest.mark.parametrize(
    ("setup", "error", "words"),
    [
        ("deny", AccessDenied, ["Log Analytics Reader"]),
        ("workspace", WorkspaceNotFound, ["workspace_id", "endpoint"]),
        ("no-risk-table", TableMissing, ["AADUserRiskEvents", "UserRiskEvents", "Diagnostic settings"]),
    ],
)
def test_errors_name_the_fix(
    tenant: DemoTenant,
    moment: datetime,
    graph: GraphServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    setup: str,
    error: type[Exception],
    words: list[str],
) -> None:
    tables_kept = ("AuditLogs",) if setup == "no-risk-table" else ("AuditLogs", "AADUserRiskEvents")
    data = WorkspaceData.from_demo(tenant, delay=timedelta(0), tables=tables_kept)
    ws_id = "00000000-0000-0000-0000-000000000001" if setup == "workspace" else WORKSPACE_ID
    with workspace_server(data, moment) as la:
        if setup == "deny":
            la.deny()
        ws = open_ws(
            "log-analytics",
            graph,
            tmp_path / "s",
            moment,
            monkeypatch,
            la,
            SSPR_REVIEW_LOG_ANALYTICS_WORKSPACE_ID=ws_id,
        )
        result = ws.fetch(progress=False)
    risk = result.outcomes["risk"]
    assert not risk.ok and risk.kind == error.kind  # type: ignore[attr-defined]
    for word in words:
        assert word in risk.reason
    assert result.outcomes["registration"].ok  # Graph's kinds still land


def test_an_unreachable_endpoint_names_the_cloud_setting(
    moment: datetime, graph: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = open_ws(
        "log-analytics",
        graph,
        tmp_path / "s",
        moment,
        monkeypatch,
        SSPR_REVIEW_LOG_ANALYTICS_URL="http://127.0.0.1:9/v1",
        SSPR_REVIEW_LOG_ANALYTICS_MAX_RETRIES="1",
    )
    result = ws.fetch(progress=False)
    assert not result.outcomes["audit"].ok
    assert "[log_analytics] endpoint" in result.outcomes["audit"].reason
    assert "api.loganalytics.us" in result.outcomes["audit"].reason


def test_the_endpoint_override_refuses_plain_http_beyond_loopback() -> None:
    from sspr_review.core.errors import ConfigError

    with pytest.raises(ConfigError, match="plain http"):
        config.load(env={"SSPR_REVIEW_LOG_ANALYTICS_URL": "http://example.invalid/v1"})
    cfg = config.load(env={"SSPR_REVIEW_LOG_ANALYTICS_URL": "http://127.0.0.1:8080/v1"})
    assert cfg.log_analytics.endpoint == "http://127.0.0.1:8080/v1"


def test_sources_section_picks_per_kind(
    tenant: DemoTenant,
    moment: datetime,
    workspace_data: WorkspaceData,
    graph: GraphServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with workspace_server(workspace_data, moment) as la:
        ws = open_ws("graph", graph, tmp_path / "s", moment, monkeypatch, la, SSPR_REVIEW_SOURCES_RISK="log_analytics")
        result = ws.fetch(progress=False)
    assert result.ok
    assert la.data_queries("AADUserRiskEvents") and not la.data_queries("AuditLogs")
    assert graph.count("/auditLogs/directoryAudits") > 0


def test_the_server_runs_on_its_own_and_logs_queries(tmp_path: Path) -> None:
    log = tmp_path / "queries.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.support.log_analytics_server",
            "--port",
            "0",
            "--users",
            "50",
            "--weeks",
            "2",
            "--log",
            str(log),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        from azure.monitor.query import LogsQueryClient

        from sspr_review.sources.graph.auth import StaticToken

        client = LogsQueryClient(StaticToken("x"), endpoint=url, retry_total=0)  # type: ignore[arg-type]
        answer = client.query_workspace(WORKSPACE_ID, queries.probe("AuditLogs"), timespan=None, enforce_https=False)
        assert len(answer.tables[0].rows) == 1
        entries = [json.loads(line) for line in log.read_text().splitlines()]
        assert entries[0]["query"] == queries.probe("AuditLogs")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_doctor_reports_each_table(tenant: DemoTenant, moment: datetime, monkeypatch: pytest.MonkeyPatch) -> None:
    from sspr_review.doctor import log_analytics_checks

    data = WorkspaceData.from_demo(tenant, delay=timedelta(0), tables=("AuditLogs",))
    with workspace_server(data, moment) as la:
        env = {
            "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
            "SSPR_REVIEW_LOG_ANALYTICS_URL": la.url,
            "SSPR_REVIEW_LOG_ANALYTICS_WORKSPACE_ID": WORKSPACE_ID,
        }
        monkeypatch.setenv("SSPR_REVIEW_ACCESS_TOKEN", TOKEN)
        cfg = config.load(env=env)
        audit, risk = log_analytics_checks(cfg)
        assert audit.ok and audit.name == "Log Analytics AuditLogs"
        assert not risk.ok and risk.detail.startswith("missing table") and "UserRiskEvents" in risk.fix
        assert [q["query"] for q in la.queries] == [queries.probe(t) for t in queries.TABLES]
        la.deny()
        checks = log_analytics_checks(cfg)
        assert all(not c.ok and c.detail.startswith("missing role") for c in checks)
        assert "Log Analytics Reader" in checks[0].fix


def test_first_run_backfills_from_the_oldest_row_within_backfill_days(
    tenant: DemoTenant, moment: datetime, graph: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = WorkspaceData.from_demo(tenant, delay=timedelta(minutes=2))
    oldest = min(r["TimeGenerated"] for r in data.tables["AuditLogs"].rows)
    with workspace_server(data, moment) as la:
        # the default 180 days reach before the workspace's first row: coverage starts at that row
        ws = open_ws(
            "log-analytics",
            graph,
            tmp_path / "a",
            moment,
            monkeypatch,
            la,
            SSPR_REVIEW_LOG_ANALYTICS_BACKFILL_DAYS="180",
        )
        assert ws.fetch(progress=False).ok
        first = ws.store.intervals("audit")[0]
        from tests.support.log_analytics_kql import format_datetime

        assert first.start == datetime.fromisoformat(format_datetime(oldest)[:19] + "+00:00")
        assert first.start > moment - timedelta(days=40)
        # 10 days: bounded by backfill_days
        ws = open_ws(
            "log-analytics",
            graph,
            tmp_path / "b",
            moment,
            monkeypatch,
            la,
            SSPR_REVIEW_LOG_ANALYTICS_BACKFILL_DAYS="10",
        )
        assert ws.fetch(progress=False).ok
        assert ws.store.intervals("audit")[0].start == moment - timedelta(days=10)


def test_a_window_ends_the_ingestion_delay_before_now(
    tenant: DemoTenant,
    moment: datetime,
    workspace_data: WorkspaceData,
    graph: GraphServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with workspace_server(workspace_data, moment) as la:
        ws = open_ws(
            "log-analytics",
            graph,
            tmp_path / "s",
            moment,
            monkeypatch,
            la,
            SSPR_REVIEW_LOG_ANALYTICS_INGESTION_DELAY_MINUTES="45",
        )
        result = ws.fetch(progress=False)
    assert result.ok
    assert ws.store.high_water("audit") == moment - timedelta(minutes=45)
    assert ws.store.high_water("risk") == moment - timedelta(minutes=45)


def test_a_rejected_token_names_the_cloud_setting(
    moment: datetime, workspace_data: WorkspaceData, graph: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with LogAnalyticsServer(workspace_data, token="a token for another cloud") as la:
        ws = open_ws("log-analytics", graph, tmp_path / "s", moment, monkeypatch, la)
        result = ws.fetch(progress=False)
    audit = result.outcomes["audit"]
    assert not audit.ok and audit.kind == "auth"
    assert "[log_analytics] endpoint" in audit.reason and "national cloud" in audit.reason
    assert result.outcomes["registration"].ok


# ------------------------------------------------------------------------------------------------ retries
def query_once(la: LogAnalyticsServer, slept: list[float], **settings: Any) -> tuple[FetchStats, Table | BaseException]:
    """One probe query through a fresh WorkspaceClient; the sleeps between attempts are recorded, not slept."""
    from sspr_review.sources.graph.auth import StaticToken
    from sspr_review.sources.log_analytics.client import WorkspaceClient

    env = {"SSPR_REVIEW_LOG_ANALYTICS_URL": la.url, "SSPR_REVIEW_LOG_ANALYTICS_WORKSPACE_ID": WORKSPACE_ID}
    env.update({f"SSPR_REVIEW_LOG_ANALYTICS_{k.upper()}": str(v) for k, v in settings.items()})

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> tuple[FetchStats, Table | BaseException]:
        stats = FetchStats()
        client = WorkspaceClient(config.load(env=env).log_analytics, StaticToken(TOKEN), sleep=sleep)  # type: ignore[arg-type]
        try:
            return stats, await client.query(queries.probe("AuditLogs"), None, stats, "audit", "AuditLogs")
        except FetchFailed as exc:
            return stats, exc
        finally:
            client.close()

    return asyncio.run(main())


def test_5xx_answers_are_retried_with_doubling_backoff_then_given_up(
    workspace_data: WorkspaceData, moment: datetime
) -> None:
    with workspace_server(workspace_data, moment) as la:
        la.faults.append(Fault(status=503, times=2))
        slept: list[float] = []
        stats, answer = query_once(la, slept, retry_backoff_seconds=1.5)
        assert isinstance(answer, Table) and len(answer.rows) == 1
        assert slept == [1.5, 3.0]  # retry_backoff_seconds, doubled after each attempt
        assert (stats.requests, stats.retries, stats.throttled) == (3, 2, 0)
        assert stats.statuses == {503: 2, 200: 1} and stats.waited == 4.5

        la.faults.append(Fault(status=500, times=10))
        slept.clear()
        stats, answer = query_once(la, slept, retry_backoff_seconds=0.5, max_retries=3)
        assert isinstance(answer, FetchFailed) and "answered 500 after 3 retries" in str(answer)
        assert "max_retries" in str(answer) and slept == [0.5, 1.0, 2.0] and stats.requests == 4


def test_retry_after_is_obeyed_up_to_its_bound(workspace_data: WorkspaceData, moment: datetime) -> None:
    from sspr_review.sources.log_analytics.client import MAX_RETRY_AFTER_SECONDS

    with workspace_server(workspace_data, moment, throttle=(0, 1.0), retry_after=7) as la:
        slept: list[float] = []
        stats, answer = query_once(la, slept, max_retries=2)
        assert isinstance(answer, FetchFailed) and "429" in str(answer)
        assert slept == [7.0, 7.0] and stats.throttled == 2 and stats.statuses == {429: 3}
    with workspace_server(workspace_data, moment) as la:
        la.faults.append(Fault(status=503, times=1, retry_after=100_000))
        slept = []
        _, answer = query_once(la, slept)
        assert isinstance(answer, Table) and slept == [MAX_RETRY_AFTER_SECONDS]


def test_an_answer_that_will_not_change_is_not_retried(workspace_data: WorkspaceData, moment: datetime) -> None:
    with workspace_server(workspace_data, moment) as la:
        la.deny()
        slept: list[float] = []
        with pytest.raises(AccessDenied):
            query_once(la, slept)
        assert slept == [] and len(la.queries) == 1
