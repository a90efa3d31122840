"""The one interface every source implements, and what they hand out: pages of records exactly as Graph sends them."""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

Record = dict[str, Any]
Pages = AsyncIterator[list[Record]]


@dataclass
class FetchStats:
    """Counters for one fetch run, per source."""

    requests: int = 0
    pages: int = 0
    records: int = 0
    throttled: int = 0
    retries: int = 0
    waited: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)


@dataclass
class RoleData:
    """Everything needed to list privileged principals. ``notes`` says what could not be read."""

    definitions: list[Record] = field(default_factory=list)
    assignments: list[Record] = field(default_factory=list)
    eligibility: list[Record] = field(default_factory=list)
    group_members: dict[str, list[Record]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Source(Protocol):
    """One interface, three implementations: :class:`GraphSource`, :class:`DemoSource`, :class:`FilesSource`."""

    name: str
    stats: dict[str, FetchStats]

    def now(self) -> datetime: ...
    async def tenant(self) -> dict[str, Any]: ...
    def audit(self, start: datetime, end: datetime) -> list[Pages]: ...
    def risk(self, since: datetime, end: datetime) -> list[Pages]: ...
    def registration(self) -> list[Pages]: ...
    async def roles(self) -> RoleData: ...
    async def policy(self) -> dict[str, Any]: ...
    def windows(self) -> dict[str, tuple[datetime, datetime]] | None:
        """Per time-ranged kind, the span the source holds (records saved to files), or ``None``: a live source
        is read over the fetch's own windows."""
        ...

    async def aclose(self) -> None: ...


async def collect(pages: Pages) -> list[Record]:
    out: list[Record] = []
    async for page in pages:
        out.extend(page)
    return out


async def one_page(records: list[Record], page_size: int = 5000) -> Pages:
    for i in range(0, max(len(records), 1), page_size):
        yield records[i : i + page_size]


T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a source's coroutine to completion from synchronous code, also from inside a running event loop (a
    Jupyter kernel): the fetch, doctor's probes and Graph sendMail all call Graph this way."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
