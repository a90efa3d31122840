"""The Log Analytics source: audit events (``AuditLogs``) and risk detections (``AADUserRiskEvents``).

A window is read in as few queries as the response caps allow: a histogram query counts the rows per time bin
first, and the bins are packed into windows of at most ``min(max_rows, max_bytes / row size)`` rows (a bin over
the cap is counted again in finer bins). An answer truncated anyway (the byte cap) is read again in halves. A
partial answer for any other reason fails the source for the window, with the workspace's reason: the rows that
arrived are kept, the window is not claimed as covered.

The first run reads back ``[log_analytics] backfill_days``, from the oldest row the table holds when that is
later; a window ends ``ingestion_delay_minutes`` before now (rows reach the workspace minutes after the event).
"""

from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ...core.errors import FetchFailed, PartialResult
from ...core.vocabulary import TIMED_KINDS
from ..base import FetchStats, Pages, Record, TimedSource
from . import queries
from .client import Sleep, Table, WorkspaceClient
from .rows import StepText, audit_records, risk_records

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from ...core.config import LogAnalyticsSettings

SECOND = timedelta(seconds=1)
#: Histogram bins per query at most (the histogram's own answer stays far below any cap).
MAX_BINS = 2000


@dataclass(frozen=True)
class Spec:
    """One table the source reads: its query, its histogram query and the rows → records mapping."""

    kind: str
    table: str
    query: Callable[[datetime, datetime], str]
    histogram: Callable[[datetime, datetime, timedelta], str]
    #: A generous size of one answered row (bytes), for the byte cap.
    row_bytes: int


AUDIT = Spec("audit", "AuditLogs", queries.audit, queries.audit_histogram, 2_500)
RISK = Spec("risk", "AADUserRiskEvents", queries.risk, queries.risk_histogram, 1_500)
SPECS = {"audit": AUDIT, "risk": RISK}


class LogAnalyticsSource(TimedSource):
    """Audit and risk from the workspace in ``[log_analytics]``. Create inside the event loop that will use it."""

    name = "log_analytics"
    kinds = TIMED_KINDS

    def __init__(
        self,
        settings: LogAnalyticsSettings,
        credential: TokenCredential,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        self.settings = settings
        self.client = WorkspaceClient(settings, credential, sleep=sleep)
        self.stats: dict[str, FetchStats] = {}
        self.steps = StepText()
        self._clock = clock

    def now(self) -> datetime:
        return self._clock() if self._clock is not None else datetime.now(UTC)

    @property
    def cap(self) -> dict[str, int]:
        """Rows one answer may hold, per kind (the row cap, or fewer for the byte cap)."""
        s = self.settings
        return {k: max(1, min(s.max_rows, s.max_bytes // spec.row_bytes)) for k, spec in SPECS.items()}

    def lookback_days(self, kind: str, default: int) -> int:
        """How far a first run reads back (``backfill_days``, not Graph's 30-day audit limit)."""
        return self.settings.backfill_days if kind in SPECS else default

    async def limit_window(self, kind: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """``[start, end]`` within what the workspace can answer: from the table's oldest row (when later), to
        ``ingestion_delay_minutes`` before now."""
        spec = SPECS[kind]
        end = min(end, self.now() - timedelta(minutes=self.settings.ingestion_delay_minutes))
        table = await self.client.query(queries.oldest(spec.table), None, self._stats(kind), kind, spec.table)
        oldest = table.rows[0][0] if table.rows else None
        if isinstance(oldest, datetime) and oldest > start:
            start = min(oldest.astimezone(UTC).replace(microsecond=0), end)
        return start, end

    def notes(self, kind: str) -> list[str]:
        """Where ``kind`` came from, for the coverage ("Log Analytics workspace ... (AuditLogs); step text from
        ResultDescription")."""
        spec = SPECS[kind]
        where = f"Log Analytics workspace {self.settings.workspace_id} ({spec.table})"
        step = self.steps.note() if kind == "audit" else None
        return [f"{where}; {step}" if step else where]

    def _stats(self, kind: str) -> FetchStats:
        return self.stats.setdefault(kind, FetchStats())

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        return [self._pages(AUDIT, start, end)]

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        return [self._pages(RISK, since, end)]

    def _records(self, spec: Spec, table: Table) -> list[Record]:
        if spec is AUDIT:
            return audit_records(table.columns, table.rows, self.steps)
        return risk_records(table.columns, table.rows)

    async def _query(self, spec: Spec, text: str, start: datetime) -> Table:
        # the request's timespan bounds TimeGenerated (when the workspace received a row, never before the event)
        return await self.client.query(
            text, (start, self.now() + timedelta(minutes=5)), self._stats(spec.kind), spec.kind, spec.table
        )

    async def plan(self, spec: Spec, start: datetime, end: datetime) -> list[tuple[datetime, datetime, int]]:
        """``[start, end)`` cut into windows of at most the cap's rows: (start, end, rows) each."""
        cap = self.cap[spec.kind]
        span = (end - start).total_seconds()
        if span <= 0:
            return []
        width = timedelta(seconds=max(1, math.ceil(span / min(MAX_BINS, max(1, cap // 2)))))
        table = await self._query(spec, spec.histogram(start, end, width), start)
        bins = sorted((_utc(b), int(n)) for b, n in table.rows if b is not None)
        windows: list[tuple[datetime, datetime, int]] = []
        lo, rows = start, 0
        for begin, count in bins:
            begin = max(begin, start)
            if count > cap:
                if width <= SECOND:
                    raise FetchFailed(
                        f"the workspace holds {count} {spec.table} rows within one second at {begin:%Y-%m-%d %H:%M:%S}"
                        f" UTC, more than one answer may hold ({cap}): raise [log_analytics] max_rows",
                        source=spec.kind,
                    )
                if begin > lo:
                    windows.append((lo, begin, rows))
                stop = min(begin + width, end)
                windows.extend(await self.plan(spec, begin, stop))
                lo, rows = stop, 0
            elif rows + count > cap and begin > lo:
                windows.append((lo, begin, rows))
                lo, rows = begin, count
            else:
                rows += count
        if lo < end:
            windows.append((lo, end, rows))
        return windows

    async def _window(self, spec: Spec, start: datetime, end: datetime) -> list[Record]:
        """The records of ``[start, end)``; an answer truncated by a cap is read again in halves."""
        try:
            table = await self._query(spec, spec.query(start, end), start)
        except PartialResult as exc:
            if not exc.truncated or end - start <= SECOND:
                if isinstance(exc.data, Table) and exc.data.rows:
                    exc.data = self._records(spec, exc.data)  # the rows that arrived, kept by the caller
                raise
            middle = start + timedelta(seconds=math.ceil((end - start).total_seconds() / 2))
            return [*await self._window(spec, start, middle), *await self._window(spec, middle, end)]
        return self._records(spec, table)

    async def _pages(self, spec: Spec, start: datetime, end: datetime) -> Pages:
        windows = await self.plan(spec, start, end)
        pending: collections.deque[asyncio.Task[list[Record]]] = collections.deque()
        todo = iter([(lo, hi) for lo, hi, rows in windows if rows or len(windows) == 1])
        try:
            while True:
                while len(pending) < self.settings.concurrent_queries:
                    nxt = next(todo, None)
                    if nxt is None:
                        break
                    pending.append(asyncio.create_task(self._window(spec, *nxt)))
                if not pending:
                    return
                try:
                    records = await pending.popleft()
                except PartialResult as exc:
                    if isinstance(exc.data, list) and exc.data:
                        yield exc.data
                    raise
                if records:
                    stats = self._stats(spec.kind)
                    stats.pages += 1
                    stats.records += len(records)
                    yield records
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.client.close)


def _utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC)
