"""One review of a week from the store: the inputs loaded (:mod:`.inputs`: I/O), then built by the analyses (pure).

Arrow allocates from jemalloc while the review runs, hands freed pages back within a tenth of a second and what it
kept between reading, preparing and building (:func:`~sspr_review.ingest.store.lean_arrow_memory`): a year of a
large tenant is read and prepared once for the week and the week before.
"""

from __future__ import annotations

from datetime import timedelta

from ..analysis import Review, ReviewWindow, build_review, prepare_inputs
from ..core.config import Config
from ..core.heap import preexisting_frozen
from ..ingest.store import REVIEW_DECAY_MS, Store, lean_arrow_memory, release_arrow_memory
from .aggregates import keep_recent
from .inputs import load


def review_week(
    store: Store, config: Config, window: ReviewWindow, *, compare: bool = True, extra: timedelta = timedelta(0)
) -> Review:
    """Review ``window`` from ``store``: metrics with last week's values, findings, trend.

    With ``compare`` the previous week is reviewed too, so each finding says new or continuing and last week's
    resolved findings are listed. When the week before holds no data at all (the store's first reviewed week),
    every finding is new. ``extra``: read at least this much before the week's end (a user investigation's
    weeks). The weeks the tables read hold whole are kept in the store's weekly aggregates for the next review."""
    settings = config.analysis_settings()
    with lean_arrow_memory(decay_ms=REVIEW_DECAY_MS), preexisting_frozen():
        found = len(store.found)
        inputs, recent = load(store, config, window, compare=compare, extra=extra)
        if len(store.found) > found:  # a file read was damaged: quarantined, its data is no longer covered
            inputs, recent = load(store, config, window, compare=compare, extra=extra)
        inputs = prepare_inputs(inputs, settings)
        release_arrow_memory()
        assert inputs.prepared is not None
        keep_recent(store, settings, inputs.prepared, recent)
        return build_review(inputs, settings)
