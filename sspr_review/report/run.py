"""``sspr-review run``: fetch, execute the report notebooks, export HTML, write findings.json and charts.json.

Output, readable by its owner only (it holds user names and IP addresses)::

    <out>/<week ending>/
        weekly-review.html      the Monday-morning review, code hidden, charts drawn offline
        adoption-trends.html    trends across the whole history
        weekly_review.ipynb     the executed notebooks (open them in JupyterLab to dig further)
        adoption_trends.ipynb
        findings.json           the machine-readable review (docs/findings-json.md)
        charts.json             the figures, for the e-mail's images

The week is reviewed once: the review is saved in the folder (:mod:`sspr_review.app.saved`, removed once the
notebooks ran), the notebooks load it and only display it, and findings.json and charts.json are built here from
the same object (:mod:`.outputs`, the code path ``review --json`` uses too). The notebooks execute and export side
by side when the process may use more than one CPU (:mod:`.concurrently`), each holding a notebook slot under
``run --tenants`` (:mod:`.slots`); on one CPU, or with one slot free, one after the other.

The folder is built as ``<out>/.<week ending>.partial-<token>/`` next to it and moved into place only when
complete (:func:`sspr_review.core.swap.publish`: an atomic exchange on Linux and macOS; elsewhere, as on Windows,
two renames), replacing the previous complete folder, so a reader or a mailer never sees a mixed or half-written
folder; a run killed part-way leaves the previous folder as it was, and the next run removes the leftover (the run
holds a lock named by its token while its folders exist). A notebook that fails leaves its folder as
``<out>/<week ending>.failed/``.
"""

from __future__ import annotations

import functools
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..app.fetching import FetchResult
from ..app.notebook import notebook_parameters
from ..app.saved import save_review
from ..app.workspace import Workspace
from ..core.errors import NotebookFailed
from ..core.files import naming, private_dir
from ..core.swap import holding, new_token, partial_folder, publish, remove_leftovers
from ..core.vocabulary import SEVERITIES
from . import concurrently, notebooks, outputs
from .slots import Slot, notebook_slots

#: The notebooks ``run`` executes, in order: (notebook stem, HTML stem).
RUN_NOTEBOOKS = ("weekly_review", "adoption_trends")


@dataclass
class RunResult:
    folder: Path
    fetch: FetchResult | None
    findings: dict[str, Any]
    html: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: notebook stem → when its execution and export started and ended, in seconds since the run started
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)

    def at_or_above(self, severity: str) -> list[dict[str, Any]]:
        """Findings of ``severity`` or worse."""
        rank = SEVERITIES.index(severity)
        return [f for f in self.findings.get("findings", []) if SEVERITIES.index(f["severity"]) <= rank]


@dataclass
class _Clock:
    """The run's timings, and when each notebook ran (from threads: each writes its own keys)."""

    started: float
    timings: dict[str, float]
    spans: dict[str, tuple[float, float]] = field(default_factory=dict)


def run(
    ws: Workspace,
    *,
    week_ending: str | None = None,
    out: Path = Path("reports"),
    fetch: bool = True,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda _: None,
    notebook_slots: Path | None = None,
) -> RunResult:
    """Fetch (unless ``fetch`` is false), then build the week's reports into ``out/<week ending>/``, each notebook
    executing while holding one of ``notebook_slots``' slots (:mod:`.slots`; none: unbounded), side by side when
    there are CPUs and slots for both.

    Raises :class:`~sspr_review.report.NotebookFailed` when a notebook fails and
    :class:`~sspr_review.core.errors.ToolchainMissing` (before fetching) when a notebook, the report template
    or the kernel is missing; fetch errors of single sources do not stop the run (the report shows them as
    data gaps).
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    notebooks.preflight(RUN_NOTEBOOKS)
    result: FetchResult | None = None
    if fetch:
        log(f"fetching from {ws.source_name} into {ws.store.path}")
        result = ws.update(progress=progress)
    timings["fetch"] = time.perf_counter() - started
    week = ws.window(week_ending).week_ending.isoformat()
    private_dir(out)
    remove_leftovers(out)
    token = new_token()
    with holding(out, token):
        return _run_into(ws, week, out, token, result, _Clock(started, timings), log, notebook_slots)


def _run_into(
    ws: Workspace,
    week: str,
    out: Path,
    token: str,
    result: FetchResult | None,
    clock: _Clock,
    log: Callable[[str], None],
    slots_folder: Path | None,
) -> RunResult:
    """Build the week's folder beside ``out/<week>`` and publish it (the caller holds the run's lock)."""
    final = out / week
    folder = partial_folder(out, week, token)
    folder.mkdir(mode=0o700)
    timings = clock.timings
    try:
        t0 = time.perf_counter()
        log(f"reviewing the week ending {week}")
        review = ws.review(week)
        saved = save_review(review, folder)
        timings["review"] = time.perf_counter() - t0
        try:
            # a full disk while papermill or nbconvert writes: name the out folder
            side_by_side = min(len(RUN_NOTEBOOKS), concurrently.cpus())
            with notebook_slots(slots_folder, side_by_side, log) as slots, naming(out):
                html = _build(ws, week, folder, final, clock, log, saved, review.tenant.get("name") or "", slots)
        finally:
            saved.unlink(missing_ok=True)  # the notebooks ran: a copy of the week's data less in the reports
        t0 = time.perf_counter()
        log("writing findings.json and charts.json")
        findings = outputs.write_outputs(review, folder)
        timings["findings"] = time.perf_counter() - t0
    except NotebookFailed as exc:
        failed = out / f"{week}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        folder.rename(failed)
        executed = (failed / exc.notebook.name).resolve()
        raise NotebookFailed(str(exc).replace(str(exc.notebook), str(executed)), notebook=executed) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    publish(folder, final, token)
    timings["total"] = time.perf_counter() - clock.started
    return RunResult(final, result, findings, [final / p.name for p in html], timings, clock.spans)


def _build(
    ws: Workspace,
    week: str,
    folder: Path,
    final: Path,
    clock: _Clock,
    log: Callable[[str], None],
    saved: Path,
    tenant: str,
    slots: list[Slot],
) -> list[Path]:
    """Execute and export every notebook into ``folder``, one thread per slot (:func:`.concurrently.run_all`), each
    displaying the ``saved`` review of ``tenant`` (its name, for the page titles); slim the executed notebooks for
    ``final`` (their ``saved_review`` parameter blanked: run again, they compute the review)."""
    params = notebook_parameters(ws, week, saved)
    # SSPR_REVIEW_* variables the configuration does not read were warned about here: a kernel would only warn
    # again, into the reports
    unread = ws.config.unknown_env(os.environ)
    notebooks.load_toolchain()  # here, not in two threads at once

    def build(stem: str) -> tuple[Path, Path]:
        t0 = time.perf_counter()
        log(f"executing {stem}")
        executed = notebooks.execute(notebooks.notebook(stem), folder / f"{stem}.ipynb", params, hide_env=unread)
        t1 = time.perf_counter()
        title = notebooks.page_title(stem, tenant, date.fromisoformat(week))
        html = notebooks.export_html(executed, folder / f"{notebooks.REPORTS[stem]}.html", title=title)
        t2 = time.perf_counter()
        clock.timings[f"execute {stem}"] = t1 - t0
        clock.timings[f"export {stem}"] = t2 - t1
        clock.spans[stem] = (t0 - clock.started, t2 - clock.started)
        return executed, html

    t0 = time.perf_counter()
    built = concurrently.run_all([functools.partial(build, stem) for stem in RUN_NOTEBOOKS], slots)
    clock.timings["notebooks"] = time.perf_counter() - t0
    for executed, _ in built:
        blank = {params["saved_review"]: ""}  # first: before the folder is renamed in it
        notebooks.slim(executed, replace=blank | {str(folder.resolve()): str(final.resolve()), str(folder): str(final)})
    return [html for _, html in built]
