"""The history before the tables a review holds (:class:`History`): weekly aggregates and per-account summaries.

A review reads the store's time-ranged tables from a week boundary on (:attr:`History.since`: the start of what
its rules and metrics read in full, see :mod:`.reads`); what it needs of the weeks before comes from the
aggregates the application layer keeps in the store, computed from the same tables by the same functions as
the full review (:mod:`.aggregates`):

- ``weeks``: one row per week, the trend's audit metrics and the leaked-credentials trend's counts;
- ``fixes``: each account's last password fix before ``since`` (for ``leaked_credentials_unremediated``);
- ``methods``: the non-phone methods each account verified in SSPR flows started before ``since`` (for
  ``phone_only_reset_new_ip``);
- over the lookbacks the rules declare (see :mod:`.reads`): ``ips``, each account's last use of each IP in each
  week (for whether an IP is new to an account: ``phone_only_reset_new_ip``, ``reset_spike``); ``starts``, each
  account's last SSPR flow begun in each week (an account's first SSPR use); ``resets``, the completed SSPR resets
  (the reset-spike baseline).

Accounts are named by their lower-cased object id and UPN, as :func:`~.accounts.account_pairs` compares them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["History", "empty_frame"]

_TYPES = {"user_id": "string", "user_upn": "string", "how": "string", "ip": "string"}


def empty_frame(columns: Sequence[str]) -> pd.DataFrame:
    """An empty frame of ``columns``: accounts and ``how`` as strings, the rest int64 (times, bits, week bounds)."""
    return pd.DataFrame({c: pd.Series(dtype=_TYPES.get(c, np.int64)) for c in columns})


@dataclass(frozen=True)
class History:
    """What a review knows of the history before the tables it holds.

    ``since`` (int64 ns, a week boundary of the review's weeks): the tables hold every record from here on (they
    may start earlier, by :data:`~.reads.CONTINUITY`). ``earliest``: the store's first record per time-ranged
    kind (ns). ``weeks``: rows of the weeks ending at or before ``since`` (``week_start``, ``week_end`` in ns,
    then values, NaN where undefined). ``fixes``: each account's last fix before ``since`` (``user_id``,
    ``user_upn``, ``time``, ``how``). ``methods``: the non-phone methods each account verified in flows started
    before ``since`` (``user_id``, ``user_upn``, ``bits``). Over the lookbacks, the events before ``since`` only:
    ``ips``, each account's last use of an IP in a week (``user_id``, ``user_upn``, ``ip``, ``time``), from the
    events :func:`~.ip_history.initiated_events` takes; ``starts``, each account's last SSPR flow begun in a week
    (``user_id``, ``user_upn``, ``time``: the flow's start); ``resets``, the completed SSPR resets (``user_id``,
    ``user_upn``, ``time``)."""

    since: int
    earliest: Mapping[str, int] = field(default_factory=dict)
    weeks: pd.DataFrame = field(default_factory=lambda: empty_frame(("week_start", "week_end")), repr=False)
    fixes: pd.DataFrame = field(default_factory=lambda: empty_frame(("user_id", "user_upn", "time", "how")), repr=False)
    methods: pd.DataFrame = field(default_factory=lambda: empty_frame(("user_id", "user_upn", "bits")), repr=False)
    ips: pd.DataFrame = field(default_factory=lambda: empty_frame(("user_id", "user_upn", "ip", "time")), repr=False)
    starts: pd.DataFrame = field(default_factory=lambda: empty_frame(("user_id", "user_upn", "time")), repr=False)
    resets: pd.DataFrame = field(default_factory=lambda: empty_frame(("user_id", "user_upn", "time")), repr=False)

    def between(
        self, part: str, begin: int, end: int, ids: Collection[str] | None = None, upns: Collection[str] | None = None
    ) -> pd.DataFrame:
        """The rows of the lookback summary ``part`` (``ips``, ``starts``, ``resets``) with ``time`` in ``[begin,
        end)`` (int64 ns); with ``ids``/``upns``, of the accounts whose (lower-cased) id or UPN is among them."""
        frame: pd.DataFrame = getattr(self, part)
        time = frame["time"].to_numpy(dtype=np.int64)
        keep = (time >= begin) & (time < end)
        if ids is not None or upns is not None:
            keep &= self._accounts(part, "user_id", ids or ()) | self._accounts(part, "user_upn", upns or ())
        return frame[keep].reset_index(drop=True)

    def _accounts(self, part: str, column: str, wanted: Collection[str]) -> np.ndarray:
        """Rows of ``part`` whose ``column`` is one of ``wanted``: the column's codes are computed on the first
        lookup and kept (the history serves both weeks' rules), so a lookup costs its own values, not the rows'."""
        kept: dict[tuple[str, str], tuple[np.ndarray, pd.Index]] = self.__dict__.setdefault("_codes", {})
        if (part, column) not in kept:
            codes, uniques = pd.factorize(getattr(self, part)[column], use_na_sentinel=True)
            kept[part, column] = (np.asarray(codes), pd.Index(uniques))
        codes, uniques = kept[part, column]
        found = uniques.get_indexer(pd.Index(list(wanted))) if len(wanted) else np.zeros(0, dtype=np.int64)
        mark = np.zeros(len(uniques) + 1, dtype=bool)
        mark[found[found >= 0]] = True
        return np.asarray(mark[codes], dtype=bool)  # code -1 (missing) reads the last, never marked

    def known(self, bounds: np.ndarray, columns: Sequence[str]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """For the weeks of ``bounds`` (int64 ns boundaries): which end at or before ``since`` (their values come
        from here, not from the tables), and each of ``columns`` for every week (NaN where no row is kept)."""
        starts, ends = np.asarray(bounds[:-1], dtype=np.int64), np.asarray(bounds[1:], dtype=np.int64)
        rows = self.weeks.drop_duplicates(["week_start", "week_end"], keep="last")
        index = pd.MultiIndex.from_arrays([rows["week_start"].to_numpy(np.int64), rows["week_end"].to_numpy(np.int64)])
        at = index.get_indexer(pd.MultiIndex.from_arrays([starts, ends])) if len(index) else np.full(len(ends), -1)
        out = {}
        for name in columns:
            values = np.append(rows[name].to_numpy(dtype=np.float64) if name in rows else np.zeros(0), np.nan)
            out[name] = values[at]  # at -1 (no row kept): the NaN appended
        return ends <= self.since, out
