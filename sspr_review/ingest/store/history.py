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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import pandas as pd
import pyarrow.parquet as pq

from ...core import schema
from ...core.coverage import DEFAULT_SNAPSHOT_TOLERANCE_DAYS, Coverage, describe_offset
from ...core.errors import StoreError
from ...core.files import atomic_write, write_json, write_parquet
from ...core.timefmt import iso_z, parse_iso
from ...core.vocabulary import DATA_KINDS, TIMED_KINDS
from .bounded import ROW_GROUP_ROWS, first_time, read_bounded
from .compact import COMPACT_COLUMNS, read_compact
from .lean_summary import clear_summary, snapshot_coverage, write_summary
from .lock import write_lock
from .snapshots import SNAPSHOT_FILES, SNAPSHOT_TABLES, choose_snapshot, day_in, file_day, parse_day, too_far

if TYPE_CHECKING:
    from ...core.records import Rejected

#: Time-ranged tables: the column that places a row in time (the kind of the same name describes it).
TIME_COLUMN: Final = {"audit": "activity_time", "risk": "detected_time"}
FORMAT_VERSION: Final = 1


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime


def merge_intervals(intervals: Sequence[Interval]) -> list[Interval]:
    """Union of closed intervals, sorted."""
    out: list[Interval] = []
    for item in sorted(intervals, key=lambda i: i.start):
        if out and item.start <= out[-1].end:
            if item.end > out[-1].end:
                out[-1] = Interval(out[-1].start, item.end)
        else:
            out.append(item)
    return out


class Store:
    """One tenant's history. Readers need nothing; a writer holds :meth:`writing`."""

    def __init__(self, root: str | Path, tenant: str) -> None:
        if not tenant or "/" in tenant or tenant.startswith("."):
            raise StoreError(f"invalid tenant folder name {tenant!r}")
        self.root = Path(root).expanduser()
        self.tenant = tenant
        self.path = self.root / tenant
        self._locked = False

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
            data = json.loads((self.path / "tenant.json").read_text())
            return data if isinstance(data, dict) else {}
        except FileNotFoundError:
            return {}

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
            old = pd.read_parquet(path) if path.exists() else None
            merged = part if old is None else pd.concat([old, part], ignore_index=True)
            if old is not None:
                new_ids += int((~part["id"].isin(old["id"])).sum())
            else:
                new_ids += int(part["id"].nunique())
            if table == "risk":
                merged = merged.sort_values(["last_updated_time", "fetched_at"], kind="stable", na_position="first")
            merged = merged.drop_duplicates("id", keep="last")
            merged = merged.sort_values([TIME_COLUMN[table], "id"], kind="stable").reset_index(drop=True)
            write_parquet(path, merged, row_group_rows=ROW_GROUP_ROWS)
        return new_ids

    def write_snapshot(self, table: str, frame: pd.DataFrame, day: datetime) -> None:
        """Store the snapshot of ``table`` for ``day`` (replacing that day's earlier one)."""
        self._require_lock()
        if table not in SNAPSHOT_TABLES:
            raise StoreError(f"{table} is not a snapshot table")
        path = self.path / table / f"{file_day(day)}.parquet"
        write_parquet(path, frame)

    def write_policy(self, data: dict[str, Any], day: datetime) -> None:
        self._require_lock()
        write_json(self.path / "policy" / f"{file_day(day)}.json", data)

    def read_policy(self, at: datetime | None = None) -> tuple[datetime, dict[str, Any]] | None:
        """The newest policy snapshot taken on or before the day of ``at`` (default: the newest), with its day."""
        folder = self.path / "policy"
        days = sorted(p for p in folder.glob("*.json") if not p.name.startswith(".")) if folder.exists() else []
        for path in reversed(days):
            day = parse_day(path.stem)
            if day is not None and (at is None or day <= at):
                data = json.loads(path.read_text())
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
        try:
            doc = json.loads((self.path / "coverage.json").read_text())
        except FileNotFoundError:
            doc = {}
        except ValueError as exc:
            raise StoreError(f"{self.path / 'coverage.json'} is not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise StoreError(f"{self.path / 'coverage.json'} is not a JSON object")
        doc.setdefault("format", FORMAT_VERSION)
        sources = doc.setdefault("sources", {})
        for kind in DATA_KINDS:
            entry = sources.setdefault(kind, {})
            entry.setdefault("intervals", [])
            entry.setdefault("snapshots", [])
            entry.setdefault("failures", [])
        return doc

    def _update(self, kind: str, change: Any) -> None:
        self._require_lock()
        doc = self._coverage_doc()
        change(doc["sources"][kind])
        write_json(self.path / "coverage.json", doc)

    def record_interval(self, kind: str, start: datetime, end: datetime) -> None:
        """Declare ``[start, end]`` of ``kind`` complete in the store (call after the data is written)."""

        def change(entry: dict[str, Any]) -> None:
            items = [Interval(parse_iso(a), parse_iso(b)) for a, b in entry["intervals"]]
            items.append(Interval(start, end))
            entry["intervals"] = [[iso_z(i.start), iso_z(i.end)] for i in merge_intervals(items)]

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
        cov = replace(cov, missing=self.missing_parts(kind, cov.start, cov.end))
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
            if not parts:
                return Coverage(kind, None, None, False, _why(failures, start, end, kind, self))
            first, last = parts[0].start, parts[-1].end
            complete = len(parts) == 1 and first <= start and last >= end
            reason = None if complete else _why(failures, start, end, kind, self, partial=(first, last))
            return Coverage(kind, first, last, complete, reason)
        snaps = self.snapshot_moments(kind)
        chosen = choose_snapshot(snaps, end, tolerance)
        if chosen is None:
            return Coverage(kind, None, None, False, _last_failure(failures) or f"no {kind} snapshot yet")
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
        the same day replaces that day's file, so the day's newest recorded time), only days whose file exists."""
        if kind not in SNAPSHOT_FILES:
            raise StoreError(f"{kind} is not a snapshot kind; they are {', '.join(SNAPSHOT_FILES)}")
        folder, suffix = SNAPSHOT_FILES[kind]
        path = self.path / folder
        days = {p.stem for p in path.glob(f"*{suffix}") if not p.name.startswith(".")} if path.exists() else set()
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
        frames = []
        for file in files:
            with contextlib.suppress(FileNotFoundError):
                frames.append(pd.read_parquet(file, columns=wanted))
        if not frames:
            out = schema.empty(table)[[c for c in wanted if c in schema.TABLES[table]]]
            if raw:
                out["raw"] = pd.Series(dtype="string")
            return out
        frame = pd.concat(frames, ignore_index=True)
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
        if table not in schema.TABLES:
            raise StoreError(f"unknown table {table!r}; tables are {', '.join(schema.TABLES)}")
        folder = self.path / table
        files = sorted(p for p in folder.glob("*.parquet") if not p.name.startswith(".")) if folder.exists() else []
        if table in TIME_COLUMN:
            files = [f for f in files if _month_overlaps(f.stem, start, end)]
        else:
            files = [f for f in files if day_in(f.stem, start, end)]
        wanted = list(columns) if columns is not None else list(schema.TABLES[table])
        if raw:
            wanted.append("raw")
        return files, wanted

    def first_time(self, table: str) -> datetime | None:
        """The time of the first dated row of a time-ranged table (from the files' statistics), ``None`` when it
        holds none."""
        if table not in TIME_COLUMN:
            raise StoreError(f"{table} is not a time-ranged table")
        files, _ = self._files(table, None, None)
        return first_time(files, TIME_COLUMN[table])

    def files(self, table: str, start: datetime | None = None, end: datetime | None = None) -> list[Path]:
        """The data files of ``table`` a read of ``[start, end)`` opens (month files, or snapshot days)."""
        return self._files(table, start, end)[0]

    def table_files(self, table: str) -> list[Path]:
        """The files of ``table`` the store holds, oldest first (for readers that filter rows themselves)."""
        return self._files(table, None, None)[0]

    def snapshot_days(self, table: str) -> list[datetime]:
        """The days (UTC midnight) of the stored snapshots of a snapshot table, oldest first."""
        if table not in SNAPSHOT_TABLES:
            raise StoreError(f"{table} is not a snapshot table")
        files, _ = self._files(table, None, None)
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

    def status(self) -> dict[str, Any]:
        """A summary of what the store holds, per kind."""
        doc = self._coverage_doc()
        out: dict[str, Any] = {"path": str(self.path), "tenant": self.tenant_info(), "sources": {}}
        for kind in DATA_KINDS:
            entry = doc["sources"][kind]
            out["sources"][kind] = {
                "intervals": entry["intervals"],
                "snapshots": len(entry["snapshots"]),
                "latest_snapshot": entry["snapshots"][-1] if entry["snapshots"] else None,
                "last_failure": entry["failures"][-1] if entry["failures"] else None,
            }
        for table in schema.TABLES:
            folder = self.path / table
            out.setdefault("files", {})[table] = (
                len([p for p in folder.glob("*.parquet") if not p.name.startswith(".")]) if folder.exists() else 0
            )
        return out


def _month_overlaps(stem: str, start: datetime | None, end: datetime | None) -> bool:
    if stem == "undated":
        return start is None and end is None
    try:
        month = datetime.strptime(stem, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        return False
    after = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    return (end is None or month < end) and (start is None or after > start)


def _last_failure(failures: Sequence[dict[str, Any]]) -> str | None:
    return str(failures[-1]["reason"]) if failures else None


def _why(
    failures: Sequence[dict[str, Any]],
    start: datetime,
    end: datetime,
    kind: str,
    store: Store,
    partial: tuple[datetime, datetime] | None = None,
) -> str:
    for failure in reversed(failures):
        f_start = parse_iso(failure["from"]) if failure.get("from") else None
        f_end = parse_iso(failure["to"]) if failure.get("to") else None
        if (f_start is None or f_start < end) and (f_end is None or f_end > start):
            return str(failure["reason"])
    held = store.intervals(kind)
    if not held:
        return f"the store holds no {kind} data yet: run a fetch"
    span = f"{held[0].start:%Y-%m-%d %H:%M} to {held[-1].end:%Y-%m-%d %H:%M} UTC"
    if partial:
        return f"the store holds {kind} data only for part of this window (it covers {span})"
    return f"the window lies outside what the store holds ({span})"
