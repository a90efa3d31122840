"""Counting SSPR's own events (the opt-in trap's test, app/unobserved.py) gives the same on a compact read's
categorical columns as on text: by service (either name, padded) or by activity (any case, padded)."""

from __future__ import annotations

import pandas as pd

from sspr_review.app.unobserved import sspr_events
from sspr_review.core.vocabulary import SSPR_ACTIVITY_NAMES, SSPR_SERVICE, SSPR_SERVICE_SHORT

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
