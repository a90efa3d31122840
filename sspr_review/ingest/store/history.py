"""The history store: Graph keeps audit events 30 days at most (7 on Free tenants), the kit keeps them longer.

Layout, one folder per tenant under the configured path::

    <path>/<tenant>/
        tenant.json                      id and display name
        coverage.json                    what time range of each kind is held, snapshots (with the parts
                                         a snapshot could not read), failed fetches
        audit/2026-11.parquet            one file per month of activityDateTime (UTC)
        risk/2026-11.parquet             one file per month of detectedDateTime
        registration/2026-11-23.parquet  one userRegistrationDetails snapshot per fetch day
        registration/2026-11-23.lean.json  beside a lean snapshot: Graph's counts as received, and the weeks
                                         whose users it looked up (see ingest.lean)
        privileged/2026-11-23.parquet    one privileged-principal snapshot per fetch day
        policy/2026-11-23.json           password protection settings and authentication methods policy
        rejects/*.jsonl                  records that were not stored, each with where it came from and why
        .lock                            held by the one fetch that may write (lock.py)
        .writer                          the process id of that fetch

Guarantees:

* **Lossless**: each row keeps ``raw``, the record as Graph sent it, beside its normalised columns.
* **Idempotent**: one row per record id; re-fetching an overlapping window replaces rows, never adds
  duplicates; for a risk detection the newest ``lastUpdatedDateTime`` wins.
* **Crash-safe and safe to read while written**: every file is written to a temporary name, flushed to disk
  and renamed over the old one (an atomic step), and ``coverage.json`` is updated only after the data it
  describes is on disk. A fetch killed at any instant leaves readable files whose coverage never claims
  more than they hold; the next fetch re-reads from the last high-water mark and completes it.
* **Honest coverage**: :meth:`Store.coverage` tells "no events" (covered, empty) from "no data".

This module holds :class:`Store` (writes, coverage, reads); beside it ``files.py`` (owner-only atomic writes),
``lock.py`` (the write lock), ``snapshots.py`` (snapshot files and the snapshot a week uses) and ``compact.py``
(memory-lean reads with Arrow).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd
import pyarrow.parquet as pq

from ...core import schema
from ...core.coverage import DEFAULT_SNAPSHOT_TOLERANCE_DAYS, Coverage, describe_offset
from ...core.errors import StoreDamaged, StoreError
from ...core.files import atomic_write, machine_problem, write_json, write_parquet
from ...core.timefmt import iso_z, parse_iso
from ...core.vocabulary import DATA_KINDS, TIMED_KINDS
from . import damage, merge, quarantine
from .bounded import ROW_GROUP_ROWS, first_time, read_bounded, read_files
from .compact import COMPACT_COLUMNS, read_compact, whole_strings
from .integrity import Integrity
from .intervals import Interval, merge_intervals
from .lean_summary import clear_summary, snapshot_coverage, write_summary
from .lock import write_lock
from .reasons import last_failure, why_missing
from .rebuild import coverage_from_files
from .selfcheck import SelfChecking
from .snapshots import (
    SNAPSHOT_FILES,
    SNAPSHOT_TABLES,
    choose_snapshot,
    day_in,
    file_day,
    month_overlaps,
    parse_day,
    too_far,
)

if TYPE_CHECKING:
    from ...core.records import Rejected

#: Time-ranged tables: the column that places a row in time (the kind of the same name describes it).
TIME_COLUMN: Final = {"audit": "activity_time", "risk": "detected_time"}
FORMAT_VERSION: Final = 1


class Store(SelfChecking):
    """One tenant's history. Readers need nothing; a writer holds :meth:`writing`."""

    def __init__(self, root: str | Path, tenant: str) -> None:
        if not tenant or "/" in tenant or tenant.startswith("."):
            raise StoreError(f"invalid tenant folder name {tenant!r}")
        self.root = Path(root).expanduser()
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(
                f"the store path {self.root} is a file, not a folder: give a folder ([store] path, "
                "SSPR_REVIEW_STORE_PATH or --store)"
            )
        self.tenant = tenant
        self.path = self.root / tenant
        self._locked = False
        #: The manifest and the checks of the store's files (:mod:`.integrity`).
        self.integrity = Integrity(self.path)
        #: Damaged files this process found (each quarantined, or left out of reads while another process writes).
        self.found: list[StoreDamaged] = []
        self._held: list[StoreDamaged] = []
        self._doc_lock = threading.RLock()  # coverage.json is updated from the fetch's worker threads too

    # ------------------------------------------------------------------ writing
    @contextlib.contextmanager
    def writing(self) -> Iterator[Store]:
        """Hold the store's write lock (one fetch at a time); clean up a crashed fetch's temporary files."""
        with write_lock(self.path):
            # a crashed writer's temporary files: beside tenant.json and coverage.json, and in every table folder
            for tmp in self.path.rglob(".tmp-*"):
                tmp.unlink(missing_ok=True)
            self._locked = True
            try:
                yield self
            finally:
                self._locked = False

    def _require_lock(self) -> None:
        if not self._locked:
            raise StoreError("writes to the store must happen inside Store.writing()")

    def write_lean_summary(self, day: datetime, summary: dict[str, Any]) -> None:
        """Mark the registration snapshot of ``day`` lean (see :func:`.lean_summary.write_summary`)."""
        self._require_lock()
        write_summary(self.path, day, summary)

    def clear_lean_summary(self, day: datetime) -> None:
        """A full snapshot replaced the day's lean one (called after its rows are written)."""
        self._require_lock()
        clear_summary(self.path, day)

    def write_tenant(self, info: dict[str, Any]) -> None:
        self._require_lock()
        write_json(self.path / "tenant.json", info)

    def tenant_info(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / "tenant.json").read_bytes())
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            self.found_damage(StoreDamaged("tenant.json", f"it is not valid JSON ({exc})"))
            return {}
        return data if isinstance(data, dict) else {}

    def write(self, table: str, frame: pd.DataFrame) -> int:
        """Merge normalised rows (with ``raw``) into a time-ranged table; return how many ids were new."""
        self._require_lock()
        if table not in TIME_COLUMN:
            raise StoreError(f"{table} is not a time-ranged table")
        if frame.empty:
            return 0
        frame = frame.copy()
        frame["fetched_at"] = pd.Timestamp.now(tz="UTC")
        keys = frame[TIME_COLUMN[table]].dt.strftime("%Y-%m").fillna("undated")
        new_ids = 0
        for key, part in frame.groupby(keys, sort=True):
            path = self.path / table / f"{key}.parquet"
            exists = self.checked([path])
            if exists and table != "risk":  # a row group at a time: a big import never holds its month whole
                arrow = merge.as_table(part, TIME_COLUMN[table])
                if merge.castable(path, arrow.schema):
                    new_ids += merge.new_rows(path, part["id"])
                    streamed = partial(
                        merge.merge_into,
                        old=path,
                        part=arrow,
                        time_column=TIME_COLUMN[table],
                        row_group_rows=ROW_GROUP_ROWS,
                    )
                    self.integrity.write(path, streamed)
                    continue
            old = pd.read_parquet(path) if exists else None
            merged = part if old is None else pd.concat([old, part], ignore_index=True)
            if old is not None:
                new_ids += int((~part["id"].isin(old["id"])).sum())
            else:
                new_ids += int(part["id"].nunique())
            if table == "risk":
                merged = merged.sort_values(["last_updated_time", "fetched_at"], kind="stable", na_position="first")
            merged = merged.drop_duplicates("id", keep="last")
            merged = merged.sort_values([TIME_COLUMN[table], "id"], kind="stable").reset_index(drop=True)
            write_parquet(path, merged, self.integrity.write, row_group_rows=ROW_GROUP_ROWS)
        return new_ids

    def write_snapshot(self, table: str, frame: pd.DataFrame, day: datetime) -> None:
        """Store the snapshot of ``table`` for ``day`` (replacing that day's earlier one)."""
        self._require_lock()
        if table not in SNAPSHOT_TABLES:
            raise StoreError(f"{table} is not a snapshot table")
        path = self.path / table / f"{file_day(day)}.parquet"
        write_parquet(path, frame, self.integrity.write)

    def write_policy(self, data: dict[str, Any], day: datetime) -> None:
        self._require_lock()
        write_json(self.path / "policy" / f"{file_day(day)}.json", data, self.integrity.write)

    def read_policy(self, at: datetime | None = None) -> tuple[datetime, dict[str, Any]] | None:
        """The newest policy snapshot taken on or before the day of ``at`` (default: the newest), with its day."""
        folder = self.path / "policy"
        days = sorted(p for p in folder.glob("*.json") if not p.name.startswith(".")) if folder.exists() else []
        for path in reversed(days):
            day = parse_day(path.stem)
            if day is not None and (at is None or day <= at) and self.checked([path]):
                data = json.loads(path.read_bytes())
                return (day, data) if isinstance(data, dict) else None
        return None

    def write_rejects(self, name: str, items: Sequence[Rejected]) -> None:
        """Keep records that were not stored, one JSON line each: where from, why, and what was received."""
        self._require_lock()
        if not items:
            return
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        text = "".join(json.dumps(item.document(), ensure_ascii=True) + "\n" for item in items)
        atomic_write(self.path / "rejects" / f"{name}-{stamp}.jsonl", lambda tmp: tmp.write_text(text))

    # ----------------------------------------------------------------- coverage
    def _coverage_doc(self) -> dict[str, Any]:
        with self._doc_lock:
            try:
                doc = json.loads((self.path / "coverage.json").read_bytes())
                if not isinstance(doc, dict) or not isinstance(doc.get("sources", {}), dict):
                    raise ValueError("it is not a JSON object with the sources")
            except FileNotFoundError:
                doc = {}
            except ValueError as exc:
                doc = self._rebuild_coverage(str(exc))
        doc.setdefault("format", FORMAT_VERSION)
        sources = doc.setdefault("sources", {})
        for kind in DATA_KINDS:
            entry = sources.setdefault(kind, {})
            entry.setdefault("intervals", [])
            entry.setdefault("snapshots", [])
            entry.setdefault("failures", [])
        for held in self._held:  # damage found while another process writes: left out of this process's reads
            if (of := damage.kind_of(held.file)) is not None:
                damage.take_out(sources[of], of, held.file, held.why, None, datetime.now(UTC))
        return dict(doc)

    def _update(self, kind: str, change: Any) -> None:
        self._require_lock()
        with self._doc_lock:
            doc = self._coverage_doc()
            change(doc["sources"][kind])
            write_json(self.path / "coverage.json", doc)

    def record_interval(self, kind: str, start: datetime, end: datetime) -> None:
        """Declare ``[start, end]`` of ``kind`` complete in the store (call after the data is written)."""

        def change(entry: dict[str, Any]) -> None:
            items = [Interval(parse_iso(a), parse_iso(b)) for a, b in entry["intervals"]]
            items.append(Interval(start, end))
            entry["intervals"] = [[iso_z(i.start), iso_z(i.end)] for i in merge_intervals(items)]
            damage.narrow(entry, start, end)  # what a damaged file took out and this fetch read again

        self._update(kind, change)

    def record_note(self, kind: str, start: datetime, end: datetime, note: str) -> None:
        """Note where the data of ``[start, end]`` came from (``notes`` in coverage.json; the coverage of a window
        lists the notes of the fetches that overlap it), e.g. which workspace column held the step text."""

        def change(entry: dict[str, Any]) -> None:
            notes = list(entry.get("notes", []))
            if notes and notes[-1][2] == note and parse_iso(notes[-1][1]) >= start:
                notes[-1] = [notes[-1][0], iso_z(max(end, parse_iso(notes[-1][1]))), note]
            else:
                notes.append([iso_z(start), iso_z(end), note])
            entry["notes"] = notes[-200:]

        self._update(kind, change)

    def record_source_state(self, kind: str, state: dict[str, Any]) -> None:
        """Keep what the source chose for ``kind`` in this fetch (``state`` in coverage.json), for the next fetch
        and the coverage (a ``selection`` text in it says how the kind's records were selected)."""

        def change(entry: dict[str, Any]) -> None:
            entry["state"] = state

        self._update(kind, change)

    def source_state(self, kind: str) -> dict[str, Any] | None:
        """What the last fetch's source chose for ``kind`` (:meth:`record_source_state`), or ``None``."""
        state = self._coverage_doc()["sources"].get(kind, {}).get("state")
        return state if isinstance(state, dict) else None

    def selection(self, kind: str) -> str | None:
        """How the latest fetch selected the records of ``kind``, in words (e.g. which ``loggedByService`` value
        selects SSPR's events), or ``None``."""
        for value in (self.source_state(kind) or {}).values():
            if isinstance(value, dict) and isinstance(value.get("selection"), str):
                return str(value["selection"])
        return None

    def notes(self, kind: str, start: datetime, end: datetime) -> tuple[str, ...]:
        """The notes of the fetches of ``kind`` overlapping ``[start, end)``, once each, in order."""
        entry = self._coverage_doc()["sources"].get(kind, {})
        found = [n for a, b, n in entry.get("notes", []) if parse_iso(a) < end and parse_iso(b) > start]
        return tuple(dict.fromkeys(found))

    def record_snapshot(self, kind: str, moment: datetime, missing: Sequence[str] = ()) -> None:
        """Declare the snapshot of ``kind`` taken at ``moment`` stored; ``missing`` names the parts of it that
        could not be read (kept in coverage.json under ``missing``, by snapshot time, for the review to show)."""

        def change(entry: dict[str, Any]) -> None:
            at = iso_z(moment)
            entry["snapshots"] = sorted({*entry["snapshots"], at})
            parts = {k: v for k, v in entry.get("missing", {}).items() if k in entry["snapshots"] and k != at}
            if missing:
                parts[at] = [str(m) for m in missing]
            if parts or "missing" in entry:
                entry["missing"] = dict(sorted(parts.items()))
            damage.clear_day(entry, moment)  # a damaged snapshot of the day is replaced

        self._update(kind, change)

    def missing_parts(self, kind: str, start: datetime, end: datetime) -> tuple[str, ...]:
        """What could not be read of the snapshots of ``kind`` taken in ``[start, end]`` (in order, once each)."""
        entry = self._coverage_doc()["sources"].get(kind, {})
        parts: dict[str, None] = {}
        for at, items in sorted(dict(entry.get("missing") or {}).items()):
            if start <= parse_iso(at) <= end and isinstance(items, list):
                parts.update(dict.fromkeys(str(i) for i in items))
        return tuple(parts)

    def record_failure(
        self, kind: str, start: datetime | None, end: datetime | None, failure: str, reason: str
    ) -> None:
        """Note that ``kind`` could not be fetched for a window, the ``failure`` being of the kind of a
        :class:`~sspr_review.core.errors.SourceError` (permission, licence, ...): kept for the coverage report."""

        def change(entry: dict[str, Any]) -> None:
            entry["failures"] = [
                *entry["failures"][-49:],
                {
                    "from": iso_z(start) if start else None,
                    "to": iso_z(end) if end else None,
                    "kind": failure,
                    "reason": reason,
                    "at": iso_z(datetime.now(UTC)),
                },
            ]

        self._update(kind, change)

    def intervals(self, kind: str) -> list[Interval]:
        entry = self._coverage_doc()["sources"].get(kind, {})
        return [Interval(parse_iso(a), parse_iso(b)) for a, b in entry.get("intervals", [])]

    def snapshots(self, kind: str) -> list[datetime]:
        entry = self._coverage_doc()["sources"].get(kind, {})
        return [parse_iso(s) for s in entry.get("snapshots", [])]

    def high_water(self, kind: str) -> datetime | None:
        """End of the latest covered interval of ``kind``."""
        items = self.intervals(kind)
        return max(i.end for i in items) if items else None

    def coverage(
        self,
        kind: str,
        start: datetime,
        end: datetime,
        *,
        tolerance: timedelta = timedelta(days=DEFAULT_SNAPSHOT_TOLERANCE_DAYS),
        max_distance: timedelta | None = None,
    ) -> Coverage:
        """What the store holds of ``kind`` for ``[start, end)``, with the parts of the snapshot used that
        could not be read (``missing``).

        A snapshot kind (registration, roles, policy) uses the snapshot :func:`choose_snapshot` picks for the
        window's end; beyond ``tolerance`` from it the coverage is ``approximate`` (still used), beyond
        ``max_distance`` (``[review] snapshot_max_days``) it is not used: the kind has no coverage, the reason naming
        the nearest snapshot. A kind with no snapshot at all has none either.
        """
        cov = self._coverage(kind, start, end, tolerance)
        if max_distance is not None and cov.offset is not None and abs(cov.offset) > max_distance:
            return too_far(cov, max_distance)
        if kind in TIME_COLUMN:
            notes = self.notes(kind, start, end)
            cov = replace(cov, notes=notes) if notes else cov
            selection = self.selection(kind)
            return replace(cov, selection=selection) if selection else cov
        if cov.start is None or cov.end is None:
            return cov
        cov = replace(cov, missing=(*self.missing_parts(kind, cov.start, cov.end), *cov.missing))
        if kind == "registration":  # which mode produced the snapshot (see ingest.lean)
            cov = snapshot_coverage(self.path, cov, start, end)
        return cov

    def _coverage(self, kind: str, start: datetime, end: datetime, tolerance: timedelta) -> Coverage:
        entry = self._coverage_doc()["sources"].get(kind)
        if entry is None:
            raise StoreError(f"unknown kind of data {kind!r}; the kinds are {', '.join(DATA_KINDS)}")
        failures = entry["failures"]
        if kind in TIMED_KINDS:
            parts = [
                Interval(max(i.start, start), min(i.end, end))
                for i in self.intervals(kind)
                if i.end > start and i.start < end
            ]
            damaged = damage.reason(entry, start, end)
            if not parts:
                why = damaged or why_missing(failures, start, end, kind, self.intervals(kind))
                return Coverage(kind, None, None, False, why)
            first, last = parts[0].start, parts[-1].end
            complete = len(parts) == 1 and first <= start and last >= end
            why = damaged or why_missing(failures, start, end, kind, self.intervals(kind), partial=True)
            return Coverage(kind, first, last, complete, None if complete else why)
        snaps, chosen = self.checked_snapshot(kind, end, tolerance)
        lost = damage.damaged_moments(self._coverage_doc()["sources"][kind])  # with what choosing quarantined
        nearest = choose_snapshot(sorted({*snaps, *lost}), end, tolerance)
        if nearest is not None and nearest in lost:  # the snapshot the week would use was damaged
            why = damage.describe(lost[nearest])
            if chosen is None:
                return Coverage(kind, None, None, False, why)
            cov = self._snapshot_coverage(kind, chosen, end, tolerance, failures)
            return replace(cov, missing=(*cov.missing, f"{why}; using the snapshot of {chosen:%Y-%m-%d %H:%M} UTC"))
        if chosen is None:
            return Coverage(kind, None, None, False, last_failure(failures) or f"no {kind} snapshot yet")
        return self._snapshot_coverage(kind, chosen, end, tolerance, failures)

    def _snapshot_coverage(
        self, kind: str, chosen: datetime, end: datetime, tolerance: timedelta, failures: list[dict[str, Any]]
    ) -> Coverage:
        offset = chosen - end
        approximate = abs(offset) > tolerance
        reason = None
        if approximate:
            days = tolerance.total_seconds() / 86400
            reason = (
                f"no {kind} snapshot within {days:g} days of the week's end; using the one of "
                f"{chosen:%Y-%m-%d %H:%M} UTC ({describe_offset(offset)})"
            )
            failed = [f for f in failures if f.get("at") and parse_iso(f["at"]) > chosen]
            if failed:
                reason += f"; later fetches failed: {failed[-1]['reason']}"
        return Coverage(kind, chosen, chosen, True, reason, snapshot=chosen, offset=offset, approximate=approximate)

    def snapshot_moments(self, kind: str) -> list[datetime]:
        """When each stored snapshot of a snapshot kind was taken, oldest first: one per UTC day (a later fetch
        the same day replaces that day's file, so the day's newest recorded time), only days whose file exists and
        was not found damaged by this process. The files are not checked here: a window checks the one it uses
        (:meth:`~.selfcheck.SelfChecking.checked_snapshot`), so a long history of snapshots costs a review no
        more than a short one."""
        if kind not in SNAPSHOT_FILES:
            raise StoreError(f"{kind} is not a snapshot kind; they are {', '.join(SNAPSHOT_FILES)}")
        folder, suffix = SNAPSHOT_FILES[kind]
        path = self.path / folder
        damaged = {d.file for d in self.found}
        days = {p.stem for p in path.glob(f"*{suffix}") if not p.name.startswith(".")} if path.exists() else set[str]()
        days = {day for day in days if f"{folder}/{day}{suffix}" not in damaged}
        newest: dict[str, datetime] = {}
        for moment in self.snapshots(kind):
            day = file_day(moment)
            if day in days and (day not in newest or moment > newest[day]):
                newest[day] = moment
        return sorted(newest.values())

    # ------------------------------------------------------------------ reading
    def read(
        self,
        table: str,
        start: datetime | None = None,
        end: datetime | None = None,
        *,
        columns: Sequence[str] | None = None,
        raw: bool = False,
        compact: bool = False,
    ) -> pd.DataFrame:
        """Rows of ``table`` in ``[start, end)`` (by time column, or by snapshot day), typed per the schema.

        A time range reads only the month files it touches, as one Arrow dataset filtered on the time column
        (row groups outside the range are skipped; see :mod:`.bounded`).

        ``raw=True`` adds the ``raw`` JSON text column. ``compact=True`` returns the string columns whose values
        repeat (activity names, reasons, user ids and UPNs on events) as categoricals: the same values in a
        fraction of the memory, for a year of a large tenant (each distinct text is held once; see
        :func:`~sspr_review.ingest.store.compact.read_compact`).
        """
        files, wanted = self._files(table, start, end, columns, raw)
        if table in TIME_COLUMN and (start is not None or end is not None):
            categorical = COMPACT_COLUMNS[table] if compact else frozenset()
            return read_bounded(files, table, wanted, TIME_COLUMN[table], start, end, categorical=sorted(categorical))
        if compact:
            return read_compact(files, table, wanted, start, end, TIME_COLUMN.get(table))
        found = read_files(files, wanted)
        if found is None:
            out = schema.empty(table)[[c for c in wanted if c in schema.TABLES[table]]]
            if raw:
                out["raw"] = pd.Series(dtype="string")
            return out
        frame: pd.DataFrame = whole_strings(found.to_pandas())
        if table in TIME_COLUMN and (start is not None or end is not None):
            times = frame[TIME_COLUMN[table]]
            mask = pd.Series(True, index=frame.index)
            if start is not None:
                mask &= times >= pd.Timestamp(start)
            if end is not None:
                mask &= times < pd.Timestamp(end)
            frame = frame[mask.fillna(False)].reset_index(drop=True)
        return frame

    def _files(
        self,
        table: str,
        start: datetime | None,
        end: datetime | None,
        columns: Sequence[str] | None = None,
        raw: bool = False,
    ) -> tuple[list[Path], list[str]]:
        files = self.checked(self.listed(table, start, end))
        wanted = list(columns) if columns is not None else list(schema.TABLES[table])
        if raw:
            wanted.append("raw")
        return files, wanted

    def listed(self, table: str, start: datetime | None = None, end: datetime | None = None) -> list[Path]:
        """The data files of ``table`` a read of ``[start, end)`` would open (month files, or snapshot days; all
        of them, oldest first, without a range), as listed: not checked (:meth:`files` checks them)."""
        if table not in schema.TABLES:
            raise StoreError(f"unknown table {table!r}; tables are {', '.join(schema.TABLES)}")
        folder = self.path / table
        files = sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.exists() else []
        if table in TIME_COLUMN:
            return [f for f in files if month_overlaps(f.stem, start, end)]
        return [f for f in files if day_in(f.stem, start, end)]

    def first_time(self, table: str) -> datetime | None:
        """The time of the first dated row of a time-ranged table (from the files' statistics), ``None`` when it
        holds none. The month files are checked oldest first, only until one holds a dated row."""
        if table not in TIME_COLUMN:
            raise StoreError(f"{table} is not a time-ranged table")
        for file in self.listed(table):
            if self.checked([file]) and (found := first_time([file], TIME_COLUMN[table])) is not None:
                return found
        return None

    def files(self, table: str, start: datetime | None = None, end: datetime | None = None) -> list[Path]:
        """The data files of ``table`` a read of ``[start, end)`` opens (month files, or snapshot days; all of them,
        oldest first, without a range), each passing its check (a damaged one is quarantined and left out)."""
        return self._files(table, start, end)[0]

    def snapshot_days(self, table: str) -> list[datetime]:
        """The days (UTC midnight) of the stored snapshots of a snapshot table, oldest first, as listed (their
        files are not checked: a read of one checks it)."""
        if table not in SNAPSHOT_TABLES:
            raise StoreError(f"{table} is not a snapshot table")
        files = self.listed(table)
        return [day for f in files if (day := parse_day(f.stem)) is not None]

    def iter_snapshots(
        self, table: str, columns: Sequence[str], start: datetime | None = None, end: datetime | None = None
    ) -> Iterator[Any]:
        """Each stored snapshot of ``table`` in ``[start, end)`` as a ``pyarrow.Table`` of ``columns``, oldest
        first, one at a time (so a year of snapshots never has to be in memory at once)."""
        if table not in SNAPSHOT_TABLES:
            raise StoreError(f"{table} is not a snapshot table")
        files, wanted = self._files(table, start, end, columns)
        for file in files:
            with contextlib.suppress(FileNotFoundError):
                yield pq.read_table(file, columns=wanted)

    # ---------------------------------------------------------------- integrity
    def _rebuild_coverage(self, why: str) -> dict[str, Any]:
        """A damaged coverage.json, when the write lock can be had: quarantined first (a crash then leaves a store
        that claims nothing), then rebuilt from the files that pass their check (:mod:`.rebuild`)."""
        self.found.append(StoreDamaged("coverage.json", why))
        try:
            with contextlib.ExitStack() as stack:
                if not self._locked:
                    stack.enter_context(self.writing())
                at = datetime.now(UTC)
                quarantine.move(self.path, "coverage.json", {"kind": None, "why": why, "rows": None}, at)
                files = {t: self.files(t) for t in schema.TABLES}
                policy = self.checked(sorted((self.path / "policy").glob("[!.]*.json")))
                timed = {k: (c, files[k]) for k, c in TIME_COLUMN.items()}
                snaps = {"registration": files["registration"], "roles": files["privileged"], "policy": policy}
                doc = coverage_from_files(timed, snaps, why, at)
                write_json(self.path / "coverage.json", doc)
                return doc
        except (StoreError, OSError) as exc:
            held = machine_problem(exc) if isinstance(exc, OSError) else "another fetch is writing the store"
            raise StoreError(
                f"{self.path / 'coverage.json'} is damaged ({why}) and cannot be rebuilt now ({held}): run "
                "'sspr-review store repair' when it can (it rebuilds the file from the stored data)"
            ) from None

    def document(self) -> dict[str, Any]:
        """coverage.json as read (each kind's entry with its defaults; a damaged one rebuilt when it can be)."""
        return self._coverage_doc()
