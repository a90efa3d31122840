"""The archive source (issue 22.4): Entra logs a diagnostic setting keeps in Azure Storage, read from a downloaded
container tree by the files source and straight from the storage account with the real azure-storage-blob client
against Azurite (started here on 127.0.0.1). The same records through Graph, through a tree and through Azurite give
the same store tables and the same review."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from sspr_review.analysis.model import Finding
from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.weeks import last_monday
from sspr_review.sources.demo.tenant import DemoTenant
from tests.support import archive
from tests.support.azurite import ReadRefused, available, azurite, connection_string
from tests.support.graph_server import GraphData, GraphServer

# Azurite and the Graph server, a fetch each way (about a minute for the module)
pytestmark = pytest.mark.slow
TOKEN = "test-token"
SCALE = 0.02
TENANT = "8c3f2d1e-0000-4000-8000-00000000a22a"
CONN = "SSPR_REVIEW_ARCHIVE_CONNECTION_STRING"

missing = available()
needs_azurite = pytest.mark.skipif(
    missing is not None and not os.environ.get("CI"), reason=f"Azurite cannot run: {missing}"
)


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return DemoTenant(users=300, weeks=5, end=last_monday("UTC"))


@pytest.fixture(scope="module")
def moment(tenant: DemoTenant) -> datetime:
    """When the fetches run: an hour after the demo's last week ended (a whole hour, so windows fall on hours)."""
    return tenant.end + timedelta(hours=1)


@pytest.fixture(scope="module")
def graph(tenant: DemoTenant, moment: datetime) -> Iterator[GraphServer]:
    data = GraphData.from_demo(tenant, moment)
    # role groups without members: exported Graph JSON (the files source) carries no group members either, so the
    # review through a downloaded tree can be compared with Graph's whole
    data.group_members = {gid: [] for gid in data.group_members}
    with GraphServer(data, time_scale=SCALE, token=TOKEN) as server:
        yield server


def open_ws(
    source: str,
    graph: GraphServer,
    store: Path,
    moment: datetime,
    mp: pytest.MonkeyPatch,
    files: Path | None = None,
    **extra: str,
) -> Workspace:
    env = {
        "SSPR_REVIEW_GRAPH_URL": graph.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(SCALE),
        "SSPR_REVIEW_STORE_PATH": str(store),
        "SSPR_REVIEW_GRAPH_RISK_LOOKBACK_DAYS": "30",  # the same history every way: the archive's backfill
        "SSPR_REVIEW_ARCHIVE_BACKFILL_DAYS": "30",
        **extra,
    }
    for key, value in env.items():
        mp.setenv(key, value)
    return Workspace(config.load(env=env), source, files=files, clock=lambda: moment)  # type: ignore[arg-type]


def tables(ws: Workspace) -> dict[str, pd.DataFrame]:
    out = {}
    for name in ("audit", "risk"):
        frame = ws.read(name).drop(columns=["fetched_at"], errors="ignore")
        out[name] = frame.sort_values("id").reset_index(drop=True)
    return out


def _when_taken(finding: Finding) -> Finding:
    """A finding without the time its policy snapshot was taken: a fetch takes it at the source's now, which for a
    downloaded tree is the end of its last hour, not the clock (the snapshot's content is compared)."""
    if "snapshot" not in finding.evidence or finding.kind != "configuration_gap":
        return finding
    return dataclasses.replace(finding, evidence={k: v for k, v in finding.evidence.items() if k != "snapshot"})


def same_review(a: Workspace, b: Workspace, week: str) -> None:
    x, y = a.review(week), b.review(week)
    assert x.findings, "the demo week has findings to compare"
    assert [_when_taken(f) for f in x.findings] == [_when_taken(f) for f in y.findings]
    assert {k: (m.value, m.previous) for k, m in x.metrics.items()} == {
        k: (m.value, m.previous) for k, m in y.metrics.items()
    }
    assert x.flow_summary == y.flow_summary and x.not_evaluated == y.not_evaluated


@pytest.fixture(scope="module")
def via_graph(graph: GraphServer, moment: datetime, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    mp = pytest.MonkeyPatch()
    try:
        ws = open_ws("graph", graph, tmp_path_factory.mktemp("graph"), moment, mp)
        assert ws.fetch(progress=False).ok
        return ws
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def made(via_graph: Workspace, moment: datetime) -> dict[tuple[str, str], bytes]:
    """The archive of exactly the records Graph served, one blob per hour of the 30 days."""
    records = {k: [json.loads(r) for r in via_graph.read(k, raw=True)["raw"]] for k in ("audit", "risk")}
    span = (moment - timedelta(days=30), moment + timedelta(hours=1))
    return archive.blobs(records, TENANT, {"audit": span, "risk": span})


@pytest.fixture(scope="module")
def small(made: dict[tuple[str, str], bytes], moment: datetime) -> dict[tuple[str, str], bytes]:
    """The archive's last three days (for the tests that need no equivalence: fewer blobs to upload)."""
    days = {f"/y={moment - timedelta(days=n):%Y/m=%m/d=%d}/" for n in range(3)}  # not the same day a month before
    return {key: data for key, data in made.items() if any(d in key[1] for d in days)}


@needs_azurite
def test_graph_and_the_storage_account_give_the_same_tables_and_review(
    graph: GraphServer,
    via_graph: Workspace,
    made: dict[tuple[str, str], bytes],
    moment: datetime,
    tenant: DemoTenant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with azurite(tmp_path / "azurite") as port:
        archive.upload(connection_string(port), made)
        ws = open_ws(
            "graph",
            graph,
            tmp_path / "archive",
            moment,
            monkeypatch,
            **{
                "SSPR_REVIEW_SOURCES_AUDIT": "archive",
                "SSPR_REVIEW_SOURCES_RISK": "archive",
                CONN: connection_string(port),
            },
        )
        result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    notes = [line for line in result.lines() if "Azure Storage archive" in line]
    assert any("insights-logs-auditlogs" in n and "delivered again and dropped" in n for n in notes), notes
    a, b = tables(via_graph), tables(ws)
    for name in ("audit", "risk"):
        pd.testing.assert_frame_equal(a[name], b[name])
    assert any("identical copies" in line for line in result.report.lines())  # repeated deliveries, counted
    same_review(via_graph, ws, tenant.end.date().isoformat())
    assert ws.coverage(moment - timedelta(days=7), moment)["audit"].complete


def test_a_downloaded_tree_gives_the_same_tables_and_review_as_graph_json(
    graph: GraphServer,
    via_graph: Workspace,
    made: dict[tuple[str, str], bytes],
    moment: datetime,
    tenant: DemoTenant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tree, plain = tmp_path / "tree", tmp_path / "plain"
    for folder in (tree, plain):
        archive.graph_exports(folder, graph.data, moment)
    archive.write_tree(tree, made)
    (tree / "insights-logs-riskyusers" / "tenantId=x" / "y=2026" / "m=01" / "d=01" / "h=00" / "m=00").mkdir(
        parents=True
    )
    for kind in ("audit", "risk"):  # the same records as plain Graph JSON
        raws = [json.loads(r) for r in via_graph.read(kind, raw=True)["raw"]]
        (plain / f"{kind}.json").write_text(json.dumps({"value": raws}))
    from_tree = open_ws("files", graph, tmp_path / "s1", moment, monkeypatch, files=tree)
    result = from_tree.fetch(progress=False)
    assert result.outcomes["audit"].ok and result.outcomes["risk"].ok, result.lines()
    from_json = open_ws("files", graph, tmp_path / "s2", moment, monkeypatch, files=plain)
    assert from_json.fetch(progress=False).outcomes["audit"].ok
    a, b, g = tables(from_json), tables(from_tree), tables(via_graph)
    for name in ("audit", "risk"):
        pd.testing.assert_frame_equal(a[name], b[name])
        pd.testing.assert_frame_equal(g[name], b[name])
    assert any("downloaded diagnostic-setting archive" in line for line in result.lines())
    # and the same review as Graph's (plain JSON covers only from its oldest record to its newest, so not the week)
    same_review(via_graph, from_tree, tenant.end.date().isoformat())


def test_a_missing_hour_is_a_named_gap(
    graph: GraphServer,
    made: dict[tuple[str, str], bytes],
    moment: datetime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tree = tmp_path / "tree"
    archive.write_tree(tree, made)
    lost = moment - timedelta(days=3, hours=5)
    hour = lost.replace(minute=0, second=0, microsecond=0)
    (blob,) = [
        p
        for p in (tree / "insights-logs-auditlogs").rglob("PT1H.json")
        if f"y={hour:%Y}/m={hour:%m}/d={hour:%d}/h={hour:%H}/" in p.as_posix()
    ]
    shutil.rmtree(blob.parent.parent)  # the hour's folder: h=HH/m=00/PT1H.json
    ws = open_ws("files", graph, tmp_path / "store", moment, monkeypatch, files=tree)
    result = ws.fetch(progress=False)
    gap = f"{hour:%Y-%m-%d %H:%M} to {hour + timedelta(hours=1):%Y-%m-%d %H:%M} UTC"
    assert any(gap in line and "no data for that time" in line for line in result.lines()), result.lines()
    week = ws.coverage(hour - timedelta(days=1), hour + timedelta(days=1))["audit"]
    assert not week.complete and week.reason is not None and gap in week.reason
    assert ws.coverage(moment - timedelta(days=1), moment)["audit"].complete  # the hours after it are whole


def test_the_envelope_traps_are_read_as_graph_records(made: dict[tuple[str, str], bytes]) -> None:
    """The built archive does carry the traps the reference lists (so the equivalence tests mean something)."""
    text = b"".join(made.values())
    assert b"\r\n" in text and b'"records": [' in text and b"+00:00" in text
    assert b'"Level": 4' in text or b'"level": 4' in text
    assert b'"riskType"' in text and (b" PM" in text or b" AM" in text)
    assert any(b"resourceId=" in p.encode() for _, p in made) and any(b"tenantId=" in p.encode() for _, p in made)


@needs_azurite
def test_errors_name_the_fix(
    graph: GraphServer,
    small: dict[tuple[str, str], bytes],
    moment: datetime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with azurite(tmp_path / "azurite") as port:
        archive.upload(connection_string(port), small)
        with ReadRefused(port) as proxy:  # an Owner without the data role: lists, cannot read
            refused = open_ws(
                "graph",
                graph,
                tmp_path / "a",
                moment,
                monkeypatch,
                **{"SSPR_REVIEW_SOURCES_AUDIT": "archive", CONN: connection_string(proxy.port)},
            ).fetch(progress=False)
        wrong = open_ws(
            "graph",
            graph,
            tmp_path / "b",
            moment,
            monkeypatch,
            **{
                "SSPR_REVIEW_SOURCES_AUDIT": "archive",
                CONN: connection_string(port),
                "SSPR_REVIEW_ARCHIVE_AUDIT_CONTAINER": "insights-logs-audit",
            },
        ).fetch(progress=False)
    audit = refused.outcomes["audit"]
    assert not audit.ok and audit.kind == "permission" and "Storage Blob Data Reader" in audit.reason
    assert "can list the blobs but not read them" in audit.reason
    assert refused.outcomes["registration"].ok  # the rest still landed
    bad = wrong.outcomes["audit"]
    assert not bad.ok and "container does not exist" in bad.reason and "[archive] audit_container" in bad.reason
    unreachable = open_ws(
        "graph",
        graph,
        tmp_path / "c",
        moment,
        monkeypatch,
        **{
            "SSPR_REVIEW_SOURCES_AUDIT": "archive",
            CONN: connection_string(port),  # Azurite has stopped
            "SSPR_REVIEW_ARCHIVE_MAX_RETRIES": "0",
        },
    ).fetch(progress=False)
    assert not unreachable.outcomes["audit"].ok and "account_url" in unreachable.outcomes["audit"].reason


@needs_azurite
def test_later_fetches_read_only_the_new_hours_and_the_overlap(
    graph: GraphServer,
    small: dict[tuple[str, str], bytes],
    moment: datetime,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from azure.storage.blob import BlobServiceClient

    env = {"SSPR_REVIEW_SOURCES_AUDIT": "archive", "SSPR_REVIEW_SOURCES_RISK": "archive"}
    with azurite(tmp_path / "azurite") as port:
        archive.upload(connection_string(port), small)
        first = open_ws("graph", graph, tmp_path / "s", moment, monkeypatch, **env, **{CONN: connection_string(port)})
        assert first.fetch(progress=False).ok
        # an hour's blob grows after it was read: a late line appended to the last hour
        service = BlobServiceClient.from_connection_string(connection_string(port))
        hour = f"/y={moment:%Y}/m={moment:%m}/d={moment:%d}/h={moment:%H}/"
        (last,) = [p for c, p in small if c == "insights-logs-auditlogs" and hour in p]
        late = archive.envelope(
            "audit",
            {
                "id": "late-1",
                "activityDateTime": moment.strftime("%Y-%m-%dT%H:%M:%S.1000000Z"),
                "activityDisplayName": "Reset password (self-service)",
                "loggedByService": "Self-service Password Management",
                "result": "success",
                "targetResources": [],
                "initiatedBy": {"user": {"id": "u", "userPrincipalName": "u@x"}},
            },
            TENANT,
            2,
        )
        service.get_blob_client("insights-logs-auditlogs", last).append_block(json.dumps(late).encode() + b"\r\n")
        later = moment + timedelta(hours=2)
        second = open_ws("graph", graph, tmp_path / "s", later, monkeypatch, **env, **{CONN: connection_string(port)})
        result = second.fetch(progress=False)
        service.close()
    audit = result.outcomes["audit"]
    assert audit.ok and audit.new == 1  # the late line; the overlap's other records were already stored
    assert audit.start is not None and audit.start >= moment - timedelta(hours=7)  # the overlap, not 30 days again
    assert audit.stats is not None and audit.stats.requests < 60  # a day's listing per layout and a few blobs
    assert "late-1" in set(second.read("audit")["id"])


@needs_azurite
def test_doctor_probes_each_container(small: dict[tuple[str, str], bytes], tmp_path: Path) -> None:
    import subprocess
    import sys

    with azurite(tmp_path / "azurite") as port:
        archive.upload(connection_string(port), small, containers=["insights-logs-auditlogs"])
        env = {
            **os.environ,
            CONN: connection_string(port),
            "SSPR_REVIEW_SOURCES_AUDIT": "archive",
            "SSPR_REVIEW_SOURCES_RISK": "archive",
            "SSPR_REVIEW_MAIL_CHARTS": "false",
        }
        done = subprocess.run(
            [sys.executable, "-m", "sspr_review.cli", "doctor", "--no-graph"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    assert done.returncode == 1, done.stdout
    assert "[ok  ] archive insights-logs-auditlogs" in done.stdout
    assert "[FAIL] archive insights-logs-userriskevents" in done.stdout and "does not exist" in done.stdout


@needs_azurite
def test_a_big_blob_is_downloaded_in_bounded_requests(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A blob bigger than one download request (9 MiB of lines) is asked for in ranges of at most DOWNLOAD_BYTES
    (the client's default first request would take 32 MiB at once, held whole), and its lines split across
    requests read intact."""
    import logging
    import re

    from azure.storage.blob import BlobServiceClient

    from sspr_review.sources.archive import storage
    from sspr_review.sources.archive.blobs import LineSplitter

    line = json.dumps({"time": "2026-11-30T10:00:00Z", "category": "AuditLogs", "properties": {"pad": "x" * 900}})
    data = (line.encode() + b"\r\n") * (9 * 1024 * 1024 // (len(line) + 2))
    name = "tenantId=t/y=2026/m=11/d=30/h=10/m=00/PT1H.json"
    with azurite(tmp_path / "azurite") as port:
        with BlobServiceClient.from_connection_string(connection_string(port)) as service:
            service.create_container("insights-logs-auditlogs").upload_blob(name, data)
        source = storage.ArchiveSource(
            config.load(env={}).archive,
            lambda: None,  # type: ignore[arg-type,return-value]
            connection_string=connection_string(port),
        )
        container = source.client().get_container_client("insights-logs-auditlogs")
        lines = LineSplitter()
        with caplog.at_level(logging.INFO, logger="azure.core.pipeline.policies.http_logging_policy"):
            read = [line for chunk in storage._chunks(container, name) for line in lines.push(chunk)] + lines.rest()
        source.client().close()
    # azure-core's request log: the GET answers' lengths (Azurite's response headers, lower case; the upload above
    # is outside the captured block)
    answers = [int(n) for n in re.findall(r"'content-length': '(\d+)'", caplog.text)]
    assert len(answers) >= 3 and max(answers) <= storage.DOWNLOAD_BYTES, answers
    assert sum(answers) == len(data)
    assert read == data.split(b"\n")[:-1]  # every line whole, its CR kept (the reader strips it)
