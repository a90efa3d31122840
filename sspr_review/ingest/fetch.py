"""One fetch run: every source, concurrently, incrementally, into the store.

Each source is fetched on its own: a missing permission or licence for one source is recorded in the store
as "no data" for that window, with the reason, and the others still land.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pandas as pd

from ..catalog import DATA_KINDS
from ..config import Config
from ..errors import SourceError
from ..sources.base import FetchStats, Pages, RoleData, Source
from . import normalize
from .progress import Progress
from .store.history import Store

T = TypeVar("T")

#: Records buffered before they are normalised and written (bounds memory on large tenants).
FLUSH_RECORDS = 50_000
#: Records normalised together in a worker thread while the next pages are fetched (so normalising never
#: waits for the last page: the fetch ends soon after Graph's last answer).
CHUNK_RECORDS = 10_000


@dataclass
class Outcome:
    """What happened to one source in one fetch run."""

    source: str
    ok: bool = False
    start: datetime | None = None
    end: datetime | None = None
    records: int = 0
    new: int = 0
    kind: str = ""
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    stats: FetchStats | None = None

    def line(self) -> str:
        """One line for the terminal."""
        if not self.ok:
            reason = (
                "Graph rejected the access token (the reason and fix follow)" if self.kind == "auth" else self.reason
            )
            return f"{self.source:<13} NO DATA ({self.kind}): {reason}"
        span = f" {self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M} UTC" if self.start and self.end else ""
        stats = ""
        if self.stats and self.stats.requests:
            stats = f", {self.stats.requests} requests, {self.stats.throttled} throttled"
        counts = f"{self.records} records, {self.new} new" if self.start else f"snapshot of {self.records} records"
        return f"{self.source:<13} ok{span}: {counts}{stats}"


@dataclass
class FetchResult:
    store: Store
    outcomes: dict[str, Outcome]
    report: normalize.Report

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes.values())

    def lines(self) -> list[str]:
        return [o.line() for o in self.outcomes.values()] + [n for o in self.outcomes.values() for n in o.notes]


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion, also from inside a running event loop (a Jupyter kernel)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class _Chunks:
    """Normalises records in chunks in a worker thread while more pages arrive; ``take()`` waits for them.

    ``normalise(records)`` returns ``(frame, report)``; chunks keep their order.
    """

    def __init__(self, normalise: Callable[[list[Any]], tuple[pd.DataFrame, normalize.Report]]) -> None:
        self.normalise = normalise
        self.buffer: list[Any] = []
        self.pending: list[asyncio.Task[tuple[pd.DataFrame, normalize.Report]]] = []
        self.buffered = 0  # records in the buffer and in pending chunks

    def add(self, page: list[Any]) -> None:
        self.buffer.extend(page)
        self.buffered += len(page)
        if len(self.buffer) >= CHUNK_RECORDS:
            self._start()

    def _start(self) -> None:
        items, self.buffer = self.buffer, []
        self.pending.append(asyncio.create_task(asyncio.to_thread(self.normalise, items)))

    async def take(self) -> list[tuple[pd.DataFrame, normalize.Report]]:
        """Every chunk so far, normalised (at least one, possibly of no records), in order."""
        if self.buffer or not self.pending:
            self._start()
        pending, self.pending, self.buffered = self.pending, [], 0
        return list(await asyncio.gather(*pending))

    def cancel(self) -> None:
        for task in self.pending:
            task.cancel()


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


class _Writer:
    """Normalises the pages of one time-ranged table as they arrive and writes them in batches."""

    def __init__(self, store: Store, table: str, outcome: Outcome, report: normalize.Report) -> None:
        self.store, self.table, self.outcome, self.report = store, table, outcome, report
        self.chunks = _Chunks(getattr(normalize, table))
        self.lock = asyncio.Lock()

    async def add(self, page: list[Any]) -> None:
        self.chunks.add(page)
        self.outcome.records += len(page)
        if self.chunks.buffered >= FLUSH_RECORDS:
            await self.flush()

    async def flush(self) -> None:
        async with self.lock:
            if not self.chunks.buffered:
                return
            done = await self.chunks.take()
            await asyncio.to_thread(self._write, done)

    def _write(self, done: list[tuple[pd.DataFrame, normalize.Report]]) -> None:
        for _frame, report in done:
            self.report.merge(report)
            self.store.write_rejects(self.table, report.rejected)
        self.outcome.new += self.store.write(self.table, _concat([f for f, _ in done]))


async def _drain(streams: list[Pages], sink: Any, bar: Any, stats: Any) -> None:
    async def one(stream: Pages) -> None:
        async for page in stream:
            await sink(page)
            Progress.update(bar, len(page), stats())

    await asyncio.gather(*(one(s) for s in streams))


async def fetch_into(
    store: Store,
    source: Source,
    config: Config,
    *,
    progress: bool | None = None,
    windows: Mapping[str, tuple[datetime, datetime]] | None = None,
) -> FetchResult:
    """Fetch every source into ``store`` (the caller holds ``store.writing()``).

    ``windows`` forces the window of a time-ranged source (``audit``, ``risk``: the files source passes the
    span of each kind's own records); otherwise each starts at the store's high-water mark minus the
    configured overlap, or at the look-back limit on a first run, and ends at ``source.now()``.
    What the source itself set aside while reading (``source.report``, the files source) is merged into the
    result's report and kept in the store's ``rejects/``.
    """
    windows = windows or {}
    now = source.now().astimezone(UTC).replace(microsecond=0)
    report = normalize.Report()
    loaded = getattr(source, "report", None)
    if isinstance(loaded, normalize.Report):
        report.merge(loaded)
        store.write_rejects(source.name, loaded.rejected)
    outcomes = {name: Outcome(name) for name in DATA_KINDS}
    bars = Progress(enabled=progress)

    def start_of(name: str, overlap_hours: float, lookback_days: int) -> datetime:
        floor = now - timedelta(days=lookback_days)
        hwm = store.high_water(name)
        return floor if hwm is None else max(floor, min(hwm, now) - timedelta(hours=overlap_hours))

    async def guarded(
        name: str, job: Awaitable[None], start: datetime | None = None, end: datetime | None = None
    ) -> None:
        outcome = outcomes[name]
        end = end or now
        outcome.start, outcome.end = start, end
        try:
            await job
            outcome.ok = True
        except SourceError as exc:
            outcome.kind, outcome.reason = exc.kind, str(exc)
            store.record_failure(name, start, end, exc.kind, str(exc))
        finally:
            outcome.stats = source.stats.get(name)

    async def timed(
        name: str, read: Callable[[datetime, datetime], list[Pages]], start: datetime, end: datetime
    ) -> None:
        limit = getattr(source, "limit_window", None)  # a source may answer less (a workspace's retention)
        if limit is not None:
            start, end = await limit(name, start, end)
            outcomes[name].start, outcomes[name].end = start, end
        writer = _Writer(store, name, outcomes[name], report)
        bar = bars.bar(name)
        try:
            await _drain(read(start, end), writer.add, bar, lambda: source.stats.get(name))
        finally:
            await writer.flush()  # what arrived is kept even when a later page fails (coverage is not claimed)
        store.record_interval(name, start, end)
        for note in getattr(source, "notes", lambda _: [])(name):
            store.record_note(name, start, end, note)
            outcomes[name].notes.append(f"{name}: from {note}")

    registration_frame: list[pd.DataFrame] = []

    async def read_roles() -> RoleData | SourceError:
        try:
            return await source.roles()
        except SourceError as exc:
            return exc

    async def snapshots() -> None:
        # Role assignments are read while the registration report pages (they need no registration data;
        # only their normalisation does).
        roles_data = asyncio.create_task(read_roles())

        async def registration() -> None:
            bar = bars.bar("registration")
            chunks = _Chunks(lambda items: normalize.registration(items, now))

            async def add(page: list[Any]) -> None:
                chunks.add(page)
                outcomes["registration"].records += len(page)

            try:
                await _drain(source.registration(), add, bar, lambda: source.stats.get("registration"))
            except BaseException:
                chunks.cancel()
                raise
            done = await chunks.take()
            for _frame, rep in done:
                report.merge(rep)
                store.write_rejects("registration", rep.rejected)
            frame = _concat([f for f, _ in done])
            store.write_snapshot("registration", frame.drop(columns="raw"), now)
            store.record_snapshot("registration", now)
            registration_frame.append(frame)

        try:
            await guarded("registration", registration())
        except BaseException:
            roles_data.cancel()
            raise
        users = registration_frame[0] if registration_frame else None

        async def roles() -> None:
            data = await roles_data
            if isinstance(data, SourceError):
                if users is None:
                    raise data
                frame = normalize.privileged_from_flags(users, now)
                missing = [f"role assignments are not included, only the registration report's isAdmin flag ({data})"]
                outcomes["roles"].notes.append(
                    f"roles: using the registration report's isAdmin flag instead of role assignments ({data})"
                )
            else:
                missing = list(data.notes)
                outcomes["roles"].notes.extend(f"roles: {n}" for n in data.notes)
                frame = normalize.privileged(
                    data.definitions, data.assignments, data.eligibility, data.group_members, now, users=users
                )
            outcomes["roles"].records = len(frame)
            store.write_snapshot("privileged", frame, now)
            store.record_snapshot("roles", now, missing)  # what could not be read stays in the coverage

        await guarded("roles", roles())

    async def policy() -> None:
        data = await source.policy()
        store.write_policy(data, now)
        error = data.get("passwordRuleSettingsError")
        missing = [f"password protection settings are not included: {error}"] if error else []
        outcomes["policy"].notes.extend(f"policy: {m}" for m in missing)
        store.record_snapshot("policy", now, missing)
        outcomes["policy"].records = sum(1 for v in data.values() if v)

    lookback = getattr(source, "lookback_days", lambda _, default: default)  # a workspace reads back further
    audit_start, audit_end = windows.get("audit") or (
        start_of("audit", config.store.audit_overlap_hours, lookback("audit", config.graph.audit_lookback_days)),
        now,
    )
    risk_start, risk_end = windows.get("risk") or (
        start_of("risk", config.store.risk_overlap_hours, lookback("risk", config.graph.risk_lookback_days)),
        now,
    )
    audit_job = timed("audit", source.audit, audit_start, audit_end)
    risk_job = timed("risk", source.risk, risk_start, risk_end)
    try:
        await asyncio.gather(
            guarded("audit", audit_job, audit_start, audit_end),
            guarded("risk", risk_job, risk_start, risk_end),
            snapshots(),
            guarded("policy", policy()),
        )
    finally:
        bars.finish()
    return FetchResult(store, outcomes, report)
