"""One archived record: the envelope a diagnostic setting wraps around a Graph record, and the record inside.

A line of an hourly ``PT1H.json`` blob is one envelope (``time``, ``category``, ``tenantId``, ``properties``, ...);
an Event Hub capture wraps envelopes as ``{"records": [...]}``. The record is taken from ``properties`` (the Graph
``directoryAudit`` or ``riskDetection`` object with the same camelCase names); the envelope gives only the category
(which kind of data) and, where the record lacks its own time, the time. What real archives hold that Graph does not
(:mod:`sspr_review` reference ``archive-format.md``), read without fuss:

- ``time`` as en-US text without a zone (``8/22/2022 6:07:16 PM``, UTC) on risk categories, or ISO with 7 digits;
- ``Level`` as ``4``, ``"Informational"`` or ``"Information"``, ``durationMs`` as a number or text (both ignored);
- timestamps with an unpadded hour (``2022-09-09T8:48:50.361Z``), padded here so they read as Graph's do; ``+00:00``
  and 6 fractional digits, which read as the same instant;
- a blob-only ``riskType`` (kept; it names ``riskEventType`` when that is missing);
- ``properties`` given as JSON text rather than an object.

Audit events are kept only when the kit's Graph fetch would ask for them (:func:`wanted_audit`): SSPR's own
(either service name, or an SSPR activity), the directory's password resets and the authentication methods' events.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from ...core.errors import NotARecord
from ...core.vocabulary import SSPR_ACTIVITY_NAMES, SSPR_SERVICE, SSPR_SERVICE_SHORT

#: Diagnostic-setting categories (lower case) → the kind of data they hold; others are not read.
CATEGORIES: Final = {"auditlogs": "audit", "userriskevents": "risk"}
#: Categories of Entra's diagnostic settings the kit knows and does not read (RiskyUsers is a state per user, not a
#: detection).
NOT_READ: Final = frozenset({"riskyusers", "signinlogs", "noninteractiveusersigninlogs", "provisioninglogs"})
#: The property that places a record in time, per kind.
TIME_FIELD: Final = {"audit": "activityDateTime", "risk": "detectedDateTime"}
_TIME_FIELDS: Final = ("activityDateTime", "detectedDateTime", "lastUpdatedDateTime")
_UNPADDED_HOUR = re.compile(r"^(\d{4}-\d{2}-\d{2}T)(\d)(:\d{2})")
_EN_US = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))? ?([AaPp][Mm])\s*$")
_SSPR_SERVICES: Final = frozenset({SSPR_SERVICE.lower(), SSPR_SERVICE_SHORT.lower()})
_SSPR_ACTIVITIES: Final = frozenset(a.lower() for a in SSPR_ACTIVITY_NAMES)
#: Bytes an audit line must hold one of to be worth parsing (every wanted event names one): a quick pre-filter over
#: the many directory events of other services an AuditLogs blob holds.
AUDIT_MARKERS: Final = (b"assword", b"SSPR", b"elf-service", b"Authentication Methods")


def envelope_time(value: Any) -> str | None:
    """The envelope's ``time`` as ISO 8601 UTC text: ISO as given, en-US text (``8/22/2022 6:07:16 PM``) converted;
    ``None`` when it is neither."""
    if not isinstance(value, str) or not value.strip():
        return None
    found = _EN_US.match(value)
    if found is None:
        return pad_hour(value.strip())
    month, day, year, hour, minute, second, fraction, half = found.groups()
    hour24 = int(hour) % 12 + (12 if half.lower() == "pm" else 0)
    try:
        moment = datetime(int(year), int(month), int(day), hour24, int(minute), int(second), tzinfo=UTC)
    except ValueError:
        return None
    digits = (fraction or "")[:7]
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{digits}" if digits else "") + "Z"


def pad_hour(text: str) -> str:
    """``2022-09-09T8:48:50Z`` → ``2022-09-09T08:48:50Z`` (other text unchanged)."""
    return _UNPADDED_HOUR.sub(r"\g<1>0\g<2>\g<3>", text)


def kind_of(envelope: Mapping[str, Any], container: str = "") -> str | None:
    """The kind of data of an envelope, from its ``category`` (else from the container's name); ``None`` for a
    category the kit does not read."""
    category = envelope.get("category")
    name = (
        str(category).lower()
        if isinstance(category, str) and category
        else container.lower().removeprefix("insights-logs-")
    )
    return CATEGORIES.get(name)


def record_of(envelope: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The Graph record an envelope carries; :class:`NotARecord` naming what is missing."""
    properties = envelope.get("properties")
    if isinstance(properties, str):
        try:
            properties = json.loads(properties)
        except ValueError:
            raise NotARecord("its properties are text that is not JSON") from None
    if not isinstance(properties, dict):
        raise NotARecord("it has no properties object (the record an archived line carries)")
    record = dict(properties)
    for name in _TIME_FIELDS:
        if isinstance(record.get(name), str):
            record[name] = pad_hour(record[name])
    if kind == "risk" and not record.get("riskEventType") and isinstance(record.get("riskType"), str):
        record["riskEventType"] = record["riskType"]
    field = TIME_FIELD[kind]
    if not record.get(field):
        when = envelope_time(envelope.get("time"))
        if when is not None:
            record[field] = when
    if not isinstance(record.get("id"), str) or not record["id"]:
        raise NotARecord("its properties have no id")
    return record


def wanted_audit(record: Mapping[str, Any]) -> bool:
    """Would the kit's Graph fetch ask for this directory audit event (see the module)?"""
    service = str(record.get("loggedByService") or "").strip().lower()
    activity = str(record.get("activityDisplayName") or "").strip()
    if service in _SSPR_SERVICES or activity.lower() in _SSPR_ACTIVITIES or service == "authentication methods":
        return True
    return service == "core directory" and (activity == "Reset user password" or activity.startswith("Reset password"))
