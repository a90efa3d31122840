"""The store's ``quarantine/`` folder: where a damaged file is moved, with a note saying why.

``<store>/<tenant>/quarantine/<UTC time>-<folder>-<file name>`` is the file as it was found, and beside it
``….note.json`` the note: the file's place in the store, the kind of data, why it was found damaged, when, the rows
the kit had written to it (from the manifest) and the intervals of coverage it took out. Nothing in the folder is
read by the kit; an analyst may inspect a file there, and delete the folder once the store is repaired.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from ...core.files import private_dir, write_json
from ...core.timefmt import iso_z

QUARANTINE: Final = "quarantine"
NOTE_SUFFIX: Final = ".note.json"


def move(folder: Path, rel: str, note: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Move ``folder/rel`` into the quarantine folder and write its note (``note`` plus where it went); the note.
    A file already gone is noted as missing."""
    target = folder / QUARANTINE
    private_dir(target)
    name = f"{at:%Y%m%dT%H%M%S%fZ}-{rel.replace('/', '-')}"
    moved: str | None = name
    try:
        os.replace(folder / rel, target / name)
    except FileNotFoundError:
        moved = None
    full = {**note, "file": rel, "at": iso_z(at), "moved_to": moved}
    write_json(target / f"{name}{NOTE_SUFFIX}", full)
    return full


def notes(folder: Path) -> list[dict[str, Any]]:
    """The notes of the files quarantined in the tenant's store ``folder``, oldest first."""
    target = folder / QUARANTINE
    out = []
    for path in sorted(target.glob(f"*{NOTE_SUFFIX}")) if target.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict):
                out.append(doc)
    return out
