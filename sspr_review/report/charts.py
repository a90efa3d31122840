"""Plotly figures of the review: pure functions, review (or frames) in, figure out.

Every string that comes from the tenant (names, UPNs, IPs, reasons) is HTML-escaped before it reaches a
label or hover text: plotly renders a subset of HTML in text (``<a href>``, ``<b>``...), so an escaped
``&lt;script&gt;`` shows as text and cannot become markup. Times are shown in the review's time zone and
every axis says what it counts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
from markupsafe import escape

from ..analysis import spike_hours
from ..core.labels import label, metric_label
from ..core.reason_rules import METHODS, STAGES
from . import shapes
from .policy_marks import mark_policy_changes
from .style import CHART_COLOURS, GREY, SERIES_COLOURS

if TYPE_CHECKING:
    from ..analysis import Review

#: The series colours, from the kit's palette (:data:`sspr_review.report.style.CHART_COLOURS`).
SELF_SERVICE, HELPDESK, FAILED, OK = (CHART_COLOURS[k] for k in ("self_service", "helpdesk", "failed", "ok"))
LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 380,
    "margin": {"l": 60, "r": 20, "t": 60, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
    "font": {"size": 13},
}


def esc(value: object) -> str:
    """Tenant text made safe for plotly labels and hovers, escaped as the sections' templates escape it
    (markupsafe, Jinja2's autoescape)."""
    return "" if value is None or value is pd.NA else str(escape(str(value)))


def _local(times: pd.Series, timezone: str) -> pd.Series:
    local: pd.Series = times.dt.tz_convert(timezone).dt.tz_localize(None)
    return local


def _figure(title: str, x: str, y: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title={"text": title}, xaxis_title=x, yaxis_title=y, **LAYOUT)
    return fig


def no_data(title: str, reason: str) -> go.Figure:
    """An empty chart that says why it is empty (never an empty chart that reads as zero)."""
    fig = _figure(title, "", "")
    fig.add_annotation(
        text=f"No data: {esc(reason)}",
        showarrow=False,
        font={"size": 16, "color": FAILED},
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _audit_gap(review: Review) -> str | None:
    cov = review.coverage.get("audit")
    if cov is None or review.data is None:
        return "no audit data"
    return None if cov.complete else (cov.reason or "audit data incomplete for this week")


def _rgba(colour: str, alpha: float) -> str:
    """A palette colour (``#rrggbb``) with transparency."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def resets_per_hour(review: Review) -> go.Figure:
    """What the reset-spike rule judges, hour by hour: the most distinct accounts completing an SSPR reset within
    ``spike_window_minutes`` of a moment in the hour (bars, red where a spike fires), the hour's expected range
    from the same hour of the weeks before (shaded band), the spike threshold (the step line: the floor, or
    above the band), and the spike findings (shaded spans, labelled). The y-axis always shows the threshold
    with headroom, so a busy hour that stayed under it reads as such.
    """
    minutes = review.settings.spike_window_minutes
    title = f"Accounts completing a self-service reset within {minutes} minutes, per hour"
    gap = _audit_gap(review)
    if gap:
        return no_data(title, gap)
    assert review.data is not None
    tz = review.window.timezone
    hours = spike_hours(review.data, review.window, review.settings)
    x = _local(hours["hour"], tz) + pd.Timedelta(minutes=30)  # each bar centred on its hour
    accounts, threshold = hours["accounts"].to_numpy(), hours["threshold"].to_numpy()
    fig = _figure(f"{title} ({tz})", f"Hour ({tz})", f"Accounts within {minutes} min")
    band = hours["expected_high"].notna()
    if band.any():
        for column, fill in (("expected_low", None), ("expected_high", "tonexty")):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=hours[column].where(band),
                    mode="lines",
                    line={"width": 0, "shape": "hvh"},
                    fill=fill,
                    fillcolor=_rgba(OK, 0.18),
                    name="expected range (same hour, weeks before)",
                    showlegend=fill is not None,
                    hoverinfo="skip",
                )
            )
    usual = [
        f"usual {m:.0f}, expected up to {h:.0f}" if pd.notna(h) else f"absolute rule ({w} weeks of history)"
        for m, h, w in zip(hours["median"], hours["expected_high"], hours["weeks"], strict=True)
    ]
    fig.add_trace(
        go.Bar(
            x=x,
            y=accounts,
            name=f"accounts within {minutes} min",
            marker_color=[FAILED if a >= t else SELF_SERVICE for a, t in zip(accounts, threshold, strict=True)],
            customdata=list(zip(threshold, usual, strict=True)),
            hovertemplate="%{y} accounts; spike threshold %{customdata[0]}; %{customdata[1]}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=threshold,
            mode="lines",
            line={"color": FAILED, "dash": "dash", "shape": "hvh"},
            name=f"spike threshold (≥ {review.settings.spike_accounts}, above the range)",
            hoverinfo="skip",
        )
    )
    _mark_spikes(fig, review, tz)
    top = max(int(accounts.max(initial=0)), int(threshold.max(initial=0)))
    fig.update_yaxes(range=[0, top * 1.2 + 1])
    # three legend entries: below the x-axis title, not over it
    fig.update_layout(bargap=0.1, height=420, legend={"y": -0.3}, margin={**LAYOUT["margin"], "b": 90})
    return fig


def _mark_spikes(fig: go.Figure, review: Review, tz: str) -> None:
    """Shade each reset-spike finding: the hours of the windows that hold its resets (a bar counts the windows
    starting in its hour), labelled with what fired."""
    before = pd.Timedelta(minutes=review.settings.spike_window_minutes)
    for finding in review.findings:
        if finding.kind != "reset_spike" or finding.start is None or finding.end is None:
            continue
        ev = finding.evidence
        what = "spike" if "volume" in ev.get("trigger", ["volume"]) else "burst from one IP or network"
        fig.add_vrect(
            x0=(pd.Timestamp(finding.start) - before).tz_convert(tz).tz_localize(None).floor("h"),
            x1=pd.Timestamp(finding.end).tz_convert(tz).tz_localize(None).ceil("h"),
            fillcolor=FAILED,
            opacity=0.15,
            line_width=0,
            annotation_text=f"{what}: {ev.get('accounts_count', len(finding.users))} accounts ({finding.severity})",
            annotation_position="top left",
        )


def resets_per_day(review: Review) -> go.Figure:
    """Self-service resets against helpdesk resets, per day of the week."""
    title = "Password resets per day: self-service versus helpdesk"
    gap = _audit_gap(review)
    if gap:
        return no_data(title, gap)
    assert review.data is not None
    tz, window = review.window.timezone, review.window
    days = pd.date_range(pd.Timestamp(window.start).tz_convert(tz).normalize(), periods=7, freq="D").tz_localize(None)

    def per_day(times: pd.Series) -> pd.Series:
        times = times[(times >= pd.Timestamp(window.start)) & (times < pd.Timestamp(window.end))]
        counts: pd.Series = _local(times, tz).dt.normalize().value_counts().reindex(days, fill_value=0)
        return counts

    sspr = per_day(review.data.resets["time"])
    helpdesk = per_day(review.data.admin_resets["time"])
    fig = _figure(f"{title} ({tz})", "Day", "Resets")
    fig.add_trace(go.Bar(x=days, y=sspr.values, name="Self-service (SSPR)", marker_color=SELF_SERVICE))
    fig.add_trace(go.Bar(x=days, y=helpdesk.values, name="Helpdesk / admin", marker_color=HELPDESK))
    fig.update_layout(barmode="group")
    fig.update_xaxes(tickformat="%a %d %b")
    return fig


#: The funnel's stages, in words (the label table's).
STAGE_LABELS = {
    stage: label("stage", stage).capitalize()
    for stage in ("started", "gate_verified", "all_gates_verified", "new_password_submitted", "completed")
}


def funnel(review: Review) -> go.Figure:
    """How far the week's SSPR flows got: started → verified → new password → completed."""
    title = "SSPR funnel: how far this week's flows got"
    gap = _audit_gap(review)
    if gap:
        return no_data(title, gap)
    flows = review.flows
    reached = flows["furthest_stage"].astype("string").map({stage: i for i, stage in enumerate(STAGES)}).fillna(0)
    values = [int((reached >= STAGES.index(stage)).sum()) for stage in STAGE_LABELS]
    values[-1] = int(flows["completed"].sum())  # a completed flow counts even if a step event is missing
    fig = _figure(title, "Flows", "")
    fig.add_trace(go.Funnel(y=list(STAGE_LABELS.values()), x=values, textinfo="value+percent initial"))
    return fig


def method_outcomes(review: Review) -> go.Figure:
    """Per verification method: flows that tried it, and how many never passed it."""
    title = "Verification methods: tried and failed this week"
    gap = _audit_gap(review)
    if gap:
        return no_data(title, gap)
    labels, tried, failed = [], [], []
    for method in METHODS:
        t = review.metrics.get(f"method_{method}_tried")
        f = review.metrics.get(f"method_{method}_failed")
        labels.append(label("method", method))
        tried.append((t.value if t else 0) or 0)
        failed.append((f.value if f else 0) or 0)
    passed = [t - f for t, f in zip(tried, failed, strict=True)]
    fig = _figure(title, "Flows", "Method")
    fig.add_trace(go.Bar(y=labels, x=passed, name="Passed", orientation="h", marker_color=OK))
    fig.add_trace(go.Bar(y=labels, x=failed, name="Never passed", orientation="h", marker_color=FAILED))
    fig.update_layout(barmode="stack")
    return fig


#: The trend series and the trend table's columns, in words (the label table's metric labels).
TREND_LABELS = {
    name: metric_label(name)
    for name in (
        "sspr_resets",
        "helpdesk_resets",
        "self_service_share",
        "registration_coverage",
        "admin_registration_coverage",
        "flow_success_rate",
        "blocked_users",
        "banned_password_rejections",
        "helpdesk_cost_avoided",
    )
}


def _no_data_weeks(fig: go.Figure, x: pd.Series, uncovered: pd.Series) -> None:
    """Grey bands over the weeks a source did not cover: there the chart has no value (a gap), which is not 0."""
    half = pd.Timedelta(days=3.5)
    shapes.add(
        fig,
        (
            shapes.vband(when - half, when + half, color=GREY, opacity=0.12)
            for when in x[uncovered.to_numpy(dtype=bool)]
        ),
    )


def trend(review: Review, columns: list[str], title: str, *, y_title: str, percent: bool = False) -> go.Figure:
    """Weekly trend of metrics across the whole history, one axis, one colour per series
    (:data:`~sspr_review.report.style.SERIES_COLOURS`, the same in both reports). A week a source did not cover
    has no value: a gap in the line over a grey band, never a zero; a covered week without events is 0."""
    weekly = review.weekly
    if weekly.empty:
        return no_data(title, "the store holds no history yet")
    fig = _figure(f"{title}, per week ending ({review.window.timezone})", "Week ending", y_title)
    x = pd.to_datetime(weekly["week_ending"])
    uncovered = pd.Series(False, index=weekly.index)
    for column in columns:
        values = pd.to_numeric(weekly[column], errors="coerce")
        uncovered |= values.isna()
        fig.add_trace(
            go.Scatter(
                x=x,
                y=values,
                mode="lines+markers",
                name=TREND_LABELS.get(column, metric_label(column)),
                connectgaps=False,
                line={"color": SERIES_COLOURS.get(column)},
            )
        )
    _no_data_weeks(fig, x, uncovered)
    if percent:
        fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    else:
        fig.update_yaxes(rangemode="tozero")
    mark_policy_changes(fig, review)
    return fig


def leak_fix_trend(review: Review) -> go.Figure:
    """Per week, the users with a leaked-credentials detection: those who reset or changed their password
    themselves within ``remediation_days``, and the others, stacked on one axis (users); the share and the median
    hours to fix it in the hover. A covered week without a detection is 0; a week the risk data did not cover
    has no bar, under a grey band."""
    days = review.settings.remediation_days
    title = f"Leaked credentials fixed by the user within {days} days"
    corr = review.correlations
    if corr is None:
        return no_data(title, "the review has no correlation tables")
    trend = corr.leak_trend
    users = pd.to_numeric(trend["leak_users"], errors="coerce")
    if trend.empty or users.isna().all():
        return no_data(title, corr.reason or "the risk data covers no week")
    x = pd.to_datetime(trend["week_ending"])
    fixed = pd.to_numeric(trend["fixed_themselves"], errors="coerce")
    share = pd.to_numeric(trend["share"], errors="coerce")
    hours = pd.to_numeric(trend["median_hours"], errors="coerce")
    hover = [
        "no data"
        if pd.isna(u)
        else f"{int(f)} of {int(u)} users"
        + ("" if pd.isna(s) else f" ({s:.0%})")
        + ("" if pd.isna(h) else f", median {h:.0f} h")
        for u, f, s, h in zip(users, fixed, share, hours, strict=True)
    ]
    fig = _figure(f"{title}, per week ending ({review.window.timezone})", "Week ending", "Users with a detection")
    for name, values, colour in (
        ("Fixed it themselves", fixed, SERIES_COLOURS["leak_fixed"]),
        ("Not fixed by the user", users - fixed, SERIES_COLOURS["leak_not_fixed"]),
    ):
        fig.add_trace(
            go.Bar(x=x, y=values, name=name, marker_color=colour, customdata=hover, hovertemplate="%{customdata}")
        )
    fig.update_layout(barmode="stack")
    _no_data_weeks(fig, x, users.isna())
    fig.update_yaxes(rangemode="tozero", dtick=1 if (users.max() or 0) <= 8 else None)
    return fig


#: The weekly charts by name (``report.chart(ctx, name)``).
WEEKLY: dict[str, Callable[[Review], go.Figure]] = {
    "resets_per_hour": resets_per_hour,
    "resets_per_day": resets_per_day,
    "funnel": funnel,
    "method_outcomes": method_outcomes,
}

#: The adoption-trend charts by name: (columns, title, y-axis title, percent axis). The cost chart's y-axis
#: is the configured currency.
TRENDS: dict[str, tuple[list[str], str, str, bool]] = {
    "resets": (["sspr_resets", "helpdesk_resets"], "Password resets", "Resets", False),
    "self_service_share": (["self_service_share"], "Self-service share of resets", "Share", True),
    "registration": (
        ["registration_coverage", "admin_registration_coverage"],
        "SSPR registration coverage",
        "Share",
        True,
    ),
    "success": (["flow_success_rate"], "SSPR flow success rate", "Share of flows", True),
    "blocked": (
        ["blocked_users", "banned_password_rejections"],
        "Blocked users and banned-password rejections",
        "Count",
        False,
    ),
    "cost": (["helpdesk_cost_avoided"], "Estimated helpdesk cost avoided", "Cost", False),
}


def weekly(review: Review, name: str) -> go.Figure:
    """One of the weekly charts by name (see :data:`WEEKLY`)."""
    return WEEKLY[name](review)


def named_trend(review: Review, name: str) -> go.Figure:
    """One adoption-trend chart by name (see :data:`TRENDS`)."""
    columns, title, y_title, percent = TRENDS[name]
    if name == "cost":
        y_title = review.settings.currency
    return trend(review, columns, title, y_title=y_title, percent=percent)
