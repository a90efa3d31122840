"""B11: peak memory of importing a big export with the files source (``fetch --source files``).

A folder holding one JSON Lines file of ``--records`` Graph directoryAudit events (each about 650 bytes, as
Graph sends them; ids and times unique, a week's span) and the same events as one ``.json`` Graph response
(``{"value": [...]}``) is imported into an empty store in a fresh process, twice per format:

- the import alone: what ``sspr-review fetch --source files`` does before its closing summary (the workspace's
  fetch: the folder indexed, every record read, normalised and merged into the store);
- the whole command, ``sspr-review fetch --source files``, whose closing summary reviews the week, here every
  event of the export (the review's memory, which grows with the week's events: B3's subject).

Each run's peak resident set size (``wait4``), wall time and exit code are recorded.

The issue's target: the import's peak stays under 1 GB whatever the input size (10^6 records by default). Run it
at a small size to check it works: ``python benchmarks/bench_import.py --records 10000``.
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


#: The import alone, as ``sspr-review fetch`` runs it before its summary: argv[1] the folder, argv[2] the store.
IMPORT_ONLY = """
import sys
from pathlib import Path
from sspr_review.app.workspace import Workspace
from sspr_review.core import config
ws = Workspace(config.load(None, store__path=sys.argv[2]), "files", files=Path(sys.argv[1]))
result = ws.fetch(progress=False)
sys.exit(0 if result.ok else 3)
"""


def measure(folder: Path, store: Path, *, command: bool) -> dict[str, Any]:
    """Into ``store`` in a fresh process, the import alone or (``command``) ``sspr-review fetch --source files``:
    peak RSS (MB), wall, exit."""
    started = time.perf_counter()
    fetch = ["-m", "sspr_review.cli", "fetch", "--source", "files", "--files", str(folder), "--store", str(store)]
    args = [*fetch, "--no-progress"] if command else ["-c", IMPORT_ONLY, str(folder), str(store)]
    proc = subprocess.Popen(
        [sys.executable, *args],
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
                run = {"records": records, "format": fmt, "file_mb": round(size / 1e6, 1)}
                run.update(measure(folder, Path(tmp) / f"store-{fmt}-{records}", command=False))
                whole = measure(folder, Path(tmp) / f"store-{fmt}-{records}-command", command=True)
                run["command"] = whole
                run["ok"] = run["peak_rss_mb"] < TARGET_MB
                print(f"B11: {run}", flush=True)
                result["runs"].append(run)
                (folder / f"audit.{fmt}").unlink()
    common.save("import", result)
    return result


if __name__ == "__main__":
    main()
