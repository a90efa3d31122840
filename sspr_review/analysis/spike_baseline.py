"""The reset-spike rule's baseline: what each hour of the week usually holds, from the tenant's own history.

For every clock hour (in the review's time zone) the statistic is the busiest sliding window starting in it:
the most distinct accounts completing an SSPR reset within ``spike_window_minutes`` (:mod:`.sliding`). The
baseline of an hour of the review week is that statistic in the same hour of each of the
``spike_baseline_weeks`` weeks before (same weekday and wall-clock hour; an hour daylight saving skips is
missing that week). From those values: the **median**, the robust spread ``max(1.4826 × MAD, √median, 1)``
(the median absolute deviation scaled to a standard deviation, never below what Poisson counts of that size
vary by, nor below one account), and the **limit**: ``median + k × spread``, or ``highest + k × √highest`` (the
busiest of those weeks, plus what counts of its size vary by) when that is lower, with ``k`` =
``spike_baseline_spread``. The second bound keeps a burst above everything the hour held in those weeks visible
when the weeks differ widely (the MAD of two alternating levels is half their gap). A window starting in the hour
is a spike when it holds at least ``spike_accounts`` accounts and more than the limit.

Only hours the store holds complete count as history (``ReviewData.covered``; without it, the hours from the
start of the earliest audit event's day, UTC, on). An hour of the review week with fewer than
``spike_baseline_weeks`` weeks of history is judged by the absolute rule alone, and the finding says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ._util import NAT, NS_PER_DAY, NS_PER_HOUR, NS_PER_MINUTE, ns, timestamps, to_ns
from .accounts import account_key
from .prepare import ReviewData
from .sliding import Steps, peaks_between, sliding_accounts
from .window import ReviewWindow

__all__ = ["MAD_SCALE", "Baseline", "spike_baseline", "spike_hours"]

#: The median absolute deviation times this estimates a normal distribution's standard deviation.
MAD_SCALE = 1.4826
_WEEK_DAYS = 7


@dataclass(frozen=True)
class Baseline:
    """Per clock hour from a little before the review week to its end (``bounds``: the hours' starts and the
    week's end, int64 ns UTC): the busiest window's ``accounts`` this week, the ``weeks`` of history held for
    the hour, the baseline's ``median``, ``low`` and ``high`` (the limit; NaN where the baseline is not
    ``applied``), and the ``threshold``: the accounts a window starting in the hour needs to be a spike.
    ``steps``: the sliding counts over the whole span (the rule's volume path reads them)."""

    bounds: np.ndarray
    week_from: int
    accounts: np.ndarray
    weeks: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    threshold: np.ndarray
    applied: np.ndarray
    needed: int
    timezone: str
    steps: Steps

    def hour(self, positions: np.ndarray) -> np.ndarray:
        """Index of the hour holding each position (window start), clipped to the hours held."""
        found = np.searchsorted(self.bounds, np.asarray(positions, dtype=np.int64), side="right") - 1
        return np.clip(found, 0, len(self.bounds) - 2)

    def label(self, index: int) -> str:
        """The hour in words, in the review's time zone: ``Wednesdays at 09:00``."""
        local = pd.Timestamp(int(self.bounds[index]), tz="UTC").tz_convert(self.timezone)
        return f"{local.day_name()}s at {local:%H:%M}"


def _covered_hours(data: ReviewData, starts: np.ndarray, reach: int) -> np.ndarray:
    """Which hours (their ``starts``) the store holds complete, with the ``reach`` their windows look ahead."""
    spans: Sequence[tuple[datetime, datetime]] | None = None
    if data.covered is not None:
        spans = data.covered.get("audit", ())
    if spans is None:  # no record of what the store holds: the history runs from the earliest event's day on
        first = data.first_time("audit")
        if first is None:
            return np.zeros(len(starts), dtype=bool)
        return np.asarray(starts >= first // NS_PER_DAY * NS_PER_DAY, dtype=bool)
    merged: list[list[int]] = []
    for lo, hi in sorted((to_ns(a), to_ns(b)) for a, b in spans):
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    if not merged:
        return np.zeros(len(starts), dtype=bool)
    lows = np.array([m[0] for m in merged], dtype=np.int64)
    highs = np.array([m[1] for m in merged], dtype=np.int64)
    inside = np.searchsorted(lows, starts, side="right") - 1
    return np.asarray((inside >= 0) & (highs[np.maximum(inside, 0)] >= starts + reach), dtype=bool)


def _history(bounds: np.ndarray, first: int, peaks: np.ndarray, covered: np.ndarray, weeks: int, tz: str) -> np.ndarray:
    """The statistic of the same hour in each of ``weeks`` weeks before, for the hours from index ``first`` on:
    one row per hour, one column per week back (NaN where that hour is not held or does not exist)."""
    labels = pd.DatetimeIndex(timestamps(bounds[:-1])).tz_convert(tz).tz_localize(None)
    where = pd.Series(np.arange(len(labels)), index=labels)
    where = where[~where.index.duplicated(keep="first")]
    index = pd.Index(where.index)
    wanted = labels[first:]
    out = np.full((len(wanted), weeks), np.nan)
    for w in range(1, weeks + 1):  # one vectorised lookup per week back
        found = index.get_indexer(wanted - pd.Timedelta(days=_WEEK_DAYS * w))
        rows = np.where(found >= 0, where.to_numpy()[np.maximum(found, 0)], -1)
        ok = (rows >= 0) & covered[np.maximum(rows, 0)]
        out[:, w - 1] = np.where(ok, peaks[np.maximum(rows, 0)], np.nan)
    return out


def _completed(data: ReviewData, begin: int, end: int) -> tuple[np.ndarray, pd.Series]:
    """The times (int64 ns) and accounts (:func:`~.accounts.account_key`) of the SSPR resets completed in ``[begin,
    end)``; with ``data.history``, those before its ``since`` from the history."""
    resets = data.resets
    times = ns(resets["time"])
    start, kept = data.lookback("resets", begin, end)
    mask = (times >= start) & (times < end) & (times != NAT)
    sub, at = resets[mask][["user_id", "user_upn"]].reset_index(drop=True), times[mask]
    if kept is not None and len(kept):
        sub = pd.concat([sub, kept[["user_id", "user_upn"]]], ignore_index=True)
        at = np.concatenate([at, kept["time"].to_numpy(dtype=np.int64)])
    return at, account_key(sub)


def spike_baseline(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> Baseline:
    """The baseline of every hour the rule judges in ``window`` (see the module docstring)."""
    width = settings.spike_window_minutes * NS_PER_MINUTE
    needed = settings.spike_baseline_weeks
    start, end = to_ns(window.start), to_ns(window.end)
    lead = -(-2 * width // NS_PER_HOUR) + 1  # hours before the week holding the starts of windows it sees
    grid_from = start - (lead + 24 * (_WEEK_DAYS * needed + 1)) * NS_PER_HOUR  # a day more: daylight saving
    bounds = np.append(np.arange(grid_from, end, NS_PER_HOUR, dtype=np.int64), np.int64(end))
    times, keys = _completed(data, grid_from - width, end)
    codes, _ = pd.factorize(keys)
    steps = sliding_accounts(times, codes, width)
    peaks = peaks_between(steps, bounds)
    first = int(np.searchsorted(bounds, start - lead * NS_PER_HOUR, side="left"))
    hours = len(bounds) - 1 - first
    median = np.full(hours, np.nan)
    low, high = median.copy(), median.copy()
    held = np.zeros(hours, dtype=np.int64)
    if needed:
        covered = _covered_hours(data, bounds[:-1], NS_PER_HOUR + width)
        values = _history(bounds, first, peaks, covered, needed, window.timezone)
        held = np.sum(~np.isnan(values), axis=1).astype(np.int64)
        full = held == needed
        if full.any():
            rows = values[full]
            mid = np.median(rows, axis=1)
            mad = np.median(np.abs(rows - mid[:, None]), axis=1)
            spread = np.maximum.reduce([MAD_SCALE * mad, np.sqrt(mid), np.ones_like(mid)])
            top = rows.max(axis=1)
            k = settings.spike_baseline_spread
            median[full] = mid
            # above every week held by more than counts of that size vary, even when the weeks differ widely
            high[full] = np.minimum(mid + k * spread, top + k * np.maximum(np.sqrt(top), 1.0))
            low[full] = np.maximum(mid - settings.spike_baseline_spread * spread, 0.0)
    applied = ~np.isnan(high)
    floor = settings.spike_accounts
    threshold = np.full(hours, floor, dtype=np.int64)
    threshold[applied] = np.maximum(floor, np.floor(high[applied]).astype(np.int64) + 1)
    return Baseline(
        bounds=bounds[first:],
        week_from=int(np.searchsorted(bounds[first:], start, side="left")),
        accounts=peaks[first:],
        weeks=held,
        median=median,
        low=low,
        high=high,
        threshold=threshold,
        applied=applied,
        needed=needed,
        timezone=window.timezone,
        steps=steps,
    )


def spike_hours(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> pd.DataFrame:
    """The review week hour by hour, as the reset-spike rule judges it (what the per-hour chart draws): ``hour``
    (its start, UTC), ``accounts`` (the most distinct accounts completing a reset within
    ``spike_window_minutes`` of a moment in the hour), ``weeks`` (of history held for the hour), the baseline's
    ``median``, ``expected_low`` and ``expected_high`` (NaN where it is not ``applied``), and ``threshold``
    (the accounts a window starting in the hour needs to be a spike)."""
    base = spike_baseline(data, window, settings)
    week = slice(base.week_from, None)
    return pd.DataFrame(
        {
            "hour": timestamps(base.bounds[:-1][week]),
            "accounts": base.accounts[week],
            "weeks": base.weeks[week],
            "median": base.median[week],
            "expected_low": base.low[week],
            "expected_high": base.high[week],
            "threshold": base.threshold[week],
            "applied": base.applied[week],
        }
    )
