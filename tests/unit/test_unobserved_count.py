"""Counting SSPR's own events (the opt-in trap's test, app/unobserved.py) gives the same on a compact read's
categorical columns as on text: by service (either name, padded) or by activity (any case, padded); and the
look-back, read a week at a time from its end, finds one in any of its weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from sspr_review.app.unobserved import _any_sspr_event, sspr_events
from sspr_review.core.vocabulary import SSPR_ACTIVITY_NAMES, SSPR_SERVICE, SSPR_SERVICE_SHORT
from sspr_review.ingest import normalize
from sspr_review.ingest.store.history import Store

ROWS = [
    (SSPR_SERVICE, "Something else"),  # by service
    (f"  {SSPR_SERVICE_SHORT} ", None),  # the short name, padded; no activity
    ("Core Directory", f" {SSPR_ACTIVITY_NAMES[0].upper()}"),  # by activity, another case, padded
    ("Core Directory", "Update user"),  # neither
    (None, None),  # nothing known
    (SSPR_SERVICE.lower(), "Update user"),  # the service's name is not matched in another case
]


def test_sspr_events_counts_the_same_on_categories_and_on_text() -> None:
    text = pd.DataFrame(ROWS, columns=["service", "activity"], dtype="string")
    compact = text.astype("category")
    assert sspr_events(text) == sspr_events(compact) == 3
    assert sspr_events(compact.iloc[3:]) == 0


def test_an_sspr_event_weeks_before_the_end_is_found_by_the_week_by_week_look_back(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    end = datetime(2026, 12, 7, tzinfo=UTC)

    def record(i: int, when: datetime, service: str, activity: str) -> dict[str, object]:
        return {
            "id": f"id-{i}",
            "activityDateTime": when.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "activityDisplayName": activity,
            "loggedByService": service,
            "result": "success",
            "targetResources": [{"id": f"u{i}", "type": "User", "userPrincipalName": f"u{i}@x"}],
        }

    others = [record(i, end - timedelta(days=i, hours=1), "Core Directory", "Update user") for i in range(10)]
    sspr = record(99, end - timedelta(days=20), SSPR_SERVICE, "Reset password (self-service)")
    with store.writing():
        store.write("audit", normalize.audit([*others, sspr])[0])
    assert _any_sspr_event(store, end - timedelta(days=30), end)  # found in the third week back
    assert not _any_sspr_event(store, end - timedelta(days=19), end)  # after it: none
    assert not _any_sspr_event(store, end - timedelta(days=30), end - timedelta(days=21))  # before it: none

    # The review's own audit rows are looked at first, then the store before them; rows that stop short of the
    # end are not taken for the whole look-back.
    last_week = store.read("audit", end - timedelta(days=7), end, compact=True)
    assert _any_sspr_event(store, end - timedelta(days=30), end, (last_week, end - timedelta(days=7), end))
    assert not _any_sspr_event(store, end - timedelta(days=19), end, (last_week, end - timedelta(days=7), None))
    everything = store.read("audit", compact=True)
    assert _any_sspr_event(store, end - timedelta(days=30), end, (everything, None, None))
    without = everything[everything["service"].astype("string") != SSPR_SERVICE]
    assert not _any_sspr_event(store, end - timedelta(days=30), end, (without, None, None))  # the rows answer
    # rows read only up to before the end: not used, the store is read (and holds the event)
    assert _any_sspr_event(store, end - timedelta(days=30), end, (without, None, end - timedelta(days=1)))
