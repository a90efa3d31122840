"""The per-hour spike chart shows what the reset-spike rule judges: each hour's busiest sliding window, the
expected band from the weeks before and the threshold, so a spike finding visibly crosses it (issue 21's point 4,
issue 28's point 3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sspr_review.analysis import AnalysisSettings, ReviewInputs, build_review, spike_hours
from sspr_review.report import charts
from sspr_review.report.style import CHART_COLOURS
from tests.support.analysis import WINDOW, audit, completed_flow, coverage, t

WEEK = pd.Timedelta(days=7)


def _review(extra: list[dict[str, Any]]) -> Any:
    rows: list[dict[str, Any]] = []
    for w in range(8, -1, -1):  # eight weeks before and the review week: 15 accounts each weekday at nine
        for d in range(5):
            for i in range(15):
                when = t(f"{d}d 9h") - w * WEEK + pd.Timedelta(minutes=4 * i)
                rows += completed_flow(when, f"n{d}-{i}", ip=f"198.51.{d}.{i + 1}", both=False)
    return build_review(ReviewInputs({"audit": audit(rows, extra)}, coverage(), WINDOW), AnalysisSettings())


def _traces(fig: go.Figure) -> dict[str, Any]:
    return {str(trace.name): trace for trace in fig.data}


def test_a_spike_bar_crosses_the_threshold_inside_the_axis_with_the_band_drawn() -> None:
    burst = [
        row
        for i in range(20)
        for row in completed_flow(t("2d 9h 5min") + pd.Timedelta(minutes=2 * i), f"x{i}", ip=f"198.18.{i}.1")
    ]
    review = _review(burst)
    (spike,) = [f for f in review.findings if f.kind == "reset_spike"]
    fig = charts.resets_per_hour(review)
    traces = _traces(fig)
    bars = traces["accounts within 60 min"]
    threshold = next(v for k, v in traces.items() if k.startswith("spike threshold"))
    hours = spike_hours(review.data, review.window, review.settings)  # type: ignore[arg-type]
    peak = int(np.argmax(np.asarray(bars.y)))
    assert bars.y[peak] == spike.evidence["peak_accounts"] == 35
    assert bars.y[peak] >= threshold.y[peak] == spike.evidence["baseline"]["threshold"]
    assert bars.marker.color[peak] == CHART_COLOURS["failed"]
    assert sum(c == CHART_COLOURS["failed"] for c in bars.marker.color) == sum(
        int(a >= h) for a, h in zip(hours["accounts"], hours["threshold"], strict=True)
    )
    top = fig.layout.yaxis.range[1]
    assert top > max(bars.y) * 1.1 and top > max(threshold.y) * 1.1  # headroom above both
    band = traces["expected range (same hour, weeks before)"]
    assert np.isclose(band.y[peak], spike.evidence["baseline"]["expected_high"], atol=0.01)
    assert [s.type for s in fig.layout.shapes] == ["rect"]  # the finding, shaded
    assert "spike: 35 accounts (high)" in str(fig.layout.annotations)  # 20 of them from IPs new to them


def test_a_busy_hour_under_its_baseline_reads_as_under_the_line() -> None:
    review = _review([])
    assert [f for f in review.findings if f.kind == "reset_spike"] == []
    fig = charts.resets_per_hour(review)
    traces = _traces(fig)
    bars, threshold = traces["accounts within 60 min"], next(v for k, v in traces.items() if k.startswith("spike"))
    assert max(bars.y) == 15 and all(a < h for a, h in zip(bars.y, threshold.y, strict=True))
    assert CHART_COLOURS["failed"] not in bars.marker.color
    assert fig.layout.yaxis.range[1] > max(threshold.y)
