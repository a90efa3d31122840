"""B11, archive: peak memory of importing a big diagnostic-setting archive (issue 27: "a 1 GB archive").

A synthetic archive of about ``--archive-mb`` MB is written as a downloaded container tree: hourly ``PT1H.json``
blobs over ``--days`` days in the documented path layout (``insights-logs-auditlogs/resourceId=/tenants/<id>/
providers/microsoft.aadiam/y=.../m=00/PT1H.json``; the risk container in the live ``tenantId=<id>/`` layout), each
line an envelope as reference ``archive-format.md`` shows, CRLF line ends. Most AuditLogs lines are other services'
directory events (user, group, device, application and policy changes, 1-3 KB each; some name passwords, so they
pass the reader's byte pre-filter and are parsed and dropped), a share (``--sspr-share``) are SSPR and
authentication-methods events the kit keeps; a few percent are delivered again (the same ``properties``, a newer
envelope ``time``) in the same or the next hour's blob. Busy hours hold more than quiet ones (a working-day curve).

It is imported into an empty store in a fresh process each time, peak resident set size from ``wait4``:

- tree: ``sspr-review fetch --source files --files <tree>`` (the import alone, what the command does before its
  closing summary, and the whole command);
- storage: the same blobs uploaded to Azurite (append blobs, 4 MiB appends) and read by the archive source
  (``[sources] audit = risk = "archive"``, a connection string), the import alone and the whole command. Uploading
  into Azurite is slow, so ``--storage-mb`` may name a smaller archive for it (its own run, said so in the results).

Smoke run: ``python benchmarks/bench_archive.py --archive-mb 20 --storage-mb 20``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

TARGET_MB = 1024
TENANT = "5b1c0e2a-0000-4000-8000-00000000be11"
AUDIT = "insights-logs-auditlogs"
RISK = "insights-logs-userriskevents"
#: Append blocks of at most 4 MiB (the limit of the API versions before 2022-11-02, which Azurite enforces).
BLOCK = 4 * 1024 * 1024
#: Share of lines delivered again (measured "a few percent" on busy categories).
REPEATED = 0.03
#: Kept lines per risk detection line (UserRiskEvents is a small container beside AuditLogs).
RISK_PER_SSPR = 0.05

#: Other services' directory events: (service, category, activity, operation type, modified properties).
OTHERS: tuple[tuple[str, str, str, str, tuple[str, ...]], ...] = (
    ("Core Directory", "UserManagement", "Update user", "Update", ("StrongAuthenticationMethod", "LastDirSyncTime")),
    ("Core Directory", "UserManagement", "Update user", "Update", ("PasswordPolicies", "Included Updated Properties")),
    ("Core Directory", "GroupManagement", "Add member to group", "Assign", ("Group.ObjectID", "Group.DisplayName")),
    ("Core Directory", "GroupManagement", "Remove member from group", "Unassign", ("Group.ObjectID",)),
    ("Core Directory", "Device", "Update device", "Update", ("ApproximateLastLogonTimestamp", "DeviceOSVersion")),
    ("Core Directory", "ApplicationManagement", "Update service principal", "Update", ("AppAddress", "Tags")),
    ("Core Directory", "ApplicationManagement", "Consent to application", "Assign", ("ConsentContext.IsAdminConsent",)),
    ("Core Directory", "Policy", "Update policy", "Update", ("PolicyDetail", "PolicyType")),
    ("Account Provisioning", "ProvisioningManagement", "Export", "Update", ("accountEnabled", "department")),
    ("Device Registration Service", "Device", "Register device", "Add", ("CloudDeviceOSType", "DeviceTrustType")),
    ("Invited Users", "UserManagement", "Invite external user", "Add", ("InvitedUserEmailAddress",)),
    ("PIM", "RoleManagement", "Add member to role completed (PIM activation)", "Add", ("RoleDefinitionOriginId",)),
    ("Conditional Access", "Policy", "Update conditional access policy", "Update", ("ConditionalAccessPolicy",)),
)
#: The events the kit keeps: (service, activity, result reason when it failed).
KEPT: tuple[tuple[str, str, str], ...] = (
    (
        "Self-service Password Management",
        "Self-service password reset flow activity progress",
        "User's account is locked",
    ),
    ("Self-service Password Management", "Self-service password reset flow activity progress", ""),
    ("Self-service Password Management", "Reset password (self-service)", "User did not pass verification"),
    ("Self-service Password Management", "Security info saved for self-service password reset", ""),
    ("Self-service Password Management", "Unlock user account (self-service)", ""),
    ("Self-service Password Management", "Blocked from self-service password reset", "User submitted incorrect code"),
    ("Authentication Methods", "User registered security info", ""),
    ("Authentication Methods", "User deleted security info", ""),
    ("Core Directory", "Reset user password", ""),
)


def _iso7(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _en_us(moment: datetime) -> str:
    hour = moment.hour % 12 or 12
    return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment:%M:%S} {'PM' if moment.hour >= 12 else 'AM'}"


def _user(n: int) -> dict[str, Any]:
    return {
        "id": f"{n:08x}-1111-4000-8000-000000000000",
        "displayName": None,
        "userPrincipalName": f"user{n:06d}@contoso.example",
        "ipAddress": f"10.{n % 250}.{n // 250 % 250}.{n % 7 + 1}",
        "roles": [],
    }


def _envelope(props: dict[str, Any], at: datetime, category: str, n: int) -> dict[str, Any]:
    """``props`` wrapped as a diagnostic setting archives it (the ``n``-th line: which variants it carries)."""
    return {
        "time": _en_us(at) if category == "UserRiskEvents" else _iso7(at),
        "resourceId": f"/tenants/{TENANT}/providers/{'Microsoft.aadiam' if n % 2 else 'MICROSOFT.AADIAM'}",
        "operationName": props.get("activityDisplayName", "User Risk Detection"),
        "operationVersion": "1.0",
        "category": category,
        "tenantId": TENANT,
        "resultType": str(props.get("result", "")),
        "resultSignature": "None",
        "resultDescription": str(props.get("resultReason", "")),
        "durationMs": n % 900 if n % 2 else str(n % 900),
        "callerIpAddress": f"10.{n % 250}.{n // 250 % 250}.{n % 7 + 1}",
        "correlationId": props.get("correlationId") or props.get("id"),
        "identity": "",
        ("Level" if n % 2 else "level"): (4, "Informational", "Information")[n % 3],
        "location": "",
        "properties": props,
    }


def _other(n: int, at: datetime, rng: random.Random) -> dict[str, Any]:
    service, category, activity, operation, names = OTHERS[n % len(OTHERS)]
    modified = [
        {
            "displayName": name,
            "oldValue": json.dumps([f"{name}-old-{n % 977}-" + "x" * rng.randrange(20, 500)]),
            "newValue": json.dumps([f"{name}-new-{n % 983}-" + "y" * rng.randrange(20, 500)]),
        }
        for name in names
    ]
    return {
        "id": f"Directory_{n:010d}_{n * 7919 % 100_000:05X}",
        "category": category,
        "correlationId": f"{n:08x}-2222-4000-8000-{n * 31 % 10**12:012d}",
        "result": "success",
        "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": _iso7(at),
        "loggedByService": service,
        "operationType": operation,
        "initiatedBy": {
            "app": {
                "appId": None,
                "displayName": "Microsoft Substrate Management",
                "servicePrincipalId": f"{n % 40:08x}-3333-4000-8000-000000000000",
                "servicePrincipalName": None,
            }
        }
        if n % 3
        else {"user": _user(n % 50_000)},
        "targetResources": [
            {
                "id": f"{n % 60_000:08x}-4444-4000-8000-000000000000",
                "displayName": None,
                "type": "User" if category == "UserManagement" else category,
                "userPrincipalName": f"user{n % 50_000:06d}@contoso.example",
                "groupType": None,
                "modifiedProperties": modified,
            }
        ],
        "additionalDetails": [{"key": "User-Agent", "value": "Microsoft.OData.Client/7.12.5"}],
    }


def _kept(n: int, at: datetime) -> dict[str, Any]:
    service, activity, reason = KEPT[n % len(KEPT)]
    failed = bool(reason) and n % 4 == 0
    user = n * 7 % 20_000
    return {
        "id": f"SSPR_{n:010d}_{n * 104_729 % 1_000_000:06d}",
        "category": "UserManagement",
        "correlationId": f"{n:08x}-5555-4000-8000-{n * 37 % 10**12:012d}",
        "result": "failure" if failed else "success",
        "resultReason": reason if failed else "",
        "activityDisplayName": activity,
        "activityDateTime": _iso7(at),
        "loggedByService": service,
        "operationType": "Update",
        "initiatedBy": {"user": _user(user)},
        "targetResources": [
            {
                "id": f"{user:08x}-1111-4000-8000-000000000000",
                "displayName": None,
                "type": "User",
                "userPrincipalName": f"user{user:06d}@contoso.example",
                "modifiedProperties": [],
            }
        ],
        "additionalDetails": [{"key": "OnPremisesUser", "value": "False"}],
    }


def _risk(n: int, at: datetime) -> dict[str, Any]:
    user = n * 13 % 20_000
    return {
        "id": f"RISK{n:010d}{n * 31 % 10**8:08d}",
        "requestId": f"{n:08x}-6666-4000-8000-000000000000",
        "correlationId": f"{n:08x}-7777-4000-8000-000000000000",
        "riskType": "unfamiliarFeatures",
        "riskEventType": "unfamiliarFeatures",
        "riskState": "atRisk",
        "riskLevel": ("low", "medium", "high")[n % 3],
        "riskDetail": "none",
        "source": "IdentityProtection",
        "detectionTimingType": "realtime",
        "activity": "signin",
        "tokenIssuerType": "AzureAD",
        "ipAddress": f"198.51.100.{n % 250}",
        "activityDateTime": _iso7(at).replace("T0", "T", 1),  # an unpadded hour, as real blobs write
        "detectedDateTime": _iso7(at).replace("T0", "T", 1),
        "lastUpdatedDateTime": _iso7(at + timedelta(minutes=2)),
        "userId": f"{user:08x}-1111-4000-8000-000000000000",
        "userDisplayName": f"User {user}",
        "userPrincipalName": f"user{user:06d}@contoso.example",
        "additionalInfo": json.dumps([{"Key": "userAgent", "Value": "Mozilla/5.0"}]),
        "location": {"city": "Redmond", "state": "Washington", "countryOrRegion": "US"},
    }


def _weights(hours: list[datetime]) -> list[float]:
    """A working-day curve: busy office hours, quiet nights and weekends."""
    out = []
    for hour in hours:
        day = 1.0 if hour.weekday() < 5 else 0.35
        out.append(day * (0.25 + max(0.0, math.sin(math.pi * (hour.hour - 6) / 14)) ** 2 * 1.75))
    return out


def _line(envelope: dict[str, Any]) -> bytes:
    return json.dumps(envelope, separators=(",", ":")).encode() + b"\r\n"


def write_archive(folder: Path, megabytes: float, days: int, share: float, end: datetime) -> dict[str, Any]:
    """Write an archive of about ``megabytes`` MB under ``folder`` ending at the hour ``end``; what it holds."""
    rng = random.Random(27)
    hours = [end - timedelta(hours=h) for h in range(days * 24, 0, -1)]
    weights = _weights(hours)
    budget = megabytes * 1e6
    per_weight = budget / sum(weights)
    counts = {"lines": 0, "kept": 0, "repeated": 0, "risk": 0, "blobs": 0, "bytes": 0}
    n = kept_n = risk_n = 0
    carry: list[bytes] = []  # lines delivered again in the next hour's blob
    audit_root = folder / AUDIT / "resourceId=" / "tenants" / TENANT / "providers" / "microsoft.aadiam"
    risk_root = folder / RISK / f"tenantId={TENANT}"
    for hour, weight in zip(hours, weights, strict=True):
        target = weight * per_weight
        lines, size = carry, sum(len(x) for x in carry)
        carry = []
        risk_lines: list[bytes] = []
        while size < target:
            at = hour + timedelta(seconds=rng.randrange(3600), microseconds=rng.randrange(1_000_000))
            if rng.random() < share:
                kept_n += 1
                props, category = _kept(kept_n, at), "AuditLogs"
                counts["kept"] += 1
                if rng.random() < RISK_PER_SSPR:
                    risk_n += 1
                    risk_lines.append(_line(_envelope(_risk(risk_n, at), at, "UserRiskEvents", risk_n)))
            else:
                n += 1
                props, category = _other(n, at, rng), "AuditLogs"
            line = _line(_envelope(props, at + timedelta(seconds=rng.randrange(1, 300)), category, n + kept_n))
            lines.append(line)
            size += len(line)
            if rng.random() < REPEATED:  # delivered again: the same properties, a newer envelope time
                again = _line(_envelope(props, at + timedelta(minutes=rng.randrange(5, 90)), category, n + kept_n))
                counts["repeated"] += 1
                (lines if rng.random() < 0.5 else carry).append(again)
                size += len(again)
        path = f"y={hour:%Y}/m={hour:%m}/d={hour:%d}/h={hour:%H}/m=00/PT1H.json"
        for root, body in ((audit_root, lines), (risk_root, risk_lines)):
            blob = root / path
            blob.parent.mkdir(parents=True, exist_ok=True)
            with blob.open("wb") as fh:
                fh.writelines(body)
            counts["blobs"] += 1
            counts["bytes"] += sum(len(x) for x in body)
            counts["lines"] += len(body)
        counts["risk"] += len(risk_lines)
    counts["megabytes"] = round(counts.pop("bytes") / 1e6, 1)
    counts["days"] = days
    return counts


def blobs_of(tree: Path) -> Iterator[tuple[str, str, Path]]:
    """(container, blob name, file) of each blob in a downloaded tree (the name is the path below the container:
    the documented layout's ``resourceId=/tenants/...`` is the folder ``resourceId=`` holding ``tenants/...``)."""
    for container in (AUDIT, RISK):
        for file in sorted((tree / container).rglob("PT1H.json")):
            yield container, file.relative_to(tree / container).as_posix(), file


def upload(connection: str, tree: Path) -> float:
    """The tree's blobs as append blobs in Azurite (4 MiB appends); seconds taken."""
    from azure.storage.blob import BlobServiceClient

    started = time.perf_counter()
    service = BlobServiceClient.from_connection_string(connection)
    for container in (AUDIT, RISK):
        service.create_container(container)
    for container, name, file in blobs_of(tree):
        blob = service.get_blob_client(container, name)
        blob.create_append_blob()
        with file.open("rb") as fh:
            while block := fh.read(BLOCK):
                blob.append_block(block)
    service.close()
    return round(time.perf_counter() - started, 1)


#: The import alone, as ``sspr-review fetch`` runs it before its summary: argv[1] the folder, argv[2] the store.
#: It prints what the fetch got of audit and risk (records read, the archive's note) as its last line.
IMPORT_ONLY = """
import json, sys
from pathlib import Path
from sspr_review.app.workspace import Workspace
from sspr_review.core import config
ws = Workspace(config.load(None, store__path=sys.argv[2]), "files", files=Path(sys.argv[1]))
result = ws.fetch(progress=False)
kinds = ("audit", "risk")
print(json.dumps({
    "ok": {k: result.outcomes[k].ok for k in kinds},
    "notes": [x.strip() for x in result.lines() if "blobs" in x],
}))
sys.exit(0 if result.ok else 3)
"""


def stored(store: Path, kind: str) -> int:
    """Rows of ``kind`` in the store (from the Parquet footers)."""
    import pyarrow.parquet as pq

    files = [f for f in store.rglob("*.parquet") if f"/{kind}/" in f.as_posix()]
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files)


def measure(folder: Path, store: Path, *, command: bool, env: dict[str, str]) -> dict[str, Any]:
    """Into ``store`` in a fresh process, the import alone or (``command``) ``sspr-review fetch --source files
    --files folder`` (``env``: the archive source's settings when it reads Azure Storage): peak RSS (MB), wall time,
    exit code and the audit events and risk detections stored."""
    fetch = ["-m", "sspr_review.cli", "fetch", "--source", "files", "--files", str(folder), "--store", str(store)]
    args = [*fetch, "--no-progress"] if command else ["-c", IMPORT_ONLY, str(folder), str(store)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=common.ROOT,
            stdout=out,
            stderr=err,
            env={**os.environ, "SSPR_REVIEW_STORE_PATH": str(store), **env},
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        printed, errors = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    code = proc.returncode
    if code not in (0, 3):  # 3: no registration, roles or policy (the folder holds none: expected here)
        raise RuntimeError(f"the import failed ({code}):\n{errors[-3000:]}\n{printed[-2000:]}")
    run: dict[str, Any] = {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "wall_s": round(wall, 1), "exit": code}
    run["stored"] = {kind: stored(store, kind) for kind in ("audit", "risk")}
    if not command:
        said = json.loads([x for x in printed.splitlines() if x.startswith("{")][-1])
        if not all(said["ok"].values()):
            raise RuntimeError(f"audit or risk failed: {said}\n{errors[-3000:]}")
        run["notes"] = said["notes"]
    shutil.rmtree(store, ignore_errors=True)
    return run


def runs(tree: Path, work: Path, env: dict[str, str]) -> dict[str, Any]:
    """The import alone and the whole command, each into an empty store."""
    alone = measure(tree, work / "store-import", command=False, env=env)
    alone["command"] = measure(tree, work / "store-command", command=True, env=env)
    alone["ok"] = alone["peak_rss_mb"] < TARGET_MB
    return alone


def storage(tree: Path, work: Path, backfill: int) -> dict[str, Any]:
    """The tree's blobs in Azurite, read by the archive source (registration and the rest: an empty folder)."""
    sys.path.insert(0, str(common.ROOT))
    from tests.support.azurite import available, azurite, connection_string

    missing = available()
    if missing is not None:
        return {"skipped": missing}
    empty = work / "exports"  # what Graph would give: here only the tenant (the files source needs a file)
    empty.mkdir(exist_ok=True)
    (empty / "organization.json").write_text(
        json.dumps({"value": [{"id": TENANT, "displayName": "Contoso", "verifiedDomains": []}]})
    )
    with azurite(work / "azurite") as port:
        connection = connection_string(port)
        print("B11 archive: uploading to Azurite ...", flush=True)
        seconds = upload(connection, tree)
        env = {
            "SSPR_REVIEW_SOURCES_AUDIT": "archive",
            "SSPR_REVIEW_SOURCES_RISK": "archive",
            "SSPR_REVIEW_ARCHIVE_CONNECTION_STRING": connection,
            "SSPR_REVIEW_ARCHIVE_BACKFILL_DAYS": str(backfill),
        }
        print("B11 archive: importing from Azurite ...", flush=True)
        result = runs(empty, work, env)
    result["upload_s"] = seconds
    shutil.rmtree(work / "azurite", ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--archive-mb", type=float, nargs="+", default=[256, 1024], help="archive sizes read from a tree (MB)"
    )
    parser.add_argument(
        "--storage-mb", type=float, nargs="*", default=None, help="archive sizes read from Azurite (default: the same)"
    )
    parser.add_argument("--days", type=int, default=28, help="the archive holds the hours of so many days")
    parser.add_argument("--sspr-share", type=float, default=0.04, help="share of audit lines the kit keeps")
    parser.add_argument(
        "--control-share",
        type=float,
        default=0.001,
        help="the largest tree again with this share kept (0: not run): what grows with the bytes, not the events",
    )
    args = parser.parse_args(argv)
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    result: dict[str, Any] = {
        "target_mb": TARGET_MB,
        "load": [round(x, 1) for x in os.getloadavg()],
        "days": args.days,
        "sspr_share": args.sspr_share,
        "runs": [],
    }
    storage_sizes = set(args.archive_mb if args.storage_mb is None else args.storage_mb)
    with tempfile.TemporaryDirectory(prefix="sspr-bench-archive-") as tmp:
        work = Path(tmp)
        for megabytes in sorted(set(args.archive_mb) | storage_sizes):
            tree = work / f"tree-{megabytes:g}"
            print(f"B11 archive: writing {megabytes:,g} MB of archive ...", flush=True)
            started = time.perf_counter()
            held = write_archive(tree, megabytes, args.days, args.sspr_share, end)
            held["write_s"] = round(time.perf_counter() - started, 1)
            print(f"B11 archive: {held}", flush=True)
            wheres = [w for w, sizes in (("tree", args.archive_mb), ("storage", storage_sizes)) if megabytes in sizes]
            for where in wheres:
                print(f"B11 archive: importing {megabytes:,g} MB from the {where} ...", flush=True)
                run = runs(tree, work, {}) if where == "tree" else storage(tree, work, args.days + 2)
                run = {"source": where, "archive": held, **run}
                print(f"B11 archive: {run}", flush=True)
                result["runs"].append(run)
            shutil.rmtree(tree)
        if args.control_share > 0:
            megabytes, tree = max(args.archive_mb), work / "tree-control"
            print(f"B11 archive: {megabytes:,g} MB with {args.control_share:.1%} kept, from the tree ...", flush=True)
            held = write_archive(tree, megabytes, args.days, args.control_share, end)
            run = {"source": "tree", "control": True, "share": args.control_share, "archive": held}
            run.update(runs(tree, work, {}))
            print(f"B11 archive: {run}", flush=True)
            result["runs"].append(run)
            shutil.rmtree(tree)
    result["load_after"] = [round(x, 1) for x in os.getloadavg()]
    common.save("archive", result)
    return result


if __name__ == "__main__":
    main()
