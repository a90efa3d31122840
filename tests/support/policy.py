"""Graph-shaped SSPR configuration events for the policy tests: "Update SSPR Settings" with one modifiedProperty
per setting, and the writeback switches, as directoryAudit records (normalised by the real normalisation)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pandas as pd

from sspr_review.ingest import normalize

SERVICE = "Self-service Password Management"
_ids = itertools.count(1)


def double(value: Any) -> str:
    """A value encoded as public hunting queries find it: the JSON text of the JSON text (``"\\"2\\""``)."""
    return json.dumps(json.dumps(value))


def prop(name: str, old: Any, new: Any) -> dict[str, Any]:
    """One modifiedProperty; ``old`` and ``new`` are given exactly as logged (strings, or anything else)."""
    return {"displayName": name, "oldValue": old, "newValue": new}


def admin(name: str = "admin", ip: str | None = "198.51.100.7") -> dict[str, Any]:
    return {
        "user": {
            "id": f"id-{name}",
            "userPrincipalName": f"{name}@contoso.com",
            "displayName": name.title(),
            "ipAddress": ip,
        },
        "app": None,
    }


def update(
    time: str, *props: dict[str, Any], by: str = "admin", ip: str | None = "198.51.100.7", result: str = "success"
) -> dict[str, Any]:
    """An "Update SSPR Settings" event at ``time`` (ISO, UTC) by ``by``@contoso.com."""
    n = next(_ids)
    return {
        "id": f"SSPR_policy_{n}",
        "category": "PolicyManagement",
        "correlationId": f"corr-policy-{n}",
        "result": result,
        "resultReason": "",
        "activityDisplayName": "Update SSPR Settings",
        "activityDateTime": time,
        "loggedByService": SERVICE,
        "operationType": "Update",
        "initiatedBy": admin(by, ip),
        "targetResources": [
            {
                "id": "00000000-0000-0000-0000-000000000000",
                "displayName": "SSPR policy",
                "type": "Other",
                "modifiedProperties": list(props),
            }
        ],
        "additionalDetails": [],
    }


def writeback(time: str, enable: bool, *, by: str = "admin") -> dict[str, Any]:
    n = next(_ids)
    return {
        "id": f"SSPR_writeback_{n}",
        "category": "DirectoryManagement",
        "correlationId": f"corr-writeback-{n}",
        "result": "success",
        "resultReason": "",
        "activityDisplayName": f"{'Enable' if enable else 'Disable'} password writeback for directory",
        "activityDateTime": time,
        "loggedByService": SERVICE,
        "operationType": "Update",
        "initiatedBy": admin(by),
        "targetResources": [],
        "additionalDetails": [],
    }


def audit_of(*records: dict[str, Any]) -> pd.DataFrame:
    """The records normalised as a fetch stores them (with ``raw``)."""
    frame, report = normalize.audit(list(records))
    assert not report.rejected, report.lines()
    return frame
