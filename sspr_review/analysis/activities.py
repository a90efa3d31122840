"""Which audit events are what: every activity name the analyses rely on, in one place.

Names are matched case-insensitively (Graph's capitalisation has changed before) after trimming. Activities
not listed in :data:`KNOWN_ACTIVITIES` are kept and counted as "unknown activities" in the review, never dropped
silently.

===========================  ==================================================================================
kind                         audit events
===========================  ==================================================================================
``sspr_reset``               "Reset password (self-service)"; a *completed* reset when ``result`` is success
``progress``                 "Self-service password reset flow activity progress" (classified by resultReason)
``change``                   "Change password (self-service)"
``unlock``                   "Unlock user account (self-service)"
``blocked``                  "Blocked from self-service password reset"
``admin_reset``              "Reset password (by admin)" (service Self-service Password Management)
``directory_reset``          Core Directory "Reset user password", "Reset password" or another name starting
                             "Reset password"; an admin/helpdesk reset only when a *user* other than the target
                             initiated it, not a ``Sync_`` account, and not part of an SSPR flow
``tap``                      "Admin registered security info" whose resultReason mentions a temporary access pass
``other``                    any other known activity (registration, policy and writeback configuration)
``unknown``                  an activity name the kit does not know
===========================  ==================================================================================
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from ..core.vocabulary import (
    ADMIN_RESET,
    DIRECTORY_RESETS,
    OTHER_KNOWN,
    RESET_PREFIX,
    SSPR_BLOCKED,
    SSPR_CHANGE,
    SSPR_PROGRESS,
    SSPR_RESET,
    SSPR_UNLOCK,
    SUCCESS,
    TAP_ACTIVITY,
    TAP_REASON,
)

#: The kinds :func:`activity_kind` returns, in this order (the categories of its result).
KINDS: Final = (
    "sspr_reset",
    "progress",
    "change",
    "unlock",
    "blocked",
    "admin_reset",
    "directory_reset",
    "tap",
    "other",
    "unknown",
)

_BY_NAME: Final = {
    SSPR_RESET: "sspr_reset",
    SSPR_PROGRESS: "progress",
    SSPR_CHANGE: "change",
    SSPR_UNLOCK: "unlock",
    SSPR_BLOCKED: "blocked",
    ADMIN_RESET: "admin_reset",
} | dict.fromkeys(DIRECTORY_RESETS, "directory_reset")


def _name_kind(name: str) -> str:
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith(RESET_PREFIX):
        return "directory_reset"
    if name in OTHER_KNOWN:
        return "other"
    return "unknown"


def activity_kind(audit: pd.DataFrame) -> pd.Series:
    """The kind of each audit row (a categorical Series over :data:`KINDS`, aligned with ``audit``).

    Works on the distinct activity names (a handful), not per event.
    """
    codes, uniques = pd.factorize(audit["activity"], use_na_sentinel=True)
    names = pd.Index(uniques).astype("string").str.strip().str.lower()
    kind_codes = np.array([KINDS.index(_name_kind(str(n))) for n in names] + [KINDS.index("unknown")], dtype=np.int8)
    event_codes = kind_codes[codes]  # code -1 (missing name) picks the trailing "unknown"
    tap_rows = np.flatnonzero(np.append(np.asarray(names == TAP_ACTIVITY, dtype=bool), False)[codes])
    if tap_rows.size:
        reasons = audit["result_reason"].iloc[tap_rows].astype("string").str.lower()
        mentions = reasons.str.contains(TAP_REASON, regex=False).to_numpy(dtype=bool, na_value=False)
        event_codes[tap_rows[mentions]] = KINDS.index("tap")
    categories = pd.CategoricalDtype(list(KINDS))
    return pd.Series(pd.Categorical.from_codes(event_codes, dtype=categories), index=audit.index, name="kind")


def is_success(audit: pd.DataFrame) -> np.ndarray:
    """Boolean array: the event's ``result`` is success (case-insensitive)."""
    codes, uniques = pd.factorize(audit["result"], use_na_sentinel=True)
    ok = pd.Index(uniques).astype("string").str.strip().str.lower() == SUCCESS
    return np.append(np.asarray(ok, dtype=bool), False)[codes]
