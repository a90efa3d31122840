"""B8: first contact — the command line's start-up, and how long a tenant's first real run takes.

* **Start-up**: ``sspr-review --help``, ``--version`` and a usage error (``fetch --bogus``), each in fresh
  processes, several times: the median wall time, against a bare interpreter, and the modules each imports.
* **The first run**: the test Graph server (``tests/support/graph_server/``, its own process) serves a demo
  tenant of ``--users`` users with five weeks of history, enforcing Graph's documented budgets (reports 5
  requests / 10 s, Identity Protection 1 request / s) on a clock scaled by ``--scale``. ``sspr-review fetch`` runs
  into an empty store as on a tenant's first day (30 days of audit events, 90 days of risk detections, the whole
  registration report, roles, policy), then ``sspr-review run --no-fetch`` builds the reports, each as a user runs
  it. Below scale 1 the fetch's throttle-bound part is grown to the real budgets, as B1 does.

Run: ``python benchmarks/bench_first_contact.py [--sizes 10000:1.0,100000:0.1] [--repeat 7] [--start-up-only]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench_fetch as bf
import common

#: What a question about the command line itself must not load.
HEAVY = ("pandas", "numpy", "pyarrow", "azure", "msgraph", "kiota_", "plotly", "papermill", "nbconvert", "pydantic")
START_UP = {"--help": ["--help"], "--version": ["--version"], "a usage error": ["fetch", "--bogus"]}
#: The target for --help, --version and usage errors (issue 25).
START_UP_TARGET_S = 0.3


def _timed(args: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, capture_output=True, env=env, check=False, timeout=120)
    return time.perf_counter() - started


def start_up(repeat: int) -> dict[str, Any]:
    """Median wall time of each start-up question in fresh processes, and what it imports."""
    cli = [sys.executable, "-m", "sspr_review.cli"]
    out: dict[str, Any] = {
        "python_s": round(statistics.median(_timed([sys.executable, "-c", "pass"]) for _ in range(repeat)), 3),
        "commands": START_UP,
        "load_average": round(os.getloadavg()[0], 2),
        "measured": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    for name, args in START_UP.items():
        _timed([*cli, *args])  # warm the file cache
        seconds = statistics.median(_timed([*cli, *args]) for _ in range(repeat))
        done = subprocess.run([sys.executable, "-X", "importtime", *cli[1:], *args], capture_output=True, text=True)
        lines = done.stderr.splitlines()
        modules = [line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time")]
        heavy = sorted({m.split(".")[0] for m in modules if m.split(".")[0].startswith(HEAVY)})
        out[name] = {"median_s": round(seconds, 3), "modules": len(modules), "heavy": heavy}
    out["target_s"] = START_UP_TARGET_S
    out["met"] = all(out[name]["median_s"] < START_UP_TARGET_S and not out[name]["heavy"] for name in START_UP)
    return out


# ------------------------------------------------------------------------------------------------ the first run
def serve(conn: Any, users: int, end_iso: str, scale: float) -> None:
    """Server process: a five-week tenant; answers ``("start",)`` with its URL and ``("stop",)`` with its log."""
    from sspr_review.sources.demo.tenant import DemoTenant
    from tests.support.graph_server import GraphData, GraphServer

    tenant = DemoTenant(users=users, weeks=5, end=datetime.fromisoformat(end_iso))
    data = GraphData.from_demo(tenant)
    conn.send({"audit_records": len(data.directory_audits), "users": users})
    conn.recv()
    server = GraphServer(data, time_scale=scale, token=bf.TOKEN).start()
    conn.send(server.url)
    conn.recv()
    log = [(r.time, r.path, r.status, "$skiptoken" in r.query) for r in server.requests]
    throttled = server.throttled
    server.stop()
    conn.send({"log": log, "throttled": throttled})


def first_run(users: int, scale: float) -> dict[str, Any]:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    ctx = mp.get_context("spawn")
    conn, child_conn = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(child_conn, users, end.isoformat(), scale), daemon=True)
    proc.start()
    info = conn.recv()
    conn.send(("start",))
    url = conn.recv()
    with tempfile.TemporaryDirectory(prefix="bench-first-run-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SSPR_REVIEW_")} | {
            "SSPR_REVIEW_GRAPH_URL": url,
            "SSPR_REVIEW_ACCESS_TOKEN": bf.TOKEN,
            "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(scale),
            "SSPR_REVIEW_STORE_PATH": str(Path(tmp) / "store"),
            "SSPR_REVIEW_STATE_DIR": str(Path(tmp) / "state"),
        }
        cli = [sys.executable, "-m", "sspr_review.cli"]
        started = time.perf_counter()
        fetched = subprocess.run([*cli, "fetch", "--no-progress"], capture_output=True, text=True, env=env, cwd=tmp)
        fetch_s = time.perf_counter() - started
        conn.send(("stop",))
        figures = bf.server_figures(conn.recv(), scale)
        proc.join(30)
        started = time.perf_counter()
        ran = subprocess.run(
            [*cli, "run", "--no-fetch", "--no-progress", "--out", "reports"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp,
        )
        run_s = time.perf_counter() - started
    if fetched.returncode or ran.returncode:
        raise SystemExit(f"first run failed: {fetched.stderr[-2000:]}{ran.stderr[-2000:]}")
    held = next((line for line in fetched.stdout.splitlines() if line.startswith("The store holds")), "")
    return {
        "users": users,
        "scale": scale,
        "audit_records_served": info["audit_records"],
        "requests": figures["requests"],
        "requests_by_bucket": figures["requests_by_bucket"],
        "429": figures["429"],
        "fetch_s": round(fetch_s, 1),
        "lower_bound_s": round(figures["lower_bound_s"], 1),
        # the measured time with its throttle-bound part grown to the real budgets (B1's estimate)
        "fetch_real_s": round(fetch_s + figures["lower_bound_s"] * (1 / scale - 1), 1),
        "run_no_fetch_s": round(run_s, 1),
        "held": held,
        "fetch_lines": [line for line in fetched.stdout.splitlines() if " ok " in line or "NO DATA" in line],
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000:1.0,100000:0.1", help="users:scale pairs, comma-separated")
    parser.add_argument("--repeat", type=int, default=7, help="start-up runs per question (the median is kept)")
    parser.add_argument(
        "--start-up-only", action="store_true", help="measure the start-up again, keeping the last first-run figures"
    )
    args = parser.parse_args(argv)
    if args.start_up_only:
        kept = common.load("first_contact")
        if kept is None:
            raise SystemExit("no earlier results to keep: run without --start-up-only first")
        kept.pop("machine", None)
        kept["start_up"] = start_up(args.repeat)
        print(kept["start_up"])
        common.save("first_contact", kept)
        return kept
    load = os.getloadavg()[0]
    result: dict[str, Any] = {"load_average": round(load, 2), "start_up": start_up(args.repeat), "first_runs": []}
    print(result["start_up"])
    for pair in args.sizes.split(","):
        users, scale = pair.split(":")
        run = first_run(int(users), float(scale))
        print(run)
        result["first_runs"].append(run)
    result["load_average_after"] = round(os.getloadavg()[0], 2)
    common.save("first_contact", result)
    return result


if __name__ == "__main__":
    main()
