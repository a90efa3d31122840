"""`run` executes its two report notebooks side by side when it may use two CPUs, each in its own kernel with the
environment it should see, and under `run --tenants`' notebook slots only as many at once as slots are free."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import nbformat
import pytest

from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.report import concurrently, notebooks
from sspr_review.report.run import RUN_NOTEBOOKS, RunResult, run
from sspr_review.report.slots import Slot, make_slots, notebook_slots

# executes the report notebooks (and two small ones) with papermill
pytestmark = [pytest.mark.notebook, pytest.mark.slow]
TWO_CPUS = pytest.mark.skipif(concurrently.cpus() < 2, reason="side by side needs two CPUs; on one they take turns")
HIDDEN = "SSPR_REVIEW_NOT_A_SETTING"


def overlap(result: RunResult) -> float:
    """How long both notebooks were executing or exporting at once, in seconds (negative: a gap between them)."""
    (start_a, end_a), (start_b, end_b) = (result.spans[stem] for stem in RUN_NOTEBOOKS)
    return min(end_a, end_b) - max(start_a, start_b)


def demo_run(demo_store: Path, small_config: Path, out: Path, slots: Path | None = None) -> RunResult:
    ws = Workspace(config.load(small_config, store__path=str(demo_store)), "demo")
    return run(ws, fetch=False, out=out, notebook_slots=slots)


@TWO_CPUS
def test_the_two_notebooks_execute_at_once(demo_store: Path, small_config: Path, tmp_path: Path) -> None:
    result = demo_run(demo_store, small_config, tmp_path / "reports")
    assert overlap(result) > 0, result.spans
    for stem in RUN_NOTEBOOKS:  # each notebook timed on its own still
        assert result.timings[f"execute {stem}"] > 0 and result.timings[f"export {stem}"] > 0
    # side by side, the notebooks' phase is shorter than the two one after the other
    assert result.timings["notebooks"] < sum(result.timings[f"execute {stem}"] for stem in RUN_NOTEBOOKS)
    assert sorted(p.name for p in result.folder.iterdir()) == [
        "adoption-trends.html",
        "adoption_trends.ipynb",
        "charts.json",
        "findings.json",
        "weekly-review.html",
        "weekly_review.ipynb",
    ]


@TWO_CPUS
def test_with_one_slot_free_the_notebooks_take_turns_in_it(
    demo_store: Path, small_config: Path, tmp_path: Path
) -> None:
    slots = make_slots(tmp_path / "slots", 2)
    with notebook_slots(slots, 1) as other_tenant:  # another tenant executes a notebook
        assert len(other_tenant) == 1
        result = demo_run(demo_store, small_config, tmp_path / "reports", slots)
    assert overlap(result) < 0, result.spans  # at most --notebook-jobs executions at once
    both_free = demo_run(demo_store, small_config, tmp_path / "reports", slots)
    assert overlap(both_free) > 0, both_free.spans


def probe_notebook(path: Path) -> Path:
    """A notebook printing what its kernel sees: the hidden variable, its working folder, when it ran."""
    book = nbformat.v4.new_notebook()
    book.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    book.cells = [
        nbformat.v4.new_code_cell(
            "import os, time\n"
            "started = time.time()\n"
            "time.sleep(1.5)\n"
            f"print(repr(os.environ.get({HIDDEN!r})), os.getcwd(), started, time.time(), sep='|')"
        )
    ]
    nbformat.write(book, path)
    return path


def test_a_hidden_variable_reaches_neither_kernel_executing_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HIDDEN, "leak")
    notebook = probe_notebook(tmp_path / "probe.ipynb")
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    here = os.getcwd()

    def execute(i: int) -> str:
        executed = notebooks.execute(notebook, tmp_path / f"out-{i}.ipynb", {}, cwd=folders[i], hide_env=[HIDDEN])
        (cell,) = nbformat.read(executed, as_version=4).cells
        return str(cell.outputs[0]["text"]).strip()

    # the race of old: an execution popped hidden variables from os.environ and put them back when it ended, so the
    # other's kernel, started in between or after, saw or missed them by timing. Now os.environ is never changed.
    done = threading.Event()
    environ_seen: set[bool] = set()

    def watch() -> None:
        while not done.wait(0.01):
            environ_seen.add(os.environ.get(HIDDEN) == "leak")

    watcher = threading.Thread(target=watch)
    watcher.start()
    notebooks.load_toolchain()
    try:
        seen = concurrently.run_all([lambda: execute(0), lambda: execute(1)], [Slot(), Slot()])
    finally:
        done.set()
        watcher.join()
    assert environ_seen == {True}
    spans = []
    for i, line in enumerate(seen):
        value, cwd, started, ended = line.split("|")
        assert value == "None" and cwd == str(folders[i])  # hidden, and each kernel in its own folder
        spans.append((float(started), float(ended)))
    assert os.environ[HIDDEN] == "leak" and os.getcwd() == here  # this process's environment and folder unchanged
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # the kernels ran at the same time
