import asyncio

from sspr_review.ratelimit import Budget, SlidingWindowLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_with_fake_time(limiter: SlidingWindowLimiter, clock: FakeClock, n: int) -> list[float]:
    """Acquire n slots; asyncio.sleep is replaced by advancing the fake clock."""
    starts: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        clock.now += delay
        await real_sleep(0)

    async def go() -> None:
        asyncio.sleep = fake_sleep  # type: ignore[assignment]
        try:
            for _ in range(n):
                await limiter.acquire()
                starts.append(clock.now)
        finally:
            asyncio.sleep = real_sleep

    asyncio.run(go())
    return starts


def test_never_more_than_limit_in_any_window_and_no_slower_than_needed() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Budget(5, 10.0), clock=clock)
    starts = run_with_fake_time(limiter, clock, 23)
    for i in range(len(starts) - 5):
        assert starts[i + 5] - starts[i] >= 10.0  # the 6th start is a full window after the 1st
    assert starts[:5] == [0.0] * 5  # a burst uses the whole budget at once
    # 23 requests need 4 further windows; the margin costs at most ~3 %
    assert 40.0 <= starts[-1] <= 40.0 * 1.03 + 4 * 0.05


def test_pause_holds_the_bucket() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Budget(1, 1.0), clock=clock)
    limiter.pause(5.0)
    assert run_with_fake_time(limiter, clock, 1) == [5.0]


def test_time_scale_shrinks_windows() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Budget(1, 1.0), time_scale=0.01, clock=clock)
    starts = run_with_fake_time(limiter, clock, 3)
    assert starts[2] < 2 * (0.01 * 1.02 + 0.05) + 1e-9  # two scaled windows plus the fixed jitter margin
