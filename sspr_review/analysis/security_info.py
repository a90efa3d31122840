"""Security-info changes and the password resets around them: what the account-takeover rules of :mod:`.takeover`
read (which events change a user's security info, the method they name, each reset with its SSPR flow and IPs)."""

from __future__ import annotations

import re
from typing import Any, Final

import numpy as np
import pandas as pd

from ..core import vocabulary
from ._util import NAT, iso, lower, lower_isin, ns, plain, take_rows
from .accounts import as_int, resets_between
from .flows import is_kind, method_labels
from .prepare import ReviewData

__all__ = [
    "AUTH_METHODS_SERVICE",
    "CHANGE_ACTIVITIES",
    "UNKNOWN_CHANGE",
    "flow_rows",
    "reset_ips",
    "reset_record",
    "resets_with_flows",
    "security_info_changes",
]

#: Authentication Methods activities that change a user's security info (lower case). "Admin registered
#: security info" counts unless it issued a Temporary Access Pass (kind ``tap``).
CHANGE_ACTIVITIES: Final = frozenset(
    {
        "user registered security info",
        "user updated security info",
        "user changed default security info",
        "user deleted security info",
        "user registered all required security info",
        "admin registered security info",
        "admin updated security info",
        "admin deleted security info",
    }
)
#: An activity of the Authentication Methods service the kit does not know counts as a change when its name
#: mentions security info and says it was registered, changed or deleted (in the past tense: "started ...
#: registration" is not a change).
UNKNOWN_CHANGE: Final = re.compile(
    r"security info.*\b(registered|updated|changed|deleted|removed)\b|"
    r"\b(registered|updated|changed|deleted|removed)\b.*security info"
)
_DELETION: Final = re.compile(r"\b(deleted|removed)\b")
AUTH_METHODS_SERVICE: Final = "authentication methods"

#: Method names recognised in a security-info event's resultReason ("User registered Authenticator App with
#: Notification"), first match wins.
_REASON_METHODS: Final = (
    ("temporary access pass", "temporary access pass"),
    ("fido2", "passkey / FIDO2"),
    ("passkey", "passkey / FIDO2"),
    ("security key", "passkey / FIDO2"),
    ("windows hello", "Windows Hello for Business"),
    ("authenticator app with notification", "Authenticator app (notification)"),
    ("authenticator app with code", "Authenticator app (code)"),
    ("authenticator", "Authenticator app"),
    ("office phone", "office phone"),
    ("alternate mobile phone", "alternate mobile phone"),
    ("mobile phone", "mobile phone"),
    ("phone", "phone"),
    ("email", "email"),
    ("security questions", "security questions"),
    ("hardware", "hardware OATH token"),
    ("password", "password"),
)


def _name_flags(names: pd.Series, services: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per row (computed on the distinct names): the activity changes security info (known, or unknown and of
    the Authentication Methods service with a name saying so), and it deleted a method."""
    codes, uniques = pd.factorize(names, use_na_sentinel=True)
    text = lower(pd.Series(pd.Index(uniques), dtype="string")).fillna("")
    known = text.isin(CHANGE_ACTIVITIES).to_numpy(dtype=bool)
    unknown = ~text.isin(vocabulary.KNOWN_ACTIVITIES).to_numpy(dtype=bool) & np.array(
        [bool(UNKNOWN_CHANGE.search(t)) for t in text.tolist()], dtype=bool
    )
    deletion = np.array([bool(_DELETION.search(t)) for t in text.tolist()], dtype=bool)
    known_row = np.append(known, False)[codes]
    unknown_row = np.append(unknown, False)[codes] & lower_isin(services, [AUTH_METHODS_SERVICE])
    return known_row | unknown_row, np.append(deletion, False)[codes]


def _reason_method(reasons: pd.Series) -> np.ndarray:
    """The method a resultReason names (see :data:`_REASON_METHODS`), else ``None``; per distinct text."""
    codes, uniques = pd.factorize(reasons, use_na_sentinel=True)
    found = []
    for text in lower(pd.Series(pd.Index(uniques), dtype="string")).fillna("").tolist():
        found.append(next((label for pattern, label in _REASON_METHODS if pattern in text), None))
    return np.array([*found, None], dtype=object)[codes]


def security_info_changes(data: ReviewData, start: int | None = None, end: int | None = None) -> pd.DataFrame:
    """Successful security-info changes (see :data:`CHANGE_ACTIVITIES`) in ``[start, end)`` (int64 ns; None:
    open), Temporary Access Passes excluded, one row per event (the same record twice, or identical events of
    one sitting, once): ``time`` (int64 ns), ``user_id``, ``user_upn``, ``ip``, ``activity``, ``reason``,
    ``method``, ``deletion``, ``initiator``, ``initiator_type``, ``id``; sorted by time."""
    audit, events = data.audit, data.events
    time = events["time"].to_numpy()
    span = time != NAT
    if start is not None:
        span &= time >= start
    if end is not None:
        span &= time < end
    candidates = np.flatnonzero(span)
    change, deletion = _name_flags(audit["activity"].iloc[candidates], audit["service"].iloc[candidates])
    keep = change & events["success"].to_numpy(dtype=bool)[candidates] & ~is_kind(events, "tap")[candidates]
    rows, deletion = candidates[keep], deletion[keep]
    cols = ["id", "user_id", "user_upn", "ip", "activity", "result_reason", "initiator_upn", "initiator_name"]
    picked = take_rows(audit, rows, [*cols, "initiator_type"]).reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "time": events["time"].to_numpy()[rows],
            "user_id": picked["user_id"].astype("string").array,
            "user_upn": picked["user_upn"].astype("string").array,
            "ip": picked["ip"].astype("string").array,
            "activity": picked["activity"].astype("string").array,
            "reason": picked["result_reason"].astype("string").str.strip().mask(lambda s: s == "").array,
            "method": _reason_method(picked["result_reason"]),
            "deletion": deletion,
            "initiator": picked["initiator_upn"].fillna(picked["initiator_name"]).astype("string").array,
            "initiator_type": picked["initiator_type"].astype("string").array,
            "id": picked["id"].astype("string").array,
        }
    )
    with_id = frame["id"].notna().to_numpy(dtype=bool)
    frame = pd.concat([frame[with_id].drop_duplicates("id"), frame[~with_id]], ignore_index=True)
    same = ["time", "user_id", "user_upn", "ip", "activity", "reason", "initiator"]
    frame = frame.drop_duplicates(same)
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def flow_rows(data: ReviewData, flow_ids: pd.Series, start: int, end: int) -> np.ndarray:
    """Row numbers in ``data.flows`` of the flows ``flow_ids`` that completed in ``[start, end)`` (-1 when not
    found); only those flows are indexed."""
    flows = data.flows
    done = ns(flows["completed_time"])
    candidates = np.flatnonzero(flows["completed"].to_numpy(dtype=bool) & (done >= start) & (done < end))
    index = pd.Index(flows["flow_id"].iloc[candidates].astype("string"))
    pos = np.asarray(index.get_indexer(pd.Index(pd.Series(flow_ids, dtype="string"))), dtype=np.int64)
    return np.where(pos >= 0, candidates[np.maximum(pos, 0)] if candidates.size else -1, -1)


def _flow_ips(data: ReviewData, flow_rows: np.ndarray) -> pd.DataFrame:
    """Distinct (``flow``, ``ip``) of the events of these flows."""
    flow_of = data.events["flow"].to_numpy()
    rows = np.flatnonzero(np.isin(flow_of, flow_rows[flow_rows >= 0]))
    ips = take_rows(data.audit, rows, ["ip"])["ip"].astype("string")
    out = pd.DataFrame({"flow": flow_of[rows].astype(np.int64), "ip": ips.to_numpy()}).dropna(subset=["ip"])
    return out.drop_duplicates().reset_index(drop=True)


def resets_with_flows(data: ReviewData, start: int, end: int) -> pd.DataFrame:
    """:func:`~.accounts.resets_between` with ``flow`` (row in ``data.flows``, -1 for admin resets) and the
    flow's ``verified_bits`` (0 for admin resets)."""
    frame = resets_between(data, start, end)
    flow = flow_rows(data, frame["flow_id"], start, end)
    verified = data.flows["verified_bits"].to_numpy()
    frame["flow"] = flow.astype(np.int64)
    frame["verified_bits"] = np.where(flow >= 0, verified[np.maximum(flow, 0)] if len(verified) else 0, 0).astype(
        np.int64
    )
    return frame


def reset_ips(data: ReviewData, resets: pd.DataFrame, rows: np.ndarray | None = None) -> pd.DataFrame:
    """Distinct (``l`` = row of ``resets``, ``ip``) of the resets at ``rows`` (default: all): every IP of an SSPR
    reset's flow, an admin reset's IP."""
    rows = np.arange(len(resets)) if rows is None else np.asarray(rows, dtype=np.int64)
    flow = resets["flow"].to_numpy()[rows]
    flow_ips = _flow_ips(data, flow)
    by_flow = pd.DataFrame({"l": rows, "flow": flow}).merge(flow_ips, on="flow")[["l", "ip"]]
    own = pd.DataFrame({"l": rows, "ip": resets["ip"].to_numpy()[rows]}).dropna(subset=["ip"])
    out = pd.concat([by_flow, own], ignore_index=True).astype({"l": np.int64, "ip": "string"})
    return out.drop_duplicates().reset_index(drop=True)


def reset_record(resets: pd.DataFrame, i: int, ips: list[str]) -> dict[str, Any]:
    """Reset ``i`` of :func:`resets_with_flows` as evidence, with its IPs ``ips``."""
    bits = np.asarray([resets.at[i, "verified_bits"]], dtype=np.int64)
    methods = [m for m in str(method_labels(bits)[0]).split(",") if m]
    return {
        "time": iso(as_int(resets.at[i, "time"])),
        "type": plain(resets.at[i, "type"]),
        "initiator": plain(resets.at[i, "initiator"]),
        "initiator_type": plain(resets.at[i, "initiator_type"]),
        "ip": plain(resets.at[i, "ip"]),
        "ips": ips,
        "methods_verified": methods if resets.at[i, "type"] == "self_service" else None,
        "correlation_id": plain(resets.at[i, "correlation_id"]),
        "activity": plain(resets.at[i, "activity"]),
    }
