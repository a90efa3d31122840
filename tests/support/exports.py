"""A small folder of Graph JSON exports, as saved from Graph Explorer or `az rest` (the files source's tests)."""

from __future__ import annotations

import json
from pathlib import Path

SSPR = "Self-service Password Management"


def audit(i: int, day: int) -> dict:
    return {
        "id": f"a{i}",
        "activityDateTime": f"2026-11-{day:02d}T10:00:0{i % 10}.1234567Z",
        "activityDisplayName": "Reset password (self-service)",
        "loggedByService": SSPR,
        "result": "success",
        "initiatedBy": {"user": {"id": f"u{i}", "userPrincipalName": f"u{i}@x.example"}},
        "targetResources": [{"id": f"u{i}", "type": "User", "userPrincipalName": f"u{i}@x.example"}],
    }


def write_export(folder: Path, *, registration: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    page = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits",
        "value": [audit(i, 10 + i) for i in range(5)],
    }
    (folder / "audits-page1.json").write_text(json.dumps(page))
    (folder / "audits-page2.jsonl").write_text("\n".join(json.dumps(audit(i, 10 + i)) for i in range(3, 8)))
    risk = [
        {
            "id": "r1",
            "riskEventType": "leakedCredentials",
            "detectedDateTime": "2026-11-12T00:00:00Z",
            "lastUpdatedDateTime": "2026-11-12T01:00:00Z",
            "userPrincipalName": "u1@x.example",
        }
    ]
    (folder / "risk.json").write_text(json.dumps(risk))
    if registration:
        reg = {"value": [{"id": "u1", "userPrincipalName": "u1@x.example", "isSsprRegistered": True}]}
        (folder / "registration.json").write_text(json.dumps(reg))
    (folder / "org.json").write_text(
        json.dumps({"value": [{"id": "tid", "displayName": "Contoso", "verifiedDomains": []}]})
    )
