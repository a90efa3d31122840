"""Columns and dtypes of the normalised tables.

Every table the kit hands to analyses and notebooks is described here, once. Code refers to columns through
these definitions (or their names) rather than spelling them out again, and :func:`empty` builds a correctly
typed empty frame, so "no rows" never differs in shape from "some rows".

Timestamps are ``datetime64[ns, UTC]``; strings are pandas' ``string`` dtype with ``<NA>`` for missing values;
booleans are the nullable ``boolean`` dtype (a registration row whose flag Graph did not send stays ``<NA>``,
never silently ``False``).

Tables
------
``audit`` (one row per directoryAudit record)
    ``id``, ``activity_time``, ``service`` (loggedByService), ``category``, ``activity``
    (activityDisplayName), ``operation_type``, ``result``, ``result_reason``, ``correlation_id``,
    ``initiator_type`` ("user", "app" or <NA>), ``initiator_id``, ``initiator_upn``, ``initiator_name``
    (user display name or app display name), ``ip`` (initiatedBy.user.ipAddress), ``target_id``,
    ``target_upn``, ``target_name`` (first target resource of type User, else the first target),
    ``user_id``, ``user_upn``, ``user_name`` (the account the event is about: the target user when there is
    one, else the initiating user), ``on_premises_agent`` (additionalDetails ``OnPremisesAgent``),
    ``additional_details`` (JSON object text of all key/value pairs), ``known_activity`` (the kit knows the
    activity name), ``known_result`` (result is one of Graph's documented values).
``risk`` (one row per riskDetection, newest ``lastUpdatedDateTime`` wins)
    ``id``, ``request_id``, ``correlation_id``, ``risk_event_type``, ``risk_state``, ``risk_level``,
    ``risk_detail``, ``source``, ``detection_timing_type``, ``activity``, ``ip``, ``city``, ``state``,
    ``country``, ``activity_time``, ``detected_time``, ``last_updated_time``, ``user_id``, ``user_upn``,
    ``user_name``, ``additional_info`` (decoded and re-encoded JSON text; the original text when it is not
    valid JSON), ``known_enums`` (every enum value is one the kit knows).
``registration`` (one row per user per snapshot day)
    ``snapshot_date`` (UTC midnight of the fetch day), ``user_id``, ``user_upn``, ``user_name``,
    ``user_type``, ``is_admin``, ``is_sspr_registered``, ``is_sspr_enabled``, ``is_sspr_capable``,
    ``is_mfa_registered``, ``is_mfa_capable``, ``is_passwordless_capable``, ``methods_registered`` (sorted,
    comma-separated method names), ``method_count``, ``last_updated_time``.
``privileged`` (one row per principal per role per snapshot day)
    ``snapshot_date``, ``principal_id``, ``principal_type`` ("user", "group", "servicePrincipal", ...),
    ``user_upn``, ``user_name``, ``role_id`` (roleDefinitionId), ``role_name``, ``assignment``
    ("active", "eligible" or "isAdmin" when only the registration report's flag was available),
    ``via_group_id``, ``via_group_name`` (set when the role reaches the user through a group).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import pandas as pd

from .records import as_text

TS: Final = "datetime64[ns, UTC]"
STR: Final = "string"
BOOL: Final = "boolean"
INT: Final = "Int64"

AUDIT: Final[Mapping[str, str]] = {
    "id": STR,
    "activity_time": TS,
    "service": STR,
    "category": STR,
    "activity": STR,
    "operation_type": STR,
    "result": STR,
    "result_reason": STR,
    "correlation_id": STR,
    "initiator_type": STR,
    "initiator_id": STR,
    "initiator_upn": STR,
    "initiator_name": STR,
    "ip": STR,
    "target_id": STR,
    "target_upn": STR,
    "target_name": STR,
    "user_id": STR,
    "user_upn": STR,
    "user_name": STR,
    "on_premises_agent": STR,
    "additional_details": STR,
    "known_activity": BOOL,
    "known_result": BOOL,
}

RISK: Final[Mapping[str, str]] = {
    "id": STR,
    "request_id": STR,
    "correlation_id": STR,
    "risk_event_type": STR,
    "risk_state": STR,
    "risk_level": STR,
    "risk_detail": STR,
    "source": STR,
    "detection_timing_type": STR,
    "activity": STR,
    "ip": STR,
    "city": STR,
    "state": STR,
    "country": STR,
    "activity_time": TS,
    "detected_time": TS,
    "last_updated_time": TS,
    "user_id": STR,
    "user_upn": STR,
    "user_name": STR,
    "additional_info": STR,
    "known_enums": BOOL,
}

REGISTRATION: Final[Mapping[str, str]] = {
    "snapshot_date": TS,
    "user_id": STR,
    "user_upn": STR,
    "user_name": STR,
    "user_type": STR,
    "is_admin": BOOL,
    "is_sspr_registered": BOOL,
    "is_sspr_enabled": BOOL,
    "is_sspr_capable": BOOL,
    "is_mfa_registered": BOOL,
    "is_mfa_capable": BOOL,
    "is_passwordless_capable": BOOL,
    "methods_registered": STR,
    "method_count": INT,
    "last_updated_time": TS,
}

PRIVILEGED: Final[Mapping[str, str]] = {
    "snapshot_date": TS,
    "principal_id": STR,
    "principal_type": STR,
    "user_upn": STR,
    "user_name": STR,
    "role_id": STR,
    "role_name": STR,
    "assignment": STR,
    "via_group_id": STR,
    "via_group_name": STR,
}

TABLES: Final[Mapping[str, Mapping[str, str]]] = {
    "audit": AUDIT,
    "risk": RISK,
    "registration": REGISTRATION,
    "privileged": PRIVILEGED,
}


def empty(table: str) -> pd.DataFrame:
    """An empty frame with ``table``'s columns and dtypes."""
    return conform(pd.DataFrame(), table)


def utc_times(values: pd.Series) -> pd.Series:
    """ISO 8601 text as UTC nanosecond timestamps; unreadable text, and times outside what nanosecond timestamps
    hold (1677-09-21 to 2262-04-11, such as year 1 or 9999), become ``NaT``."""
    out = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    if out.dtype != TS:  # pandas may pick a coarser unit that holds years 1 to 9999
        lowest, highest = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")
        out = out.where((out >= lowest) & (out <= highest)).astype(TS)
    return out


def parse_times(values: Sequence[Any]) -> pd.Series:
    """Graph time strings as UTC timestamps, exactly as normalisation reads them (unreadable: ``NaT``)."""
    return utc_times(pd.Series([as_text(v) for v in values], dtype=object))


def conform(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return ``frame`` with exactly ``table``'s columns, in order, cast to their dtypes.

    Missing columns are added as all-missing; extra columns are dropped. Raises ``KeyError`` for an
    unknown table name.
    """
    spec = TABLES[table]
    out = pd.DataFrame(index=frame.index)
    for name, dtype in spec.items():
        if name in frame.columns:
            col = frame[name]
            if dtype == TS:
                out[name] = utc_times(col)
            else:
                out[name] = col.astype(dtype)  # type: ignore[call-overload]
        else:
            out[name] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
    return out.reset_index(drop=True)
