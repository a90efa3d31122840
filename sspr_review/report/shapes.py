"""Vertical lines and bands across a chart's plot area, at x-axis positions, added in one layout update.

Plotly's ``add_vline`` and ``add_vrect`` validate every shape of the figure again on each call: a chart of two
years of weekly history with a band or a line per week spent seconds there. These build the same shapes (from
the bottom to the top of the plot area: ``yref="y domain"``, as ``add_vline`` does) and add them together.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import plotly.graph_objects as go


def vline(x: Any, *, color: str, width: float = 1, dash: str = "solid", opacity: float = 1.0) -> dict[str, Any]:
    """A vertical line at ``x``."""
    return {
        "type": "line",
        "xref": "x",
        "yref": "y domain",
        "x0": x,
        "x1": x,
        "y0": 0,
        "y1": 1,
        "line": {"color": color, "width": width, "dash": dash},
        "opacity": opacity,
    }


def vband(x0: Any, x1: Any, *, color: str, opacity: float) -> dict[str, Any]:
    """A band from ``x0`` to ``x1``, without an outline."""
    return {
        "type": "rect",
        "xref": "x",
        "yref": "y domain",
        "x0": x0,
        "x1": x1,
        "y0": 0,
        "y1": 1,
        "fillcolor": color,
        "opacity": opacity,
        "line": {"width": 0},
    }


def add(fig: go.Figure, shapes: Iterable[dict[str, Any]]) -> None:
    """Add ``shapes`` to ``fig``'s, in one update."""
    new = list(shapes)
    if new:
        fig.update_layout(shapes=[*fig.layout.shapes, *new])
