"""Copies of the kit's notebooks that an analyst may edit: the one bookkeeping ``sspr-review notebooks DIR`` and
``sspr-review lab`` share.

The folder keeps ``.sspr-review-notebooks.json``: file name → SHA-256 of the copy the kit last wrote there. A copy
whose SHA-256 is neither the kit's notebook's nor the recorded one was edited (or run) since: it is the analyst's,
and what happens to it is the caller's choice (:data:`EditedCopies`). Every other copy follows the kit: a missing
one is copied, an unchanged old one is updated.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from ..core.errors import CopyRefused
from ..core.files import private_dir, write_private_text

#: What the kit last wrote into a folder of copies, by file name → SHA-256.
COPY_RECORD = ".sspr-review-notebooks.json"

#: What to do when copies were edited: keep them as they are (``lab``), refuse to copy anything, naming them
#: (``notebooks``), or overwrite them (``notebooks --force``).
EditedCopies = Literal["keep", "refuse", "overwrite"]
#: What became of each copy.
Action = Literal["copied", "updated", "up to date", "kept (edited)", "overwritten"]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_record(folder: Path) -> dict[str, str]:
    """The folder's record of what the kit wrote (empty when there is none or it cannot be read)."""
    try:
        record: Any = json.loads((folder / COPY_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(record, dict):
        return {}
    return {str(name): digest for name, digest in record.items() if isinstance(digest, str)}


def plan(folder: Path, sources: Mapping[str, Path], record: Mapping[str, str]) -> list[tuple[Path, bytes, Action]]:
    """For each of ``sources`` (file name → the kit's file): its copy in ``folder``, the kit's bytes and what
    :func:`sync_copies` does with it when edited copies are kept."""
    out: list[tuple[Path, bytes, Action]] = []
    for name, source in sources.items():
        target = folder / name
        content = source.read_bytes()
        action: Action
        if not target.exists():
            action = "copied"
        else:
            current = _digest(target.read_bytes())
            if current == _digest(content):
                action = "up to date"
            elif current == record.get(name):
                action = "updated"
            else:
                action = "kept (edited)"
        out.append((target, content, action))
    return out


def sync_copies(folder: Path, sources: Mapping[str, Path], *, edited: EditedCopies) -> list[tuple[Path, Action]]:
    """Bring the copies in ``folder`` (created owner-only) of ``sources`` up to date: (path, what happened) for each.

    Missing copies are copied, unedited copies of a changed notebook are updated, edited copies are handled as
    ``edited`` says; with ``"refuse"`` nothing at all is written and :class:`CopyRefused` names them. Every copy is
    left readable by its owner only (mode 600)."""

    record = read_record(folder)
    steps = plan(folder, sources, record)
    kept = [target for target, _, action in steps if action == "kept (edited)"]
    if kept and edited == "refuse":
        names = ", ".join(str(p) for p in kept)
        raise CopyRefused(
            f"{names}: edited since sspr-review copied {'it' if len(kept) == 1 else 'them'}; nothing was copied. "
            "Keep your edits (copy into another folder), or pass --force to overwrite them"
        )
    private_dir(folder)
    done: list[tuple[Path, Action]] = []
    for target, content, action in steps:
        if action == "kept (edited)" and edited == "overwrite":
            action = "overwritten"
        if action in ("copied", "updated", "overwritten"):
            write_private_text(target, content.decode("utf-8"))
        if action != "kept (edited)":
            record[target.name] = _digest(content)
        os.chmod(target, 0o600)
        done.append((target, action))
    write_private_text(folder / COPY_RECORD, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return done
