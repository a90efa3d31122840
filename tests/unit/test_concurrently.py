"""Running a run's notebook executions side by side (sspr_review.report.concurrently): results in order, one
thread per slot, each slot given back when its thread has no task left, and a failure raised in the order of the
tasks after every running task has finished."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from sspr_review.report import concurrently
from sspr_review.report.slots import Slot, make_slots, notebook_slots


def test_the_cpus_are_the_ones_this_process_may_use() -> None:
    assert concurrently.cpus() >= 1


def test_tasks_run_side_by_side_one_thread_per_slot() -> None:
    both = threading.Barrier(2, timeout=5)  # each task waits for the other: they must run at the same time

    def task(n: int) -> int:
        both.wait()
        return n * 10

    assert concurrently.run_all([lambda: task(1), lambda: task(2)], [Slot(), Slot()]) == [10, 20]


def test_one_slot_runs_the_tasks_in_order_in_this_thread() -> None:
    threads: list[str] = []

    def task(n: int) -> int:
        threads.append(threading.current_thread().name)
        return n

    assert concurrently.run_all([lambda: task(1), lambda: task(2)], [Slot()]) == [1, 2]
    assert threads == [threading.current_thread().name] * 2


def test_a_thread_gives_its_slot_back_when_no_task_is_left(tmp_path: Path) -> None:
    folder = make_slots(tmp_path / "slots", 2)
    long_done = threading.Event()
    free_while_long_runs: list[int] = []

    def short() -> str:
        return "short"

    def long() -> str:
        with notebook_slots(folder, 2) as other:  # waits until the short task's thread gives its slot back
            free_while_long_runs.append(len(other))
        long_done.set()
        return "long"

    with notebook_slots(folder, 2) as held:
        assert len(held) == 2
        assert concurrently.run_all([long, short], held) == ["long", "short"]
    assert long_done.is_set() and free_while_long_runs == [1]


def test_a_failure_is_raised_in_task_order_after_the_running_tasks_finish() -> None:
    finished: list[str] = []
    started: list[str] = []
    both = threading.Barrier(2, timeout=5)

    def fails_late() -> str:
        started.append("first")
        both.wait()
        time.sleep(0.2)
        raise ValueError("the first task failed")

    def fails_early() -> str:
        started.append("second")
        both.wait()
        raise KeyError("the second task failed")

    def slow_ok() -> str:
        started.append("ok")
        both.wait()
        time.sleep(0.3)
        finished.append("ok")
        return "ok"

    # both fail: the first in order is raised, not the first in time
    with pytest.raises(ValueError, match="the first task failed"):
        concurrently.run_all([fails_late, fails_early], [Slot(), Slot()])
    # one fails while the other runs: the other is awaited before the failure is raised, and no task starts after
    started.clear()
    with pytest.raises(KeyError, match="the second task failed"):
        concurrently.run_all([slow_ok, fails_early, slow_ok], [Slot(), Slot()])
    assert finished == ["ok"] and sorted(started) == ["ok", "second"]
