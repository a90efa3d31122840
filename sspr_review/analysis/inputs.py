"""What one review is built from (:class:`ReviewInputs`): the tables and what the store says of them, read by the
application layer (:func:`sspr_review.app.inputs.load_inputs`) and handed to :func:`~.review.build_review`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pandas as pd

from ..core.coverage import Coverage
from ..core.settings import AnalysisSettings
from ..core.vocabulary import SNAPSHOT_KINDS
from .history import History
from .model import Finding
from .prepare import ReviewData, prepare
from .window import ReviewWindow

__all__ = ["ReviewInputs", "holds_data", "prepare_inputs", "prepared_data"]


@dataclass(frozen=True)
class ReviewInputs:
    """Everything one review of ``window`` reads; nothing in it is computed from the analyses.

    ``tables`` are the normalised tables (``audit``, ``risk``, ``registration``, ``privileged``; see
    :mod:`sspr_review.core.schema`); ``coverage`` says, per kind of data, whether the store covers the window (a
    kind that is absent or incomplete is a ``data_gap`` finding, the rules needing it are not evaluated and its
    metrics are ``None``); the snapshot kinds' coverage says which snapshot the week uses.

    The week before: ``previous_findings`` (last week's findings, or last week's findings.json as parsed JSON)
    marks each finding new or continuing and lists the resolved ones. Without them, ``previous_coverage`` (the
    previous week's coverage) has the week before reviewed from the same tables; when it holds no data at all (the
    store's first reviewed week) every finding is new. It also fixes the snapshot of last week's values (a previous
    week that would use the same snapshot as this one has no registration values of its own).

    ``history_start`` gives, per time-ranged kind, when the store's data begins (default: its earliest record),
    for the trend and the previous week's values; ``covered`` gives instead the intervals the store holds complete
    (a week not wholly inside one is "no data" in the trend, whatever rows it holds). ``registration_counts``
    (:func:`~.metrics.registration_counts`) stands in for the registration snapshots ``tables`` leaves out;
    ``registration_lean`` names the lean snapshots (snapshot day → Graph's ``ssprCapable`` count).
    ``policy_events``: the audit rows, with ``raw``, of the SSPR configuration changes over the whole history
    (default: those of ``tables["audit"]`` when it has ``raw``); ``policy_snapshots``: the policy snapshots the
    week and the week before use, by when they were taken (the SSPR configuration's posture reads them).
    ``prepared``: :func:`~.prepare.prepare` of all that, when already done (:func:`prepare_inputs`).
    ``history``: when the time-ranged tables hold only what the review reads in full (see :mod:`.reads`), the
    weekly aggregates and per-account summaries of the weeks before (:class:`~.history.History`); ``None``: the
    tables hold the whole history.
    """

    tables: Mapping[str, pd.DataFrame]
    coverage: Mapping[str, Coverage]
    window: ReviewWindow
    tenant: Mapping[str, str] = field(default_factory=dict)
    previous_findings: Sequence[Finding] | Mapping[str, Any] | None = None
    previous_coverage: Mapping[str, Coverage] | None = None
    history_start: Mapping[str, datetime] | None = None
    covered: Mapping[str, Sequence[tuple[datetime, datetime]]] | None = None
    registration_counts: pd.DataFrame | None = field(default=None, repr=False)
    registration_lean: Mapping[int, int] | None = None
    policy_events: pd.DataFrame | None = field(default=None, repr=False)
    policy_snapshots: Mapping[datetime, Mapping[str, Any]] | None = field(default=None, repr=False)
    prepared: ReviewData | None = field(default=None, repr=False, compare=False)
    history: History | None = field(default=None, repr=False, compare=False)


def prepared_data(inputs: ReviewInputs, settings: AnalysisSettings) -> ReviewData:
    """The prepared tables of ``inputs`` (:func:`~.prepare.prepare`; ``inputs.prepared`` when already done)."""
    if inputs.prepared is not None:
        return inputs.prepared
    return prepare(
        inputs.tables,
        settings,
        coverage=inputs.coverage,
        registration_counts=inputs.registration_counts,
        registration_lean=inputs.registration_lean,
        history=inputs.history,
        policy_events=inputs.policy_events,
        policy_snapshots=inputs.policy_snapshots,
    )


def prepare_inputs(inputs: ReviewInputs, settings: AnalysisSettings) -> ReviewInputs:
    """``inputs`` with the tables prepared, once for the week and the week before (the application layer hands
    Arrow's memory back between reading, preparing and building)."""
    return replace(inputs, prepared=prepared_data(inputs, settings))


def holds_data(coverage: Mapping[str, Coverage]) -> bool:
    """Some kind holds data of the window: a time-ranged kind covers part of it, or a snapshot lies within the
    tolerance of its end (an approximate snapshot, borrowed from another time, does not count)."""
    return any(c.available and not (c.kind in SNAPSHOT_KINDS and c.approximate) for c in coverage.values())
