"""Which users a lean registration snapshot must hold: the bridge between a fetch and the analyses.

A lean snapshot (:mod:`sspr_review.ingest.lean`) reads the registration report only for the users the week's
rules look up. Finding them means running those rules over the events just stored, which the fetch layer must
not do itself (it sits below the analyses): the application hands :func:`registration_needs` to the fetch.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from ..analysis import ReviewWindow, prepare, review_window
from ..analysis.lookups import accounts_looked_up
from ..core.config import Config
from ..core.coverage import Coverage
from ..ingest.store import Store, choose_snapshot
from .inputs import coverage, event_tables


def registration_needs(store: Store, config: Config, now: datetime) -> tuple[list[ReviewWindow], pd.DataFrame]:
    """The review weeks a registration snapshot taken ``now`` will serve, and the accounts their rules look up
    (the :data:`~sspr_review.ingest.lean.NeedsFn` the fetch is given)."""
    weeks = served_weeks(store, config, now)
    return weeks, needed_users(store, config, now, weeks)


def served_weeks(store: Store, config: Config, now: datetime) -> list[ReviewWindow]:
    """The review weeks (the default one and the one before) that will use a snapshot taken ``now``."""
    tolerance = timedelta(days=config.review.snapshot_tolerance_days)
    moments = [m for m in store.snapshot_moments("registration") if f"{m:%Y-%m-%d}" != f"{now:%Y-%m-%d}"]
    latest = review_window(None, config.review.timezone, now=now)
    return [w for w in (latest.shift(1), latest) if choose_snapshot([*moments, now], w.end, tolerance) == now]


def needed_users(store: Store, config: Config, now: datetime, weeks: list[ReviewWindow]) -> pd.DataFrame:
    """The accounts the rules of ``weeks`` look up in the registration report (from the store, as the review
    will read it)."""
    if not weeks:
        return pd.DataFrame({"user_id": pd.Series(dtype="string"), "user_upn": pd.Series(dtype="string")})
    settings = config.analysis_settings()
    data = prepare(event_tables(store), settings)
    plan = []
    for week in weeks:
        covered = coverage(store, config, week.start, week.end)
        covered["registration"] = Coverage(
            "registration", now, now, True, snapshot=now, offset=now - week.end, mode="lean"
        )
        plan.append((week, covered))
    return accounts_looked_up(data, plan, settings)
