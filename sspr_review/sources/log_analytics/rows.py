"""Workspace rows → the Graph JSON records they came from (``directoryAudit``, ``riskDetection``).

The workspace tables hold Graph's fields in PascalCase; the dynamic columns (``InitiatedBy``, ``TargetResources``,
``AdditionalDetails``, ``Location``) arrive as JSON text and are decoded into the objects Graph sends. Each record
keeps the row as received under :data:`ROW_KEY` (``{"table": ..., "row": {column: value}}``), so the store's
``raw`` holds what the workspace said beside the Graph shape the normalisation reads.

Kusto has no null text: an empty string column becomes Graph's ``null`` (``resultReason`` stays ``""``, as
Graph sends it).

The SSPR step text ("User submitted their user ID") sits in ``ResultReason`` in some workspaces and in
``ResultDescription`` in others: a row's ``resultReason`` is its ``ResultReason`` when that holds text, else its
``ResultDescription``; :class:`StepText` counts which column supplied it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..base import Record

#: Where a record keeps the workspace row it was made from.
ROW_KEY = "_logAnalytics"

#: Graph directoryAudit field → AuditLogs column (besides the step text and the dynamic columns).
AUDIT_FIELDS = {
    "id": "Id",
    "category": "Category",
    "correlationId": "CorrelationId",
    "result": "Result",
    "activityDisplayName": "ActivityDisplayName",
    "activityDateTime": "ActivityDateTime",
    "loggedByService": "LoggedByService",
    "operationType": "AADOperationType",
}
AUDIT_DYNAMIC = {"initiatedBy": "InitiatedBy", "targetResources": "TargetResources"}
#: Graph riskDetection field → AADUserRiskEvents column (besides the dynamic ones).
RISK_FIELDS = {
    name: name[0].upper() + name[1:]
    for name in (
        "id",
        "requestId",
        "correlationId",
        "riskEventType",
        "riskState",
        "riskLevel",
        "riskDetail",
        "source",
        "detectionTimingType",
        "activity",
        "tokenIssuerType",
        "ipAddress",
        "activityDateTime",
        "detectedDateTime",
        "lastUpdatedDateTime",
        "userId",
        "userDisplayName",
        "userPrincipalName",
    )
}


@dataclass
class StepText:
    """Which column held the SSPR step text, counted over the rows read."""

    counts: dict[str, int] = field(default_factory=lambda: {"ResultReason": 0, "ResultDescription": 0})

    def note(self) -> str | None:
        """ "step text from ResultDescription" (or ResultReason, or both with counts); ``None`` before any."""
        used = {k: v for k, v in self.counts.items() if v}
        if not used:
            return None
        if len(used) == 1:
            return f"step text from {next(iter(used))}"
        return "step text from " + " and ".join(f"{k} ({v} rows)" for k, v in used.items())


def decode(value: Any) -> Any:
    """A dynamic column's value as the JSON it holds (text that is not JSON stays text; empty text is null)."""
    if not isinstance(value, str):
        return value
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


def _index(columns: Sequence[str], wanted: Sequence[str]) -> dict[str, int | None]:
    at = {name: i for i, name in enumerate(columns)}
    return {name: at.get(name) for name in wanted}


def audit_records(columns: Sequence[str], rows: Sequence[Sequence[Any]], steps: StepText) -> list[Record]:
    """AuditLogs rows → directoryAudit records."""
    at = _index(columns, [*AUDIT_FIELDS.values(), *AUDIT_DYNAMIC.values(), "AdditionalDetails"])
    reason_at = _index(columns, ["ResultReason", "ResultDescription"])
    plain = [(name, at[col]) for name, col in AUDIT_FIELDS.items()]
    dynamic = [(name, at[col]) for name, col in AUDIT_DYNAMIC.items()]
    details_at = at["AdditionalDetails"]
    reason_i, description_i = reason_at["ResultReason"], reason_at["ResultDescription"]
    names = list(columns)
    out: list[Record] = []
    for row in rows:
        record: Record = {name: (row[i] if i is not None and row[i] != "" else None) for name, i in plain}
        reason = row[reason_i] if reason_i is not None else None
        if reason:
            steps.counts["ResultReason"] += 1
        else:
            description = row[description_i] if description_i is not None else None
            if description:
                steps.counts["ResultDescription"] += 1
                reason = description
        record["resultReason"] = reason if reason is not None else ""
        for name, i in dynamic:
            record[name] = decode(row[i]) if i is not None else None
        details = decode(row[details_at]) if details_at is not None else None
        record["additionalDetails"] = [] if details is None else details
        record[ROW_KEY] = {"table": "AuditLogs", "row": dict(zip(names, row, strict=True))}
        out.append(record)
    return out


def risk_records(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Record]:
    """AADUserRiskEvents rows → riskDetection records (``additionalInfo`` stays JSON text, as Graph sends it)."""
    at = _index(columns, [*RISK_FIELDS.values(), "Location", "AdditionalInfo"])
    plain = [(name, at[col]) for name, col in RISK_FIELDS.items()]
    location_at, info_at = at["Location"], at["AdditionalInfo"]
    names = list(columns)
    out: list[Record] = []
    for row in rows:
        record: Record = {name: (row[i] if i is not None and row[i] != "" else None) for name, i in plain}
        record["location"] = decode(row[location_at]) if location_at is not None else None
        info = row[info_at] if info_at is not None else None
        record["additionalInfo"] = info if isinstance(info, str) or info is None else json.dumps(info)
        record[ROW_KEY] = {"table": "AADUserRiskEvents", "row": dict(zip(names, row, strict=True))}
        out.append(record)
    return out
