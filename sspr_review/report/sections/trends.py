"""The adoption trends: the header, the weekly trend charts and the numbers behind them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from ...app.notebook import Context
from .. import charts, numbers
from .render import section, table

if TYPE_CHECKING:
    from IPython.display import HTML

TRENDS = charts.TRENDS


def trend(ctx: Context, name: str) -> Any:
    """One adoption-trend chart by name (see :data:`sspr_review.report.charts.TRENDS`)."""
    return charts.named_trend(ctx.review, name)


def _is_share(column: str) -> bool:
    return "share" in column or "coverage" in column or "rate" in column


def trend_table(ctx: Context) -> HTML:
    """The weekly numbers behind the trend charts."""
    weekly = ctx.review.weekly
    columns = ["week_ending", *[c for c in charts.TREND_LABELS if c in weekly]]
    frame = weekly[columns].copy()
    for column in filter(_is_share, columns[1:]):
        frame[column] = [numbers.number(v, "ratio") for v in pd.to_numeric(frame[column], errors="coerce")]
    frame.columns = ["week ending", *[charts.TREND_LABELS[c] for c in columns[1:]]]
    shown = table(frame.iloc[::-1], "No history yet.", ctx.review.window.timezone)
    return section("tables.html.j2", parts=[{"table": shown}])


def leak_fix_trend(ctx: Context) -> Any:
    """Weekly share of leaked-credential users who fixed it themselves, and their median time."""
    return charts.leak_fix_trend(ctx.review)


def trends_header(ctx: Context) -> HTML:
    weekly = ctx.review.weekly
    span = (
        f"{len(weekly)} weeks up to the week ending {ctx.review.window.week_ending:%d %B %Y}"
        if len(weekly)
        else "no history yet"
    )
    return section(
        "trends_header.html.j2",
        tenant=ctx.review.tenant.get("name") or "",
        span=span,
        timezone=ctx.review.window.timezone,
    )
