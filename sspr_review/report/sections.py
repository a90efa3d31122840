"""What the notebooks display: one function per report section, each returning HTML or a plotly figure.

The notebooks stay thin: a parameters cell, :func:`open_review`, then one call per section. All tenant text
is escaped here (HTML tables through pandas' escaping, titles and tiles through :func:`html.escape`).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..catalog import KPIS, SEVERITIES
from ..errors import ParameterError
from ..sources import SOURCE_NAMES
from ..workspace import Workspace, open_workspace
from . import charts, style

if TYPE_CHECKING:
    from IPython.display import HTML

    from ..analysis import Finding, Review

MAX_USERS_SHOWN = 8


#: The CDN MathJax tag plotly's notebook renderer adds to every figure: the report needs no MathJax and
#: must not reach the internet.
_MATHJAX_TAG = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*mathjax[^\"]*\"[^>]*>\s*</script>", re.IGNORECASE)


def setup() -> None:
    """Plotly for both audiences: JupyterLab uses the JSON mimetype, nbconvert the HTML with plotly.js
    embedded once (offline), without the MathJax CDN tag."""
    import plotly.io as pio
    from plotly.io._base_renderers import NotebookRenderer

    class OfflineNotebookRenderer(NotebookRenderer):  # type: ignore[misc]
        def to_mimebundle(self, fig_dict: Any) -> dict[str, Any]:
            bundle: dict[str, Any] = super().to_mimebundle(fig_dict)
            bundle["text/html"] = _MATHJAX_TAG.sub("", bundle["text/html"])
            return bundle

    if "sspr_offline" not in pio.renderers:
        pio.renderers["sspr_offline"] = OfflineNotebookRenderer()
    pio.renderers.default = "plotly_mimetype+sspr_offline"
    pd.set_option("display.max_colwidth", 120)


def _show_parameter_error(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    structured = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, structured)
    return structured


def _short_parameter_errors() -> None:
    """Show :class:`ParameterError` in IPython as its message alone (the cell still fails, so Run All stops)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with the kernel
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((ParameterError,), _show_parameter_error)


def check_parameters(
    *, source: str = "demo", week_ending: str = "", weeks: int | None = None, timezone: str = "UTC"
) -> None:
    """Check the notebook parameters before anything is read: :class:`ParameterError` naming the parameter,
    what is wrong and the fix."""
    from ..analysis import review_window

    if source not in SOURCE_NAMES:
        raise ParameterError(f"parameter source = {source!r}: choose one of {', '.join(SOURCE_NAMES)}")
    if week_ending:
        try:
            review_window(week_ending, timezone)
        except ValueError as exc:
            text = str(exc) if str(exc).startswith("week_ending") else f"week_ending {week_ending!r}: {exc}"
            raise ParameterError(f"parameter {text}; or leave it empty for the most recent Monday") from None
    if weeks is not None and (not isinstance(weeks, int) or isinstance(weeks, bool) or weeks < 1):
        raise ParameterError(f"parameter weeks = {weeks!r}: use a whole number of weeks, 1 or more")


@dataclass(frozen=True)
class Context:
    """A workspace and the review of one week. ``ctx`` alone prints a short summary; :func:`explore` shows
    the DataFrames to dig into."""

    ws: Workspace
    review: Review
    #: The investigated user's UPN (user_investigation), resolved from the ``user`` parameter.
    user: str = ""

    def __repr__(self) -> str:
        r = self.review
        w = r.window
        data = r.data
        sizes = (
            f"{len(data.audit):,} audit events, {len(data.risk):,} risk detections, "
            f"{len(data.registration):,} registration rows"
            if data is not None
            else "no prepared data"
        )
        return (
            f"<sspr_review Context: {r.tenant.get('name')} ({self.ws.source_name}), week ending "
            f"{w.week_ending:%Y-%m-%d} {w.timezone}; store {self.ws.store.path}; {len(r.findings)} findings, "
            f"{len(r.flows):,} SSPR flows; {sizes}. Dig further: report.explore(ctx)>"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    # The DataFrames to dig into (UTC timestamps; report.display_frame shows them as the report does).
    @property
    def flows(self) -> pd.DataFrame:
        """The week's SSPR flows, one row per flow (``ctx.review.flows``)."""
        return self.review.flows

    @property
    def audit(self) -> pd.DataFrame:
        """The week's audit events (SSPR and password activities)."""
        return self._in_week("audit", "activity_time")

    @property
    def risk(self) -> pd.DataFrame:
        """The week's risk detections."""
        return self._in_week("risk", "detected_time")

    @property
    def registration(self) -> pd.DataFrame:
        """The registration snapshot in force at the end of the week, one row per user."""
        data = self.review.data
        if data is None or data.registration.empty:
            return pd.DataFrame()
        reg = data.registration
        days = reg["snapshot_date"]
        end = pd.Timestamp(self.review.window.end)
        if isinstance(days.dtype, pd.DatetimeTZDtype):
            before = days[days < end]
        else:
            before = days[pd.to_datetime(days) < end.tz_localize(None)]
        latest = before.max() if len(before) else days.max()
        frame: pd.DataFrame = reg[days == latest].reset_index(drop=True)
        return frame

    def _in_week(self, table: str, column: str) -> pd.DataFrame:
        data = self.review.data
        frame: pd.DataFrame = getattr(data, table) if data is not None else pd.DataFrame()
        if frame.empty or column not in frame:
            return frame
        w = self.review.window
        times = frame[column]
        return frame[(times >= pd.Timestamp(w.start)) & (times < pd.Timestamp(w.end))].reset_index(drop=True)


def open_review(
    config_path: str = "",
    source: str = "demo",
    week_ending: str = "",
    store: str = "",
    files: str = "",
    *,
    compare: bool = True,
    user: str | None = None,
    weeks: int | None = None,
) -> Context:
    """Open the workspace the parameters describe and review the week. Never fetches from Graph: the CLI
    (``sspr-review fetch`` / ``run``) does that. The demo store is built on first use (a notebook that finds
    another process building it waits for that build).

    The parameters are checked first (:func:`check_parameters`); with ``user`` (user_investigation) the user
    is looked up by UPN or display-name fragment (:func:`find_user`). A bad parameter raises
    :class:`ParameterError`, shown as one line."""
    setup()
    _short_parameter_errors()
    if user is not None and not user.strip():
        raise ParameterError(
            "parameter user is empty: set it to a UPN (jane.doe@contoso.com) or part of a display name, "
            "then run all cells again"
        )
    check_parameters(source=source, weeks=weeks)
    ws = open_workspace(
        config_path or None,
        source=source,  # type: ignore[arg-type]
        store=store or None,
        files=files or None,
    )
    check_parameters(source=source, week_ending=week_ending, timezone=ws.config.review.timezone)
    ws.ensure_store()
    ctx = Context(ws, ws.review(week_ending or None, compare=compare))
    if user is not None:
        ctx = Context(ctx.ws, ctx.review, find_user(ctx, user))
    return ctx


def find_user(ctx: Context, wanted: str) -> str:
    """The UPN of the one user whose UPN or display name matches ``wanted`` (exactly, else as a fragment,
    case-insensitive). :class:`ParameterError` lists the candidates when several match, or says none does."""
    data = ctx.review.data
    wanted = wanted.strip()
    frames = []
    if data is not None:
        if not data.registration.empty:
            frames.append(data.registration[["user_upn", "user_name"]].astype("string"))
        for frame, column in ((data.audit, "user_upn"), (data.audit, "target_upn"), (data.risk, "user_upn")):
            if column in frame and not frame.empty:
                frames.append(
                    pd.DataFrame({"user_upn": frame[column].astype("string"), "user_name": pd.NA}, dtype="string")
                )
    if not frames:
        raise ParameterError(f"parameter user = {wanted!r}: the store holds no users")
    people = pd.concat(frames, ignore_index=True).dropna(subset=["user_upn"])
    people = people.sort_values("user_name", na_position="last").drop_duplicates("user_upn")
    upn = people["user_upn"].str.lower()
    name = people["user_name"].str.lower().fillna("")
    key = wanted.lower()
    exact = people[(upn == key) | (name == key)]
    fragment = upn.str.contains(key, regex=False) | name.str.contains(key, regex=False)
    found = exact if len(exact) else people[fragment.fillna(False)]
    if len(found) == 1:
        return str(found["user_upn"].iloc[0])
    if found.empty:
        raise ParameterError(
            f"parameter user = {wanted!r}: no user's UPN or display name contains it; check the spelling "
            "or use the full UPN"
        )
    head = found.head(MAX_USERS_SHOWN)
    names = head["user_name"].astype(object).where(head["user_name"].notna())
    shown = [f"{n} <{u}>" if isinstance(n, str) else str(u) for u, n in zip(head["user_upn"], names, strict=True)]
    more = len(found) - len(shown)
    raise ParameterError(
        f"parameter user = {wanted!r} matches {len(found)} users: {'; '.join(shown)}"
        + (f" and {more} more" if more > 0 else "")
        + ". Set it to one of their UPNs"
    )


def _html(text: str) -> HTML:
    """A section's output: its HTML with the kit's scoped stylesheet (see :mod:`sspr_review.report.style`)."""
    from IPython.display import HTML

    return HTML(style.wrap(text))


def _e(value: object) -> str:
    return "" if value is None or value is pd.NA else html.escape(str(value))


def _table(frame: pd.DataFrame, empty: str, tz: str = "UTC") -> str:
    """An escaped HTML table: times in ``tz``, numbers formatted once (see :func:`display_frame`)."""
    if frame.empty:
        return f"<p><i>{_e(empty)}</i></p>"
    shown = display_frame(frame, tz)
    numeric = [i for i, c in enumerate(frame.columns) if _is_number(frame[c])]
    table = shown.to_html(index=False, escape=True, na_rep="—", classes="sspr", border=0)
    if numeric:
        table = _mark_numeric(table, numeric)
    return table


def _is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _mark_numeric(table: str, positions: list[int]) -> str:
    """Right-align the numeric columns (class ``sspr-num``); text columns stay left-aligned."""
    wanted = set(positions)

    def row(match: re.Match[str]) -> str:
        cells = match.group(0).split("<td>")
        return cells[0] + "".join(
            ("<td class='sspr-num'>" if i in wanted else "<td>") + cell for i, cell in enumerate(cells[1:])
        )

    return re.sub(r"<tr>.*?</tr>", row, table, flags=re.DOTALL)


def _number(value: Any) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, int) or (isinstance(value, float) and float(value).is_integer()):
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


def display_frame(frame: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
    """``frame`` as the reports show it: times as text in the time zone ``tz`` (never nanosecond integers),
    dates as dates, counts with thousands separators (``1,625``, not ``1625.0``), missing values as ``—``."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            local = values.dt.tz_convert(tz)
            fmt = "%Y-%m-%d" if (local.dropna().dt.normalize() == local.dropna()).all() else "%a %d %b %Y %H:%M"
            out[column] = local.dt.strftime(fmt).fillna("—")
        elif pd.api.types.is_datetime64_dtype(values):
            out[column] = values.dt.strftime("%Y-%m-%d").fillna("—")
        elif _is_number(values):
            out[column] = [_number(v) for v in values.tolist()]
    return out


def _when(value: Any, tz: str) -> str:
    if value is None or value is pd.NA:
        return "—"
    return f"{pd.Timestamp(value).tz_convert(tz):%a %d %b %H:%M}"


def _names(ctx: Context, upns: pd.Series) -> pd.Series:
    """``Display Name <upn>`` from the latest registration snapshot (the UPN alone when unknown)."""
    data = ctx.review.data
    if data is None or data.registration.empty:
        return upns.astype("string")
    reg = data.registration.sort_values("snapshot_date").drop_duplicates("user_upn", keep="last")
    lookup = pd.Series(reg["user_name"].to_numpy(), index=reg["user_upn"].str.lower().to_numpy())
    names = upns.astype("string").str.lower().map(lookup)
    labelled: pd.Series = (names + " <" + upns.astype("string") + ">").fillna(upns.astype("string"))
    return labelled


def _with_names(ctx: Context, frame: pd.DataFrame, column: str) -> pd.DataFrame:
    if not frame.empty:
        frame[column] = _names(ctx, frame[column]).to_numpy()
    return frame


def _users(users: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(users[:MAX_USERS_SHOWN])
    more = len(users) - MAX_USERS_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


# -------------------------------------------------------------------------------------- dig further
#: What :func:`explore` lists: expression → what it holds.
EXPLORE = {
    "ctx.flows": "the week's SSPR flows, one row per flow (also ctx.review.flows)",
    "ctx.audit": "the week's audit events (SSPR and password activities)",
    "ctx.risk": "the week's risk detections",
    "ctx.registration": "the registration snapshot in force at the end of the week",
    "ctx.review.findings": "the findings (kind, severity, users, evidence, action)",
    "ctx.review.weekly": "one row per week of history: the trend numbers",
    'ctx.ws.read("audit", start, end)': "any table of the store (audit, risk, registration, privileged), any UTC range",
}


def explore(ctx: Context) -> HTML:
    """The DataFrames behind the review, with their size and columns: where to dig further."""
    rows = []
    values = {
        "ctx.flows": ctx.flows,
        "ctx.audit": ctx.audit,
        "ctx.risk": ctx.risk,
        "ctx.registration": ctx.registration,
        "ctx.review.weekly": ctx.review.weekly,
    }
    for expression, meaning in EXPLORE.items():
        frame = values.get(expression)
        if expression == "ctx.review.findings":
            size, columns = f"{len(ctx.review.findings)} findings", ""
        elif frame is None:
            size, columns = "", ""
        else:
            size = f"{len(frame):,} rows"
            columns = ", ".join(map(str, frame.columns[:12])) + (" …" if len(frame.columns) > 12 else "")
        rows.append({"expression": expression, "holds": meaning, "size": size, "columns": columns})
    return _html(
        "<p>Times in these DataFrames are UTC; <code>report.display_frame(frame, ctx.review.window.timezone)</code> "
        "shows them as the report does.</p>" + _table(pd.DataFrame(rows), "")
    )


# ------------------------------------------------------------------------------------------- header
def header(ctx: Context) -> HTML:
    r = ctx.review
    w = r.window
    return _html(
        f"<h1>SSPR weekly review — {_e(r.tenant.get('name'))}</h1>"
        f"<p>Week ending <b>{w.week_ending:%A %d %B %Y}</b> 00:00 {_e(w.timezone)} "
        f"({w.start:%Y-%m-%d %H:%M} → {w.end:%Y-%m-%d %H:%M} UTC), compared with the week before.</p>"
    )


def coverage_banner(ctx: Context) -> HTML:
    """What each source covers this week; loudly what is missing (a missing source is not zero events), and
    which snapshot each snapshot source uses (an approximate one, far from the week, with its date)."""
    rows = []
    missing: list[str] = []
    parts: list[str] = []
    approximate: list[str] = []
    for name, cov in ctx.review.coverage.items():
        if cov.approximate:
            state = "APPROXIMATE"
            approximate.append(f"{name} ({cov.snapshot_note()})")
            if cov.missing:
                parts.append(name)
        elif cov.whole:
            state = "complete"
        elif cov.available:
            state = "PARTIAL"
            (missing if not cov.complete else parts).append(name)
        else:
            state = "NO DATA"
            missing.append(name)
        why = [] if (cov.complete and not cov.approximate) or not cov.reason else [cov.reason]
        rows.append(
            {
                "source": name,
                "state": state,
                "snapshot used": cov.snapshot_note() or "",
                "why": "; ".join([*why, *cov.missing]),
            }
        )
    frame = pd.DataFrame(rows)
    top = ""
    if missing:
        top += (
            f"<div class='sspr-banner sspr-bad'>Data missing for this week: {_e(', '.join(missing))}. "
            "Findings that depend on it could not be evaluated; numbers from it show as “no data”, not zero.</div>"
        )
    if parts:
        top += (
            f"<div class='sspr-banner sspr-bad'>Parts could not be read for this week: {_e(', '.join(parts))} "
            "(named below). What was read is used; findings that rely on the missing parts say what they could not "
            "rule out.</div>"
        )
    if approximate:
        top += (
            f"<div class='sspr-banner sspr-warn'>Approximate for this week: {_e('; '.join(approximate))}. "
            "No snapshot lies within the tolerance of the week's end; the findings and numbers use the nearest "
            "one.</div>"
        )
    if not top:
        top = "<div class='sspr-banner sspr-ok'>All sources are complete for this week.</div>"
    notes = "".join(f"<p><b>Note:</b> {_e(note)}</p>" for note in ctx.review.notes)
    return _html(top + _table(frame, "") + notes)


# -------------------------------------------------------------------------------------------- findings
def _badge(severity: str) -> str:
    return f"<span class='sspr-sev sspr-{_e(severity)}'>{_e(severity)}</span>"


def needs_attention(ctx: Context) -> HTML:
    """Findings by severity, each with what to do; more than ``[analysis] rollup_threshold`` of one kind and
    severity as one entry with a table of the users (each marked new or continuing)."""
    from .rollup import Rollup, distinct, roll_up, status_counts

    r = ctx.review
    if not r.findings:
        return _html("<div class='sspr-banner sspr-ok'>No findings this week.</div>")
    rows = []
    tz = r.window.timezone
    for entry in roll_up(r.findings, r.settings.rollup_threshold, lambda f: f.kind, lambda f: f.severity):
        if isinstance(entry, Rollup):
            items = entry.items
            table = pd.DataFrame(
                {
                    "user": [", ".join(f.users) or f.title for f in items],
                    "vs last week": [r.status(f) or "" for f in items],
                    "since": [_when(f.start, tz) for f in items],
                    "finding": [f.title for f in items],
                }
            )
            actions = "<br>".join(_e(a) for a in distinct([f.action for f in items]))
            rows.append(
                "<tr>"
                f"<td>{_badge(entry.severity)}</td><td>{_e(status_counts([r.status(f) for f in items]))}</td>"
                f"<td><b>{_e(entry.title)}</b><details><summary>the {len(items)} users</summary>"
                f"{_table(table, '')}</details></td><td>{actions}</td></tr>"
            )
            continue
        f = entry
        status = r.status(f) or ""
        rows.append(
            "<tr>"
            f"<td>{_badge(f.severity)}</td><td>{_e(status)}</td>"
            f"<td><b>{_e(f.title)}</b><br><small>{_e(_users(list(f.users)))}</small></td>"
            f"<td>{_e(f.action)}</td></tr>"
        )
    counts = ", ".join(
        f"{sum(1 for f in r.findings if f.severity == s)} {s}"
        for s in SEVERITIES
        if any(f.severity == s for f in r.findings)
    )
    return _html(
        f"<p>{_e(counts)}</p><table class='sspr'><tr><th>severity</th><th>vs last week</th><th>finding</th>"
        f"<th>what to do</th></tr>{''.join(rows)}</table>"
    )


def kpi_tiles(ctx: Context) -> HTML:
    """The week's headline numbers with their change from last week."""
    from .summary import fmt

    tiles = []
    for name in (*(kpi for kpi, _ in KPIS), "helpdesk_cost_avoided"):
        metric = ctx.review.metrics.get(name)
        if metric is None:
            continue
        label = name.replace("_", " ")
        if name == "helpdesk_cost_avoided":
            label += f" ({ctx.review.settings.currency})"
        change = metric.change
        if change is None:
            delta, cls = "no comparison", "sspr-flat"
        else:
            shown = f"{change:+.0%}" if metric.unit == "ratio" else f"{change:+,.0f}"
            delta, cls = (
                f"{shown} vs last week",
                "sspr-up" if change > 0 else "sspr-down" if change < 0 else "sspr-flat",
            )
        tiles.append(
            f"<div class='sspr-tile'><div class='v'>{_e(fmt(metric, metric.value))}</div>"
            f"<div class='l'>{_e(label)}</div><div class='d {cls}'>{_e(delta)}</div></div>"
        )
    return _html(f"<div class='sspr-tiles'>{''.join(tiles)}</div>")


def _of_kind(ctx: Context, *kinds: str) -> list[Finding]:
    return [f for f in ctx.review.findings if f.kind in kinds]


def _not_evaluated(ctx: Context, kind: str) -> str | None:
    if kind in ctx.review.not_evaluated:
        return "Not evaluated this week: a source it needs is missing (see the coverage banner)."
    return None


def blocked_users(ctx: Context) -> HTML:
    """Users blocked from SSPR this week, with the assessment and its signals."""
    gap = _not_evaluated(ctx, "blocked_user")
    if gap:
        return _html(f"<p><i>{_e(gap)}</i></p>")
    tz = ctx.review.window.timezone
    rows = [
        {
            "user": f.users[0] if f.users else "",
            "assessment": str(f.evidence.get("assessment", "")).replace("_", " "),
            "blocked": _when(f.evidence.get("last_blocked"), tz),
            "IPs": ", ".join(map(str, f.evidence.get("ips", []))),
            "signals": "; ".join(
                map(str, [*f.evidence.get("attack_signals", []), *f.evidence.get("registration_signals", [])])
            ),
        }
        for f in _of_kind(ctx, "blocked_user")
    ]
    frame = _with_names(ctx, pd.DataFrame(rows), "user")
    return _html(_table(frame, "No user was blocked from SSPR this week."))


def leaked_credentials(ctx: Context) -> HTML:
    """Leaked-credentials detections: remediated by the user (and how fast) and not remediated."""
    gap = _not_evaluated(ctx, "leaked_credentials_unremediated")
    if gap:
        return _html(f"<p><i>{_e(gap)}</i></p>")
    tz = ctx.review.window.timezone
    rows = []
    for f in _of_kind(ctx, "leaked_credentials_unremediated", "leaked_credentials_remediated"):
        fixed = f.kind == "leaked_credentials_remediated"
        hours = f.evidence.get("hours_to_remediate")
        rows.append(
            {
                "user": f.users[0] if f.users else "",
                "detected": _when(f.evidence.get("detected"), tz),
                "status": "remediated by the user" if fixed else "NOT remediated",
                "time to remediate": f"{hours:.0f} h" if isinstance(hours, int | float) else "—",
                "age (days)": "" if fixed else f.evidence.get("age_days", ""),
                "risk state": f.evidence.get("risk_state", ""),
            }
        )
    frame = _with_names(ctx, pd.DataFrame(rows), "user")
    return _html(_table(frame, "No leaked-credentials detections to report this week."))


def _takeover_rows(ctx: Context, f: Finding) -> dict[str, Any]:
    tz = ctx.review.window.timezone
    ev = f.evidence
    reset = ev.get("reset") or {}
    verified = reset.get("methods_verified")
    row = {
        "severity": f.severity,
        "user": f.users[0] if f.users else "",
        "reset": f"{_when(reset.get('time'), tz)} · {str(reset.get('type', '')).replace('_', ' ')} by "
        f"{reset.get('initiator') or '—'} from {', '.join(map(str, reset.get('ips') or [])) or 'no IP'}"
        + (f" · verified by {', '.join(map(str, verified))}" if verified else ""),
        "vs last week": ctx.review.status(f) or "",
    }
    if f.kind == "security_info_changed_after_reset":
        changes = [
            f"{_when(c.get('time'), tz)} {c.get('activity')}"
            + (f" ({c.get('method')})" if c.get("method") else "")
            + f" from {c.get('ip') or 'no IP'}"
            + (" — IP not used by the reset" if c.get("ip_used_by_reset") is False else "")
            for c in ev.get("changes", [])
        ]
        row["changes"] = "; ".join(changes)
        row["first change after"] = f"{ev.get('minutes_to_first_change')} min"
        row["why this severity"] = ev.get("severity_reason", "")
    else:
        earlier = [f"{e.get('ip')} (last {_when(e.get('last_seen'), tz)})" for e in ev.get("earlier_ips", [])]
        row["gates"] = ", ".join(map(str, ev.get("gates", [])))
        row["new IP"] = ", ".join(map(str, ev.get("new_ips", [])))
        row["earlier IPs"] = "; ".join(earlier)
        methods = [*ev.get("non_phone_methods_used_before", []), *(ev.get("non_phone_methods_registered") or [])]
        row["non-phone methods"] = ", ".join(dict.fromkeys(map(str, methods))) or "none known"
    return row


def takeover_signals(ctx: Context) -> HTML:
    """Security info changed soon after a password reset, and phone-only resets from a new IP address."""
    parts = []
    sections = (
        (
            "security_info_changed_after_reset",
            "Security info changed after a password reset",
            "No security-info change followed a password reset this week.",
        ),
        (
            "phone_only_reset_new_ip",
            "Phone-only resets from a new IP address",
            "No phone-only reset came from a new IP address this week.",
        ),
    )
    for kind, heading, empty in sections:
        parts.append(f"<h3>{_e(heading)}</h3>")
        gap = _not_evaluated(ctx, kind)
        if gap:
            parts.append(f"<p><i>{_e(gap)}</i></p>")
            continue
        frame = _with_names(ctx, pd.DataFrame([_takeover_rows(ctx, f) for f in _of_kind(ctx, kind)]), "user")
        parts.append(_table(frame, empty))
    counts = ctx.review.not_judged.get("phone_only_reset_new_ip")
    if counts is not None:
        days = ctx.review.settings.new_ip_lookback_days
        parts.append(
            f"<p>Phone-only resets that could not be judged (no earlier event with an IP address for the user in "
            f"the {days} days before): <b>{_e(counts.get('resets', 0))}</b> "
            f"(of {_e(counts.get('users', 0))} users).</p>"
        )
    return _html("".join(parts))


# ------------------------------------------------------------------------- risk detections and resets
def _types(kinds: Any) -> str:
    from ..analysis.correlations import risk_type_words

    return ", ".join(risk_type_words(k) for k in kinds) if len(kinds) else ""


def _same_ip(flag: Any) -> str:
    if flag is None or flag is pd.NA:
        return "unknown (no IP on the reset)"
    return "YES: same IP as the reset" if bool(flag) else "no"


def _fixed(row: Any) -> int:
    return int(row["reset_by_sspr"] + row["changed_by_user"] + row["reset_by_admin"])


def _risk_to_reset_frame(ctx: Context) -> pd.DataFrame:
    from ..analysis.correlations import risk_type_words

    corr = ctx.review.correlations
    assert corr is not None and corr.risk_to_reset is not None
    table = corr.risk_to_reset
    previous = corr.previous_risk_to_reset
    last: dict[str, str] = {}
    if previous is not None:
        last = {
            str(r["risk_event_type"]): f"{r['detections']} ({_fixed(r)} of {r['users']} users fixed)"
            for _, r in previous.iterrows()
        }
    days = ctx.review.settings.remediation_days
    return pd.DataFrame(
        {
            "detection type": [risk_type_words(k) for k in table["risk_event_type"]],
            "detections": table["detections"],
            "users": table["users"],
            f"reset by SSPR within {days} d": table["reset_by_sspr"],
            "changed their password": table["changed_by_user"],
            "reset by the helpdesk": table["reset_by_admin"],
            "median time to fix": [("—" if pd.isna(h) else f"{h:.0f} h") for h in table["median_hours_to_fix"]],
            "still at risk": table["still_at_risk"],
            "dismissed or remediated (not by the user)": table["dismissed_or_remediated"],
            "last week: detections": [
                last.get(str(k), "0") if previous is not None else "no data" for k in table["risk_event_type"]
            ],
        }
    )


def _reset_to_risk_frame(ctx: Context, table: pd.DataFrame) -> pd.DataFrame:
    tz = ctx.review.window.timezone
    s = ctx.review.settings
    frame = pd.DataFrame(
        {
            f"reset ({tz})": [_when(t, tz) for t in table["time"]],
            "user": table["user"].astype("string"),
            "kind": table["kind"].map({"self_service": "self-service (SSPR)", "admin": "by an administrator"}),
            "reset by": table["initiator"],
            "IP": table["ip"],
            f"detections in the {s.blocked_risk_lookback_days} days before": [_types(k) for k in table["types_before"]],
            f"detections within {s.risk_after_reset_hours} h after": [_types(k) for k in table["types_after"]],
            "later detection from the reset's IP": [
                _same_ip(f) if n else "" for f, n in zip(table["same_ip_after"], table["detections_after"], strict=True)
            ],
        }
    )
    return _with_names(ctx, frame, "user")


def risk_and_resets(ctx: Context) -> HTML:
    """Risk detections and password resets, both ways: per detection type, who fixed it (the user, the helpdesk)
    and who is still at risk; per reset of the week, the user's detections before it and after it, flagged when
    a later one came from the reset's IP address."""
    corr = ctx.review.correlations
    if corr is None or corr.reason is not None or corr.risk_to_reset is None or corr.reset_to_risk is None:
        why = "the review has no correlation tables" if corr is None else corr.reason
        return _html(f"<p><i>No data: {_e(why)}</i></p>")
    s = ctx.review.settings
    parts = [
        "<h3>Risk detections this week: fixed, or still at risk?</h3>",
        f"<p>Per detection type, the users with such a detection this week: who reset (SSPR) or changed their "
        f"password, or was reset by the helpdesk, within {s.remediation_days} days after it; who is still at risk; "
        "whose detection an administrator or Identity Protection closed without a reset. Last week's column says "
        "how many detections of the type there were and how many users fixed them."
        + ("" if corr.previous_reason is None else f" Last week: no data ({_e(corr.previous_reason)}).")
        + "</p>",
        _table(_risk_to_reset_frame(ctx), "No risk detections this week."),
        "<h3>Password resets this week: prompted by a detection, or followed by one?</h3>",
    ]
    resets = corr.reset_to_risk
    touched = (resets["detections_before"] > 0) | (resets["detections_after"] > 0)
    flagged = int(resets["same_ip_after"].fillna(False).astype(bool).sum())
    summary = (
        f"{len(resets)} completed resets; {int((resets['detections_before'] > 0).sum())} with a detection of the user "
        f"in the {s.blocked_risk_lookback_days} days before, {int((resets['detections_after'] > 0).sum())} followed "
        f"by one within {s.risk_after_reset_hours} h"
    )
    flag = (
        f"<div class='sspr-banner sspr-bad'>{flagged} reset(s) followed by a detection from the reset's own IP "
        "address: someone may have reset a password they should not have, then signed in with it. Check with the "
        "user through a known channel.</div>"
        if flagged
        else ""
    )
    parts += [flag, f"<p>{_e(summary)}.</p>"]
    parts.append(
        _table(
            _reset_to_risk_frame(ctx, resets[touched.to_numpy()]),
            "No reset this week had a detection before or after it.",
        )
    )
    rest = resets[~touched.to_numpy()]
    if len(rest):
        parts.append(
            f"<details><summary>{len(rest)} resets without a detection before or after</summary>"
            + _table(_reset_to_risk_frame(ctx, rest), "")
            + "</details>"
        )
    before = corr.previous_reset_to_risk
    if before is None:
        parts.append(f"<p>Last week: no data ({_e(corr.previous_reason)}).</p>")
    else:
        parts.append(
            f"<p>Last week: {len(before)} completed resets, {int((before['detections_before'] > 0).sum())} with a "
            f"detection before, {int((before['detections_after'] > 0).sum())} followed by one, "
            f"{int(before['same_ip_after'].fillna(False).astype(bool).sum())} from the reset's IP.</p>"
        )
    return _html("".join(parts))


def admin_resets(ctx: Context) -> HTML:
    """Password resets of privileged role holders."""
    gap = _not_evaluated(ctx, "admin_password_reset")
    if gap:
        return _html(f"<p><i>{_e(gap)}</i></p>")
    rows = [
        {
            "administrator": f.users[0] if f.users else "",
            "roles": ", ".join(map(str, f.evidence.get("roles", []))),
            "via group": ", ".join(map(str, f.evidence.get("via_groups", []))),
            "reset by": ", ".join(map(str, f.evidence.get("initiators", []))),
            "IPs": ", ".join(map(str, f.evidence.get("ips", []))),
            "when": _when(f.start, ctx.review.window.timezone),
        }
        for f in _of_kind(ctx, "admin_password_reset")
    ]
    frame = _with_names(ctx, pd.DataFrame(rows), "administrator")
    return _html(_table(frame, "No administrator's password was reset this week."))


def helpdesk_resets(ctx: Context) -> HTML:
    """Helpdesk resets of non-privileged users, against Temporary Access Passes issued."""
    rows = [
        {
            "user": f.users[0] if f.users else "",
            "reset by": ", ".join(map(str, f.evidence.get("initiators", []))),
            "when": _when(f.start, ctx.review.window.timezone),
            "TAP issued": "yes" if f.evidence.get("tap_issued") else "no",
            "vs last week": ctx.review.status(f) or "",
        }
        for f in _of_kind(ctx, "helpdesk_reset")
    ]
    taps = ctx.review.metrics.get("taps_issued")
    note = f"<p>Temporary Access Passes issued this week: {_e(taps.value if taps else 'no data')}.</p>"
    frame = _with_names(ctx, pd.DataFrame(rows), "user")
    return _html(note + _table(frame, "No helpdesk resets this week."))


def writeback_failures(ctx: Context) -> HTML:
    rows = [
        {
            "cause": f.evidence.get("cause", ""),
            "attempts": f.evidence.get("attempts", ""),
            "users": len(f.users),
            "reasons": "; ".join(map(str, f.evidence.get("reasons", []))),
            "remedy": f.evidence.get("remedy", f.action),
        }
        for f in _of_kind(ctx, "writeback_failure")
    ]
    return _html(_table(pd.DataFrame(rows), "No password-writeback failures this week."))


def changes(ctx: Context) -> HTML:
    """New, continuing and resolved findings against last week."""
    comparison = ctx.review.comparison
    if comparison is None:
        return _html("<p><i>No comparison with last week.</i></p>")
    rows = []
    for status, items in (
        ("new", comparison.new),
        ("continuing", comparison.continuing),
        ("resolved", comparison.resolved),
        ("unknown (not evaluated this week)", comparison.unknown),
    ):
        rows += [{"status": status, "severity": f.severity, "finding": f.title} for f in items]
    return _html(_table(pd.DataFrame(rows), "No findings this week or last."))


PASSWORD_RULES = {
    "EnableBannedPasswordCheck": "Banned-password check (cloud)",
    "EnableBannedPasswordCheckOnPremises": "Banned-password check on-premises",
    "BannedPasswordCheckOnPremisesMode": "On-premises mode (Audit or Enforce)",
    "LockoutThreshold": "Smart lockout threshold (failed sign-ins)",
    "LockoutDurationInSeconds": "Smart lockout duration (seconds)",
}


def configuration(ctx: Context) -> HTML:
    """Password protection settings and the authentication methods policy, from the policy snapshot the week uses
    (see the coverage banner).

    Graph has no API for the SSPR policy itself (methods required, notifications): check those in the portal.
    """
    cov = ctx.review.coverage.get("policy")
    used = cov.snapshot if cov is not None and cov.snapshot is not None else ctx.review.window.end
    snapshot = ctx.ws.store.read_policy(used)
    if snapshot is None:
        return _html(f"<p><i>No data: {_e(cov.reason if cov else 'no policy snapshot')}</i></p>")
    day, policy = snapshot
    approximate = " (approximate: far from the week under review)" if cov is not None and cov.approximate else ""
    rules = policy.get("passwordRuleSettings") or {}
    values = {str(v.get("name")): v.get("value") for v in rules.get("values", []) if isinstance(v, dict)}
    rows = [{"setting": label, "value": values.get(key, "default")} for key, label in PASSWORD_RULES.items()]
    banned = str(values.get("BannedPasswordList") or "")
    rows.append({"setting": "Custom banned passwords", "value": f"{len(banned.split()) if banned else 0} terms"})
    if not rules:
        rows = [{"setting": "Password protection", "value": "defaults (no custom settings saved)"}]
    methods_policy = policy.get("authenticationMethodsPolicy") or {}
    methods = [
        {"method": str(m.get("id", "")), "state": str(m.get("state", ""))}
        for m in methods_policy.get("authenticationMethodConfigurations", [])
        if isinstance(m, dict)
    ]
    return _html(
        f"<p>As fetched on {day:%d %B %Y}{_e(approximate)}. Graph does not expose the SSPR policy itself (methods "
        "required, notifications): review those in the Entra admin center.</p>"
        + _table(pd.DataFrame(rows), "")
        + _table(pd.DataFrame(methods), "The authentication methods policy was not readable.")
    )


def unrecognised(ctx: Context) -> HTML:
    """What the kit could not classify this week (kept and counted, never dropped)."""
    tz = ctx.review.window.timezone
    parts = [
        _table(ctx.review.unrecognised_reasons, "Every SSPR step this week was recognised.", tz),
        _table(ctx.review.unknown_activities, "Every activity this week was known.", tz),
    ]
    return _html("".join(parts))


# ---------------------------------------------------------------------------------------------- charts
def chart(ctx: Context, name: str) -> Any:
    """One of the weekly charts by name: resets_per_hour, resets_per_day, funnel, method_outcomes."""
    builders = {
        "resets_per_hour": charts.resets_per_hour,
        "resets_per_day": charts.resets_per_day,
        "funnel": charts.funnel,
        "method_outcomes": charts.method_outcomes,
    }
    return builders[name](ctx.review)


TRENDS = {
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


def trend(ctx: Context, name: str) -> Any:
    """One adoption-trend chart by name (see :data:`TRENDS`)."""
    columns, title, y_title, percent = TRENDS[name]
    if name == "cost":
        y_title = ctx.review.settings.currency
    return charts.trend(ctx.review, columns, title, y_title=y_title, percent=percent)


def trend_table(ctx: Context) -> HTML:
    """The weekly numbers behind the trend charts."""
    weekly = ctx.review.weekly
    columns = ["week_ending", *[c for c in charts.TREND_LABELS if c in weekly]]
    frame = weekly[columns].copy()
    for column in columns[1:]:
        if "share" in column or "coverage" in column or "rate" in column:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").map(
                lambda v: "—" if pd.isna(v) else f"{v:.0%}"
            )
    frame.columns = ["week ending", *[charts.TREND_LABELS[c] for c in columns[1:]]]
    return _html(_table(frame.iloc[::-1], "No history yet.", ctx.review.window.timezone))


# ---------------------------------------------------------------------------------------------- output
#: Charts the e-mail shows as images, in order (figures are stored as plotly JSON next to findings.json).
EMAIL_CHARTS = ("resets_per_hour", "resets_per_day")


def write_findings(ctx: Context, path: str) -> None:
    """Write findings.json and charts.json (owner-only) next to each other when ``path`` is set.

    The run command reads findings.json back; the e-mail renders charts.json to PNG.
    """
    if not path:
        return
    from ..analysis import findings_json
    from ..ingest.store import write_private_text

    target = Path(path)
    write_private_text(target, json.dumps(findings_json(ctx.review), indent=2) + "\n")
    figures = {name: chart(ctx, name).to_plotly_json() for name in EMAIL_CHARTS}
    figures["registration"] = trend(ctx, "registration").to_plotly_json()
    from plotly.utils import PlotlyJSONEncoder

    write_private_text(target.with_name("charts.json"), json.dumps(figures, cls=PlotlyJSONEncoder))


# ---------------------------------------------------------------------------------------- one user
def _user_mask(frame: pd.DataFrame, upn: str, *columns: str) -> pd.Series:
    wanted = upn.strip().lower()
    mask = pd.Series(False, index=frame.index)
    for column in columns:
        mask |= frame[column].astype("string").str.lower().eq(wanted).fillna(False)
    return mask


def _upn(ctx: Context, upn: str | None) -> str:
    chosen = ctx.user if upn is None else upn
    if not chosen:
        raise ParameterError("no user: pass user= to open_review (a UPN or part of a display name)")
    return chosen


def user_profile(ctx: Context, upn: str | None = None) -> HTML:
    """The user's registration state (latest snapshot) and administrator roles (default: ``ctx.user``)."""
    upn = _upn(ctx, upn)
    data = ctx.review.data
    assert data is not None
    reg = data.registration[_user_mask(data.registration, upn, "user_upn")]
    parts = [f"<h2>{_e(upn)}</h2>"]
    if (
        reg.empty
        and ctx.review.coverage.get("registration", None) is not None
        and (ctx.review.coverage["registration"].mode == "lean")
    ):
        parts.append(
            "<p><i>No registration record for this user in the store: the week's registration snapshot is lean "
            "([registration] mode), holding only the administrators, the members who are not SSPR-capable and "
            "the users the week's findings looked at.</i></p>"
        )
    elif reg.empty:
        parts.append("<p><i>No registration record for this user in the store.</i></p>")
    else:
        latest = reg.sort_values("snapshot_date").iloc[[-1]]
        cols = [
            "snapshot_date",
            "user_name",
            "user_type",
            "is_sspr_registered",
            "is_sspr_capable",
            "is_mfa_registered",
            "methods_registered",
            "is_admin",
        ]
        parts.append(_table(latest[cols], "", ctx.review.window.timezone))
    roles = data.privileged[_user_mask(data.privileged, upn, "user_upn")]
    if not roles.empty:
        latest_day = roles["snapshot_date"].max()
        roles = roles[roles["snapshot_date"] == latest_day][["role_name", "assignment", "via_group_name"]]
    parts.append("<h3>Administrator roles</h3>" + _table(roles, "No administrator role.", ctx.review.window.timezone))
    return _html("".join(parts))


def user_flows(ctx: Context, upn: str | None = None, weeks: int = 4) -> HTML:
    """Every SSPR step of the user in the last ``weeks`` weeks: method, IP and outcome, flow by flow."""
    upn = _upn(ctx, upn)
    data = ctx.review.data
    assert data is not None
    since = pd.Timestamp(ctx.review.window.end) - pd.Timedelta(weeks=weeks)
    audit = data.audit
    mask = _user_mask(audit, upn, "user_upn", "target_upn", "initiator_upn") & (audit["activity_time"] >= since)
    mask &= audit["activity_time"] < pd.Timestamp(ctx.review.window.end)
    events = data.events.loc[mask[mask].index] if len(data.events) == len(audit) else None
    frame = audit.loc[
        mask, ["activity_time", "activity", "result", "result_reason", "ip", "initiator_upn", "correlation_id"]
    ]
    frame = frame.copy()
    if events is not None:
        frame["stage"] = events["stage"].astype("string").to_numpy()
        frame["method"] = events["method"].astype("string").to_numpy()
        frame["end state"] = events["end_state"].astype("string").to_numpy()
    frame["activity_time"] = (
        frame["activity_time"].dt.tz_convert(ctx.review.window.timezone).dt.strftime("%a %d %b %H:%M:%S")
    )
    frame = frame.rename(columns={"activity_time": f"time ({ctx.review.window.timezone})", "correlation_id": "flow"})
    return _html(_table(frame, f"No SSPR or password events for this user in the last {weeks} weeks."))


def user_risk(ctx: Context, upn: str | None = None) -> HTML:
    """The user's risk detections (as last updated)."""
    upn = _upn(ctx, upn)
    data = ctx.review.data
    assert data is not None
    if "risk" not in {n for n, c in ctx.review.coverage.items() if c.available}:
        return _html("<p><i>No risk data in the store (see the coverage banner).</i></p>")
    risk = data.risk[_user_mask(data.risk, upn, "user_upn")]
    cols = [
        "detected_time",
        "risk_event_type",
        "risk_level",
        "risk_state",
        "risk_detail",
        "ip",
        "country",
        "last_updated_time",
    ]
    frame = risk.sort_values("detected_time")[cols]
    return _html(_table(frame, "No risk detections for this user.", ctx.review.window.timezone))


def user_correlations(ctx: Context, upn: str) -> HTML:
    """The user's rows of both correlation tables, this week and last: what became of each detection type, and
    each reset with the detections before and after it."""
    from ..analysis.correlations import risk_type_words

    corr = ctx.review.correlations
    if not upn:
        return _html("")
    if corr is None or corr.reason is not None:
        why = "the review has no correlation tables" if corr is None else corr.reason
        return _html(f"<p><i>No data: {_e(why)}</i></p>")
    tz = ctx.review.window.timezone
    parts = []
    outcomes = []
    for week, frame in (("this week", corr.outcomes), ("last week", corr.previous_outcomes)):
        if frame is None:
            continue
        mine = frame[_user_mask(frame, upn, "user_upn", "user").to_numpy()]
        outcomes.append(
            pd.DataFrame(
                {
                    "week": week,
                    "detection type": [risk_type_words(k) for k in mine["risk_event_type"]],
                    "detections": mine["detections"],
                    f"first detected ({tz})": [_when(t, tz) for t in mine["first_detected"]],
                    "outcome": mine["outcome"].astype(str).str.replace("_", " "),
                    f"fixed ({tz})": [_when(None if pd.isna(t) else t, tz) for t in mine["fixed_at"]],
                    "hours to fix": [("—" if pd.isna(h) else f"{h:.0f}") for h in mine["hours_to_fix"]],
                    "risk state": mine["risk_state"],
                }
            )
        )
    frame = pd.concat(outcomes, ignore_index=True) if outcomes else pd.DataFrame()
    parts.append(
        "<h3>Risk detections: fixed, or still at risk?</h3>" + _table(frame, "No risk detections in these weeks.")
    )
    resets = []
    for week, table in (("this week", corr.reset_to_risk), ("last week", corr.previous_reset_to_risk)):
        if table is None:
            continue
        mine = table[_user_mask(table, upn, "user").to_numpy()]
        resets.append(_reset_to_risk_frame(ctx, mine.reset_index(drop=True)).assign(week=week))
    frame = pd.concat(resets, ignore_index=True) if resets else pd.DataFrame()
    parts.append(
        "<h3>Password resets and the detections around them</h3>" + _table(frame, "No password resets in these weeks.")
    )
    return _html("".join(parts))


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
    return _html(
        f"<h1>SSPR adoption trends — {_e(ctx.review.tenant.get('name'))}</h1>"
        f"<p>{_e(span)}, weeks ending Monday 00:00 {_e(ctx.review.window.timezone)}. "
        "Weeks a source did not cover show as gaps, not zeros.</p>"
    )
