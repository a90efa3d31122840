"""Graph's budget is per application and tenant, not per process (issue 14 §2).

Real CLI processes against the Graph test server enforcing the documented budgets at **real time scale**
(reports: 5 requests / 10 s; Identity Protection: 1 request / s). The tenant is small, so one fetch needs six
report requests (four audit filters of one page each, two pages of the registration report): one more than a
window allows, and two fetches together more than two windows. Every test counts the 429s in the server's log.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sspr_review.core.weeks import last_monday
from sspr_review.sources.demo.tenant import DemoTenant
from tests.support.graph_server import GraphData, GraphServer

# two fetches each, against the documented throttles (about 25 s a case)
pytestmark = pytest.mark.slow
TOKEN = "budget-token"
CLI = [sys.executable, "-m", "sspr_review.cli"]
REGISTRATION = "/reports/authenticationMethods/userRegistrationDetails"
REPORTS = ("/auditLogs/directoryAudits", "/userRegistrationDetails")


@pytest.fixture(scope="module")
def data() -> GraphData:
    return GraphData.from_demo(DemoTenant(users=50, weeks=2, end=last_monday("UTC")))


@pytest.fixture
def server(data: GraphData) -> Iterator[GraphServer]:
    pages = -(-len(data.user_registration_details) // 2)  # two registration pages per fetch
    with GraphServer(data, time_scale=1.0, token=TOKEN, page_sizes={REGISTRATION: (pages, pages)}) as srv:
        yield srv


def env_for(server: GraphServer, store: Path, state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SSPR_REVIEW_GRAPH_URL": server.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_AUTH_TENANT_ID": "contoso-tenant",
        "SSPR_REVIEW_AUTH_CLIENT_ID": "sspr-review-app",
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": "1",
        "SSPR_REVIEW_STORE_PATH": str(store),
        "SSPR_REVIEW_STATE_DIR": str(state),
    }


def fetch(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLI, "fetch", "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finished(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return out


def report_requests(server: GraphServer) -> int:
    return sum(server.count(path) for path in REPORTS)


def probes(server: GraphServer) -> int:
    """The ``$top=1`` probes of which loggedByService value selects SSPR's events (also report requests): two on a
    store's first fetch, two more on a fetch whose window holds no SSPR event."""
    return sum(
        1 for r in server.requests if r.path.endswith("/auditLogs/directoryAudits") and r.query.get("$top") == "1"
    )


def assert_no_429(server: GraphServer) -> None:
    throttled = [(r.path, round(r.time, 2)) for r in server.requests if r.status == 429]
    assert throttled == [], f"the server answered 429 to {len(throttled)} requests: {throttled[:6]}"
    assert server.throttled == {"reports": 0, "identityProtection": 0}


def test_two_fetches_back_to_back_receive_no_429(server: GraphServer, tmp_path: Path) -> None:
    env = env_for(server, tmp_path / "store", tmp_path / "state")
    finished(fetch(env))
    assert report_requests(server) == 8  # more than one window allows: the second fetch must wait for it
    assert probes(server) == 2
    finished(fetch(env))
    assert report_requests(server) - probes(server) == 12 and probes(server) in (2, 4)
    assert_no_429(server)


def test_two_concurrent_fetches_into_two_stores_of_one_tenant_receive_no_429(
    server: GraphServer, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    procs = [fetch(env_for(server, tmp_path / name, state)) for name in ("scheduled", "analyst")]
    outputs = [finished(p) for p in procs]
    assert report_requests(server) == 16 and probes(server) == 4  # two first fetches, each probing once
    assert_no_429(server)
    assert all("audit" in out and "ok" in out for out in outputs)


def test_fetch_rerun_right_after_a_killed_one_receives_no_429(server: GraphServer, tmp_path: Path) -> None:
    env = env_for(server, tmp_path / "store", tmp_path / "state")
    killed = fetch(env)
    deadline = time.monotonic() + 60
    while report_requests(server) < 5:  # the killed fetch has spent this window's budget
        assert killed.poll() is None, killed.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=10)
    finished(fetch(env))
    assert_no_429(server)
