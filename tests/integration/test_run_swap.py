"""`run` never leaves a mixed report folder: it builds next to it and swaps the complete folder in (issue 15.7)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# `sspr-review run`, killed part way and run again, executes the report notebooks
pytestmark = pytest.mark.notebook
CLI = [sys.executable, "-m", "sspr_review.cli"]


def _contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _writing_notebook(out: Path, previous: bytes) -> bool:
    """Has a run written part of a new weekly_review.ipynb anywhere under ``out``?"""
    for path in out.rglob("weekly_review.ipynb"):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        if data and data != previous:
            return True
    return False


@pytest.mark.timeout(900)
def test_a_run_killed_part_way_leaves_the_previous_folder_whole(
    demo_store: Path, small_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    args = [
        *CLI,
        "run",
        "--config",
        str(small_config),
        "--store",
        str(demo_store),
        "--source",
        "demo",
        "--no-fetch",
        "--no-progress",
        "--out",
        str(out),
    ]
    first = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    (folder,) = out.iterdir()
    before = _contents(folder)

    victim = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not _writing_notebook(out, before["weekly_review.ipynb"]):  # an event, not a time
        assert victim.poll() is None, "the run ended before it wrote a notebook"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    os.killpg(victim.pid, signal.SIGKILL)  # the run and its kernel, part-way through the first notebook
    victim.wait(timeout=60)

    assert _contents(folder) == before  # the previous complete folder, untouched
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == [folder.name]
    assert all(p.stat().st_mode & 0o077 == 0 for p in out.iterdir())  # the leftover is owner-only too

    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert [p.name for p in out.iterdir()] == [folder.name]  # complete, and the killed run's leftover is gone
    assert set(_contents(folder)) == set(before)
    assert folder.stat().st_mode & 0o077 == 0 and all(p.stat().st_mode & 0o077 == 0 for p in folder.iterdir())
