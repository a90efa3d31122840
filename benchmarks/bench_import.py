"""B11: peak memory of importing a big export with the files source (``fetch --source files``).

A folder holding one JSON Lines file of ``--records`` Graph directoryAudit events (each about 450 bytes, as
Graph sends them; ids and times unique, a week's span) and the same events as one ``.json`` Graph response
(``{"value": [...]}``) is imported into an empty store by ``sspr-review fetch --source files`` in a fresh
process; its peak resident set size (``wait4``), wall time and exit code are recorded, per format.

The issue's target: the peak stays under 1 GB whatever the input size (10^6 records by default). Run it at a
small size to check it works: ``python benchmarks/bench_import.py --records 10000``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

TARGET_MB = 1024


def _event(i: int, total: int, start: datetime) -> dict[str, Any]:
    at = start + timedelta(seconds=i * 604_800 // max(total, 1))  # spread over a week
    user = f"user{i % 50_000:05d}@contoso.example"
    return {
        "id": f"SSPR_{i:012d}_{i * 7919 % 100_000:05d}",
        "category": "UserManagement",
        "correlationId": f"{i:08x}-0000-4000-8000-{i * 31 % 10**12:012d}",
        "result": "success" if i % 7 else "failure",
        "resultReason": "" if i % 7 else "User's account is locked",
        "activityDisplayName": "Reset password (self-service)"
        if i % 3
        else "Self-service password reset flow activity progress",
        "activityDateTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "loggedByService": "Self-service Password Management",
        "operationType": "Update",
        "initiatedBy": {
            "user": {
                "id": f"{i % 50_000:08d}-1111-4000-8000-000000000000",
                "userPrincipalName": user,
                "ipAddress": f"10.{i % 250}.{i // 250 % 250}.{i % 7}",
            }
        },
        "targetResources": [
            {
                "id": f"{i % 50_000:08d}-1111-4000-8000-000000000000",
                "type": "User",
                "userPrincipalName": user,
                "modifiedProperties": [],
            }
        ],
        "additionalDetails": [],
    }


def write_export(folder: Path, records: int, fmt: str) -> int:
    """Write ``records`` audit events to ``folder`` as one ``.jsonl`` or ``.json`` file; its size in bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    start = datetime(2026, 11, 2, tzinfo=UTC)
    path = folder / ("audit.jsonl" if fmt == "jsonl" else "audit.json")
    with path.open("w", encoding="utf-8") as fh:
        if fmt == "json":
            fh.write(
                '{"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits",'
                ' "value": [\n'
            )
        for i in range(records):
            text = json.dumps(_event(i, records, start), separators=(",", ":"))
            if fmt == "json":
                fh.write(text + (",\n" if i < records - 1 else "\n"))
            else:
                fh.write(text + "\n")
        if fmt == "json":
            fh.write("]}\n")
    return path.stat().st_size


def measure(folder: Path, store: Path) -> dict[str, Any]:
    """``sspr-review fetch --source files`` into ``store`` in a fresh process: peak RSS (MB), wall, exit."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sspr_review.cli",
            "fetch",
            "--source",
            "files",
            "--files",
            str(folder),
            "--store",
            str(store),
            "--no-progress",
        ],
        cwd=common.ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "SSPR_REVIEW_STORE_PATH": str(store)},
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):  # 3: the folder holds no registration, roles or policy (expected here)
        raise RuntimeError(f"the import failed ({code}):\n{err[-3000:]}")
    return {"peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "wall_s": round(wall, 2), "exit": code}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[100_000, 1_000_000], help="sizes to measure")
    parser.add_argument(
        "--formats", nargs="+", choices=("jsonl", "json"), default=["jsonl", "json"], help="export formats to measure"
    )
    args = parser.parse_args(argv)
    result: dict[str, Any] = {"target_mb": TARGET_MB, "load": [round(x, 1) for x in os.getloadavg()], "runs": []}
    with tempfile.TemporaryDirectory(prefix="sspr-bench-import-") as tmp:
        for records in sorted(args.records):
            for fmt in args.formats:
                folder = Path(tmp) / f"{fmt}-{records}"
                print(f"B11: writing {records:,} audit events as {fmt} ...", flush=True)
                size = write_export(folder, records, fmt)
                print(f"B11: importing {size / 1e6:,.0f} MB of {fmt} ...", flush=True)
                store = Path(tmp) / f"store-{fmt}-{records}"
                run = {"records": records, "format": fmt, "file_mb": round(size / 1e6, 1), **measure(folder, store)}
                run["ok"] = run["peak_rss_mb"] < TARGET_MB
                print(f"B11: {run}", flush=True)
                result["runs"].append(run)
                (folder / f"audit.{fmt}").unlink()
    common.save("import", result)
    return result


if __name__ == "__main__":
    main()
