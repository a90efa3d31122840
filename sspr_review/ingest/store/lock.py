"""The store's locks, on any platform ``filelock`` supports: one fetch at a time writes a tenant's store
(:func:`write_lock`), and one process at a time builds the demo store, the others waiting (:func:`waiting_lock`).

A lock is a file held through ``filelock`` (``flock`` on Unix, ``msvcrt`` locking on Windows; the operating
system releases it when the holder exits, however it exits). The holder writes its process id to a file beside
it, for the message another process gets; the lock file itself cannot carry it, since ``filelock`` empties it on
every attempt to take it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
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
        raise StoreError(
            f"another fetch (pid {_holder(folder / WRITER_FILE)}) is writing {folder}; wait for it to finish"
        ) from None
    try:
        _write_holder(folder / WRITER_FILE)
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def waiting_lock(lock_file: Path, holder_file: Path, waiting: Callable[[str], None]) -> Iterator[None]:
    """Hold ``lock_file`` for the block; when another process holds it, ``waiting(its pid)`` is called, then this
    waits for it. The holder's process id goes to ``holder_file``."""
    private_dir(lock_file.parent)
    lock = FileLock(lock_file, mode=0o600, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        waiting(_holder(holder_file, "another process"))
        lock.acquire()
    try:
        _write_holder(holder_file)
        yield
    finally:
        lock.release()


def _write_holder(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, str(os.getpid()).encode())
    finally:
        os.close(fd)


def _holder(path: Path, unknown: str = "unknown") -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")[:64].strip()
    except OSError:
        text = ""
    return text or unknown
