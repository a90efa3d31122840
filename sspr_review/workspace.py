"""The Python API notebooks and the CLI share: open a configuration and a source, fetch, read tables.

>>> import sspr_review
>>> ws = sspr_review.open_workspace(source="demo")        # or open_workspace("config.toml") for Graph
>>> ws.fetch()                                            # doctest: +SKIP
>>> audit = ws.read("audit", start, end)                  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from .analysis import Review, ReviewWindow, build_review, prepare, review_window
from .analysis.metrics import REGISTRATION_COUNT_INPUT, registration_counts_arrow
from .analysis.review import week_findings
from .core import config as config_mod
from .core.coverage import SNAPSHOT_SOURCES, SOURCES, SourceCoverage
from .core.errors import ConfigError
from .core.files import private_dir
from .ingest.fetch import FetchResult, fetch_into
from .ingest.store import Store, lean_arrow_memory, release_arrow_memory
from .ingest.store.lean_summary import lean_days
from .lookups import registration_needs
from .sources import SourceKind, SourceOptions, open_source, source_kind
from .sources.base import run_sync
from .sources.demo.source import demo_end, demo_tenant
from .sources.demo.tenant import DemoTenant

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)


class Workspace:
    """A configuration, a source and the store folder that source writes to.

    ``clock`` gives the current time (UTC-aware; default: the system clock). Everything that depends on "now"
    asks it: the default review week (the most recent Monday), the end of the demo tenant's history and the time
    the demo tenant is looked at by a fetch, and the end of a Graph fetch's window. Tests inject one to run the
    same review "on Monday morning" and "ten days later" without waiting.
    """

    def __init__(
        self,
        config: config_mod.Config,
        source: str = "graph",
        *,
        files: str | Path | None = None,
        demo_end: datetime | None = None,
        clock: Clock | None = None,
    ) -> None:
        #: The source, as the registry describes it (:mod:`sspr_review.sources`).
        self.kind: SourceKind = source_kind(source)
        self.clock: Clock = clock or system_clock
        self.config = config
        self.source_name = source
        self.files = Path(files) if files is not None else None
        self._demo_end = demo_end
        self.store = Store(config.store_path(), self.kind.store_key(config))
        #: How the last default review week was chosen, when that needs saying (the files source).
        self.week_note: str | None = None

    # ------------------------------------------------------------------ sources
    def demo_tenant(self) -> DemoTenant:
        """The demo tenant (built once), ending at the most recent review-week end."""
        return demo_tenant(self.config.demo, self.demo_end())

    def demo_end(self) -> datetime:
        """Where the demo tenant's history ends: fixed when the workspace first asks (the clock's last Monday)."""
        if self._demo_end is None:
            self._demo_end = demo_end(self.config, self.now())
        return self._demo_end

    def now(self) -> datetime:
        """The current time from the workspace's clock (UTC)."""
        moment = self.clock()
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ConfigError(f"the workspace clock gave {moment!r}, a time without a time zone: return UTC times")
        return moment.astimezone(UTC)

    # -------------------------------------------------------------------- fetch
    def fetch(self, *, progress: bool | None = None, as_of: datetime | None = None) -> FetchResult:
        """Fetch every source incrementally into the store and return what happened per source."""

        async def go() -> FetchResult:
            options = SourceOptions(files=self.files, demo_end=self.demo_end(), as_of=as_of)
            source = open_source(self.kind.name, self.config, clock=self.now, options=options)
            try:
                windows = source.windows()
                with self.store.writing():
                    info = await source.tenant()
                    if info:
                        self.store.write_tenant(info)
                    return await fetch_into(
                        self.store, source, self.config, progress=progress, windows=windows, needs=registration_needs
                    )
            finally:
                await source.aclose()

        return run_sync(go())

    def build_demo_history(self, *, progress: bool | None = None, if_missing: bool = False) -> list[FetchResult]:
        """Fill the demo store as weekly scheduled runs would have: one fetch per week of the demo history.

        The demo store is rebuilt from scratch, so repeated demos give the same store. It is built in a
        temporary folder beside the store and renamed into place when complete, under the demo build lock:
        a reader sees the old store or the new one, never a half-built one. With ``if_missing`` nothing is
        built when the store holds audit data once the lock is held (another process built it meanwhile).
        """
        if not self.kind.rebuilds_history:
            raise ConfigError(f"build_demo_history is for the demo source, not {self.source_name}")
        tenant = self.demo_tenant()
        final = self.store
        private_dir(final.root)
        building = final.root / f".building-{final.tenant}-{uuid.uuid4().hex}"
        results: list[FetchResult] = []
        with self._demo_build_lock(progress=progress):
            if if_missing and final.intervals("audit"):
                return results
            try:
                self.store = Store(building, final.tenant)
                moment = tenant.start + timedelta(days=7)
                while moment <= tenant.end:
                    results.append(self.fetch(progress=progress, as_of=moment))
                    moment += timedelta(days=7)
                (self.store.path / ".lock").unlink(missing_ok=True)
                old = final.root / f".old-{final.tenant}-{uuid.uuid4().hex}"
                if final.path.exists():
                    os.rename(final.path, old)
                os.rename(self.store.path, final.path)
                shutil.rmtree(old, ignore_errors=True)
            finally:
                self.store = final
                shutil.rmtree(building, ignore_errors=True)
        return results

    @contextlib.contextmanager
    def _demo_build_lock(self, *, progress: bool | None = None) -> Iterator[None]:
        """Hold the demo build lock (``<store root>/.demo-build.lock``); wait for another builder, saying so."""
        lock_path = self.store.root / ".demo-build.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
                print(
                    f"Waiting for pid {holder}, which is building the demo store in {self.store.path} ...",
                    file=sys.stderr if progress is None else sys.stdout,
                    flush=True,
                )
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    def update(self, *, progress: bool | None = None) -> FetchResult:
        """Bring the store up to date the way this source does: one incremental fetch, or (the demo tenant) the
        whole weekly history rebuilt. The result of the (last) fetch."""
        if self.kind.rebuilds_history:
            return self.build_demo_history(progress=progress)[-1]
        return self.fetch(progress=progress)

    def ensure_store(self) -> bool:
        """For a source that rebuilds its history (the demo tenant): build the store unless it is there; when
        another process is building it, wait for that build (with a message) instead of reading a half-built
        store. True when this call built it. Other sources' stores are filled by ``fetch`` only: False."""
        if not self.kind.rebuilds_history or self.store.intervals("audit"):
            return False
        return bool(self.build_demo_history(progress=False, if_missing=True))

    # --------------------------------------------------------------------- read
    def read(
        self, table: str, start: datetime | None = None, end: datetime | None = None, *, raw: bool = False
    ) -> pd.DataFrame:
        """Rows of a normalised table in ``[start, end)`` (see :mod:`sspr_review.core.schema`)."""
        return self.store.read(table, start, end, raw=raw)

    def coverage(self, start: datetime, end: datetime) -> dict[str, SourceCoverage]:
        """What the store holds of each source for ``[start, end)``; a snapshot source says which snapshot the
        window uses (the one nearest to ``end``; beyond ``[review] snapshot_tolerance_days`` approximate)."""
        tolerance = timedelta(days=self.config.review.snapshot_tolerance_days)
        return {name: self.store.coverage(name, start, end, tolerance=tolerance) for name in SOURCES}

    def status(self) -> dict[str, Any]:
        return self.store.status()

    def tenant(self) -> dict[str, str]:
        """Tenant id and name for reports: ``[tenant] name`` wins over what the store learnt from Graph."""
        info = self.store.tenant_info()
        name = self.config.tenant.name or str(info.get("name") or self.store.tenant)
        return {"id": str(info.get("id") or self.store.tenant), "name": name}

    def window(self, week_ending: str | datetime | None = None) -> ReviewWindow:
        """The review week ending at ``week_ending`` (default: the most recent Monday in [review] timezone)."""
        self.week_note = None
        try:
            if not week_ending and self.kind.week_from_records:
                chosen = self._files_week()
                if chosen is not None:
                    return chosen
            return review_window(week_ending or None, self.config.review.timezone, now=self.now())
        except ValueError as exc:
            raise ConfigError(f"week ending: {exc}") from None

    def _files_week(self) -> ReviewWindow | None:
        """The last complete week the files cover (audit records, else risk detections), or, when they cover
        no complete week, the week their newest record falls in; ``None`` before the first fetch."""
        for source in ("audit", "risk"):
            intervals = self.store.intervals(source)
            if intervals:
                break
        else:
            return None
        first, last = intervals[-1].start, intervals[-1].end
        span = f"{source} records from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
        week = review_window(None, self.config.review.timezone, now=last)
        if week.start >= first:
            self.week_note = f"the last complete week the files cover ({span}); choose another with --week-ending"
            return week
        week = week.shift(-1)
        self.week_note = (
            f"the files cover no complete week ({span}): reviewing the week their newest record falls in,"
            " which they cover in part; choose another with --week-ending"
        )
        return week

    def review(self, week_ending: str | datetime | None = None, *, compare: bool = True) -> Review:
        """Review one week from the store: metrics with last week's values, findings, trend.

        With ``compare`` the previous week is reviewed too, so each finding says new or continuing and
        last week's resolved findings are listed. When the week before holds no data at all (the store's first
        reviewed week), every finding is new.

        Each week reads the registration, roles and policy snapshot its coverage chose (the one nearest to the
        week's end; see :meth:`coverage`), so a review run any day after the week, or a catch-up review of an
        older week, sees the same data.

        Built for a year of a large tenant: the tables are read once, compactly (string columns as
        categoricals), and prepared once for both weeks. Registration snapshots are loaded in full only from
        the one in force when the earliest reviewed week began; the older ones are streamed, one at a time,
        into the per-snapshot counts the adoption trend needs (``Review.data.registration`` therefore holds
        the recent snapshots only).
        """
        window = self.window(week_ending)
        settings = self.config.analysis_settings()
        before = window.shift(1)
        earliest = before.start if compare else window.start
        store = self.store
        coverage = self.coverage(window.start, window.end)
        previous_coverage = self.coverage(before.start, before.end) if compare else None
        chosen = [
            c.snapshot.replace(hour=0, minute=0, second=0, microsecond=0)
            for c in (coverage["registration"], (previous_coverage or {}).get("registration"))
            if c is not None and c.snapshot is not None
        ]
        with lean_arrow_memory():
            privileged = store.read("privileged")
            snapshots = store.iter_snapshots("registration", REGISTRATION_COUNT_INPUT)
            counts = registration_counts_arrow(privileged, snapshots)
            days = store.snapshot_days("registration")
            anchor = max((d for d in days if d <= earliest), default=None)
            if chosen:  # the registration rows the two weeks' snapshots hold are read in full too
                anchor = min([*chosen, *([anchor] if anchor is not None else [])])
            tables = {
                "audit": store.read("audit", compact=True),
                "risk": store.read("risk"),
                "registration": store.read("registration", anchor, compact=True),
                "privileged": privileged,
            }
            history = {s: ivs[0].start for s in ("audit", "risk") if (ivs := store.intervals(s))}
            # the trend and last week's figures count only weeks the store holds complete, never the rows of a
            # fetch that failed part-way
            covered = {s: [(i.start, i.end) for i in store.intervals(s)] for s in ("audit", "risk")}
            tenant = self.tenant()
            release_arrow_memory()
            data = prepare(
                tables, settings, coverage=coverage, registration_counts=counts, registration_lean=lean_days(store.path)
            )
            release_arrow_memory()
            previous = None
            notes: list[str] = []
            if previous_coverage is not None:
                if holds_data(previous_coverage):
                    previous = list(week_findings(data, previous_coverage, before, settings)[0])
                else:
                    previous = []
                    notes.append(
                        "The week before holds no data (this is the store's first reviewed week): every finding is new."
                    )
            review = build_review(
                tables,
                coverage,
                window,
                settings,
                tenant=tenant,
                previous_findings=previous,
                history_start=history,
                covered=covered,
                prepared=data,
                previous_coverage=previous_coverage,
            )
            return replace(review, notes=(*review.notes, *notes)) if notes else review


def holds_data(coverage: dict[str, SourceCoverage]) -> bool:
    """Some source holds data of the window: a time-ranged source covers part of it, or a snapshot lies within
    the tolerance of its end (an approximate snapshot, borrowed from another time, does not count)."""
    return any(c.available and not (c.source in SNAPSHOT_SOURCES and c.approximate) for c in coverage.values())


def open_workspace(
    config: str | Path | None = None,
    *,
    source: str | None = None,
    store: str | Path | None = None,
    files: str | Path | None = None,
    demo_end: datetime | None = None,
    clock: Clock | None = None,
) -> Workspace:
    """Open a workspace from a config file (or the defaults) for ``source`` (default: graph with a config
    file, demo without one). ``clock``: see :class:`Workspace`."""
    # A store folder given here (command line, notebook parameter) is taken from the current folder.
    cfg = config_mod.load(config, store__path=str(Path(store).expanduser().absolute()) if store else None)
    chosen = source or ("graph" if config is not None else "demo")
    return Workspace(cfg, chosen, files=files, demo_end=demo_end, clock=clock)
