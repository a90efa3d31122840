"""A downloaded container tree: the ``insights-logs-auditlogs/`` and ``insights-logs-userriskevents/`` folders of a
storage account, as Azure Storage Explorer or ``azcopy`` saves them, read by the files source beside (or instead of)
Graph JSON exports. Each blob is read line by line when the fetch asks for its kind (:meth:`ArchiveTree.pages`),
never held whole; the hours present come from the paths, so the span and the gaps are known before any is read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from ...core.records import SetAside
from ..base import Pages
from .blobs import BlobReader, Hours, blob_hour
from .envelope import CATEGORIES

CONTAINER_PREFIX: Final = "insights-logs-"


def container_of(relative: Path) -> str | None:
    """The ``insights-logs-*`` folder a file lies under (its container), or ``None``."""
    return next((p for p in relative.parts[:-1] if p.lower().startswith(CONTAINER_PREFIX)), None)


@dataclass(frozen=True)
class Blob:
    path: Path
    container: str
    kind: str
    hour: datetime | None


class ArchiveTree:
    """The archived blobs under ``folder`` (``files``: the ``.json`` files below an ``insights-logs-*`` folder)."""

    def __init__(self, folder: Path, files: list[Path], set_aside: SetAside) -> None:
        self.folder = folder
        self.set_aside = set_aside
        self.blobs: list[Blob] = []
        self.hours = Hours()
        self.readers: dict[str, BlobReader] = {}
        for file in sorted(files):
            relative = file.relative_to(folder)
            container = container_of(relative) or ""
            kind = CATEGORIES.get(container.lower().removeprefix(CONTAINER_PREFIX))
            if kind is None:
                continue  # a category the kit does not read (insights-logs-riskyusers, sign-ins)
            hour = blob_hour(relative.as_posix())
            self.blobs.append(Blob(file, container, kind, hour))
            if hour is not None:
                self.hours.add(kind, hour)

    def has(self, kind: str) -> bool:
        return any(b.kind == kind for b in self.blobs)

    def span(self, kind: str) -> tuple[datetime, datetime] | None:
        return self.hours.span(kind)

    def gaps(self, kind: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
        return self.hours.window_gaps(kind, start, end, f"the archive in {self.folder}")

    def note(self, kind: str) -> str | None:
        where = f"a downloaded diagnostic-setting archive in {self.folder}"
        return self.hours.note(kind, where, self.readers.get(kind))

    async def pages(self, kind: str) -> Pages:
        """Every record of ``kind`` in the tree, a page at a time, each blob read line by line."""
        reader = self.readers.setdefault(kind, BlobReader(kind, self.set_aside))
        for blob in self.blobs:
            if blob.kind != kind:
                continue
            for page in reader.blob(str(blob.path), _lines(blob.path), blob.container):
                yield page


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from fh
