"""The store's checks of itself, as a part of :class:`~.history.Store`: each file it opens is checked against the
manifest (:mod:`.integrity`); a damaged one is quarantined (:mod:`.quarantine`) with its data taken out of the
coverage (:mod:`.damage`), and what a later fetch re-read of it is settled there."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.errors import StoreDamaged, StoreError
from ...core.timefmt import iso_z
from ...core.vocabulary import DATA_KINDS
from . import damage, quarantine
from .snapshots import SNAPSHOT_FILES, choose_snapshot, file_day

if TYPE_CHECKING:
    from .integrity import Integrity


class SelfChecking:
    """The checking half of the Store (which sets these attributes and defines these methods)."""

    path: Path
    integrity: Integrity
    found: list[StoreDamaged]
    _held: list[StoreDamaged]
    _locked: bool

    if TYPE_CHECKING:

        def writing(self) -> contextlib.AbstractContextManager[Any]: ...
        def _update(self, kind: str, change: Any) -> None: ...
        def _coverage_doc(self) -> dict[str, Any]: ...
        def snapshot_moments(self, kind: str) -> list[datetime]: ...
        def listed(self, table: str, start: datetime | None = None, end: datetime | None = None) -> list[Path]: ...

    def checked_snapshot(
        self, kind: str, end: datetime, tolerance: timedelta
    ) -> tuple[list[datetime], datetime | None]:
        """The stored snapshots of ``kind`` (:meth:`snapshot_moments`) and the one a window ending at ``end`` uses
        (:func:`choose_snapshot`), its file checked: a damaged one is quarantined and the choice made again
        without it, so a damaged snapshot is never chosen."""
        folder, suffix = SNAPSHOT_FILES[kind]
        while True:
            snaps = self.snapshot_moments(kind)
            chosen = choose_snapshot(snaps, end, tolerance)
            if chosen is None or self.checked([self.path / folder / f"{file_day(chosen)}{suffix}"]):
                return snaps, chosen

    def prefetch(
        self, table: str, start: datetime | None = None, end: datetime | None = None, *, oldest: bool = False
    ) -> None:
        """Start checking the files a read of ``[start, end)`` of ``table`` opens (:meth:`listed`; with
        ``oldest``, its oldest file: ``first_time`` opens that) in the background (:meth:`.Integrity.prefetch`):
        the read that follows finds them checked."""
        files = self.listed(table, start, end)
        self.integrity.prefetch(files[:1] if oldest else files)

    def checked(self, files: list[Path]) -> list[Path]:
        """The files that pass their check (:meth:`.Integrity.check`); a damaged one is quarantined and left out."""
        good = []
        for file in files:
            try:
                self.integrity.check(file)
            except FileNotFoundError:
                continue
            except StoreDamaged as exc:
                self.found_damage(exc)
                continue
            good.append(file)
        return good

    def found_damage(self, exc: StoreDamaged) -> None:
        """Quarantine a damaged file (:meth:`_quarantine`), taking the write lock if no fetch holds it; while one
        does, the file is left out of this process's reads and coverage, and the next fetch quarantines it."""
        if any(d.file == exc.file for d in self.found):
            return
        self.found.append(exc)
        if self._locked:
            self._quarantine(exc)
            return
        try:
            with self.writing():
                self._quarantine(exc)
        except (StoreError, OSError):
            self._held.append(exc)

    def _quarantine(self, exc: StoreDamaged) -> None:
        """Take the file's data out of the coverage (first: a crash then never leaves coverage without its data),
        then move it to ``quarantine/`` with a note, then drop it from the manifest."""
        at = datetime.now(UTC)
        rows = self.integrity.rows(exc.file)
        kind = damage.kind_of(exc.file)
        removed: list[damage.Span] = []
        if kind is not None:

            def change(entry: dict[str, Any]) -> None:
                removed.extend(damage.take_out(entry, kind, exc.file, exc.why, rows, at))

            self._update(kind, change)
        note = {"kind": kind, "why": exc.why, "rows": rows, "intervals": [[iso_z(a), iso_z(b)] for a, b in removed]}
        quarantine.move(self.path, exc.file, note, at)
        self.integrity.forget(exc.file)

    def damage_records(self) -> dict[str, list[dict[str, Any]]]:
        """Per kind of data, the damage records that still take data out of its coverage (:mod:`.damage`)."""
        sources = self._coverage_doc()["sources"]
        return {kind: found for kind in DATA_KINDS if (found := damage.records(sources[kind]))}

    def settle_damage(self, kind: str, file: str, lost: int | None) -> None:
        """A fetch re-read what the source holds of ``file``'s data: ``lost`` records stay lost; ``None``: none."""

        def change(entry: dict[str, Any]) -> None:
            for record in entry.get("damaged", []):
                if record.get("file") == file and lost is None:
                    record["intervals"] = []
                elif record.get("file") == file:
                    record["lost"] = lost
            entry["damaged"] = damage.records(entry)

        self._update(kind, change)
