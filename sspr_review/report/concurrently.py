"""Running a run's notebook executions side by side: one thread per held notebook slot, each thread driving one
papermill execution at a time (:func:`sspr_review.report.notebooks.execute` is thread-safe: it changes neither the
process's environment nor its working folder). The threads mostly wait on their kernels, which are separate
processes, so two notebooks on two CPUs take about as long as the longer one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from .slots import Slot

T = TypeVar("T")


def cpus() -> int:
    """The CPUs this process may run on: its affinity where the system says (a container or ``taskset`` may allow
    fewer than the machine has), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # pragma: no cover - macOS and Windows


def run_all(tasks: Sequence[Callable[[], T]], slots: Sequence[Slot]) -> list[T]:
    """Run ``tasks`` on one thread per slot (no more threads than tasks; one slot: in order, in this thread), and
    return their results in order.

    A thread takes the next task until none is left, then releases its slot. After a task fails no other task
    starts; the ones running are awaited, never abandoned, and then the first failure in the order of ``tasks``
    is raised. Interrupted while waiting, this still awaits the running tasks before the interruption goes on, so
    no task writes into a folder its caller is about to remove."""
    workers = min(len(tasks), len(slots))
    if workers <= 1:
        try:
            return [task() for task in tasks]
        finally:
            for slot in slots:
                slot.release()
    results: dict[int, T] = {}
    errors: dict[int, BaseException] = {}
    pending = iter(range(len(tasks)))
    taking = threading.Lock()
    stop = threading.Event()

    def work(slot: Slot) -> None:
        try:
            while not stop.is_set():
                with taking:
                    index = next(pending, None)
                if index is None:
                    return
                try:
                    results[index] = tasks[index]()
                except BaseException as exc:  # handed to the caller below, in the order of the tasks
                    errors[index] = exc
                    stop.set()
        finally:
            slot.release()  # no task left for this thread: another run may use the slot

    threads = [
        threading.Thread(target=work, args=(slot,), name=f"notebook-{i}") for i, slot in enumerate(slots[:workers])
    ]
    for slot in slots[workers:]:
        slot.release()
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        stop.set()
        for thread in threads:
            thread.join()
        raise
    if errors:
        raise errors[min(errors)]
    return [results[i] for i in range(len(tasks))]
