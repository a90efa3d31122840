"""Pages are normalised in chunks while the fetch goes on, and the limiter settles slots on answers: neither may
change what lands in the store or how many requests start per window."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from sspr_review.app.workspace import Workspace
from sspr_review.core import config, schema
from sspr_review.ingest import fetch
from sspr_review.sources.graph.ratelimit import MARGIN_SECONDS, MAX_TRANSIT_SECONDS, Budget, SlidingWindowLimiter


def demo_store(tmp_path: Path, name: str) -> dict[str, pd.DataFrame]:
    cfg = config.load(env={"SSPR_REVIEW_STORE_PATH": str(tmp_path / name)}, demo__users=600, demo__weeks=3)
    ws = Workspace(cfg, "demo", demo_end=datetime.fromisoformat("2026-03-09T00:00:00+00:00"))
    ws.build_demo_history(progress=False)
    out = {}
    for table in schema.TABLES:
        frame = ws.read(table, raw=table in ("audit", "risk"))
        out[table] = frame.sort_values(list(frame.columns[:2])).reset_index(drop=True)
    return out


def test_chunked_normalisation_stores_the_same_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = demo_store(tmp_path, "whole")
    monkeypatch.setattr(fetch, "CHUNK_RECORDS", 97)
    monkeypatch.setattr(fetch, "FLUSH_RECORDS", 450)
    chunked = demo_store(tmp_path, "chunked")
    for table, frame in whole.items():
        assert len(frame), table
        pd.testing.assert_frame_equal(chunked[table], frame, obj=table)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def starts(limiter: SlidingWindowLimiter, clock: Clock, n: int, answer_after: float) -> list[float]:
    """Start n requests one after the other, each answered ``answer_after`` seconds after it started."""
    out: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        clock.now += delay
        await real_sleep(0)

    async def go() -> None:
        asyncio.sleep = fake_sleep  # type: ignore[assignment]
        try:
            for _ in range(n):
                _, slot = await limiter.reserve()
                out.append(clock.now)
                clock.now += answer_after
                limiter.settle(slot)
        finally:
            asyncio.sleep = real_sleep

    asyncio.run(go())
    return out


@pytest.mark.parametrize("answer_after", [0.01, 0.1, 1.0])
def test_a_slot_is_held_for_the_answer_time_up_to_the_transit_bound(answer_after: float) -> None:
    clock = Clock()
    limiter = SlidingWindowLimiter(Budget(1, 1.0), clock=clock)
    got = starts(limiter, clock, 3, answer_after)
    transit = min(max(answer_after, MARGIN_SECONDS), MAX_TRANSIT_SECONDS)
    window = 1.0 * 1.02
    assert got[1] == pytest.approx(max(window + transit, answer_after))
    # a slot frees a window after its answer (the request may have arrived just before it), and never less than
    # a window plus the least transit after its grant
    assert got[1] >= window + MARGIN_SECONDS - 1e-9
    assert (got[1] > window + MARGIN_SECONDS + 1e-9) == (answer_after > MARGIN_SECONDS)
