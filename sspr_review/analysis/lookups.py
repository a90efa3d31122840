"""Which accounts the week's rules look up in the registration report, for a lean snapshot.

A lean snapshot (``[registration] mode = "lean"``) holds of most users only those the week's rules look up; the
fetch asks :func:`accounts_looked_up` (through the application layer, :mod:`sspr_review.app.lookups`) once the
week's audit events are stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pandas as pd

from ..core.coverage import Coverage
from ..core.settings import AnalysisSettings
from .prepare import ReviewData, chosen_snapshots, complete_kinds, kind_gaps
from .registry import RULES
from .window import ReviewWindow

__all__ = ["accounts_looked_up"]


def accounts_looked_up(
    data: ReviewData,
    weeks: Sequence[tuple[ReviewWindow, Mapping[str, Coverage]]],
    settings: AnalysisSettings,
) -> pd.DataFrame:
    """The accounts (``user_id``, ``user_upn``) whose registration row the rules look up for each of ``weeks``
    (window and coverage, as :func:`~.review.week_findings` takes them): the rules that declare the
    registration source (:data:`~.registry.RULES`) are run as the review runs them, and every
    :func:`~.privileged.registration_lookup` they make is recorded. The rules decide whom to look up before they
    read a registration row, so the snapshot being fetched need not exist yet."""
    calls: list[pd.DataFrame] = []
    readers = [r for r in RULES.values() if "registration" in r.uses or any("registration" in g for g in r.requires)]
    for window, coverage in weeks:
        week = replace(
            data,
            complete=complete_kinds(coverage),
            gaps=kind_gaps(coverage),
            snapshots=chosen_snapshots(coverage),
            lookups=calls,
        )
        for rule in readers:
            if all(any(week.has(s) for s in group) for group in rule.requires):
                rule.function(week, window, settings)
    if not calls:
        return pd.DataFrame({"user_id": pd.Series(dtype="string"), "user_upn": pd.Series(dtype="string")})
    out = pd.concat(calls, ignore_index=True).astype("string")
    return out.drop_duplicates().reset_index(drop=True)
