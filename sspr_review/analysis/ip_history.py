"""Which IP addresses an account used, and when: the events users initiated with an IP (:func:`initiated_events`)
and an account's IP history over a lookback (:func:`ip_history`, the tables' events and, before them, the store's
per-week summaries), which the phone-only and reset-spike rules read to tell an IP new to an account."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import vocabulary
from ._util import NAT, isin, lower, lower_isin, take_rows
from .flows import is_kind
from .prepare import ReviewData
from .security_info import AUTH_METHODS_SERVICE

__all__ = ["initiated_events", "ip_history"]


def initiated_events(
    data: ReviewData, ids: set[str] | None, upns: set[str] | None, begin: int, end: int
) -> pd.DataFrame:
    """Events in ``[begin, end)`` with an IP that a user initiated (SSPR, password change or security info), of the
    users whose lower-cased id or UPN is in ``ids``/``upns`` (both ``None``: of every user): ``time``,
    ``user_id``, ``user_upn``, ``ip`` (lower case), ``flow``."""
    audit, events = data.audit, data.events
    time = events["time"].to_numpy()
    rows = np.flatnonzero((time != NAT) & (time >= begin) & (time < end))
    rows = rows[lower_isin(audit["initiator_type"].iloc[rows], ["user"])]
    if ids is not None or upns is not None:
        ids_of, upns_of = audit["initiator_id"].iloc[rows], audit["initiator_upn"].iloc[rows]
        rows = rows[lower_isin(ids_of, ids or set()) | lower_isin(upns_of, upns or set())]
    services = lower_isin(audit["service"].iloc[rows], [vocabulary.SSPR_SERVICE.lower(), AUTH_METHODS_SERVICE])
    kinds = is_kind(events, "sspr_reset", "progress", "change", "unlock", "blocked")[rows]
    rows = rows[services | kinds]
    picked = take_rows(audit, rows, ["initiator_id", "initiator_upn", "ip"]).reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "time": time[rows],
            "user_id": picked["initiator_id"].astype("string").array,
            "user_upn": picked["initiator_upn"].astype("string").array,
            "ip": lower(picked["ip"]).array,
            "flow": events["flow"].to_numpy()[rows].astype(np.int64),
        }
    )
    return frame.dropna(subset=["ip"]).reset_index(drop=True)


def ip_history(data: ReviewData, ids: set[str], upns: set[str], begin: int, end: int) -> pd.DataFrame:
    """:func:`initiated_events` of the accounts in ``[begin, end)``; with ``data.history``, those before its
    ``since`` are each account's last use of each IP in a week, from the history (``flow`` -1: in no flow the
    tables hold).

    The window's answers are kept (:class:`_IpHistories`): accounts and times within an earlier answer's are its
    rows of them (the phone-only rule asks for some of the accounts the spike rule asked for, over less time)."""
    answers = data.derived(_IpHistories.of)
    found = answers.within(ids, upns, begin, end)
    if found is not None:
        return found
    start, kept = data.lookback("ips", begin, end, ids, upns)
    hist = initiated_events(data, ids, upns, start, end)
    if kept is not None and not kept.empty:
        hist = pd.concat([hist, kept.assign(flow=np.int64(-1))[list(hist.columns)]], ignore_index=True)
    answers.keep(ids, upns, begin, end, hist)
    return hist.copy(deep=False)


@dataclass
class _IpHistories:
    """The :func:`ip_history` answers of one window: their accounts (lower-cased ids and UPNs), times and rows,
    with the rows' ids and UPNs lower-cased (how the accounts were matched: the tables' by :func:`lower`, the
    history's as kept, lower-cased already)."""

    answers: list[tuple[frozenset[str], frozenset[str], int, int, pd.DataFrame, pd.Series, pd.Series]]

    @classmethod
    def of(cls, data: ReviewData) -> _IpHistories:
        return cls([])

    def keep(self, ids: set[str], upns: set[str], begin: int, end: int, rows: pd.DataFrame) -> None:
        self.answers.append(
            (frozenset(ids), frozenset(upns), begin, end, rows, lower(rows["user_id"]), lower(rows["user_upn"]))
        )

    def within(self, ids: set[str], upns: set[str], begin: int, end: int) -> pd.DataFrame | None:
        """The rows of the accounts in ``[begin, end)``, from an answer that covers them; ``None`` without one."""
        for known_ids, known_upns, start, stop, rows, row_ids, row_upns in self.answers:
            if start <= begin and end <= stop and ids <= known_ids and upns <= known_upns:
                time = rows["time"].to_numpy()
                keep = (time >= begin) & (time < end) & (isin(row_ids, ids) | isin(row_upns, upns))
                found: pd.DataFrame = rows[keep].reset_index(drop=True)
                return found
        return None
