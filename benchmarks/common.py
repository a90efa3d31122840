"""Shared helpers of the benchmarks: the machine, child processes with peak memory, results and the docs file.

Each benchmark script writes its figures to ``benchmarks/results/<name>.json`` and then re-renders
``docs/benchmarks.md`` from every result file present (so running one script alone updates its section).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CACHE = ROOT / "benchmarks" / ".cache"
DOCS = ROOT / "docs" / "benchmarks.md"

if str(ROOT) not in sys.path:  # for ``tests.support.graph_server`` and the package when not installed
    sys.path.insert(0, str(ROOT))

PACKAGES = (
    "pandas",
    "numpy",
    "pyarrow",
    "msgraph-sdk",
    "microsoft-kiota-http",
    "httpx",
    "papermill",
    "nbconvert",
    "azure-monitor-query",
)


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and the key package versions."""
    cpu = platform.processor() or platform.machine()
    mem_gb = None
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.*)", text)
        if found:
            cpu = found.group(1).strip()
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        mem_gb = round(kib / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def save(name: str, result: dict[str, Any]) -> Path:
    """Write one benchmark's figures (with the machine) and re-render the docs page."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2, default=str) + "\n")
    from render import render  # benchmarks/render.py

    render()
    return path


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def child(code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 900) -> dict[str, Any]:
    """Run ``python -c code args...`` in a fresh interpreter; it prints one JSON object as its last line.

    Adds ``peak_rss_mb`` (the child's maximum resident set size, from ``wait4``) and ``process_seconds``.
    """
    start = datetime.now(UTC)
    # the kit first, as in `sspr-review`: importing it chooses Arrow's memory pool, which pandas would fix on import
    code = f"import sspr_review\n{code}"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'benchmarks'}", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    # communicate() reaped the child; its rusage is in RUSAGE_CHILDREN only cumulatively, so the child
    # reports its own peak (getrusage(RUSAGE_SELF) at exit) in its JSON line as well.
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed ({proc.returncode}):\n{err[-4000:]}")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"benchmark child printed no JSON:\n{out[-2000:]}\n{err[-2000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    result["process_seconds"] = round((datetime.now(UTC) - start).total_seconds(), 2)
    return result


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB: Linux's ``VmHWM``, the peak of this program's own memory.
    (``ru_maxrss`` also counts the parent's memory at the fork that started this process: a benchmark parent that
    had built a large store made every child's peak look like its own.) Elsewhere ``ru_maxrss``."""
    import resource

    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale, 1)


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")
