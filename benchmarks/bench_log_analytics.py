"""B5: a year of a large tenant backfilled from a Log Analytics workspace (the test endpoint).

The test endpoint (``tests/support/log_analytics_server.py``) runs in its own process, serving a year of a ``--users``
tenant: two weeks of the demo tenant at that size, repeated 26 times back in time (ids made unique per copy,
times shifted 14 days per copy, as ``synth.py`` does for the store), in the workspace tables' shape. It caps
answers like the service (500,000 rows, 64 MB) and evaluates every query. The kit's first run (``backfill_days
= 365``) reads audit events and risk detections with the real azure-monitor-query client into an empty store;
registration, roles and policy come from a small demo tenant (not measured here).

Reported: rows per second (from the first query to the last row stored), the queries sent (histogram, oldest
row, data) against the fewest data queries the caps allow (``ceil(rows / cap)``), and whether any answer was
truncated.

Run: ``python benchmarks/bench_log_analytics.py [--users 100000]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

COPIES = 26
TOKEN = "bench-token"
TICKS_PER_DAY = 86400 * 10_000_000


def year_of(users: int, end: datetime) -> Any:
    """The workspace data: two demo weeks repeated ``COPIES`` times back in time."""
    from sspr_review.sources.demo.tenant import DemoTenant
    from tests.support.log_analytics_kql import Table
    from tests.support.log_analytics_server import WorkspaceData

    base = WorkspaceData.from_demo(DemoTenant(users=users, weeks=2, end=end), delay=timedelta(0))
    times = {
        "AuditLogs": ("TimeGenerated", "ActivityDateTime"),
        "AADUserRiskEvents": ("TimeGenerated", "ActivityDateTime", "DetectedDateTime", "LastUpdatedDateTime"),
    }
    out = {}
    for name, table in base.tables.items():
        rows = list(table.rows)
        for k in range(1, COPIES):
            shift = k * 14 * TICKS_PER_DAY
            for row in table.rows:
                copy = dict(row)
                for col in times[name]:
                    if copy.get(col) is not None:
                        copy[col] -= shift
                copy["Id"] = f"{row['Id']}~{k}"
                copy["CorrelationId"] = f"{row['CorrelationId']}~{k}"
                rows.append(copy)
        out[name] = Table(name, table.schema, rows, table.order)
    return WorkspaceData(out)


def serve(users: int, end: datetime, log: str) -> None:
    from tests.support.log_analytics_server import LogAnalyticsServer

    data = year_of(users, end)
    server = LogAnalyticsServer(data, token=TOKEN, throttle=(200, 30.0), log=log)
    with server:
        print(server.url, data.rows("AuditLogs"), data.rows("AADUserRiskEvents"), flush=True)
        sys.stdin.read()  # until the parent closes it


def backfill(url: str, store: Path, end: datetime) -> dict[str, Any]:
    from sspr_review.core import config
    from sspr_review.ingest.fetch import fetch_into
    from sspr_review.ingest.store.history import Store
    from sspr_review.sources.base import run_sync
    from sspr_review.sources.combined import CombinedSource
    from sspr_review.sources.demo.source import DemoSource
    from sspr_review.sources.demo.tenant import DemoTenant
    from sspr_review.sources.graph.auth import StaticToken
    from sspr_review.sources.log_analytics.source import LogAnalyticsSource
    from tests.support.log_analytics_server import WORKSPACE_ID

    moment = end + timedelta(hours=1)
    env = {
        "SSPR_REVIEW_LOG_ANALYTICS_URL": url,
        "SSPR_REVIEW_LOG_ANALYTICS_WORKSPACE_ID": WORKSPACE_ID,
        "SSPR_REVIEW_LOG_ANALYTICS_BACKFILL_DAYS": "365",
        "SSPR_REVIEW_LOG_ANALYTICS_INGESTION_DELAY_MINUTES": "0",
        "SSPR_REVIEW_STORE_PATH": str(store),
    }
    cfg = config.load(env=env)

    async def go() -> tuple[Any, LogAnalyticsSource]:
        workspace = LogAnalyticsSource(cfg.log_analytics, StaticToken(TOKEN), clock=lambda: moment)
        source = CombinedSource(
            DemoSource(DemoTenant(users=50, weeks=2, end=end), moment), {"audit": workspace, "risk": workspace}
        )
        target = Store(store, "bench")
        try:
            with target.writing():
                return await fetch_into(target, source, cfg, progress=False), workspace
        finally:
            await source.aclose()

    started = time.perf_counter()
    result, workspace = run_sync(go())
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "ok": result.ok,
        "lines": result.lines(),
        "records": {k: result.outcomes[k].records for k in ("audit", "risk")},
        "cap": workspace.cap,
        "max_rows": cfg.log_analytics.max_rows,
        "peak_rss_mb": common.peak_rss_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--log", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    end = datetime(2026, 11, 30, tzinfo=UTC)
    if args.serve:
        serve(args.users, end, args.log)
        return
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "queries.jsonl"
        proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--users", str(args.users), "--log", str(log)],
            cwd=common.ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            url, audit_rows, risk_rows = proc.stdout.readline().split()
            fetched = backfill(url, Path(tmp) / "store", end)
        finally:
            if proc.stdin is not None:
                proc.stdin.close()
            proc.wait(timeout=60)
        queries = [json.loads(line) for line in log.read_text().splitlines()]
    tables = {"audit": ("AuditLogs", int(audit_rows)), "risk": ("AADUserRiskEvents", int(risk_rows))}
    per_table = {}
    for kind, (table, rows) in tables.items():
        mine = [q for q in queries if q["query"].startswith(table)]
        data = [q for q in mine if "| project Id" in q["query"]]
        per_table[kind] = {
            "table": table,
            "rows_in_workspace": rows,
            "rows_fetched": fetched["records"][kind],
            "queries": len(mine),
            "data_queries": len(data),
            "truncated": sum(1 for q in data if q.get("partial")),
            "cap": fetched["cap"][kind],
            "fewest_by_cap": math.ceil(rows / fetched["cap"][kind]),
            "fewest_by_row_cap": math.ceil(rows / fetched["max_rows"]),
        }
    rows = sum(t["rows_fetched"] for t in per_table.values())
    result = {
        "users": args.users,
        "weeks": 2 * COPIES,
        "seconds": fetched["seconds"],
        "rows": rows,
        "rows_per_second": round(rows / fetched["seconds"]),
        "queries": len(queries),
        "throttled": sum(1 for q in queries if q["status"] == 429),
        "tables": per_table,
        "ok": fetched["ok"],
        "peak_rss_mb": fetched["peak_rss_mb"],
        # other jobs on a shared machine slow the wall time (not the query counts): say how busy it was
        "load_average": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(result, indent=2))
    common.save("log_analytics", result)


if __name__ == "__main__":
    main()
