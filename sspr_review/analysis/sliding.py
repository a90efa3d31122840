"""Distinct accounts in a sliding time window, as a step function of the window's start: what the reset-spike
rule (:mod:`.rules_spikes`) and its baseline (:mod:`.spike_baseline`) count.

A window ``[a, a + W]`` holds an account exactly when ``a`` lies in the union of ``[t - W, t]`` over the
account's reset times ``t``. Those unions are built per account (runs of resets at most ``W`` apart) and a
sweep over their ends gives, for every start ``a``, how many accounts the window holds: O(n log n), no loop
over events. Groups (an IP address, a network) are counted apart by laying them out on the time axis one after
another, far enough apart never to share a window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Hot", "Steps", "hot_intervals", "peaks_between", "sliding_accounts", "split_at"]


@dataclass(frozen=True)
class Steps:
    """The number of accounts a window ``[a, a + width]`` holds, as a step function of ``a``: from
    ``positions[i]`` on it holds ``counts[i]`` (int64 ns; at equal positions the accounts coming in are counted
    before those leaving, so a window holds an account whose reset lies exactly on its edge). ``groups[i]`` is
    the group of the step (0 without groups)."""

    positions: np.ndarray
    counts: np.ndarray
    groups: np.ndarray
    width: int


@dataclass(frozen=True)
class Hot:
    """The runs of window starts where the count reaches a threshold: each from ``lo`` to ``hi`` (the first
    start below it again), with the ``peak`` count, the start ``peak_at`` of the first window holding it, and
    the ``group``."""

    lo: np.ndarray
    hi: np.ndarray
    peak: np.ndarray
    peak_at: np.ndarray
    group: np.ndarray


def sliding_accounts(times: np.ndarray, keys: np.ndarray, width: int, groups: np.ndarray | None = None) -> Steps:
    """The step function of distinct ``keys`` (account codes) among ``times`` (int64 ns) in a window of ``width``
    ns, per group (``groups``: non-negative codes, one per time; default one group)."""
    times = np.asarray(times, dtype=np.int64)
    keys = np.asarray(keys, dtype=np.int64)
    group = np.zeros(len(times), dtype=np.int64) if groups is None else np.asarray(groups, dtype=np.int64)
    if len(times) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Steps(empty, empty, empty, width)
    origin = int(times.min())
    stride = int(times.max()) - origin + 4 * width + 1
    laid = times - origin + group * stride
    order = np.lexsort((laid, keys))
    ts, ks = laid[order], keys[order]
    new_run = np.ones(len(ts), dtype=bool)
    new_run[1:] = (ks[1:] != ks[:-1]) | (np.diff(ts) > width)
    run_first = ts[new_run]
    run_last = np.maximum.reduceat(ts, np.flatnonzero(new_run))
    positions = np.concatenate([run_first - width, run_last])
    kinds = np.concatenate([np.zeros(len(run_first), np.int8), np.ones(len(run_last), np.int8)])
    deltas = np.concatenate([np.ones(len(run_first), np.int64), -np.ones(len(run_last), np.int64)])
    sweep = np.lexsort((kinds, positions))
    pos = positions[sweep]
    of_group = (pos + width) // stride
    return Steps(pos - of_group * stride + origin, np.cumsum(deltas[sweep]), of_group, width)


def hot_intervals(steps: Steps, threshold: int | np.ndarray) -> Hot:
    """Where ``steps`` reach ``threshold`` (a number, or one per step): one run per stretch of consecutive
    steps at or above it. Every stretch ends, as every group's count falls back to zero."""
    counts = steps.counts
    hot = counts >= threshold
    before = np.concatenate([[False], hot[:-1]])
    rises = np.flatnonzero(hot & ~before)
    falls = np.flatnonzero(~hot & before)
    if rises.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Hot(empty, empty, empty, empty, empty)
    bounds = np.column_stack([rises, falls]).ravel()
    peak = np.maximum.reduceat(counts, bounds)[::2]
    starts = np.zeros(len(counts), dtype=bool)
    starts[rises] = True
    run = np.cumsum(starts) - 1
    inside = hot & (run >= 0)
    at_peak = np.flatnonzero(inside & (counts == peak[np.maximum(run, 0)]))
    _, first = np.unique(run[at_peak], return_index=True)
    return Hot(
        steps.positions[rises],
        steps.positions[falls],
        peak,
        steps.positions[at_peak[first]],
        steps.groups[rises],
    )


def peaks_between(steps: Steps, bounds: np.ndarray) -> np.ndarray:
    """For consecutive intervals ``[bounds[j], bounds[j + 1])`` (int64 ns, ascending), the most accounts a window
    starting in each holds: one value per interval (``len(bounds) - 1``). ``steps`` must be ungrouped."""
    bounds = np.asarray(bounds, dtype=np.int64)
    n = len(bounds) - 1
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    pos, counts = steps.positions, steps.counts
    first = np.searchsorted(pos, bounds[:-1], side="left")
    last = np.searchsorted(pos, bounds[1:], side="left")
    padded = np.append(counts, 0)  # index len(counts): past the last step, nothing
    # the count holding when the interval begins: that of the last step before it
    at_start = np.where(first > 0, padded[np.maximum(first - 1, 0)], 0)
    # the steps inside: first[j] <= last[j] == first[j + 1], so the interleaved indices never decrease
    inside = np.maximum.reduceat(padded, np.column_stack([first, last]).ravel())[::2]
    inside = np.where(last > first, inside, 0)
    return np.asarray(np.maximum(at_start, inside), dtype=np.int64)


def split_at(steps: Steps, bounds: np.ndarray) -> Steps:
    """``steps`` (ungrouped) with a step at each of ``bounds`` holding the count there, so that a threshold
    changing at the bounds (an hour's baseline) is compared with every count it applies to."""
    bounds = np.asarray(bounds, dtype=np.int64)
    pos, counts = steps.positions, steps.counts
    before = np.searchsorted(pos, bounds, side="left")
    held = np.where(before > 0, counts[np.maximum(before - 1, 0)] if counts.size else 0, 0)
    positions = np.concatenate([bounds, pos])
    values = np.concatenate([held, counts])
    kinds = np.concatenate([np.zeros(len(bounds), np.int8), np.ones(len(pos), np.int8)])
    # a bound before the steps at the same moment (which then apply), the steps in their order
    order = np.lexsort((np.arange(len(positions)), kinds, positions))
    return Steps(positions[order], values[order], np.zeros(len(order), dtype=np.int64), steps.width)
