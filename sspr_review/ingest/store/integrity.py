"""The store checks itself: a manifest of the data files the kit wrote, and the check of a file when it is opened.

``<store>/<tenant>/manifest.json`` holds, for every data file (its path inside the tenant's folder: the Parquet
tables and the policy snapshots), the versions of it the kit accepts: its size, its SHA-256, and for Parquet its row
count and a fingerprint of its columns. A file is written in one step with its entry (:meth:`Integrity.write`): the
data goes to a temporary file, which is described, entered in the manifest beside the version it replaces, and only
then renamed over the old one, so a writer killed at any instant leaves a file the manifest accepts.

:meth:`Integrity.check` is the one call at the point a file is opened: the size, then the checksum, against the
manifest (read again once on a mismatch, since a writer may have just replaced the file). A file without an entry
(a store written before the manifest existed, or a file put there by hand) is opened and decoded whole, its
columns checked against :mod:`sspr_review.core.schema`; a fetch then enters it. Anything else raises
:class:`~sspr_review.core.errors.StoreDamaged` naming the file and how it is damaged; the
:class:`~sspr_review.ingest.store.Store` quarantines it (:mod:`.quarantine`).

A file once checked is not hashed again by the same process while its inode, size and modification time are
unchanged.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from ...core import schema
from ...core.errors import StoreDamaged
from ...core.files import atomic_write, write_json

MANIFEST: Final = "manifest.json"
MANIFEST_FORMAT: Final = 1
#: The folders of data files, and the suffix of their files. A policy snapshot is JSON; the rest Parquet.
DATA_FOLDERS: Final = {
    "audit": ".parquet",
    "risk": ".parquet",
    "registration": ".parquet",
    "privileged": ".parquet",
    "policy": ".json",
}
_CHUNK = 1 << 20
#: Rows decoded at a time when a file without an entry is checked whole (bounds the check's memory).
_BATCH_ROWS = 65_536


@dataclass(frozen=True)
class Version:
    """One accepted version of a file: what the kit wrote."""

    size: int
    sha256: str
    rows: int | None = None
    schema: str | None = None

    @classmethod
    def from_doc(cls, doc: Any) -> Version | None:
        if not isinstance(doc, dict) or not isinstance(doc.get("size"), int) or not isinstance(doc.get("sha256"), str):
            return None
        rows, fingerprint = doc.get("rows"), doc.get("schema")
        return cls(
            doc["size"],
            doc["sha256"],
            rows if isinstance(rows, int) else None,
            fingerprint if isinstance(fingerprint, str) else None,
        )


def sha256_of(path: Path) -> str:
    """The SHA-256 of ``path``'s bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(arrow_schema: pa.Schema) -> str:
    """A short fingerprint of a table's columns and their types."""
    text = "\n".join(f"{f.name}:{f.type}" for f in arrow_schema)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def describe(path: Path) -> Version:
    """What ``path`` is: its size and checksum, and for Parquet its row count and column fingerprint."""
    size, digest = path.stat().st_size, sha256_of(path)
    if path.suffix != ".parquet":
        return Version(size, digest)
    meta = pq.read_metadata(path)
    return Version(size, digest, meta.num_rows, fingerprint(meta.schema.to_arrow_schema()))


def data_files(folder: Path) -> Iterator[Path]:
    """Every data file of the tenant's store ``folder`` (temporary files and lean summaries left out)."""
    for name, suffix in DATA_FOLDERS.items():
        sub = folder / name
        if sub.is_dir():
            yield from sorted(
                p
                for p in sub.glob(f"*{suffix}")
                if not p.name.startswith(".") and not p.name.endswith(".lean.json") and p.is_file()
            )


def deep_check(path: Path, rel: str) -> Version:
    """Check a file the manifest does not list by reading it whole: a Parquet file of a table must open, hold the
    table's columns and decode; a policy snapshot must be a JSON object. Its :class:`Version` when it passes."""
    table = rel.split("/", 1)[0]
    if path.suffix == ".parquet":
        try:
            handle = pq.ParquetFile(path)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise StoreDamaged(rel, f"it is not a readable Parquet file ({_short(exc)})") from None
        with contextlib.closing(handle):
            names = set(handle.schema_arrow.names)
            lacking = [c for c in schema.TABLES.get(table, {}) if c not in names]
            if lacking:
                raise StoreDamaged(rel, f"it lacks the column{'s' * (len(lacking) > 1)} {', '.join(lacking)}")
            try:
                for _batch in handle.iter_batches(batch_size=_BATCH_ROWS):
                    pass
            except (pa.ArrowException, OSError, ValueError) as exc:
                raise StoreDamaged(rel, f"its data cannot be decoded ({_short(exc)})") from None
        return describe(path)
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise StoreDamaged(rel, f"it is not valid JSON ({_short(exc)})") from None
    if not isinstance(doc, dict):
        raise StoreDamaged(rel, "it is not a JSON object")
    return describe(path)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


class Integrity:
    """The manifest and the checks of one tenant's store folder. Thread-safe: a fetch writes tables from worker
    threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.RLock()
        self._known: dict[str, tuple[tuple[int, int, int, int], Version]] = {}
        #: The manifest as last parsed, by the stat key of its file (a run checks many files against it).
        self._manifest: tuple[tuple[int, int, int, int], dict[str, list[Version]]] | None = None
        #: Why the manifest itself could not be read, when it could not (every file is then checked whole).
        self.problem: str | None = None
        #: The checks :meth:`prefetch` started and no :meth:`check` has waited for, by file.
        self._pending: dict[str, Future[Version]] = {}

    def rel(self, path: Path) -> str:
        """``path`` inside the tenant's folder, with forward slashes (the manifest's key, and the name messages use)."""
        return path.relative_to(self.folder).as_posix()

    # ------------------------------------------------------------------------------------------ the manifest
    def entries(self) -> dict[str, list[Version]]:
        """The manifest as it is on disk now: file → accepted versions, newest first (empty without one)."""
        path = self.folder / MANIFEST
        try:
            info = path.stat()
            key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            if self._manifest is not None and self._manifest[0] == key:  # written by a rename: a new one differs
                return dict(self._manifest[1])
            doc = json.loads(path.read_bytes())
        except FileNotFoundError:
            return {}
        except (ValueError, UnicodeDecodeError) as exc:
            self.problem = f"{MANIFEST} is not valid JSON ({_short(exc)})"
            return {}
        files = doc.get("files") if isinstance(doc, dict) else None
        if not isinstance(files, dict):
            self.problem = f"{MANIFEST} does not list files"
            return {}
        out: dict[str, list[Version]] = {}
        for rel, versions in files.items():
            parsed = [v for v in map(Version.from_doc, versions if isinstance(versions, list) else []) if v]
            if parsed:
                out[str(rel)] = parsed
        self._manifest = (key, out)
        return dict(out)

    def _save(self, entries: dict[str, list[Version]]) -> None:
        doc = {"format": MANIFEST_FORMAT, "files": {k: [asdict(v) for v in vs] for k, vs in sorted(entries.items())}}
        write_json(self.folder / MANIFEST, doc)
        self.problem = None

    def enter(self, found: dict[str, Version]) -> None:
        """Enter files checked whole (a store from before the manifest): each becomes its only accepted version."""
        if not found and self.problem is None:
            return
        with self._lock:
            entries = self.entries()
            entries.update({rel: [v] for rel, v in found.items()})
            self._save(entries)

    def forget(self, rel: str) -> None:
        """Drop ``rel`` from the manifest (it was quarantined)."""
        with self._lock:
            entries = self.entries()
            if entries.pop(rel, None) is not None or self.problem:
                self._save(entries)
            self._known.pop(rel, None)

    # --------------------------------------------------------------------------------------------- writing
    def write(self, path: Path, write: Callable[[Path], Any]) -> None:
        """Write ``path`` through ``write(tmp)`` and enter it in the manifest, in one crash-safe step (see the
        module's docstring); owner-only, flushed to disk."""
        rel = self.rel(path)

        def publish(tmp: Path, path: Path) -> None:
            new = describe(tmp)
            with self._lock:
                entries = self.entries()
                current = self._current(path, rel, entries.get(rel))
                entries[rel] = [new] + ([current] if current is not None and current != new else [])
                self._save(entries)
                os.replace(tmp, path)
                self._remember(rel, path, new)

        atomic_write(path, write, publish)

    def _current(self, path: Path, rel: str, accepted: list[Version] | None) -> Version | None:
        """The version of the file now at ``path``, if it is one the kit accepts (kept accepted until the rename)."""
        if not path.exists():
            return None
        try:
            return self.check(path, accepted)
        except StoreDamaged:
            return None

    # -------------------------------------------------------------------------------------------- checking
    def prefetch(self, paths: Iterable[Path]) -> None:
        """Check ``paths`` on a thread of their own, while the caller goes on: checksums are most of what a
        process's first read of a file costs besides decoding it, and hashing and reading a file leave the
        interpreter free. A later :meth:`check` of one of them waits for that check and takes its result when the
        file is unchanged since (a damaged file is checked again there, and raises there)."""
        worker = _checker()
        with self._lock:
            for path in paths:
                rel = self.rel(path)
                if rel not in self._pending:
                    self._pending[rel] = worker.submit(self._check, path, rel)

    def check(self, path: Path, accepted: list[Version] | None = None) -> Version:
        """The version of ``path`` the manifest accepts, or :class:`StoreDamaged` saying why it is not one (a file
        without an entry is checked whole: :func:`deep_check`). ``FileNotFoundError`` when it is gone."""
        rel = self.rel(path)
        pending = self._pending.pop(rel, None)
        if pending is not None:
            pending.exception()  # wait for it: its version is then known below, unless the file failed or changed
        return self._check(path, rel, accepted)

    def _check(self, path: Path, rel: str, accepted: list[Version] | None = None) -> Version:
        info = path.stat()
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        known = self._known.get(rel)
        if known is not None and known[0] == key:
            return known[1]
        why = ""
        for attempt in range(2):  # a writer may have renamed a new version in after the manifest was read
            versions = accepted if accepted is not None and attempt == 0 else self.entries().get(rel)
            if versions is None:
                version = deep_check(path, rel)
                break
            found, why = _match(path, info.st_size, versions)
            if found is not None:
                version = found
                break
        else:
            raise StoreDamaged(rel, why)
        self._known[rel] = (key, version)
        return version

    def _remember(self, rel: str, path: Path, version: Version) -> None:
        info = path.stat()
        self._known[rel] = ((info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns), version)

    def rows(self, rel: str) -> int | None:
        """The rows the kit wrote to ``rel`` (its newest accepted version), when the manifest says."""
        versions = self.entries().get(rel)
        return versions[0].rows if versions else None


@functools.cache
def _checker() -> ThreadPoolExecutor:
    """The one thread that checks files in the background (:meth:`Integrity.prefetch`), for every store the
    process opens (a run over many tenants keeps one, not one per store)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-check")


def _match(path: Path, size: int, versions: list[Version]) -> tuple[Version | None, str]:
    if all(v.size != size for v in versions):
        wrote = versions[0].size
        how = "cut short" if size < wrote else "added to"
        return None, f"it is {size:,} bytes where the kit wrote {wrote:,} ({how})"
    digest = sha256_of(path)
    for version in versions:
        if version.size == size and version.sha256 == digest:
            return version, ""
    return None, "its content is not what the kit wrote (the checksum in the store's manifest differs)"
