"""Client-side rate limiting that keeps within Graph's documented budgets, so a normal run sees no 429.

Graph counts requests per sliding window: identity and access reports (directoryAudits and the
authentication-method reports) allow 5 requests per 10 s per app per tenant; Identity Protection allows 1
request per second per tenant. :class:`SlidingWindowLimiter` lets a request start only when fewer than
``limit`` requests started in the last ``window`` seconds (plus a small safety margin for transit jitter),
so bursts use the whole budget and the long-run rate is exactly the budget.
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
#: request spends between our clock and Graph's.
MARGIN_FRACTION = 0.02
MARGIN_SECONDS = 0.05


class SlidingWindowLimiter:
    """At most ``budget.limit`` request starts in any ``budget.window`` seconds (scaled by ``time_scale``)."""

    def __init__(self, budget: Budget, *, time_scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = budget.limit
        self.window = budget.window * time_scale * (1 + MARGIN_FRACTION) + MARGIN_SECONDS
        self._clock = clock
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._paused_until = 0.0
        self.waited = 0.0

    async def acquire(self) -> float:
        """Wait for a slot; return the seconds waited."""
        async with self._lock:
            waited = 0.0
            while True:
                now = self._clock()
                while self._starts and self._starts[0] + self.window <= now:
                    self._starts.popleft()
                delay = self._paused_until - now
                if len(self._starts) >= self.limit:
                    delay = max(delay, self._starts[0] + self.window - now)
                if delay <= 0:
                    self._starts.append(now)
                    self.waited += waited
                    return waited
                await asyncio.sleep(delay)
                waited += delay

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

    def pause(self, seconds: float) -> None:
        """Nothing to hold: retries back off on their own."""


Limiter = SlidingWindowLimiter | ConcurrencyLimiter


def limiters(time_scale: float = 1.0) -> dict[str, Limiter]:
    """One limiter per bucket, fresh for one fetch run (they must live in the run's event loop)."""
    return {
        name: SlidingWindowLimiter(budget, time_scale=time_scale) if budget else ConcurrencyLimiter()
        for name, budget in BUDGETS.items()
    }
