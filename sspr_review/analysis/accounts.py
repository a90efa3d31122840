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
    has no id."""
    cols = ["l", "id", "upn"]
    a = pd.DataFrame(
        {"l": np.arange(len(left)), "id": lower(left["user_id"]).array, "upn": lower(left["user_upn"]).array}
    )
    b = pd.DataFrame(
        {"r": np.arange(len(right)), "id": lower(right["user_id"]).array, "upn": lower(right["user_upn"]).array}
    )
    by_id = a[cols].dropna(subset=["id"]).merge(b.dropna(subset=["id"]), on="id")[["l", "r"]]
    by_upn = a.dropna(subset=["upn"]).merge(b.dropna(subset=["upn"]), on="upn", suffixes=("", "_r"))
    by_upn = by_upn[by_upn["id"].isna().to_numpy() | by_upn["id_r"].isna().to_numpy()][["l", "r"]]
    return pd.concat([by_id, by_upn], ignore_index=True).drop_duplicates().reset_index(drop=True)


def account_key(frame: pd.DataFrame) -> pd.Series:
    """Account key, falling back to a per-row placeholder so rows of unknown accounts never merge."""
    key = user_key(frame)
    fallback = pd.Series("row:" + pd.Series(np.arange(len(frame))).astype(str).to_numpy(), dtype="string")
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
    ``flow_id``) and by an administrator (``flow_id`` missing), in time order, with ``key`` and ``shown``."""
    resets = data.resets
    t = ns(resets["time"])
    sspr = resets[(t >= start) & (t < end) & (t != NAT)]
    admin = data.admin_resets
    ta = ns(admin["time"])
    admin = admin[(ta >= start) & (ta < end) & (ta != NAT)]
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
    frame["key"] = account_key(frame).to_numpy()
    frame["shown"] = display_name(frame).to_numpy()
    return frame
