"""One fetch run: every source, concurrently, incrementally, into the store.

Each source is fetched on its own: a missing permission or licence for one source is recorded in the store
as "no data" for that window, with the reason, and the others still land.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from ..core.config import Config
from ..core.errors import SourceError, TokenRejected
from ..core.vocabulary import DATA_KINDS
from ..sources.base import POLICY_ERROR_KIND, FetchStats, Pages, RoleData, Source
from . import lean, normalize
from .progress import Progress
from .store import Store, lean_arrow_memory, release_arrow_memory
from .store.health import unread_damage

#: Records buffered before they are normalised and written (bounds memory on large tenants and big imports: at
#: 50,000 an import of 10^6 records peaked at 813 MB and kept climbing, at 25,000 at 665 MB, flat; each write
#: merges into a month file, so fewer records per write make a big import of one month slower).
FLUSH_RECORDS = 25_000
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
    #: The parts of the kind that could not be read (the kind landed, PARTIAL), each with the reason.
    partial: list[str] = field(default_factory=list)
    #: Why the access token was rejected (a 401) on a part of the kind, when it was.
    rejected: str = ""

    def line(self) -> str:
        """One line for the terminal."""
        if not self.ok:
            reason = "the access token was rejected (the reason and fix follow)" if self.kind == "auth" else self.reason
            return f"{self.source:<13} NO DATA ({self.kind}): {reason}"
        span = f" {self.start:%Y-%m-%d %H:%M} → {self.end:%Y-%m-%d %H:%M} UTC" if self.start and self.end else ""
        stats = ""
        if self.stats and self.stats.requests:
            stats = f", {self.stats.requests} requests, {self.stats.throttled} throttled"
        counts = f"{self.records} records, {self.new} new" if self.start else f"snapshot of {self.records} records"
        if self.partial:  # never "ok": the parts not read are named
            return f"{self.source:<13} PARTIAL{span}: {counts}{stats}; not read: {'; '.join(self.partial)}"
        return f"{self.source:<13} ok{span}: {counts}{stats}"


@dataclass
class FetchResult:
    store: Store
    outcomes: dict[str, Outcome]
    report: normalize.Report
    #: The store's own health: damaged files found and quarantined, data of theirs read again, data that could
    #: not be (each a sentence naming the file; see :mod:`.store.health`).
    damaged: list[str] = field(default_factory=list)
    recovered: list[str] = field(default_factory=list)
    unrecovered: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(o.ok for o in self.outcomes.values())

    def lines(self) -> list[str]:
        notes = [n for o in self.outcomes.values() for n in o.notes]
        store = [f"store: {line}" for line in (*self.damaged, *self.recovered)]
        return [o.line() for o in self.outcomes.values()] + notes + store


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
            await _in_thread(lambda: self._write(done))

    def _write(self, done: list[tuple[pd.DataFrame, normalize.Report]]) -> None:
        for _frame, report in done:
            self.report.merge(report)
            self.store.write_rejects(self.table, report.rejected)
        self.outcome.new += self.store.write(self.table, _concat([f for f, _ in done]))
        release_arrow_memory()  # the merge's buffers, before the next batch is read (see fetch_into)


async def _all_or_none(steps: Sequence[Awaitable[None]]) -> None:
    """Run ``steps`` concurrently; when one raises, cancel the others and wait until they have stopped (their
    writes done), so that nothing writes to the store after the caller has released its lock."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _in_thread(work: Callable[[], None]) -> None:
    """Run ``work`` in a worker thread; cancelled, wait for it to finish (a thread cannot be stopped) first."""
    future = asyncio.ensure_future(asyncio.to_thread(work))
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait({future})
        raise


async def _drain(
    streams: list[Pages],
    sink: Callable[[list[Any]], Awaitable[None]],
    bar: Any,
    stats: Callable[[], FetchStats | None],
) -> None:
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
    needs: lean.NeedsFn | None = None,
) -> FetchResult:
    """Fetch every source into ``store`` (the caller holds ``store.writing()``): one :class:`FetchRun`.

    ``windows`` forces the window of a time-ranged source (``audit``, ``risk``: the files source passes the
    span of each kind's own records); otherwise each starts at the store's high-water mark minus the
    configured overlap, or at the look-back limit on a first run, and ends at ``source.now()``.
    What the source itself set aside while reading (``source.set_aside()``, the files source) is merged into the
    result's report and kept in the store's ``rejects/``.

    Arrow allocates from jemalloc meanwhile and hands back what a write freed at once
    (:func:`.store.lean_arrow_memory`): with pyarrow's mimalloc a big import kept each merge's buffers (issue 27).
    """
    with lean_arrow_memory(decay_ms=0):
        return await FetchRun(store, source, config, progress=progress, windows=windows, needs=needs).run()


class FetchRun:
    """One fetch of every kind of data from ``source`` into ``store``, each kind on its own.

    The steps: the time-ranged kinds (:meth:`timed`: audit, risk) and the snapshots (:meth:`snapshots`:
    registration, then roles; :meth:`policy`) run concurrently, each :meth:`guarded` so that a failure of one
    is recorded in the store as "no data" for its window while the others land.
    """

    def __init__(
        self,
        store: Store,
        source: Source,
        config: Config,
        *,
        progress: bool | None = None,
        windows: Mapping[str, tuple[datetime, datetime]] | None = None,
        needs: lean.NeedsFn | None = None,
    ) -> None:
        self.store, self.source, self.config = store, source, config
        #: Whom a lean registration snapshot looks up (given by the application layer; without it the report is read
        #: whole).
        self.needs = needs
        self.windows = dict(windows or {})
        self.now = source.now().astimezone(UTC).replace(microsecond=0)
        self.report = normalize.Report()
        self.outcomes: dict[str, Outcome] = {name: Outcome(name) for name in DATA_KINDS}
        self.bars = Progress(enabled=progress)
        #: Set when a kind's step has ended (landed or failed): a lean registration snapshot waits for the events.
        self.done: dict[str, asyncio.Event] = {name: asyncio.Event() for name in self.outcomes}
        #: The registration snapshot of this run, normalised (with ``raw``), once it has landed.
        self.users: pd.DataFrame | None = None

    async def run(self) -> FetchResult:
        store, graph = self.config.store, self.config.graph
        audit = self.window("audit", store.audit_overlap_hours, graph.audit_lookback_days)
        risk = self.window("risk", store.risk_overlap_hours, graph.risk_lookback_days)
        audit_job = self.timed("audit", self.source.audit, *audit)
        risk_job = self.timed("risk", self.source.risk, *risk)
        steps = [
            self.guarded("audit", audit_job, *audit),
            self.guarded("risk", risk_job, *risk),
            self.snapshots(),
            self.guarded("policy", self.policy()),
        ]
        try:
            await _all_or_none(steps)
        finally:
            self.bars.finish()
        self.keep_source_report()  # after reading: an archive sets lines aside as it streams
        return FetchResult(self.store, self.outcomes, self.report)

    def keep_source_report(self) -> None:
        """Merge what the source set aside while reading (the files source, an archive) and keep it in
        ``rejects/``."""
        loaded = self.source.set_aside()
        if loaded is not None:
            self.report.merge(loaded)
            self.store.write_rejects(self.source.name, loaded.rejected)

    def window(self, name: str, overlap_hours: float, lookback_days: int) -> tuple[datetime, datetime]:
        """The window of a time-ranged kind: forced, else from the store's high-water mark minus the overlap
        (at most ``lookback_days`` back) to now."""
        if name in self.windows:
            return self.windows[name]
        floor = self.now - timedelta(days=self.source.lookback_days(name, lookback_days))  # a workspace: further
        hwm = self.store.high_water(name)
        start = floor if hwm is None else max(floor, min(hwm, self.now) - timedelta(hours=overlap_hours))
        damaged = unread_damage(self.store, name)  # what a damaged file took out: read again what the source holds
        if damaged is not None:
            start = min(start, max(floor, damaged))
        return start, self.now

    def stats_of(self, name: str) -> Callable[[], FetchStats | None]:
        """The source's request counts for ``name`` so far (what the progress bar shows)."""
        return lambda: self.source.stats.get(name)

    async def guarded(
        self, name: str, job: Awaitable[None], start: datetime | None = None, end: datetime | None = None
    ) -> None:
        """Run ``job``; a :class:`SourceError` is recorded as the kind's outcome and in the store's coverage."""
        outcome = self.outcomes[name]
        end = end or self.now
        outcome.start, outcome.end = start, end
        try:
            await job
            outcome.ok = True
        except SourceError as exc:
            outcome.kind, outcome.reason = exc.kind, str(exc)
            self.store.record_failure(name, start, end, exc.kind, str(exc))
        finally:
            outcome.stats = self.source.stats.get(name)
            self.done[name].set()

    async def timed(
        self, name: str, read: Callable[[datetime, datetime], list[Pages]], start: datetime, end: datetime
    ) -> None:
        """Write the pages of a time-ranged kind into its table as they arrive; declare ``[start, end]`` of it
        covered at the end, with what the source says of where the data came from."""
        outcome, source = self.outcomes[name], self.source
        start, end = await source.limit_window(name, start, end)  # a source may answer less (a workspace's retention)
        outcome.start, outcome.end = start, end
        source.resume(name, self.store.source_state(name))  # e.g. which loggedByService value selects SSPR's events
        writer = _Writer(self.store, name, outcome, self.report)
        try:
            await _drain(read(start, end), writer.add, self.bars.bar(name), self.stats_of(name))
        finally:
            await writer.flush()  # what arrived is kept even when a later page fails (coverage is not claimed)
        state = source.state(name)
        if state is not None:
            self.store.record_source_state(name, state)
        held = start
        for gap_start, gap_end, why in source.gaps(name, start, end):  # an archive's missing hours: no data
            if gap_start > held:
                self.store.record_interval(name, held, gap_start)
            if why:  # a gap without a reason is only not claimed (an hour whose blob may not exist yet)
                self.store.record_failure(name, gap_start, gap_end, "gap", why)
                outcome.notes.append(f"{name}: {why}")
            held = max(held, gap_end)
        if held < end:
            self.store.record_interval(name, held, end)
        for note in source.notes(name):
            self.store.record_note(name, start, end, note)
            outcome.notes.append(f"{name}: from {note}")

    async def snapshots(self) -> None:
        """The registration snapshot, then the roles snapshot; role assignments are read while the registration
        report pages (they need no registration data; only their normalisation does)."""
        roles_data = asyncio.create_task(self.read_roles())
        try:
            await self.guarded("registration", self.registration(roles_data))
        except BaseException:
            roles_data.cancel()
            raise
        await self.guarded("roles", self.roles(roles_data))

    async def read_roles(self) -> RoleData | SourceError:
        try:
            return await self.source.roles()
        except SourceError as exc:
            return exc

    async def registration(self, roles: Awaitable[RoleData | SourceError]) -> None:
        """Normalise the registration report in chunks as it pages, and store it as this run's snapshot: the
        whole report, or a lean snapshot (:mod:`.lean`) when ``[registration] mode`` asks for one."""
        outcome, now = self.outcomes["registration"], self.now
        bar = self.bars.bar("registration")
        chunks = _Chunks(lambda items: normalize.registration(items, now))
        summary = await self.lean_registration(roles, chunks, bar)
        if summary is None:  # full mode, or Graph refused the counts: read the report whole
            chunks = _Chunks(lambda items: normalize.registration(items, now))
            outcome.records = 0

        async def add(page: list[Any]) -> None:
            chunks.add(page)
            outcome.records += len(page)

        try:
            if summary is None:
                await _drain(self.source.registration(), add, bar, self.stats_of("registration"))
        except BaseException:
            chunks.cancel()
            raise
        done = await chunks.take()
        for _frame, rep in done:
            self.report.merge(rep)
            self.store.write_rejects("registration", rep.rejected)
        frame = _concat([f for f, _ in done])
        if summary is not None:  # the summary first: a day read as lean is never counted as a full one
            self.store.write_lean_summary(now, summary)
        self.store.write_snapshot("registration", frame.drop(columns="raw"), now)
        if summary is None:
            self.store.clear_lean_summary(now)
        self.store.record_snapshot("registration", now)
        self.users = frame

    async def lean_registration(
        self, roles: Awaitable[RoleData | SourceError], chunks: _Chunks, bar: Any
    ) -> dict[str, Any] | None:
        """A lean registration snapshot into ``chunks`` when ``[registration] mode`` asks for one: its summary for
        the store; ``None`` to read the report whole (full mode, or Graph refused the counts)."""
        parts = self.source.registration_parts()
        mode = lean.choose_mode(self.store, self.source.name, parts, self.config, self.now)
        if parts is None or not mode.lean:
            return None
        outcome = self.outcomes["registration"]

        def add(page: list[Any]) -> None:
            chunks.add(page)
            outcome.records += len(page)
            Progress.update(bar, len(page), self.source.stats.get("registration"))

        async def events_stored() -> bool:
            await self.done["audit"].wait()
            await self.done["risk"].wait()
            return self.outcomes["audit"].ok

        try:
            result = await lean.fetch_lean(
                self.store, parts, self.config, self.now, events_stored, roles, add, self.needs
            )
        except SourceError as exc:
            chunks.cancel()
            if isinstance(exc, TokenRejected):  # read whole instead, but the token was rejected: exit 5
                outcome.rejected = str(exc)
            outcome.notes.append(
                f"registration: a lean snapshot was asked for ({mode.why}) but {exc}; read the whole report"
            )
            return None
        looked = result.summary["looked_up"]
        outcome.notes.append(
            f"registration: lean snapshot ({mode.why}): Graph's counts, {outcome.records:,} rows (administrators,"
            f" members not SSPR-capable, capable guests, and {looked['ids'] + looked['upns']:,} users looked up for"
            " the week's findings)"
        )
        outcome.notes.extend(result.notes)
        summary: dict[str, Any] = result.summary
        return summary

    async def roles(self, roles_data: Awaitable[RoleData | SourceError]) -> None:
        """The privileged-principal snapshot: from role assignments, else from the registration report's
        ``isAdmin`` flag (noted, and kept in the coverage as what could not be read)."""
        data, outcome, users = await roles_data, self.outcomes["roles"], self.users
        if isinstance(data, SourceError):
            if users is None:
                raise data
            frame = normalize.privileged_from_flags(users, self.now)
            missing = [f"role assignments are not included, only the registration report's isAdmin flag ({data})"]
            errors: list[SourceError] = [data]
            outcome.notes.append("roles: using the registration report's isAdmin flag instead of role assignments")
        else:
            missing, errors = list(data.notes), list(data.errors)
            frame = normalize.privileged(
                data.definitions, data.assignments, data.eligibility, data.group_members, self.now, users=users
            )
        outcome.records, outcome.partial = len(frame), missing
        outcome.rejected = next((str(e) for e in errors if isinstance(e, TokenRejected)), "")
        self.store.write_snapshot("privileged", frame, self.now)
        self.store.record_snapshot("roles", self.now, missing)  # what could not be read stays in the coverage

    async def policy(self) -> None:
        data = await self.source.policy()
        rejected = data.pop(POLICY_ERROR_KIND, None) == TokenRejected.kind
        self.store.write_policy(data, self.now)
        error = data.get("passwordRuleSettingsError")
        missing = [f"password protection settings are not included: {error}"] if error else []
        if data.get("authorizationPolicyError"):
            missing.append(f"administrators' SSPR switch is not included: {data['authorizationPolicyError']}")
        outcome = self.outcomes["policy"]
        outcome.partial = missing  # PARTIAL, naming the parts (issue 27.2)
        outcome.rejected = str(error or data.get("authorizationPolicyError") or "") if rejected else ""
        self.store.record_snapshot("policy", self.now, missing)
        self.outcomes["policy"].records = sum(1 for v in data.values() if v)
