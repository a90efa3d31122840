"""Bounded notebook executions across processes: a run of many tenants (``run --tenants``) lets at most N report
notebooks execute at once, whatever the number of tenants and whatever ``--parallel`` is (each execution starts a
Python kernel; the fetches, which mostly wait on Graph's budgets, may run wider).

The slots are N lock files in one folder, made by the process that starts the tenants (:func:`make_slots`); a
``run`` given the folder holds one slot per notebook it executes at once (:func:`notebook_slots`): its two notebooks
run side by side only when two slots are free, one after the other in the one slot it got otherwise. A run never
waits for a slot while holding one, so tenants holding one each cannot deadlock. The locks are ``filelock``'s: the
operating system releases a slot when its holder exits, however it exits.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ..core.files import private_dir

#: How often a run waiting for a slot tries again, in seconds.
POLL_SECONDS = 0.25


def make_slots(folder: Path, count: int) -> Path:
    """``count`` slots in ``folder`` (owner-only); the folder."""
    private_dir(folder)
    for i in range(count):
        (folder / f"slot-{i}.lock").touch(mode=0o600)
    return folder


class Slot:
    """One held slot (without a slots folder, nothing to hold): released once, by the block's end or earlier by
    the execution that no longer needs it, from any thread."""

    def __init__(self, lock: FileLock | None = None) -> None:
        self._lock = lock

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()


def _take_free(paths: list[Path], wanted: int) -> list[Slot]:
    """Up to ``wanted`` of the slots ``paths`` that are free now, without waiting."""
    taken: list[Slot] = []
    for path in paths:
        if len(taken) == wanted:
            break
        lock = FileLock(path, mode=0o600, thread_local=False)  # released by whichever thread finishes
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue
        taken.append(Slot(lock))
    return taken


@contextlib.contextmanager
def notebook_slots(
    folder: Path | None, wanted: int, log: Callable[[str], None] = lambda _: None
) -> Iterator[list[Slot]]:
    """Hold between one and ``wanted`` of ``folder``'s slots for the block: as many as are free, waiting (``log``
    says so once) only while none is. No folder: ``wanted`` slots, no bound."""
    paths = sorted(folder.glob("slot-*.lock")) if folder is not None else []
    if not paths:
        yield [Slot() for _ in range(wanted)]
        return
    said = False
    while not (held := _take_free(paths, wanted)):
        if not said:
            log(f"waiting for a notebook slot ({len(paths)} in use by other tenants)")
            said = True
        time.sleep(POLL_SECONDS)
    try:
        yield held
    finally:
        for slot in held:
            slot.release()
