"""Number formatting, in one place, for every reader: the report sections (tables, tiles) and the text summary.

>>> number(1625.0), number(0.5), number(0.25, "ratio"), number(1234.4, "currency"), number(None)
('1,625', '0.50', '25%', '1,234', '—')
>>> change(2, "count"), change(-0.038, "ratio"), change(0, "count"), change(650.0, "currency")
('+2', '−3.8 pp', 'no change', '+650')
>>> meaning(2, "lower"), meaning(-21, "lower"), meaning(0.01, "higher"), meaning(26, "neither")
('bad', 'good', 'good', 'neutral')
"""

from __future__ import annotations

from typing import Any, Final

import pandas as pd

from ..core.labels import METRICS

#: What a missing value shows as in tables (a summary line says "no data" instead).
MISSING = "—"


def is_missing(value: Any) -> bool:
    """None, ``pd.NA``, NaN or NaT (a list or other container is not missing)."""
    if value is None or value is pd.NA:
        return True
    return bool(pd.api.types.is_scalar(value) and not isinstance(value, str) and pd.isna(value))


def number(value: Any, unit: str = "", missing: str = MISSING) -> str:
    """``value`` as the kit shows numbers: ratios (``unit="ratio"``) as whole percent, currency without
    decimals, whole numbers with thousands separators (``1,625``, never ``1625.0``), other numbers with two
    decimals; ``missing`` when there is no value."""
    if is_missing(value):
        return missing
    if unit == "ratio":
        return f"{float(value):.0%}"
    if unit == "currency":
        return f"{float(value):,.0f}"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):,.2f}"


#: The minus sign of a change (U+2212, as wide as the plus sign).
MINUS = "\u2212"


def change(value: float, unit: str = "") -> str:
    """A week-over-week change with its sign: a ratio's in percentage points with one decimal (``−3.8 pp``:
    55% to 51.2% is −3.8 pp, not −4 %), others as whole numbers (``+1,204``); "no change" for zero."""
    if value == 0:
        return "no change"
    text = f"{value * 100:+.1f} pp" if unit == "ratio" else f"{value:+,.0f}"
    if text.lstrip("+-").rstrip(" p") in ("0", "0.0"):  # rounds to nothing: still say which way
        text = f"{'+' if value > 0 else '-'}<0.1 pp" if unit == "ratio" else f"{'+' if value > 0 else '-'}<1"
    return text.replace("-", MINUS)


def better_of(name: str) -> str:
    """The direction that is good for metric ``name`` (:data:`~sspr_review.core.labels.METRICS`): "higher",
    "lower", or "neither" (also for a metric it does not list)."""
    words = METRICS.get(name)
    return words.better if words is not None else "neither"


#: What a change means, in words after it (``+2 (worse)``); nothing for a neutral one.
JUDGED: Final = {"good": " (better)", "bad": " (worse)"}


def meaning(value: float | None, better: str) -> str:
    """What a change means for a metric whose ``better`` direction is "higher", "lower" or "neither": "good",
    "bad" or "neutral" (no change, no comparison, or a metric where neither direction is good)."""
    if value is None or value == 0 or better not in ("higher", "lower"):
        return "neutral"
    return "good" if (value > 0) == (better == "higher") else "bad"


def hours(value: Any, suffix: str = "") -> str:
    """A duration in whole hours (``36 h`` with ``suffix=" h"``), ``—`` when unknown."""
    return MISSING if is_missing(value) else f"{float(value):.0f}{suffix}"
