"""GraphClient's retries (tenacity), over real HTTP against tests/support/graph_server/, with the sleeps between
attempts recorded instead of slept (the rate limiter's own waits are real)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sspr_review.core import config
from sspr_review.core.errors import FetchFailed
from sspr_review.core.weeks import last_monday
from sspr_review.sources.base import FetchStats
from sspr_review.sources.demo.tenant import DemoTenant
from sspr_review.sources.graph.auth import StaticToken
from sspr_review.sources.graph.client import MAX_RETRY_AFTER_SECONDS, GraphClient
from sspr_review.sources.graph.endpoints import AUTH_METHODS_POLICY, RISK, risk_filter
from sspr_review.sources.graph.ratelimit import LocalRecord
from tests.support.graph_server import Fault, GraphData, GraphServer

TOKEN = "test-token"


@pytest.fixture(scope="module")
def data() -> GraphData:
    return GraphData.from_demo(DemoTenant(users=200, weeks=2, end=last_monday("UTC")))


@pytest.fixture
def server(data: GraphData) -> Iterator[GraphServer]:
    with GraphServer(data, time_scale=1.0, token=TOKEN) as srv:
        yield srv


def settings(server: GraphServer, tmp_path: Path, scale: float) -> config.GraphSettings:
    env = {
        "SSPR_REVIEW_GRAPH_URL": server.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(scale),
        "SSPR_REVIEW_STORE_PATH": str(tmp_path / "store"),
    }
    return config.load(env=env).graph


def get(
    server: GraphServer, tmp_path: Path, scale: float, endpoint: str, slept: list[float] | None = None
) -> tuple[FetchStats, list[float]]:
    """One GET of ``endpoint`` ("policy" or "risk") through a fresh client; the stats and the sleeps asked for
    (also kept in ``slept``)."""
    slept = [] if slept is None else slept

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> FetchStats:
        stats = FetchStats()
        client = GraphClient(settings(server, tmp_path, scale), StaticToken(TOKEN), sleep=sleep, budget=LocalRecord())
        async with client:
            if endpoint == "policy":
                request = client.sdk.policies.authentication_methods_policy.to_get_request_information()
                await client.get_json(request, AUTH_METHODS_POLICY, stats, "policy")
            else:
                request = _risk_request(client)
                await client.get_json(request, RISK, stats, "risk")
        return stats

    return asyncio.run(main()), slept


def _risk_request(client: GraphClient) -> Any:
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.identity_protection.risk_detections.risk_detections_request_builder import (
        RiskDetectionsRequestBuilder as B,
    )

    end = last_monday("UTC")
    query = B.RiskDetectionsRequestBuilderGetQueryParameters(filter=risk_filter(end - timedelta(days=7), end), top=500)
    builder = client.sdk.identity_protection.risk_detections
    return builder.to_get_request_information(RequestConfiguration(query_parameters=query))


def test_retry_after_is_honoured_up_to_its_bound(server: GraphServer, tmp_path: Path) -> None:
    server.add_fault(Fault("/policies/authenticationMethodsPolicy", 429, times=2, retry_after=10_000))
    scale = 0.01
    stats, slept = get(server, tmp_path, scale, "policy")
    assert slept == [MAX_RETRY_AFTER_SECONDS * scale] * 2
    assert stats.requests == 3 and stats.retries == 2 and stats.throttled == 2
    assert stats.statuses == {429: 2, 200: 1}
    assert stats.waited >= sum(slept)


def test_backoff_without_retry_after_grows_and_gives_up(server: GraphServer, tmp_path: Path) -> None:
    server.add_fault(Fault("/policies/authenticationMethodsPolicy", 503, times=100))
    slept: list[float] = []
    scale = 0.5
    with pytest.raises(FetchFailed, match=r"gave up after 7 attempts \(HTTP 503\)") as failed:
        get(server, tmp_path, scale, "policy", slept)
    assert failed.value.status == 503
    # the default max_retries is 6: sleeps of 1, 2, 4, ... s (scaled), each with jitter (0.75 to 1 of it)
    assert len(slept) == 6 and server.count("/policies/authenticationMethodsPolicy") == 7
    assert all(0.75 * 2**i * scale <= s <= 2**i * scale for i, s in enumerate(slept)), slept


@pytest.mark.slow
def test_every_attempt_takes_a_fresh_rate_limit_slot(server: GraphServer, tmp_path: Path) -> None:
    """Identity Protection allows one request a second: the two retries (sent at once, Retry-After 0) each wait for
    the bucket's next slot, which is counted as waited beside the (zero) sleeps between attempts."""
    server.add_fault(Fault("/identityProtection/riskDetections", 503, times=2, retry_after=0))
    stats, slept = get(server, tmp_path, 1.0, "risk")
    assert slept == [0.0, 0.0]
    assert stats.requests == 3 and stats.retries == 2 and stats.statuses == {503: 2, 200: 1}
    assert server.count("/identityProtection/riskDetections") == 3
    assert stats.waited > 1.0  # about two windows of 1.02 s, less each request's own time
