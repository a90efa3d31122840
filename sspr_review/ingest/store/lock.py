"""The store's write lock: one fetch at a time writes a tenant's store, on any platform ``filelock`` supports.

The lock is ``<tenant>/.lock`` (held through ``filelock``: ``flock`` on Unix, ``msvcrt`` locking on Windows; the
operating system releases it when the holder exits, however it exits). The holder writes its process id to
``<tenant>/.writer`` beside it, for the error another fetch gets; ``.lock`` itself cannot carry it, since
``filelock`` empties it on every attempt to take it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from ...core.errors import StoreError
from ...core.files import private_dir

LOCK_FILE = ".lock"
WRITER_FILE = ".writer"


@contextlib.contextmanager
def write_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s write lock for the block, or raise :class:`StoreError` naming the process holding it."""
    private_dir(folder)
    lock = FileLock(folder / LOCK_FILE, mode=0o600, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise StoreError(f"another fetch (pid {_holder(folder)}) is writing {folder}; wait for it to finish") from None
    try:
        _write_holder(folder)
        yield
    finally:
        lock.release()


def _write_holder(folder: Path) -> None:
    fd = os.open(folder / WRITER_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, str(os.getpid()).encode())
    finally:
        os.close(fd)


def _holder(folder: Path) -> str:
    try:
        text = (folder / WRITER_FILE).read_text(encoding="utf-8", errors="replace")[:64].strip()
    except OSError:
        text = ""
    return text or "unknown"
