"""The review as computed before issue 24: every table of the store read in full, prepared once, every week from
it. Tests compare what ``Workspace.review`` gives (compact, time-bounded reads, weekly aggregates) with it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from sspr_review.analysis import Review, ReviewInputs, build_review, findings_json, prepare
from sspr_review.analysis._util import NS_PER_DAY, to_ns
from sspr_review.app.inputs import policy_snapshots
from sspr_review.app.workspace import Workspace
from sspr_review.core import schema


class Reference:
    """Reviews of ``ws``'s weeks from its full tables."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.settings = ws.config.analysis_settings()
        # the audit table with its records: the SSPR configuration's changes are parsed from them
        self.tables = {name: ws.store.read(name, raw=name == "audit") for name in schema.TABLES}
        self.data = prepare(self.tables, self.settings)

    def review(self, week_ending: Any, *, compare: bool = True) -> Review:
        """The week's review; ``compare``: with last week's findings (new, continuing, resolved)."""
        ws, window = self.ws, self.ws.window(week_ending)
        before = window.shift(1)
        now, previous = ws.coverage(window.start, window.end), ws.coverage(before.start, before.end)
        inputs = ReviewInputs(
            self.tables,
            now,
            window,
            tenant=ws.tenant(),
            previous_coverage=previous if compare else None,
            history_start={k: ivs[0].start for k in ("audit", "risk") if (ivs := ws.store.intervals(k))},
            covered={k: [(i.start, i.end) for i in ws.store.intervals(k)] for k in ("audit", "risk")},
            prepared=replace(self.data, policy_snapshots=_by_day(policy_snapshots(ws.store, [now, previous]))),
        )
        return build_review(inputs, self.settings)


def _by_day(snapshots: Mapping[datetime, Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """The policy snapshots as the prepared data holds them (by UTC day)."""
    return {to_ns(when) // NS_PER_DAY: dict(doc) for when, doc in snapshots.items()}


#: findings.json's generation time in comparisons (it is the only field that differs between two computations).
GENERATED = datetime(2030, 1, 1, tzinfo=UTC)


def assert_same(got: Review, want: Review) -> None:
    """``got`` and ``want`` give the same findings.json, trend and leaked-credential trend."""
    assert findings_json(got, generated_at=GENERATED) == findings_json(want, generated_at=GENERATED)
    pd.testing.assert_frame_equal(got.weekly, want.weekly)
    assert got.correlations is not None and want.correlations is not None
    pd.testing.assert_frame_equal(got.correlations.leak_trend, want.correlations.leak_trend)
