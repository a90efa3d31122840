"""How a section becomes HTML: one Jinja2 template per part, tables, times and user names.

Escaping happens in one place: the Jinja2 environment (:data:`sspr_review.report.templating.ENV`) autoescapes
every value a template prints, tables included (:func:`table` renders ``table.html.j2``), so tenant text (display
names, UPNs, reasons, IPs) is text, never markup. Python code here computes values; the markup lives in
``sspr_review/report/templates/*.html.j2``.
Numbers are formatted by :mod:`sspr_review.report.numbers`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd
from IPython.display import HTML
from markupsafe import Markup

from .. import style
from ..numbers import MISSING, is_missing, number
from ..templating import ENV

if TYPE_CHECKING:
    from ...app.notebook import Context

MAX_USERS_SHOWN = 8


def markup(template: str, **values: Any) -> Markup:
    """``templates/<template>`` rendered with ``values`` (escaped, unless a value is already :class:`Markup`)."""
    return Markup(ENV.get_template(template).render(**values))


def section(template: str, **values: Any) -> HTML:
    """A section's output: its template rendered, wrapped with the kit's scoped stylesheet (:mod:`..style`)."""
    return HTML(style.wrap(markup(template, **values)))


def note(text: str) -> HTML:
    """A section that only says why it has nothing to show (``<p><i>...</i></p>``)."""
    return section("note.html.j2", text=text)


def is_number(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def is_date(column: pd.Series) -> bool:
    """Times, or text that is only dates (``2026-11-30``): a column that must never wrap."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    values = column.dropna()
    return bool(len(values) and values.astype(str).str.fullmatch(r"\d{4}-\d{2}-\d{2}").all())


def table(frame: pd.DataFrame, empty: str, tz: str = "UTC") -> Markup:
    """An HTML table (``table.html.j2``): times in ``tz``, numbers formatted once and right-aligned (class
    ``sspr-num``), dates never wrapped (class ``sspr-date``), missing values as ``—`` (see
    :func:`display_frame`); ``empty`` as a note when no rows."""
    if frame.empty:
        return markup("note.html.j2", text=empty)
    shown = display_frame(frame, tz)
    rows = [[MISSING if is_missing(v) else v for v in row] for row in shown.itertuples(index=False, name=None)]
    classes = ["sspr-num" if is_number(frame[c]) else "sspr-date" if is_date(frame[c]) else "" for c in frame.columns]
    return markup("table.html.j2", columns=[str(c) for c in shown.columns], classes=classes, rows=rows)


def display_frame(frame: pd.DataFrame, tz: str = "UTC") -> pd.DataFrame:
    """``frame`` as the reports show it: times as text in the time zone ``tz`` (never nanosecond integers),
    dates as dates, counts with thousands separators (``1,625``, not ``1625.0``), missing values as ``—``."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            local = values.dt.tz_convert(tz)
            fmt = "%Y-%m-%d" if (local.dropna().dt.normalize() == local.dropna()).all() else "%a %d %b %Y %H:%M"
            out[column] = local.dt.strftime(fmt).fillna(MISSING)
        elif pd.api.types.is_datetime64_dtype(values):
            out[column] = values.dt.strftime("%Y-%m-%d").fillna(MISSING)
        elif is_number(values):
            out[column] = [number(v) for v in values.tolist()]
    return out


def when(value: Any, tz: str) -> str:
    """A moment in ``tz`` as ``Mon 23 Nov 08:30``; ``—`` when unknown."""
    if is_missing(value):
        return MISSING
    return f"{pd.Timestamp(value).tz_convert(tz):%a %d %b %H:%M}"


def names(ctx: Context, upns: pd.Series) -> pd.Series:
    """``Display Name <upn>`` from the latest registration snapshot (the UPN alone when unknown)."""
    known, display = ctx.display_names
    if known.empty:
        return upns.astype("string")
    at = known.get_indexer(pd.Index(upns.astype("string").str.lower()))
    found = pd.Series(display[at], index=upns.index, dtype="string").mask(at < 0)
    labelled: pd.Series = (found + " <" + upns.astype("string") + ">").fillna(upns.astype("string"))
    return labelled


def with_names(ctx: Context, frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame`` with the UPNs of ``column`` shown as ``Display Name <upn>``."""
    if not frame.empty:
        frame[column] = names(ctx, frame[column]).to_numpy()
    return frame


def user_list(users: tuple[str, ...] | list[str]) -> str:
    """At most :data:`MAX_USERS_SHOWN` users, then how many more."""
    shown = ", ".join(users[:MAX_USERS_SHOWN])
    more = len(users) - MAX_USERS_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
