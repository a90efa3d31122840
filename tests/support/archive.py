"""Diagnostic-setting archives built from Graph records, for the archive tests: the same records Graph serves,
wrapped in the envelopes a storage account holds, with the traps real archives show (reference
``archive-format.md``), written as a downloaded container tree or uploaded to Azurite as append blobs.

Traps, each on some records: CRLF line ends; ``Level`` as 4, "Informational" or "Information"; ``durationMs`` as a
number or text; ``resourceId`` in varying case; audit ``activityDateTime`` with 6 fractional digits and ``+00:00``;
risk envelope ``time`` as en-US text; a blob-only ``riskType`` (and a record carrying only it); risk timestamps with
an unpadded hour; a record delivered twice (a newer envelope time, the same ``properties``); one hour's blob as an
Event Hub capture (``{"records": [...]}``); directory events of other services (skipped); both path layouts.
"""

from __future__ import annotations

import copy
import json
import re
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

CONTAINERS = {"audit": "insights-logs-auditlogs", "risk": "insights-logs-userriskevents"}
CATEGORY = {"audit": "AuditLogs", "risk": "UserRiskEvents"}
#: Which records place themselves in which hour: audit by event time, risk by the time it was last updated (a
#: detection is written again when it changes, as Graph's lastUpdatedDateTime filter sees it).
PLACED = {"audit": "activityDateTime", "risk": "lastUpdatedDateTime"}
LEVELS: tuple[Any, ...] = (4, "Informational", "Information")


def _time(text: str) -> datetime:
    return datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", text.replace("Z", "+00:00"))).astimezone(UTC)


def _en_us(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {'PM' if moment.hour >= 12 else 'AM'}"


def envelope(kind: str, record: dict[str, Any], tenant: str, i: int, *, later: bool = False) -> dict[str, Any]:
    """``record`` as a diagnostic setting archives it (the ``i``-th: which traps it carries)."""
    props = copy.deepcopy(record)
    moment = _time(props[PLACED[kind]]) + (timedelta(minutes=7) if later else timedelta(0))
    if kind == "audit" and i % 5 == 0:  # the same instant written another way: +00:00, 6 digits where exact
        text = str(props["activityDateTime"]).removesuffix("Z")
        whole, _, fraction = text.partition(".")
        digits = fraction[:6] if fraction[6:].strip("0") == "" else fraction
        props["activityDateTime"] = f"{whole}.{digits or '0'}+00:00"
    if kind == "risk":
        props["riskType"] = props.get("riskEventType")
        if i % 4 == 1:
            props.pop("riskEventType", None)  # only the blob's riskType names it
        for name in ("detectedDateTime", "lastUpdatedDateTime"):
            if isinstance(props.get(name), str):
                props[name] = re.sub(r"T0(\d):", r"T\1:", props[name])  # 2022-09-09T8:48:50.361Z
    out: dict[str, Any] = {
        "time": _en_us(moment) if kind == "risk" else moment.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
        "resourceId": f"/tenants/{tenant}/providers/{'Microsoft.aadiam' if i % 2 else 'MICROSOFT.AADIAM'}",
        "operationName": props.get("activityDisplayName", "User Risk Detection"),
        "operationVersion": "1.0",
        "category": CATEGORY[kind],
        "tenantId": tenant,
        "resultType": str(props.get("result", "")),
        "durationMs": i if i % 2 else str(i),
        "callerIpAddress": "",
        "correlationId": props.get("correlationId") or props.get("id"),
        "identity": "",
        ("Level" if i % 2 else "level"): LEVELS[i % 3],
        "location": "",
        "properties": props,
    }
    return out


def other_service(hour: datetime, tenant: str, n: int) -> dict[str, Any]:
    """A directory event of another service, as every hour of an AuditLogs archive holds (the kit skips it)."""
    props = {
        "id": f"Directory_other_{n}",
        "category": "UserManagement",
        "activityDateTime": (hour + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
        "activityDisplayName": "Update user",
        "loggedByService": "Core Directory",
        "operationType": "Update",
        "result": "success",
    }
    return envelope("audit", props, tenant, 1)


def blobs(
    records: dict[str, list[dict[str, Any]]], tenant: str, span: dict[str, tuple[datetime, datetime]]
) -> dict[tuple[str, str], bytes]:
    """(container, blob path) → the blob's bytes, one blob per hour in each kind's ``span`` (a quiet hour of the
    audit log holds other services' events; of the risk log, an empty append blob)."""
    lines: dict[tuple[str, datetime], list[bytes]] = defaultdict(list)
    for kind, items in records.items():
        for i, record in enumerate(sorted(items, key=lambda r: r["id"])):
            hour = _time(record[PLACED[kind]]).replace(minute=0, second=0, microsecond=0)
            lines[(kind, hour)].append(json.dumps(envelope(kind, record, tenant, i)).encode())
            if i % 10 == 3:  # delivered again, a few minutes later, in the same hour's blob
                lines[(kind, hour)].append(json.dumps(envelope(kind, record, tenant, i, later=True)).encode())
    out: dict[tuple[str, str], bytes] = {}
    n = 0
    for kind, (first, last) in span.items():
        hour = first.replace(minute=0, second=0, microsecond=0)
        while hour < last:
            body = lines.get((kind, hour), [])
            if kind == "audit":
                n += 1
                body = [*body, json.dumps(other_service(hour, tenant, n)).encode()]
            layout = (
                f"tenantId={tenant}"
                if (hour.day + (kind == "risk")) % 2
                else (f"resourceId=/tenants/{tenant}/providers/microsoft.aadiam")
            )
            path = f"{layout}/y={hour:%Y}/m={hour:%m}/d={hour:%d}/h={hour:%H}/m=00/PT1H.json"
            if kind == "audit" and hour.hour == 13 and body:  # an Event Hub capture's form
                text = b'{"records": [' + b",\r\n".join(body) + b"]}\r\n"
            else:
                text = b"".join(line + b"\r\n" for line in body)
            out[(CONTAINERS[kind], path)] = text
            hour += timedelta(hours=1)
    return out


def write_tree(folder: Path, made: dict[tuple[str, str], bytes]) -> None:
    """The blobs as a downloaded container tree under ``folder``."""
    for (container, path), data in made.items():
        target = folder / container / Path(*[p for p in path.split("/") if p])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def upload(
    connection: str, made: dict[tuple[str, str], bytes], containers: Iterable[str] = CONTAINERS.values()
) -> None:
    """The blobs as append blobs in Azurite (an empty one for an hour without records)."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(connection)
    containers = list(containers)
    for name in containers:
        service.create_container(name)
    wanted = set(containers)
    for (container, path), data in made.items():
        if container not in wanted:
            continue
        blob = service.get_blob_client(container, path)
        blob.create_append_blob()
        if data:
            blob.append_block(data)
    service.close()


def graph_exports(folder: Path, data: Any, moment: datetime) -> None:
    """Graph JSON exports of what the archive does not hold (registration, roles, policy, the organization), as
    Graph Explorer saves them, from the test Graph server's data."""
    folder.mkdir(parents=True, exist_ok=True)

    def save(name: str, value: Any) -> None:
        (folder / f"{name}.json").write_text(json.dumps({"value": value}))

    save("registration", data.user_registration_details)
    save("role-definitions", data.role_definitions)
    save("role-assignments", data.role_assignments)
    save("role-eligibility", data.role_eligibility_schedule_instances)
    save("group-settings", data.group_settings)
    save("organization", data.organization)
    if data.authentication_methods_policy is not None:
        (folder / "auth-methods-policy.json").write_text(json.dumps(data.authentication_methods_policy))
    if data.authorization_policy is not None:
        (folder / "authorization-policy.json").write_text(json.dumps(data.authorization_policy))
