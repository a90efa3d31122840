"""Lines and bands across a chart (report/shapes.py) are the shapes plotly's add_vline and add_vrect make, added in
one update whatever their number."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from sspr_review.report import shapes

DAY = pd.Timestamp("2026-01-05")


def _figure() -> go.Figure:
    return go.Figure(go.Scatter(x=[DAY], y=[1]))


def test_the_shapes_are_those_plotly_draws_for_a_line_and_a_band() -> None:
    want = _figure()
    want.add_vline(x=DAY, line_dash="dot", line_color="#d93025", line_width=1, opacity=0.6)
    want.add_vrect(x0=DAY, x1=DAY + pd.Timedelta(days=1), fillcolor="#5f6368", opacity=0.12, line_width=0)
    got = _figure()
    shapes.add(got, [shapes.vline(DAY, color="#d93025", dash="dot", opacity=0.6)])
    shapes.add(got, [shapes.vband(DAY, DAY + pd.Timedelta(days=1), color="#5f6368", opacity=0.12)])
    assert got.layout.shapes == want.layout.shapes


def test_many_shapes_keep_those_already_there_in_order() -> None:
    fig = _figure()
    fig.add_vrect(x0=DAY, x1=DAY, fillcolor="#000000")
    weeks = [DAY + pd.Timedelta(weeks=w) for w in range(104)]
    shapes.add(fig, (shapes.vline(w, color="#5f6368") for w in weeks))
    shapes.add(fig, [])
    assert len(fig.layout.shapes) == 105
    assert fig.layout.shapes[0].type == "rect"
    assert [s.x0 for s in fig.layout.shapes[1:]] == weeks
