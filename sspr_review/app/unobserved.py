"""The opt-in trap: SSPR enabled for many users, and not one SSPR event in the look-back.

Microsoft documents that SSPR's audit data is gathered only after someone has opened the SSPR audit or reporting
view once. A tenant whose registration data shows SSPR-enabled users and whose store holds no SSPR event at all in
the weeks before the review's end is far more likely unobserved than quiet: the audit coverage is then marked
``suspect`` (:attr:`~sspr_review.core.coverage.Coverage.suspect`) with the likely causes and the fix, the terminal
and the report say so loudly, findings.json carries it, and a verdict must not call the week quiet. ``doctor``
checks the same on the live tenant (:func:`sspr_review.doctor.opt_in_check`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd

from ..core.coverage import Coverage
from ..core.vocabulary import SSPR_ACTIVITY_NAMES, SSPR_SERVICE, SSPR_SERVICE_SHORT
from ..ingest.store import Store
from ..ingest.store.lean_summary import read_summary

#: How far back a store with no SSPR event is looked at (Graph keeps audit events 30 days).
LOOKBACK_DAYS: Final = 30
#: From this many SSPR-enabled users on, a look-back without one SSPR event (no reset, change, registration or
#: attempt) is taken for unobserved rather than quiet.
MIN_ENABLED_USERS: Final = 50
#: What to do about it, in the order to try.
FIX: Final = (
    "open the Entra admin center at Protection ▸ Password reset ▸ Audit logs once (SSPR's audit data is gathered"
    " only after that view has been opened), then fetch again; check that the app has AuditLog.Read.All; check that"
    " SSPR is enabled (Protection ▸ Password reset ▸ Properties: Selected or All)"
)


def sspr_events(audit: pd.DataFrame) -> int:
    """How many of ``audit``'s rows are SSPR's own events (by service, either name, or by activity)."""
    return int(_is_sspr(audit).sum())


def _is_sspr(audit: pd.DataFrame) -> np.ndarray:
    """Which of ``audit``'s rows are SSPR's own events (see :func:`sspr_events`)."""
    names = [a.lower() for a in SSPR_ACTIVITY_NAMES]
    by_service = _each(audit["service"], lambda v: v.str.strip().isin([SSPR_SERVICE, SSPR_SERVICE_SHORT]))
    by_activity = _each(audit["activity"], lambda v: v.str.strip().str.lower().isin(names))
    return np.asarray(by_service | by_activity, dtype=bool)


def _each(values: pd.Series, test: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``test`` (text to booleans; missing is false) of each value: on the categories of a categorical column
    (a compact read holds each distinct text once), else on the column."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        hits = test(pd.Series(values.cat.categories).astype("string")).fillna(False).to_numpy(dtype=bool)
        return np.append(hits, False)[values.cat.codes.to_numpy()]  # code -1 (missing) takes the appended False
    return test(values.astype("string")).fillna(False).to_numpy(dtype=bool)


_COLUMNS: Final = ["activity_time", "service", "activity"]


#: Audit rows a review has read already (``activity_time``, ``service``, ``activity``), and the ``[start, end)``
#: of which they hold every row of the store (``None``: open).
Read = tuple[pd.DataFrame, datetime | None, datetime | None]


def _any_sspr_event(store: Store, since: datetime, end: datetime, read: Read | None = None) -> bool:
    """Whether the store holds an SSPR event in ``[since, end)``: the rows ``read`` already looked at first, then
    the store read a week at a time from the end back (a tenant whose users reset passwords has one in the last
    week, and the rest is not read)."""
    upto = end
    if read is not None and (read[2] is None or read[2] >= end):  # rows up to the end read: looked at first
        table, held_from, _ = read
        begin = since if held_from is None else max(since, held_from)
        if begin < end:
            times = table["activity_time"]
            if (_is_sspr(table) & ((times >= begin) & (times < end)).to_numpy(dtype=bool)).any():
                return True
            upto = begin
    while upto > since:
        start = max(since, upto - timedelta(days=7))
        if sspr_events(store.read("audit", start, upto, columns=_COLUMNS, compact=True)):
            return True
        upto = start
    return False


def enabled_users(store: Store, snapshot: datetime) -> int:
    """SSPR-enabled users in the registration snapshot of ``snapshot``'s day: Graph's ``ssprEnabled`` count for a
    lean snapshot, else the rows flagged ``isSsprEnabled``."""
    day = snapshot.replace(hour=0, minute=0, second=0, microsecond=0)
    summary = read_summary(store.path, day)
    if summary is not None:
        for item in (summary.get("usersRegisteredByFeature") or {}).get("userRegistrationFeatureCounts") or []:
            if isinstance(item, dict) and item.get("feature") == "ssprEnabled":
                return int(item.get("userCount") or 0)
    rows = store.read("registration", day, day + timedelta(days=1), columns=["is_sspr_enabled"])
    return int(rows["is_sspr_enabled"].fillna(False).astype(bool).sum())


def check(
    store: Store, coverage: Mapping[str, Coverage], end: datetime, read: Read | None = None
) -> dict[str, Coverage]:
    """``coverage`` with the audit coverage marked ``suspect`` when the trap is likely (see the module). ``read``:
    audit rows the caller holds already (the review's table), looked at before the store is read."""
    coverage = dict(coverage)
    audit, registration = coverage.get("audit"), coverage.get("registration")
    if audit is None or registration is None or not audit.available or registration.snapshot is None:
        return coverage
    start = end - timedelta(days=LOOKBACK_DAYS)
    held = [i for i in store.intervals("audit") if i.end > start and i.start < end]
    if not held:
        return coverage
    since = max(start, held[0].start)
    if _any_sspr_event(store, since, end, read):
        return coverage
    enabled = enabled_users(store, registration.snapshot)
    if enabled < MIN_ENABLED_USERS:
        return coverage
    days = max(1, round((end - since).total_seconds() / 86400))
    why = (
        f"no SSPR event in the {days} days to {end:%Y-%m-%d} although {enabled:,} users are SSPR-enabled: SSPR's"
        " audit data is likely not being gathered, so this is unobserved, not quiet. Fix: " + FIX
    )
    return {**coverage, "audit": replace(audit, suspect=why)}
