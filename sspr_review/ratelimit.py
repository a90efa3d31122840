"""Client-side rate limiting that keeps within Graph's documented budgets, so a normal run sees no 429.

Graph counts requests per sliding window: identity and access reports (directoryAudits and the
authentication-method reports) allow 5 requests per 10 s per app per tenant; Identity Protection allows 1
request per second per tenant. :class:`SlidingWindowLimiter` lets a request start only when fewer than
``limit`` requests started in the last ``window`` seconds (plus a small safety margin), so bursts use the whole
budget and the long-run rate is exactly the budget.

Graph counts a request when it *arrives*, which is some time after it left: the limiter cannot see that
moment, only bound it. Until a request is answered, its transit is taken as :data:`MARGIN_SECONDS`; once
:meth:`SlidingWindowLimiter.settle` reports the answer, the transit is bounded by the time it took (the
request cannot have arrived after its answer), never less than :data:`MARGIN_SECONDS` (a server may admit a
request a little after it arrives) and at most :data:`MAX_TRANSIT_SECONDS`. A slow answer (a server busy
enough to admit it late) holds its slot longer, so a late arrival does not make the request that follows it in
the window arrive too early.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Budget:
    """``limit`` requests per ``window`` seconds."""

    limit: int
    window: float


#: Documented budgets by bucket. ``directory`` endpoints (roles, settings, policy) have generous global
#: limits; the kit makes a handful of such requests and only bounds their concurrency.
BUDGETS: dict[str, Budget | None] = {
    "reports": Budget(5, 10.0),
    "identity_protection": Budget(1, 1.0),
    "directory": None,
}

#: Safety margin added to each window: a fraction of the window plus a fixed allowance for the time a
#: request spends between our clock and Graph's (used until the request is answered; see the module doc).
MARGIN_FRACTION = 0.02
MARGIN_SECONDS = 0.05
#: The most transit time a settled request's slot is held for (a bound on arrival jitter, in real seconds:
#: network and server delays do not shrink with ``time_scale``).
MAX_TRANSIT_SECONDS = 0.2


class Slot:
    """One granted request start: when it was granted and the transit time assumed for it."""

    __slots__ = ("granted", "transit")

    def __init__(self, granted: float, transit: float) -> None:
        self.granted = granted
        self.transit = transit


class SlidingWindowLimiter:
    """At most ``budget.limit`` request starts in any ``budget.window`` seconds (scaled by ``time_scale``).

    A slot is busy from its grant until ``granted + transit + window``; see the module doc for ``transit``.
    """

    def __init__(self, budget: Budget, *, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = budget.limit
        self.span = budget.window * time_scale * (1 + MARGIN_FRACTION)
        #: The window with the default transit allowance (what a slot costs when its answer is not reported).
        self.window = self.span + MARGIN_SECONDS
        self._clock = clock
        self._slots: deque[Slot] = deque()
        self._lock = asyncio.Lock()
        self._paused_until = 0.0
        self.waited = 0.0

    def _free_at(self, slot: Slot) -> float:
        return slot.granted + slot.transit + self.span

    async def acquire(self) -> float:
        """Wait for a slot; return the seconds waited."""
        return (await self.reserve())[0]

    async def reserve(self) -> tuple[float, Slot | None]:
        """Wait for a slot; return the seconds waited and the slot (hand it to :meth:`settle` when answered)."""
        async with self._lock:
            waited = 0.0
            while True:
                now = self._clock()
                if self._slots:
                    self._slots = deque(s for s in self._slots if self._free_at(s) > now)
                delay = self._paused_until - now
                if len(self._slots) >= self.limit:
                    delay = max(delay, min(self._free_at(s) for s in self._slots) - now)
                if delay <= 0:
                    slot = Slot(now, MARGIN_SECONDS)
                    self._slots.append(slot)
                    self.waited += waited
                    return waited, slot
                await asyncio.sleep(delay)
                waited += delay

    def settle(self, slot: Slot | None) -> None:
        """The request of ``slot`` was answered (or failed) now: bound its transit by the time it took."""
        if slot is not None:
            slot.transit = min(max(self._clock() - slot.granted, MARGIN_SECONDS), MAX_TRANSIT_SECONDS)

    def pause(self, seconds: float) -> None:
        """Hold every request of this bucket for ``seconds`` (after a 429)."""
        self._paused_until = max(self._paused_until, self._clock() + seconds)


class ConcurrencyLimiter:
    """A bucket with no documented rate: only bounds concurrent requests."""

    def __init__(self, limit: int = 4) -> None:
        self._sem = asyncio.Semaphore(limit)
        self.waited = 0.0

    async def acquire(self) -> float:
        await self._sem.acquire()
        self._sem.release()
        return 0.0

    async def reserve(self) -> tuple[float, Slot | None]:
        return await self.acquire(), None

    def settle(self, slot: Slot | None) -> None:
        """Nothing to account for."""

    def pause(self, seconds: float) -> None:
        """Nothing to hold: retries back off on their own."""


Limiter = SlidingWindowLimiter | ConcurrencyLimiter


def limiters(time_scale: float = 1.0) -> dict[str, Limiter]:
    """One limiter per bucket, fresh for one fetch run (they must live in the run's event loop)."""
    return {
        name: SlidingWindowLimiter(budget, time_scale=time_scale) if budget else ConcurrencyLimiter()
        for name, budget in BUDGETS.items()
    }
