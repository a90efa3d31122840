"""The one contract every source implements, and what they hand out: pages of records exactly as Graph sends them.

A *source* is a provider of records (``graph``, ``demo``, ``files``, ``log-analytics``: the registry in
:mod:`sspr_review.sources` names them); what it hands out are the kinds of data
(:data:`~sspr_review.core.vocabulary.DATA_KINDS`). :class:`Source` is the contract the fetch relies on: the
required methods are abstract, the optional capabilities are methods with defaults that a source overrides when
it has them, so the fetch calls every one of them on every source and never probes what a source offers.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NewType, Protocol, TypeVar

from ..core.errors import SourceError
from ..core.records import SetAside

Record = dict[str, Any]
Pages = AsyncIterator[list[Record]]
#: The name of a registered source (a key of :data:`sspr_review.sources.KINDS`, the one place the names come from).
Provider = NewType("Provider", str)


@dataclass
class FetchStats:
    """Counters for one fetch run, per kind of data."""

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
    #: The errors behind ``notes`` (a 401 on a part of the roles is an authentication failure: exit 5).
    errors: list[SourceError] = field(default_factory=list)


#: The key of a policy snapshot (``Source.policy()``) naming the kind of error its password rule settings gave
#: (:attr:`SourceError.kind <sspr_review.core.errors.SourceError.kind>`); the fetch takes it out before storing.
POLICY_ERROR_KIND = "passwordRuleSettingsErrorKind"


class TimedSource(ABC):
    """What serves the time-ranged kinds (audit events and risk detections over a window).

    Required: ``name``, ``stats`` (the request counters per kind), :meth:`now`, :meth:`audit` and :meth:`risk`.
    The optional capabilities have defaults: a source that holds its records already (exported files) says
    over which span in :meth:`windows`; one that reads further back than Graph keeps data says so in
    :meth:`lookback_days`; one that can answer less than asked (a workspace's retention, its ingestion delay)
    narrows the window in :meth:`limit_window`; :meth:`notes` says where the data came from; :meth:`set_aside`
    lists what the source could not read of its input (for the store's ``rejects/``).
    """

    name: str
    stats: dict[str, FetchStats]

    @abstractmethod
    def now(self) -> datetime:
        """The moment the source is read at: a fetch's windows end here."""

    @abstractmethod
    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        """directoryAudit records of ``[start, end]``, as one or more streams of pages."""

    @abstractmethod
    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        """riskDetection records updated in ``[since, end]``."""

    def windows(self) -> dict[str, tuple[datetime, datetime]] | None:
        """Per time-ranged kind, the span the source holds (records saved to files), or ``None``: a live source
        is read over the fetch's own windows."""
        return None

    def lookback_days(self, kind: str, default: int) -> int:
        """How many days a first fetch of ``kind`` reads back (``default``: the configured Graph limit)."""
        return default

    async def limit_window(self, kind: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        """``[start, end]`` narrowed to what the source can answer for ``kind`` (unchanged by default)."""
        return start, end

    def notes(self, kind: str) -> list[str]:
        """Where ``kind`` came from, when that needs saying in the coverage (nothing by default)."""
        return []

    def set_aside(self) -> SetAside | None:
        """What the source set aside while reading its input (exported files), or ``None``."""
        return None

    def gaps(self, kind: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
        """The parts of ``[start, end]`` the source holds nothing for (an archive's missing hours), in order, each
        with why: the fetch claims the rest of the window and records each gap as "no data" with the reason (a gap
        with an empty reason is only not claimed)."""
        return []

    def resume(self, kind: str, state: Mapping[str, Any] | None) -> None:
        """What the store kept of the source's choices for ``kind`` (see :meth:`state`), before it is read."""
        return None

    def state(self, kind: str) -> dict[str, Any] | None:
        """The source's choices for ``kind`` in this fetch that the store keeps for the next (Graph: which
        ``loggedByService`` value selects SSPR's events), or ``None``."""
        return None

    async def aclose(self) -> None:
        """Release connections (nothing to release by default)."""
        return None


class RegistrationParts(Protocol):
    """The userRegistrationDetails report read in parts, for a lean snapshot (:mod:`sspr_review.ingest.lean`)."""

    async def counts(self) -> dict[str, Any]:
        """Graph's counts (``usersRegisteredByFeature``, ``usersRegisteredByMethod``), as Graph sent them."""
        ...

    def in_full(self) -> list[Pages]:
        """The parts of the report a lean snapshot holds in full (administrators, members not SSPR-capable, ...)."""
        ...

    def lookup(self, ids: list[str], upns: list[str]) -> list[Pages]:
        """The report's rows of these users (object ids, UPNs)."""
        ...


class Source(TimedSource):
    """Every kind of data: :class:`GraphSource`, :class:`DemoSource`, :class:`FilesSource`, or a
    :class:`~.combined.CombinedSource` (audit and risk from a Log Analytics workspace, the rest from another).

    Required besides :class:`TimedSource`'s: :meth:`tenant`, :meth:`registration`, :meth:`roles`, :meth:`policy`.
    Optional: :meth:`registration_parts` (the registration report in parts, for a lean snapshot).
    """

    @abstractmethod
    async def tenant(self) -> dict[str, Any]:
        """The tenant's ``id`` and ``name`` (empty when unknown)."""

    @abstractmethod
    def registration(self) -> list[Pages]:
        """The whole userRegistrationDetails report, as the source sees it now."""

    @abstractmethod
    async def roles(self) -> RoleData:
        """Role definitions, assignments, eligibility and the members of role groups."""

    @abstractmethod
    async def policy(self) -> dict[str, Any]:
        """The password protection settings and the authentication methods policy."""

    def registration_parts(self) -> RegistrationParts | None:
        """The registration report in parts (Graph), or ``None``: the source serves the whole report only."""
        return None


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
