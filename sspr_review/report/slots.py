"""Bounded notebook executions across processes: a run of many tenants (``run --tenants``) lets at most N of its
tenants' processes execute report notebooks at once, whatever ``--parallel`` is (each execution starts Python
kernels; the fetches, which mostly wait on Graph's budgets, may run wider).

The slots are N lock files in one folder, made by the process that starts the tenants (:func:`make_slots`); a
``run`` given the folder holds one of them while its notebooks execute (:func:`notebook_slot`). The locks are
``filelock``'s: the operating system releases a slot when its holder exits, however it exits.
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


@contextlib.contextmanager
def notebook_slot(folder: Path | None, log: Callable[[str], None] = lambda _: None) -> Iterator[None]:
    """Hold one of ``folder``'s slots for the block, waiting for one when all are held (``log`` says so once);
    no folder: no bound."""
    slots = sorted(folder.glob("slot-*.lock")) if folder is not None else []
    if not slots:
        yield
        return
    said = False
    while True:
        for path in slots:
            lock = FileLock(path, mode=0o600, thread_local=False)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            try:
                yield
            finally:
                lock.release()
            return
        if not said:
            log(f"waiting for a notebook slot ({len(slots)} in use by other tenants)")
            said = True
        time.sleep(POLL_SECONDS)
