"""The store's write lock holds across processes: a second process is refused, naming the holder's pid
(split from tests/unit/test_store.py: it starts a process)."""

import multiprocessing
from pathlib import Path

import pytest

from sspr_review.core.errors import StoreError
from sspr_review.ingest.store.history import Store


def _hold_lock(
    path: str, ready: "multiprocessing.synchronize.Event", done: "multiprocessing.synchronize.Event"
) -> None:
    with Store(path, "t").writing():
        ready.set()
        done.wait(10)


def test_lock_is_held_across_processes(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, done = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(tmp_path), ready, done))
    proc.start()
    try:
        assert ready.wait(20)
        with pytest.raises(StoreError, match=rf"pid {proc.pid}"), Store(tmp_path, "t").writing():
            pass
    finally:
        done.set()
        proc.join(10)
    with Store(tmp_path, "t").writing():  # free again
        pass
