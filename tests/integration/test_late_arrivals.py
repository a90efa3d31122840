"""Requests that reach Graph late: a request the rate limiter admitted can arrive at the server well after it was
sent (a loaded machine, a congested network), and Graph counts it in its window when it arrives. Real HTTP through
a slow link (:class:`~tests.support.slow_link.SlowLink`, a TCP proxy that holds chosen requests) to the Graph test
server enforcing the documented budgets on a scaled clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from sspr_review.core import config
from sspr_review.core.weeks import last_monday
from sspr_review.sources.base import FetchStats
from sspr_review.sources.demo.tenant import DemoTenant
from sspr_review.sources.graph.auth import StaticToken
from sspr_review.sources.graph.client import GraphClient
from sspr_review.sources.graph.endpoints import REGISTRATION
from sspr_review.sources.graph.ratelimit import LocalRecord, Record
from tests.support.graph_server import GraphData, GraphServer
from tests.support.slow_link import SlowLink

TOKEN = "late-token"
SCALE = 0.02  # the reports window: 5 requests per 0.2 s
LIMIT = 5
REQUESTS = 3 * LIMIT  # three windows' worth, all wanted at once


@pytest.fixture(scope="module")
def data() -> GraphData:
    return GraphData.from_demo(DemoTenant(users=50, weeks=2, end=last_monday("UTC")))


@pytest.fixture
def server(data: GraphData) -> Iterator[GraphServer]:
    with GraphServer(data, time_scale=SCALE, token=TOKEN) as srv:
        yield srv


def burst(server: GraphServer, link: SlowLink, tmp_path: Path, record: Record | None) -> list[FetchStats]:
    """``REQUESTS`` report requests at once through ``link``, each one GET of the registration report's first page."""
    env = {
        "SSPR_REVIEW_GRAPH_URL": link.origin + "/v1.0",
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(SCALE),
        "SSPR_REVIEW_STORE_PATH": str(tmp_path / "store"),
    }
    settings = config.load(env=env).graph

    async def main() -> list[FetchStats]:
        async with GraphClient(settings, StaticToken(TOKEN), budget=record) as client:
            report = client.sdk.reports.authentication_methods.user_registration_details

            async def one() -> FetchStats:
                stats = FetchStats()
                await client.get_json(report.to_get_request_information(), REGISTRATION, stats, "registration")
                return stats

            return await asyncio.gather(*(one() for _ in range(REQUESTS)))

    return asyncio.run(main())


def hold_the_first_for_two_windows(n: int, link: SlowLink) -> None:
    """Hold the first request until the first window's other requests and the next window's have passed on (at
    most 10 s): it reaches the server after requests the limiter granted while it was in flight."""
    if n == 0:
        link.wait_passed(2 * (LIMIT - 1), timeout=10)


@pytest.mark.parametrize("record", ["shared", "local"])
def test_a_request_that_arrives_late_is_counted_until_it_is_answered(
    server: GraphServer, tmp_path: Path, record: str
) -> None:
    """The first request of a burst reaches the server after the next window's requests: the limiter must count it
    as possibly arriving at any moment until its answer, or the server sees six in its window."""
    port = int(server.url.rsplit(":", 1)[1].split("/")[0])
    with SlowLink(("127.0.0.1", port), hold_the_first_for_two_windows) as link:
        server.link_origin = link.origin
        stats = burst(server, link, tmp_path, LocalRecord() if record == "local" else None)
    late = link.pieces[0]
    # it was held until the next window's requests had passed (not until the timeout), longer than a window
    assert late.after >= 2 * (LIMIT - 1) and late.held > SCALE * 10
    # and the server, which counts each request when it arrives, answered none with 429
    assert server.throttled == {"reports": 0, "identityProtection": 0}
    assert [r.status for r in server.requests] == [200] * REQUESTS
    assert all(s.throttled == 0 and s.retries == 0 for s in stats)
