"""Account matching and the week's password resets: the helpers the rule families and the correlations share.

An account is matched on its object id, else on its UPN when one side has no id (:func:`account_pairs`); rows of
unknown accounts never merge (:func:`account_key`); it is shown by UPN, else object id (:func:`display_name`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._util import (
    NAT,
    lower,
    lower_isin,
    ns,
    to_ns,
    user_key,
)
from .prepare import ReviewData
from .window import ReviewWindow

__all__ = [
    "account_key",
    "account_pairs",
    "as_flag",
    "as_int",
    "display_name",
    "every_reset",
    "in_window",
    "may_pair",
    "resets_between",
    "week_resets",
]


def in_window(times: np.ndarray, window: ReviewWindow) -> np.ndarray:
    """Which ``times`` (int64 ns, NaT excluded) lie in the review window."""
    return np.asarray((times >= to_ns(window.start)) & (times < to_ns(window.end)) & (times != NAT), dtype=bool)


def as_int(value: Any) -> int:
    """A table cell (``DataFrame.at``) as an ``int``."""
    return int(value)


def display_name(frame: pd.DataFrame, upn: str = "user_upn", ident: str = "user_id") -> pd.Series:
    """UPN, else object id, else "(unknown account)"."""
    return frame[upn].astype("string").fillna(frame[ident].astype("string")).fillna("(unknown account)")


def account_pairs(left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
    """Row pairs (``l``, ``r``, positional) of the same account: equal object id, else equal UPN when one side
    has no id. The pairs by id come first, then those by UPN, each ordered by ``l`` then ``r``."""
    lid, rid = _key_codes(left["user_id"], right["user_id"])
    lupn, rupn = _key_codes(left["user_upn"], right["user_upn"])
    l_id, r_id = _equal_codes(lid, rid)
    l_upn, r_upn = _equal_codes(lupn, rupn)
    by_upn = (lid[l_upn] < 0) | (rid[r_upn] < 0)
    return pd.DataFrame(
        {"l": np.concatenate([l_id, l_upn[by_upn]]), "r": np.concatenate([r_id, r_upn[by_upn]])}, dtype=np.int64
    )


def _key_codes(left: pd.Series, right: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The lower-cased values of two columns as integer codes shared by both (-1: missing or blank)."""
    codes, _ = pd.factorize(pd.concat([lower(left), lower(right)], ignore_index=True), use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    return codes[: len(left)], codes[len(left) :]


def _equal_codes(left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (left row, right row) pair with equal non-negative codes, ordered by left row then right row."""
    order = np.argsort(right, kind="stable")
    ranked = right[order]
    lo = np.searchsorted(ranked, left, side="left")
    counts = np.searchsorted(ranked, left, side="right") - lo
    counts[left < 0] = 0
    total = int(counts.sum())
    rows = np.repeat(np.arange(len(left), dtype=np.int64), counts)
    within = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return rows, order[np.repeat(lo, counts) + within].astype(np.int64)


def account_key(frame: pd.DataFrame) -> pd.Series:
    """Account key, falling back to a per-row placeholder so rows of unknown accounts never merge."""
    return _or_row(user_key(frame))


def _or_row(key: pd.Series) -> pd.Series:
    """``key`` (positional), a missing one replaced by its row's placeholder (``row:<position>``)."""
    fallback = pd.Series("row:" + pd.Series(np.arange(len(key))).astype(str).to_numpy(), dtype="string")
    return key.reset_index(drop=True).fillna(fallback)


def as_flag(value: Any) -> bool | None:
    """A nullable boolean cell as ``True``/``False``, missing (None, NA, NaN) as ``None``."""
    return None if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)) else bool(value)


def may_pair(user_ids: pd.Series, user_upns: pd.Series, ids: set[str], upns: set[str]) -> np.ndarray:
    """Rows whose lower-cased id or UPN is among ``ids``/``upns`` (a superset of what :func:`account_pairs` pairs)."""
    return np.asarray(lower_isin(user_ids, ids) | lower_isin(user_upns, upns), dtype=bool)


def week_resets(data: ReviewData, window: ReviewWindow) -> pd.DataFrame:
    """Every password reset of the week: self-service (completed flows) and by an administrator."""
    return resets_between(data, to_ns(window.start), to_ns(window.end))


def resets_between(data: ReviewData, start: int, end: int) -> pd.DataFrame:
    """Every password reset in ``[start, end)`` (ns): self-service (one per completed flow, with its
    ``flow_id``) and by an administrator (``flow_id`` missing), in time order, with ``key`` and ``shown``.

    A time range of :func:`every_reset` (built once per :class:`~.prepare.ReviewData`), ``key`` numbering the
    unknown accounts' rows in the range (:func:`account_key`)."""
    table, keys, shown = data.shared(every_reset)
    times = table["time"].to_numpy()
    first, last = np.searchsorted(times, [start, end], side="left")
    frame = table.iloc[first:last].reset_index(drop=True)
    frame["key"] = _or_row(keys.iloc[first:last]).to_numpy()
    frame["shown"] = shown.iloc[first:last].to_numpy()
    return frame


def every_reset(data: ReviewData) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Every password reset of the tables with a time (see :func:`resets_between`), in time order, without ``key``
    and ``shown``; its accounts' :func:`~._util.user_key` and :func:`display_name` (same rows)."""
    resets = data.resets
    sspr = resets[ns(resets["time"]) != NAT]
    admin = data.admin_resets
    admin = admin[ns(admin["time"]) != NAT]
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "time": ns(sspr["time"]),
                    "user_id": sspr["user_id"].to_numpy(),
                    "user_upn": sspr["user_upn"].to_numpy(),
                    "type": "self_service",
                    "initiator": sspr["user_upn"].to_numpy(),
                    "initiator_type": "user",
                    "ip": sspr["ip"].to_numpy(),
                    "flow_id": sspr["flow_id"].to_numpy(),
                    "correlation_id": sspr["correlation_id"].to_numpy(),
                    "activity": "Reset password (self-service)",
                }
            ),
            pd.DataFrame(
                {
                    "time": ns(admin["time"]),
                    "user_id": admin["user_id"].to_numpy(),
                    "user_upn": admin["user_upn"].to_numpy(),
                    "type": "admin",
                    "initiator": admin["initiator_upn"].fillna(admin["initiator_name"]).to_numpy(),
                    "initiator_type": admin["initiator_type"].to_numpy(),
                    "ip": admin["ip"].to_numpy(),
                    "flow_id": pd.NA,
                    "correlation_id": admin["correlation_id"].to_numpy(),
                    "activity": admin["activity"].to_numpy(),
                }
            ),
        ],
        ignore_index=True,
    )
    for col in (
        "user_id",
        "user_upn",
        "initiator",
        "initiator_type",
        "ip",
        "flow_id",
        "correlation_id",
        "activity",
        "type",
    ):
        frame[col] = frame[col].astype("string")
    frame["time"] = frame["time"].astype(np.int64)
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    return frame, user_key(frame), display_name(frame)
