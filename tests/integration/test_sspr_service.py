"""Which ``loggedByService`` value selects SSPR's events (issue 22.1): the test Graph server serves them under the
documented value, under 'SSPR', under both at once, or under neither, and the fetch finds them each time, says
which way it found them, and spends its two probe requests only when it must."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.vocabulary import SSPR_SERVICE
from sspr_review.core.weeks import last_monday
from sspr_review.ingest.fetch import FetchResult
from sspr_review.sources.demo.tenant import DemoTenant
from sspr_review.sources.graph.sspr_service import ACTIVITIES
from tests.support.graph_server import GraphData, GraphServer

SCALE = 0.02
TOKEN = "test-token"
AUDITS = "/auditLogs/directoryAudits"


@pytest.fixture(scope="module")
def data() -> GraphData:
    return GraphData.from_demo(DemoTenant(users=300, weeks=3, end=last_monday("UTC")))


@pytest.fixture
def server(data: GraphData) -> Iterator[GraphServer]:
    with GraphServer(copy.deepcopy(data), time_scale=SCALE, token=TOKEN) as srv:
        yield srv


def workspace(server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    env = {
        "SSPR_REVIEW_GRAPH_URL": server.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(SCALE),
        "SSPR_REVIEW_STORE_PATH": str(tmp_path / "store"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Workspace(config.load(env=env), "graph")


def sspr_ids(records: list[dict[str, Any]], start: datetime, end: datetime) -> set[str]:
    lo, hi = start.strftime("%Y-%m-%dT%H:%M:%S"), end.strftime("%Y-%m-%dT%H:%M:%S.9999999")
    return {r["id"] for r in records if r.get("loggedByService") == SSPR_SERVICE and lo <= r["activityDateTime"] <= hi}


def probes(server: GraphServer, since: int = 0) -> list[str]:
    """The ``$filter`` of each probe (``$top=1``) sent to directoryAudits, from request number ``since`` on."""
    return [
        r.query["$filter"] for r in server.requests[since:] if r.path.endswith(AUDITS) and r.query.get("$top") == "1"
    ]


def stored_sspr(ws: Workspace) -> set[str]:
    audit = ws.read("audit")
    return set(audit.loc[audit["service"] == SSPR_SERVICE, "id"])


def fetch(ws: Workspace) -> FetchResult:
    result = ws.fetch(progress=False)
    assert result.ok, result.lines()
    return result


def late_event(server: GraphServer, when: datetime, number: int) -> str:
    """An SSPR event at ``when`` (after the demo's history ends), so that a later fetch's window holds one."""
    template = next(r for r in server.data.directory_audits if r.get("loggedByService") == SSPR_SERVICE)
    record = {
        **copy.deepcopy(template),
        "id": f"late-{number}",
        "activityDateTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    server.data.directory_audits.append(record)
    return str(record["id"])


def test_events_served_under_sspr_are_found_and_the_choice_is_said(
    server: GraphServer, data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.logged_by_service = {SSPR_SERVICE: ("SSPR",)}
    ws = workspace(server, tmp_path, monkeypatch)
    result = fetch(ws)
    audit = result.outcomes["audit"]
    assert audit.start and audit.end
    expected = sspr_ids(data.directory_audits, audit.start, audit.end)
    assert expected and stored_sspr(ws) == expected  # not a quiet month of zero SSPR events
    assert sorted(p.split(" and ")[0] for p in probes(server)) == sorted(
        [f"loggedByService eq '{SSPR_SERVICE}'", "loggedByService eq 'SSPR'"]
    )
    assert len(probes(server)) == 2  # both values probed, once each, through the rate limiter
    selection = ws.store.selection("audit")
    assert selection is not None and "loggedByService eq 'SSPR'" in selection and "returned none" in selection
    assert any("loggedByService eq 'SSPR'" in line for line in result.lines())
    cov = ws.store.coverage("audit", audit.start, audit.end)
    assert cov.selection == selection and any("'SSPR'" in n for n in cov.notes)


def test_events_served_under_both_values_are_stored_once(
    server: GraphServer, data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.logged_by_service = {SSPR_SERVICE: (SSPR_SERVICE, "SSPR")}
    ws = workspace(server, tmp_path, monkeypatch)
    result = fetch(ws)
    audit = result.outcomes["audit"]
    assert audit.start and audit.end
    stored = ws.read("audit")
    assert stored["id"].is_unique
    assert stored_sspr(ws) == sspr_ids(data.directory_audits, audit.start, audit.end)
    assert audit.records == len(stored)  # handed on once each, not once per value
    selection = ws.store.selection("audit") or ""
    assert f"loggedByService eq '{SSPR_SERVICE}' and loggedByService eq 'SSPR'" in selection
    assert "counted once" in selection


def test_the_documented_value_costs_no_request_after_the_first_fetch(
    server: GraphServer, data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(server, tmp_path, monkeypatch)
    fetch(ws)
    assert len(probes(server)) == 2
    late_event(server, datetime.now(UTC) - timedelta(hours=1), 1)
    before = len(server.requests)
    second = fetch(ws)
    assert probes(server, before) == []  # no extra request: the kept value returned events
    firsts = [r for r in server.requests[before:] if r.path.endswith(AUDITS) and "$skiptoken" not in r.query]
    assert len(firsts) == 4 and second.outcomes["audit"].new >= 1
    assert "late-1" in stored_sspr(ws)
    assert f"loggedByService eq '{SSPR_SERVICE}'" in (ws.store.selection("audit") or "")


def test_a_value_gone_quiet_is_probed_again_and_the_other_one_read(
    server: GraphServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = workspace(server, tmp_path, monkeypatch)
    fetch(ws)  # the documented value
    server.logged_by_service = {SSPR_SERVICE: ("SSPR",)}  # the tenant's Graph now answers to 'SSPR' only
    late_event(server, datetime.now(UTC) - timedelta(hours=1), 2)
    before = len(server.requests)
    fetch(ws)
    assert len(probes(server, before)) == 2
    assert "late-2" in stored_sspr(ws)
    assert "loggedByService eq 'SSPR'" in (ws.store.selection("audit") or "")


def test_neither_value_falls_back_to_the_activity_names_and_says_so(
    server: GraphServer, data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.logged_by_service = {SSPR_SERVICE: ("Self-service Password Reset (renamed)",)}
    ws = workspace(server, tmp_path, monkeypatch)
    result = fetch(ws)
    audit = result.outcomes["audit"]
    assert audit.start and audit.end
    known = [r for r in data.directory_audits if r["activityDisplayName"] in ACTIVITIES]
    assert stored_sspr(ws) == sspr_ids(known, audit.start, audit.end)  # an activity not in the list is not read
    assert sspr_ids(known, audit.start, audit.end) < sspr_ids(data.directory_audits, audit.start, audit.end)
    assert "activity names" in (ws.store.selection("audit") or "")
