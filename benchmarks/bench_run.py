"""B4: ``sspr-review run --source demo`` end to end, the size of its HTML, and ``import sspr_review``.

The run is the real command (``sspr_review.cli.main``) in a fresh interpreter, with timers around its
phases: interpreter and CLI start, fetch (for the demo: building the demo store week by week), the review, and the
notebooks' phase (both notebooks executed and exported, side by side on two or more CPUs); inside that phase, summed
over the two notebooks, the Jupyter kernels' start-up and shutdown, executing the cells, and the HTML export. The
default demo tenant is used (``[demo]``: 2,000 users, 26 weeks).

The same command with ``--no-fetch`` is timed on the store of B3 at 100,000 users (``--users``; 0 skips it): the
week's review, both notebooks and their HTML from a year of a large tenant's history.

Run: ``python benchmarks/bench_run.py [--users 100000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

HTML_TARGET_MB = 6.0
#: `run --no-fetch` of the last week at 100,000 users (issue 24), seconds.
LARGE_TARGET_S = 10.0
IMPORT_TARGET_S = 0.5
HEAVY = ("msgraph", "kiota_http", "azure.identity", "pandas", "pyarrow", "numpy", "plotly", "papermill", "nbconvert")

#: The child: the real CLI, timed. argv: store, out.
CHILD = r"""
import json, sys, threading, time
import common
started = time.perf_counter()
from sspr_review.report.notebooks import load_toolchain
load_toolchain()  # what the run does first: before nbclient loads nbformat and jsonschema
import nbclient.client as nc
import sspr_review.report.run as run_mod
from sspr_review.cli import main

phases = {"kernel start": 0.0, "kernel shutdown": 0.0}
adding = threading.Lock()  # the notebooks execute in threads
def timed(name, func):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return func(*args, **kwargs)
        finally:
            with adding:
                phases[name] += time.perf_counter() - t0
    return wrapper
# papermill drives nbclient's synchronous wrappers (setup_kernel calls these)
nc.NotebookClient.start_new_kernel = timed("kernel start", nc.NotebookClient.start_new_kernel)
nc.NotebookClient.start_new_kernel_client = timed("kernel start", nc.NotebookClient.start_new_kernel_client)
nc.NotebookClient._cleanup_kernel = timed("kernel shutdown", nc.NotebookClient._cleanup_kernel)
captured = {}
spans = {}
real_run = run_mod.run
def run(*args, **kwargs):
    result = real_run(*args, **kwargs)
    captured.update(result.timings)
    spans.update(result.spans)
    return result
run_mod.run = run
ready = time.perf_counter()
try:
    main(json.loads(sys.argv[1]), standalone_mode=False)
finally:
    done = time.perf_counter()
print(json.dumps({
    "startup_s": ready - started, "cli_s": done - ready, "timings": captured, "spans": spans, "phases": phases,
    "peak_rss_mb": common.peak_rss_mb(),
}))
"""


def import_times(repeat: int = 7) -> dict[str, Any]:
    """Median wall time of fresh interpreters importing the package (and what that import loads)."""

    def median(code: str) -> float:
        runs = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=common.ROOT)
            runs.append(time.perf_counter() - t0)
        return round(statistics.median(runs), 3)

    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, sspr_review; print(','.join(m for m in {HEAVY!r} if m in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=common.ROOT,
    ).stdout.strip()
    bare = median("pass")
    package = median("import sspr_review")
    return {
        "python_s": bare,
        "import_sspr_review_s": package,
        "import_sspr_review_net_s": round(package - bare, 3),
        "import_workspace_s": median("import sspr_review.app.workspace"),
        "import_cli_s": median("import sspr_review.cli"),
        "heavy_modules_loaded_by_import": [m for m in loaded.split(",") if m],
        "target_s": IMPORT_TARGET_S,
        "met": package <= IMPORT_TARGET_S,
    }


def end_to_end(args: list[str] | None = None, store: Path | None = None) -> dict[str, Any]:
    """``sspr-review run`` with ``args`` (default: ``--source demo`` into a new store) on ``store`` (default: a new
    one), timed by phase in a fresh interpreter."""
    with tempfile.TemporaryDirectory(prefix="sspr-bench-run-") as tmp:
        out = Path(tmp) / "reports"
        argv = ["run", *(args or ["--source", "demo"]), "--store", str(store or Path(tmp) / "store")]
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, json.dumps([*argv, "--out", str(out), "--no-progress"])],
            capture_output=True,
            text=True,
            cwd=tmp,
            env={**os.environ, "PYTHONPATH": f"{common.ROOT}{os.pathsep}{common.ROOT / 'benchmarks'}"},
            timeout=900,
        )
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"sspr-review run failed:\n{proc.stderr[-3000:]}")
        child = json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])
        html = {}
        for path in sorted(out.glob("*/*.html")):
            text = path.read_text(encoding="utf-8")
            html[path.name] = {
                "mb": round(path.stat().st_size / 2**20, 2),
                "plotly_js_copies": text.count("* plotly.js v"),
                "charts": text.count("Plotly.newPlot("),
            }
    timings = child["timings"]
    kernel_start = child["phases"]["kernel start"]
    kernel_stop = child["phases"]["kernel shutdown"]
    execute = sum(v for k, v in timings.items() if k.startswith("execute "))
    export = sum(v for k, v in timings.items() if k.startswith("export "))
    (start_a, end_a), (start_b, end_b) = child["spans"].values()
    side_by_side = min(end_a, end_b) > max(start_a, start_b)
    parts = {
        "interpreter start and imports": child["startup_s"],
        "fetch (demo store, week by week)": timings.get("fetch", 0.0),
        "review (once, saved for the notebooks)": timings.get("review", 0.0),
        "both notebooks, executed and exported": timings["notebooks"],
    }
    parts["other (process start and exit, slimming the notebooks, findings.json, output)"] = wall - sum(parts.values())
    # inside the notebooks' phase, summed over the two notebooks: side by side, more than the phase's wall time
    work = {
        "kernel start-up": kernel_start,
        "notebook execution": execute - kernel_start - kernel_stop,
        "kernel shutdown": kernel_stop,
        "HTML export": export,
    }
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(child["peak_rss_mb"], 1),
        "phases_s": {k: round(v, 2) for k, v in parts.items()},
        "shares": {k: round(v / wall, 3) for k, v in parts.items()},
        "notebooks_side_by_side": side_by_side,
        "notebook_work_s": {k: round(v, 2) for k, v in work.items()},
        "run_timings_s": {k: round(v, 2) for k, v in timings.items()},
        "html": html,
        "html_target_mb": HTML_TARGET_MB,
        "html_met": all(h["mb"] < HTML_TARGET_MB and h["plotly_js_copies"] == 1 for h in html.values()),
    }


def large(users: int, repeat: int = 3) -> dict[str, Any]:
    """``run --no-fetch`` of the last week on the store of B3 (``synth.py``: ``users``, 52 weeks), with the
    store's weekly aggregates already computed (a first review, not timed: a weekly run finds them kept); the
    fastest of ``repeat`` runs, with every run's wall time."""
    import bench_analysis
    import synth

    from sspr_review.core.weeks import last_monday

    end = last_monday("UTC")
    root = synth.build(users, end)
    week = f"{end:%Y-%m-%d}"
    bench_analysis.review_once(str(root), week)
    runs = [end_to_end(["--no-fetch", "--week-ending", week], root) for _ in range(repeat)]
    run = min(runs, key=lambda r: r["wall_s"])
    return {
        "users": users,
        "target_s": LARGE_TARGET_S,
        "met": run["wall_s"] <= LARGE_TARGET_S,
        **run,
        "runs_wall_s": [r["wall_s"] for r in runs],
    }


def _phases(run: dict[str, Any]) -> str:
    """The phases of a timed run, and the work inside its notebooks' phase, as one line."""
    phases = ", ".join(f"{k} {v} s" for k, v in run["phases_s"].items())
    work = ", ".join(f"{k} {v} s" for k, v in run["notebook_work_s"].items())
    how = "side by side" if run["notebooks_side_by_side"] else "one after the other"
    return f"{phases}; the notebooks ran {how}, summed over both: {work}"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000, help="the tenant of `run --no-fetch` (0: skip it)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of `run --no-fetch` (the fastest is reported)")
    args = parser.parse_args(argv)
    print("B4: sspr-review run --source demo ...", flush=True)
    run = end_to_end()
    print(f"B4 run: {run['wall_s']} s; {_phases(run)}", flush=True)
    for name, h in run["html"].items():
        print(f"B4 {name}: {h['mb']} MB, plotly.js embedded {h['plotly_js_copies']}x, {h['charts']} charts")
    imports = import_times()
    print(
        f"B4 import sspr_review: {imports['import_sspr_review_s']} s (bare interpreter {imports['python_s']} s); "
        f"heavy modules loaded: {imports['heavy_modules_loaded_by_import'] or 'none'}",
        flush=True,
    )
    result: dict[str, Any] = {"run": run, "imports": imports}
    if args.users:
        print(f"B4: sspr-review run --no-fetch at {args.users:,} users ...", flush=True)
        result["large"] = large(args.users, args.repeat)
        print(
            f"B4 run --no-fetch at {args.users:,} users: {result['large']['wall_s']} s (runs "
            f"{result['large']['runs_wall_s']}); {_phases(result['large'])}"
        )
    common.save("run", result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
