"""Owner-only folders and atomic, crash-safe file writes: how the kit writes everything that holds tenant data
(the store, reports, findings.json, e-mail files, the Graph request record)."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
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


def atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write through ``write(tmp_path)`` then rename onto ``path``; fsync file and folder. Owner-only.

    The temporary file is named ``.tmp-*`` beside ``path`` (a store writer removes a crashed one's leftovers).
    """
    private_dir(path.parent)
    tmp = path.parent / f".tmp-{uuid.uuid4().hex}{path.suffix}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_folder(path.parent)


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


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented, key-sorted JSON atomically to ``path``, readable by the owner only."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n"))


def write_parquet(path: Path, frame: pd.DataFrame, *, row_group_rows: int | None = None) -> None:
    """Write ``frame`` as zstd-compressed Parquet atomically to ``path``, readable by the owner only (in row groups
    of ``row_group_rows`` rows when given)."""
    atomic_write(
        path, lambda tmp: frame.to_parquet(tmp, index=False, compression="zstd", row_group_size=row_group_rows)
    )
