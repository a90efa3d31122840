"""A report notebook's side of the application: its parameters (what ``sspr-review run`` hands papermill, and
checked before anything is read), the workspace they describe, and the :class:`Context` every section takes.

:func:`open_context` is what :func:`sspr_review.report.open_review` (the notebooks' first call) does after setting
up the display; :func:`find_user` resolves the ``user`` parameter of user_investigation. A bad parameter raises
:class:`~sspr_review.core.errors.ParameterError`, shown as one line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis import Finding, Review, review_window
from ..core.errors import ParameterError
from ..core.vocabulary import SEVERITIES
from ..sources import PROVIDERS, source_kind
from .saved import load_review
from .workspace import Workspace, open_workspace

#: At most this many candidates are named when a ``user`` parameter matches several users.
MAX_CANDIDATES = 8
#: The index of "high" in :data:`SEVERITIES` (critical first).
HIGH = SEVERITIES.index("high")


def notebook_parameters(ws: Workspace, week_ending: str, saved_review: Path | None = None) -> dict[str, str]:
    """The notebooks' papermill parameters for ``ws`` and the week: where things are, never secrets (the
    inverse of :func:`open_context`); ``saved_review``: the review of the week saved for them (:mod:`.saved`)."""
    return {
        "config_path": str(Path(ws.config.source_path).resolve()) if ws.config.source_path else "",
        "source": ws.source_name,
        "week_ending": week_ending,
        "store": str(ws.store.root.resolve()),
        "files": str(ws.files.resolve()) if ws.files else "",
        "saved_review": str(saved_review.resolve()) if saved_review else "",
    }


def check_parameters(
    *, source: str = "demo", week_ending: str = "", weeks: int | None = None, timezone: str = "UTC"
) -> None:
    """Check the notebook parameters before anything is read: :class:`ParameterError` naming the parameter,
    what is wrong and the fix."""
    if source not in PROVIDERS:
        raise ParameterError(f"parameter source = {source!r}: choose one of {', '.join(PROVIDERS)}")
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
    """A workspace and the review of one week. ``ctx`` alone prints a short summary; ``report.explore(ctx)``
    shows the DataFrames to dig into."""

    ws: Workspace
    review: Review
    #: The investigated user's UPN (user_investigation), resolved from the ``user`` parameter.
    user: str = ""
    #: How the user was chosen when that needs saying (the demo's default: ``user`` left empty).
    user_note: str = ""

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

    @functools.cached_property
    def display_names(self) -> tuple[pd.Index, np.ndarray]:
        """Lower-cased UPNs (a unique index) and each one's display name from the user's latest registration row;
        built once, as the report's sections name users in several tables."""
        data = self.review.data
        if data is None or data.registration.empty:
            return pd.Index([], dtype="string"), np.array([], dtype=object)
        reg = data.registration.sort_values("snapshot_date")
        upns = reg["user_upn"].str.lower()
        latest = ~upns.duplicated(keep="last").to_numpy()
        return pd.Index(upns[latest].to_numpy()), reg["user_name"].to_numpy(dtype=object)[latest]

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


def open_context(
    config_path: str = "",
    source: str = "demo",
    week_ending: str = "",
    store: str = "",
    files: str = "",
    *,
    compare: bool = True,
    user: str | None = None,
    weeks: int | None = None,
    saved_review: str = "",
) -> Context:
    """Open the workspace the parameters describe and review the week. Never fetches from Graph: the CLI
    (``sspr-review fetch`` / ``run``) does that. The demo store is built on first use (a notebook that finds
    another process building it waits for that build). With ``saved_review`` (what ``sspr-review run`` hands
    the notebooks) the review it computed is loaded instead (:func:`~.saved.load_review`): one review per run.

    The parameters are checked first (:func:`check_parameters`); with ``user`` (user_investigation) the user
    is looked up by UPN or display-name fragment (:func:`find_user`)."""
    check_parameters(source=source, weeks=weeks)
    empty = user is not None and not user.strip()
    if empty and not source_kind(source).rebuilds_history:  # the demo opens on one of its planted cases
        raise ParameterError(EMPTY_USER)
    ws = open_workspace(config_path or None, source=source, store=store or None, files=files or None)
    check_parameters(source=source, week_ending=week_ending, timezone=ws.config.review.timezone)
    if saved_review:
        review = load_review(saved_review, week_ending=ws.window(week_ending or None).week_ending.isoformat())
    else:
        ws.ensure_store()
        review = ws.review(week_ending or None, compare=compare)
    ctx = Context(ws, review)
    if user is None:
        return ctx
    if not empty:
        return Context(ctx.ws, ctx.review, find_user(ctx, user))
    example = example_finding(ctx.review)
    if example is None:
        raise ParameterError(EMPTY_USER)
    note = (
        f"No user named (parameter user is empty): on the demo tenant this opens on {example.users[0]}, the user of"
        f" this week's finding “{example.title}”. Set user to a UPN or part of a display name to investigate someone"
        " else."
    )
    return Context(ctx.ws, ctx.review, find_user(ctx, example.users[0]), note)


EMPTY_USER = (
    "parameter user is empty: set it to a UPN (jane.doe@contoso.com) or part of a display name, then run all cells"
    " again"
)
#: The finding kinds whose user the demo's investigation opens on when ``user`` is empty, most telling first.
EXAMPLE_KINDS = ("security_info_changed_after_reset", "phone_only_reset_new_ip", "admin_password_reset", "blocked_user")


def example_finding(review: Review) -> Finding | None:
    """The week's most telling finding about one user (a suspicious reset first), at high severity or above."""
    serious = [f for f in review.findings if len(f.users) == 1 and SEVERITIES.index(f.severity) <= HIGH]
    return next((f for kind in EXAMPLE_KINDS for f in serious if f.kind == kind), None)


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
    head = found.head(MAX_CANDIDATES)
    names = head["user_name"].astype(object).where(head["user_name"].notna())
    shown = [f"{n} <{u}>" if isinstance(n, str) else str(u) for u, n in zip(head["user_upn"], names, strict=True)]
    more = len(found) - len(shown)
    raise ParameterError(
        f"parameter user = {wanted!r} matches {len(found)} users: {'; '.join(shown)}"
        + (f" and {more} more" if more > 0 else "")
        + ". Set it to one of their UPNs"
    )
