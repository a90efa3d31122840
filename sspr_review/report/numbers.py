"""Number formatting, in one place, for every reader: the report sections (tables, tiles) and the text summary.

>>> number(1625.0), number(0.5), number(0.25, "ratio"), number(1234.4, "currency"), number(None)
('1,625', '0.50', '25%', '1,234', '—')
"""

from __future__ import annotations

from typing import Any

import pandas as pd

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


def change(value: float, unit: str = "") -> str:
    """A week-over-week change with its sign: ``+12%`` for a ratio, ``+1,204`` otherwise."""
    return f"{value:+.0%}" if unit == "ratio" else f"{value:+,.0f}"


def hours(value: Any, suffix: str = "") -> str:
    """A duration in whole hours (``36 h`` with ``suffix=" h"``), ``—`` when unknown."""
    return MISSING if is_missing(value) else f"{float(value):.0f}{suffix}"
