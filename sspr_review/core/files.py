"""Owner-only folders and atomic, crash-safe file writes: how the kit writes everything that holds tenant data
(the store, reports, findings.json, e-mail files, the Graph request record)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd


def private_dir(path: Path) -> None:
    """Create ``path`` (and missing parents) readable by the owner only: the store holds personal data."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)


def atomic_write(
    path: Path,
    write: Callable[[Path], Any],
    publish: Callable[[Path, Path], Any] = os.replace,
    *,
    durable: bool = True,
) -> None:
    """Write through ``write(tmp_path)`` then ``publish(tmp_path, path)`` (a rename, or the caller's step that
    renames, such as the store's manifest entry and rename under its lock); fsync file and folder unless not
    ``durable`` (a file that lives only while its process does: a crash loses nothing worth the wait). Owner-only.

    The temporary file is named ``.tmp-*`` beside ``path`` (a store writer removes a crashed one's leftovers).
    """
    private_dir(path.parent)
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}{path.suffix}"
    try:
        with naming(path):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            write(tmp)
            if durable:
                fd = os.open(tmp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            publish(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    if durable:
        fsync_folder(path.parent)


@contextlib.contextmanager
def naming(path: Path) -> Iterator[None]:
    """An ``OSError`` raised in the block without a path (a full disk while a library writes) names ``path``."""
    try:
        yield
    except OSError as exc:
        if exc.filename is not None or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, str(path)) from exc


def fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, as on Windows)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except (PermissionError, IsADirectoryError):  # pragma: no cover - Windows
        return
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` atomically to ``path``, readable by the owner only."""
    atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


#: How a file is written in one step: ``atomic(path, write)`` calls ``write(tmp)``, then puts ``tmp`` in place
#: (:func:`atomic_write`; the history store's writer also enters the file in its manifest).
Atomic = Callable[[Path, Callable[[Path], Any]], None]


def write_json(path: Path, data: Any, atomic: Atomic = atomic_write) -> None:
    """Write ``data`` as indented, key-sorted JSON atomically to ``path``, readable by the owner only."""
    atomic(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n"))


def write_parquet(
    path: Path, frame: pd.DataFrame, atomic: Atomic = atomic_write, *, row_group_rows: int | None = None
) -> None:
    """Write ``frame`` as zstd-compressed Parquet atomically to ``path``, readable by the owner only (in row groups
    of ``row_group_rows`` rows when given)."""
    atomic(path, lambda tmp: frame.to_parquet(tmp, index=False, compression="zstd", row_group_size=row_group_rows))


#: What to do about each failure of the machine, by errno name (the path is named before it).
_FIXES = {
    "ENOSPC": "the disk holding it is full: free some space, or give a folder on another disk, and run again "
    "(nothing half-written was kept: the files in place are the previous complete ones)",
    "EDQUOT": "this user's disk quota is used up: free some space or give a folder elsewhere, and run again",
    "EROFS": "it is on a read-only file system: give a folder the kit can write (the store: --store or [store] "
    "path; reports: --out; the state folder: SSPR_REVIEW_STATE_DIR; the lab: --folder)",
    "EACCES": "this user may not use it: make it readable and writable by this user (chmod u+rwX), or give another "
    "folder",
    "ENOTDIR": "a part of that path is a file, not a folder: give a folder",
    "EEXIST": "a file is in the way where a folder belongs: move it, or give another folder",
    "EISDIR": "it is a folder where a file belongs: give the path of a file",
    "ENOENT": "it does not exist: create it, or give a path that exists",
}
_FIXES["EPERM"] = _FIXES["EACCES"]


def machine_problem(exc: OSError) -> str:
    """A failure of the machine (a full disk, a read-only or missing folder, a file where a folder belongs) as one
    sentence naming the path and the fix."""
    name = errno.errorcode.get(exc.errno or 0, "")
    path = exc.filename2 or exc.filename
    if path and Path(os.fsdecode(path)).name.startswith(".tmp-"):  # a file being written: name its folder
        path = str(Path(os.fsdecode(path)).parent)
    what = exc.strerror or str(exc) or type(exc).__name__
    where = f"{os.fsdecode(path)}: " if path else ""
    fix = _FIXES.get(name)
    return f"cannot use {where}{what}" + (f"; {fix}" if fix else "")
