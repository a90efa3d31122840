"""B10 Many tenants (issue 26): ``sspr-review fetch --tenants`` with ``--parallel 4`` against one tenant after another,
and the memory of a many-tenant run as the number of tenants grows.

Parallel fetch: the test Graph server (``tests/support/graph_server``) serves ``--tenants`` demo tenants, one per
bearer token (a token shaped like Entra ID's, whose ``tid`` names the tenant), each throttled in its own buckets at
Graph's documented budgets (reports 5 requests / 10 s, Identity Protection 1 / s per app and tenant), on a clock
scaled by ``--scale`` (1: Graph's own). The kit fetches all of them with ``sspr-review fetch --tenants``, once with
``--parallel 1`` and once with ``--parallel 4``, each time into fresh stores and with a fresh request record;
target: at least 3 × faster in parallel, and no 429.

Memory: ``sspr-review review --tenants`` over 5, 20 and 50 small demo tenants (each tenant's demo store built, then
reviewed, in its own process; the portfolio's rows collected by the parent), ``--parallel 4``; the resident set
size of the whole process tree is sampled every 50 ms (``psutil``, which ipykernel brings). Target: the peak does
not grow with the number of tenants. ``--with-notebooks`` measures ``run --tenants`` too (the report notebooks,
bounded by ``--notebook-jobs``; about a minute per tenant on two cores, so not by default).

    python benchmarks/bench_tenants.py [--tenants 8] [--users 6000] [--scale 0.1] [--memory 5,20,50]

The memory counts must exceed ``--parallel`` (4): below it, more tenants mean more processes at once, and the
peak grows by design. The smallest run that proves the script works: ``--tenants 8 --users 600 --memory 5,10``.
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import common
import psutil

from sspr_review.core.weeks import last_monday
from sspr_review.sources.demo.tenant import DemoTenant
from tests.support.graph_server import GraphData, GraphServer, mint_token

CLI = [sys.executable, "-m", "sspr_review.cli"]
REPORTS_LIMIT, REPORTS_WINDOW = 5, 10.0
PARALLEL = 4


def _tenants_file(folder: Path, rows: list[str], defaults: str) -> Path:
    path = folder / "tenants.toml"
    path.write_text('[portfolio]\ntitle = "Benchmark"\n' + defaults + "\n" + "\n".join(rows))
    return path


def parallel_fetch(count: int, users: int, scale: float) -> dict[str, Any]:
    """Fetch ``count`` tenants behind one server with --parallel 1, then 4; wall times, requests and 429s."""
    end = last_monday("UTC")
    tenants = [DemoTenant(users=users, weeks=5, end=end, seed=100 + i, name=f"Tenant {i:02d}") for i in range(count)]
    data = {mint_token(t.tenant_id): GraphData.from_demo(t) for t in tenants}
    tokens = list(data)
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = []
        for i, tenant in enumerate(tenants):
            (folder / f"t{i:02d}.toml").write_text(f'[auth]\ntoken_env = "BENCH_TOKEN_{i:02d}"\n')
            rows.append(f'[[tenants]]\nname = "t{i:02d}"\ntenant_id = "{tenant.tenant_id}"\nconfig = "t{i:02d}.toml"\n')
        path = _tenants_file(folder, rows, f"[defaults.graph]\nthrottle_time_scale = {scale}\n")
        env = {**os.environ, **{f"BENCH_TOKEN_{i:02d}": tokens[i] for i in range(count)}}
        for parallel in (1, 4):
            with GraphServer(GraphData(), tenants=data, time_scale=scale) as server:
                run_env = env | {
                    "SSPR_REVIEW_GRAPH_URL": server.url,
                    "SSPR_REVIEW_STORE_PATH": str(folder / f"store-{parallel}"),
                    "SSPR_REVIEW_STATE_DIR": str(folder / f"state-{parallel}"),
                }
                t0 = time.perf_counter()
                done = subprocess.run(
                    [*CLI, "fetch", "--tenants", str(path), "--parallel", str(parallel)],
                    capture_output=True,
                    text=True,
                    env=run_env,
                )
                wall = time.perf_counter() - t0
                if done.returncode != 0:
                    raise RuntimeError(f"fetch --tenants failed ({done.returncode}):\n{done.stderr[-3000:]}")
                reports = collections.Counter(
                    r.headers.get("authorization", "") for r in server.requests if _bucket(r.path) == "reports"
                )
                runs[str(parallel)] = {
                    "wall_s": round(wall, 2),
                    "requests": len(server.requests),
                    "reports_requests_per_tenant": sorted(reports.values()),
                    "429": sum(server.throttled.values()),
                }
    per_tenant = runs["1"]["reports_requests_per_tenant"]
    bound = max((math.ceil(n / REPORTS_LIMIT) - 1) * REPORTS_WINDOW * scale for n in per_tenant)
    return {
        "tenants": count,
        "users": users,
        "scale": scale,
        "runs": runs,
        "speedup": round(runs["1"]["wall_s"] / runs["4"]["wall_s"], 2),
        "tenant_lower_bound_s": round(bound, 2),
    }


def _bucket(path: str) -> str:
    lowered = path.lower()
    if "directoryaudits" in lowered or "/reports/" in lowered:
        return "reports"
    return "identityProtection" if "riskdetections" in lowered else "directory"


class TreeSampler:
    """The resident set size of a process and all its descendants, sampled every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_total = 0
        self.peak_root = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            total = 0
            for process in processes:
                try:
                    rss = process.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue
                total += rss
                if process.pid == self.root.pid:
                    self.peak_root = max(self.peak_root, rss)
            self.peak_total = max(self.peak_total, total)
            self.peak_processes = max(self.peak_processes, len(processes))
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def memory(counts: list[int], command: str) -> list[dict[str, Any]]:
    """``command --tenants`` over each count of small demo tenants: the process tree's peak memory."""
    out = []
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            rows = []
            for i in range(count):
                rows.append(f'[[tenants]]\nname = "d{i:02d}"\nsource = "demo"\nconfig = "d{i:02d}.toml"\n')
                (folder / f"d{i:02d}.toml").write_text(f'[demo]\nseed = {200 + i}\nname = "Demo {i:02d}"\n')
            path = _tenants_file(folder, rows, "[defaults.demo]\nusers = 200\nweeks = 4\n")
            extra = ["--out", str(folder / "reports")] if command == "run" else []
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [*CLI, command, "--tenants", str(path), "--parallel", str(PARALLEL), *extra],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "SSPR_REVIEW_STATE_DIR": str(folder / "state")},
            )
            with TreeSampler(proc.pid) as sampler:
                _, stderr = proc.communicate()
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise RuntimeError(f"{command} --tenants failed ({proc.returncode}):\n{stderr[-3000:]}")
            out.append(
                {
                    "command": command,
                    "tenants": count,
                    "wall_s": round(wall, 1),
                    "peak_tree_mb": round(sampler.peak_total / 2**20, 1),
                    "peak_parent_mb": round(sampler.peak_root / 2**20, 1),
                    "peak_processes": sampler.peak_processes,
                }
            )
            print(out[-1], flush=True)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=8)
    parser.add_argument("--users", type=int, default=6000)
    parser.add_argument("--scale", type=float, default=0.1, help="Graph's clock: 1 is Graph's own, 0.1 as B1")
    parser.add_argument("--memory", default="5,20,50")
    parser.add_argument("--with-notebooks", default="", help="counts for run --tenants, e.g. 2,6")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.memory.split(",") if n]
    if any(n <= PARALLEL for n in counts):
        parser.error(f"--memory: every count must exceed --parallel {PARALLEL} (below it the peak grows by design)")
    load = os.getloadavg()
    fetch = parallel_fetch(args.tenants, args.users, args.scale)
    print(fetch, flush=True)
    mem = memory(counts, "review")
    if args.with_notebooks:
        mem += memory([int(n) for n in args.with_notebooks.split(",") if n], "run")
    result = {"fetch": fetch, "memory": mem, "load_before": [round(x, 1) for x in load]}
    result["load_after"] = [round(x, 1) for x in os.getloadavg()]
    common.save("tenants", result)
    return result


if __name__ == "__main__":
    main()
