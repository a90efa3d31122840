"""Publishing a complete folder in place of the previous one, on every system the kit runs on.

:func:`publish` moves a finished folder (built beside its final name) to that name. Where the system can swap two
folders in one step, the reader of the final name sees the old folder or the new one and nothing else:

- Linux: ``renameat2(RENAME_EXCHANGE)`` (kernel 3.15 and later; not on every file system);
- macOS: ``renamex_np(RENAME_SWAP)`` (10.12 and later, APFS).

Elsewhere (Windows, which has no atomic swap of folders, and where the call is refused) the fallback is two
renames: the previous folder is set aside as ``.<name>.previous-<token>``, then the new one takes its name. Between
the two a reader finds no folder at that name for an instant (never a mixed one), and a process killed between them
leaves the previous folder set aside: :func:`remove_leftovers` puts it back on the next run.

Each run holds a lock (``filelock``) named by its token while its folders exist, so :func:`remove_leftovers` tells
a leftover of a run that died (its lock is free) from the folders of a run still going, with no process ids.
Standard library and ``filelock`` only: nothing POSIX-only is imported (``ctypes`` loads the C library only on
Linux and macOS).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from .files import fsync_folder

PARTIAL = ".partial-"
PREVIOUS = ".previous-"
LOCK_PREFIX = ".run-"

_AT_FDCWD = -100  # Linux: paths relative to the working folder (ours are absolute or relative alike)
_RENAME_EXCHANGE = 2  # Linux
_RENAME_SWAP = 2  # macOS renamex_np


def exchange(a: Path, b: Path) -> bool:
    """Swap the folders ``a`` and ``b`` in one atomic step; ``False`` where the system cannot (nothing changed)."""
    if sys.platform.startswith("linux"):
        return _call(
            "renameat2",
            [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint],
            (_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE),
        )
    if sys.platform == "darwin":
        return _call(
            "renamex_np",
            [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_uint],
            (os.fsencode(a), os.fsencode(b), _RENAME_SWAP),
        )
    return False


def _call(name: str, argtypes: list[type], args: tuple[object, ...]) -> bool:
    """``name(*args)`` from the C library; ``False`` when it is missing or fails."""
    library = ctypes.util.find_library("c")
    if not library:
        return False
    try:
        function = getattr(ctypes.CDLL(library, use_errno=True), name)
    except (OSError, AttributeError):
        return False
    function.argtypes = argtypes
    function.restype = ctypes.c_int
    return bool(function(*args) == 0)


def new_token() -> str:
    """A run's token: names its lock and its folders beside the final one."""
    return uuid.uuid4().hex[:12]


def _lock(out: Path, token: str) -> FileLock:
    return FileLock(out / f"{LOCK_PREFIX}{token}.lock", mode=0o600, thread_local=False)


@contextlib.contextmanager
def holding(out: Path, token: str) -> Iterator[None]:
    """Hold the run's lock in ``out`` for the block (its folders there are then not leftovers)."""
    lock = _lock(out, token)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()
        with contextlib.suppress(OSError):
            Path(lock.lock_file).unlink()


def partial_folder(out: Path, name: str, token: str) -> Path:
    """Where a run builds the folder that becomes ``out/name``."""
    return out / f".{name}{PARTIAL}{token}"


def publish(folder: Path, final: Path, token: str) -> None:
    """Move the complete ``folder`` to ``final``, replacing a previous complete folder only now (see the module)."""
    fsync_folder(folder)
    if final.exists() and exchange(folder, final):
        shutil.rmtree(folder, ignore_errors=True)  # now the previous folder
    else:
        previous = final.with_name(f".{final.name}{PREVIOUS}{token}")
        if final.exists():
            final.rename(previous)
        folder.rename(final)
        shutil.rmtree(previous, ignore_errors=True)
    fsync_folder(final.parent)


def remove_leftovers(out: Path) -> None:
    """Remove what runs that died left in ``out`` (their lock is free): a folder being built, or a previous folder
    set aside for the swap, put back when the swap did not finish."""
    for leftover in sorted(out.glob(f".*{PARTIAL}*")) + sorted(out.glob(f".*{PREVIOUS}*")):
        marker = PARTIAL if PARTIAL in leftover.name else PREVIOUS
        name, _, token = leftover.name[1:].partition(marker)
        lock = _lock(out, token)
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # a run still going
        try:
            if marker == PREVIOUS and not (out / name).exists():
                leftover.rename(out / name)
            else:
                shutil.rmtree(leftover, ignore_errors=True)
        finally:
            lock.release()
            with contextlib.suppress(OSError):
                Path(lock.lock_file).unlink()
