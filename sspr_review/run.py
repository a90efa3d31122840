"""``sspr-review run``: fetch, execute the report notebooks, export HTML, write findings.json.

Output, readable by its owner only (it holds user names and IP addresses)::

    <out>/<week ending>/
        weekly-review.html      the Monday-morning review, code hidden, charts drawn offline
        adoption-trends.html    trends across the whole history
        weekly_review.ipynb     the executed notebooks (open them in JupyterLab to dig further)
        adoption_trends.ipynb
        findings.json           the machine-readable review (docs/findings-json.md)
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import notebooks
from .fetch import FetchResult
from .store import private_dir
from .workspace import Workspace

#: The notebooks ``run`` executes, in order: (notebook stem, HTML stem).
RUN_NOTEBOOKS = ("weekly_review", "adoption_trends")
SEVERITIES = ("critical", "high", "medium", "low", "info")


@dataclass
class RunResult:
    folder: Path
    fetch: FetchResult | None
    findings: dict[str, Any]
    html: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def at_or_above(self, severity: str) -> list[dict[str, Any]]:
        """Findings of ``severity`` or worse."""
        rank = SEVERITIES.index(severity)
        return [f for f in self.findings.get("findings", []) if SEVERITIES.index(f["severity"]) <= rank]


def parameters(ws: Workspace, week_ending: str) -> dict[str, str]:
    """The notebooks' papermill parameters: where things are, never secrets."""
    return {
        "config_path": str(Path(ws.config.source_path).resolve()) if ws.config.source_path else "",
        "source": ws.source_name,
        "week_ending": week_ending,
        "store": str(ws.store.root.resolve()),
        "files": str(ws.files.resolve()) if ws.files else "",
    }


def run(
    ws: Workspace,
    *,
    week_ending: str | None = None,
    out: Path = Path("reports"),
    fetch: bool = True,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> RunResult:
    """Fetch (unless ``fetch`` is false), then build the week's reports into ``out/<week ending>/``.

    Raises :class:`~sspr_review.notebooks.NotebookFailed` when a notebook fails; fetch errors of single
    sources do not stop the run (the report shows them as data gaps).
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    result: FetchResult | None = None
    if fetch:
        log(f"fetching from {ws.source_name} into {ws.store.path}")
        result = (
            ws.build_demo_history(progress=progress)[-1] if ws.source_name == "demo" else ws.fetch(progress=progress)
        )
    timings["fetch"] = time.perf_counter() - started
    week = ws.window(week_ending).week_ending.isoformat()
    folder = out / week
    private_dir(folder)
    params = parameters(ws, week)
    html = []
    for stem in RUN_NOTEBOOKS:
        t0 = time.perf_counter()
        log(f"executing {stem}")
        extra = {"findings_json": str((folder / "findings.json").resolve())} if stem == "weekly_review" else {}
        executed = notebooks.execute(
            notebooks.notebooks_dir() / f"{stem}.ipynb", folder / f"{stem}.ipynb", params | extra
        )
        timings[f"execute {stem}"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        html.append(notebooks.export_html(executed, folder / f"{notebooks.REPORTS[stem]}.html"))
        timings[f"export {stem}"] = time.perf_counter() - t0
    findings = json.loads((folder / "findings.json").read_text(encoding="utf-8"))
    timings["total"] = time.perf_counter() - started
    return RunResult(folder, result, findings, html, timings)
