"""Timestamps: one formatter and parser (sspr_review.core.timefmt), and windows compared as times, not as text."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from sspr_review.core import timefmt
from sspr_review.sources.base import collect
from sspr_review.sources.demo.source import DemoSource
from sspr_review.sources.demo.tenant import DemoTenant

END = datetime(2026, 11, 23, tzinfo=UTC)


def test_forms_the_kit_writes() -> None:
    moment = pd.Timestamp("2026-11-16T10:41:03.123456789Z")
    assert timefmt.iso_z(moment, 9) == "2026-11-16T10:41:03.123456789Z"  # a pandas Timestamp keeps nanoseconds
    assert timefmt.iso_z(moment.to_pydatetime(warn=False)) == "2026-11-16T10:41:03.123456Z"  # coverage.json
    assert timefmt.iso_z(moment, 0) == "2026-11-16T10:41:03Z"  # an OData literal
    assert (
        timefmt.iso_z(datetime(2026, 11, 16, 11, 41, 3, tzinfo=timezone(timedelta(hours=1))), 0)
        == "2026-11-16T10:41:03Z"
    )
    assert timefmt.parse_iso("2026-11-16T11:41:03+01:00") == datetime(2026, 11, 16, 10, 41, 3, tzinfo=UTC)
    assert timefmt.parse_iso("2026-11-16T10:41:03") == datetime(2026, 11, 16, 10, 41, 3, tzinfo=UTC)
    with pytest.raises(ValueError):
        timefmt.parse_iso("16/11/2026")
    with pytest.raises(ValueError, match="0 to 9"):
        timefmt.iso_z(moment, 10)


def _risk(source: DemoSource, since: datetime, end: datetime) -> list[dict[str, object]]:
    return [r for pages in source.risk(since, end) for r in asyncio.run(collect(pages))]


def test_demo_risk_window_is_graphs_filter_compared_as_times() -> None:
    """The demo answers ``lastUpdatedDateTime ge {since} and le {end}`` as Graph does: both bounds are whole-second
    literals and a record's time is compared with its fraction (a record 0.4 s after a window's end second is
    outside it; comparing the text cut to whole seconds took it in)."""
    source = DemoSource(DemoTenant(users=300, weeks=3, end=END))
    records = source.tenant_data.risk_detections(source.as_of)
    record = next(r for r in records if 0.3 < timefmt.parse_iso(str(r["lastUpdatedDateTime"])).microsecond / 1e6 < 0.9)
    updated = timefmt.parse_iso(str(record["lastUpdatedDateTime"]))
    second = updated.replace(microsecond=0)
    start = END - timedelta(days=60)
    assert record["id"] not in {r["id"] for r in _risk(source, start, second + timedelta(microseconds=100_000))}
    assert record["id"] in {r["id"] for r in _risk(source, start, second + timedelta(seconds=1))}
    # the lower bound is the literal of ``since``'s second: a record later in that second is in
    assert record["id"] in {r["id"] for r in _risk(source, updated + timedelta(microseconds=50_000), END)}
    assert record["id"] not in {r["id"] for r in _risk(source, second + timedelta(seconds=1), END)}
