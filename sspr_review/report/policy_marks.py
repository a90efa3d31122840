"""The SSPR configuration changes on the adoption trends' time axis (issue 23): a marker per day with changes at the
bottom of each trend chart, red when one of them weakened password reset (with a dotted line up the chart), the
changes in its hover text (tenant text escaped, as everywhere in :mod:`.charts`), and a note above the chart saying
what the markers are."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import plotly.graph_objects as go
from markupsafe import escape

from . import shapes
from .style import GREY, RED

if TYPE_CHECKING:
    from ..analysis import Review

#: What the markers are, in the note above the chart.
LEGEND = "SSPR configuration change"


def _line(change: pd.Series) -> str:
    who = "an unknown account" if pd.isna(change["changed_by"]) else str(change["changed_by"])
    text = f"{change['label']}: {change['old_shown']} → {change['new_shown']} ({who})"
    return str(escape(("⚠ " if bool(change["weakens"]) else "") + text))


def mark_policy_changes(fig: go.Figure, review: Review) -> None:
    """Add the markers of the configuration changes within the weeks ``review.weekly`` shows to ``fig`` (a trend
    chart whose x axis is the week-ending date in the review's time zone); nothing when there are none."""
    state = review.policy
    weekly = review.weekly
    if state is None or state.changes.empty or weekly.empty:
        return
    tz = review.window.timezone
    first = pd.Timestamp(pd.to_datetime(weekly["week_ending"]).min()) - pd.Timedelta(days=7)
    changes = state.changes.assign(day=state.changes["time"].dt.tz_convert(tz).dt.tz_localize(None).dt.normalize())
    changes = changes[changes["day"] >= first]
    if changes.empty:
        return
    lines: dict[pd.Timestamp, list[str]] = {}
    weak: dict[pd.Timestamp, bool] = {}
    for _, change in changes.sort_values("time", kind="stable").iterrows():  # a handful of changes
        day = pd.Timestamp(change["day"])
        lines.setdefault(day, []).append(_line(change))
        weak[day] = weak.get(day, False) or (change["weakens"] is not pd.NA and bool(change["weakens"]))
    x = sorted(lines)
    colours = [RED if weak[d] else GREY for d in x]
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[0] * len(x),
            mode="markers",
            name=LEGEND,
            marker={"symbol": "triangle-up", "size": 12, "color": colours, "line": {"width": 1, "color": "#fff"}},
            hovertext=[f"<b>{d:%d %b %Y}</b><br>" + "<br>".join(lines[d]) for d in x],
            hoverinfo="text",
            cliponaxis=False,
            showlegend=False,  # the legend under the chart is the series'; the note above explains the markers
        )
    )
    fig.add_annotation(
        text=f"<span style='color:{GREY}'>▲</span> {LEGEND} "
        f"(<span style='color:{RED}'>▲</span> weakened password reset; hover for who changed what)",
        xref="paper",
        yref="paper",
        x=1,
        y=1,
        xanchor="right",
        yanchor="bottom",
        showarrow=False,
        font={"size": 11, "color": GREY},
    )
    shapes.add(fig, (shapes.vline(day, color=RED, dash="dot", opacity=0.6) for day in x if weak[day]))
