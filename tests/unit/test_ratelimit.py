import asyncio
import json
import logging
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sspr_review.sources.graph import ratelimit
from sspr_review.sources.graph.ratelimit import (
    BUDGETS,
    MAX_PAUSE_SECONDS,
    MAX_TRANSIT_SECONDS,
    STATE_DIR_ENV,
    Budget,
    SharedRecord,
    SlidingWindowLimiter,
    Slot,
    parse_record,
    state_dir,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_with_fake_time(limiter: SlidingWindowLimiter, clock: FakeClock, n: int) -> list[float]:
    """Reserve n slots, each answered at once (settled at its grant); asyncio.sleep is replaced by advancing the
    fake clock."""
    starts: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(delay: float) -> None:
        clock.now += delay
        await real_sleep(0)

    async def go() -> None:
        asyncio.sleep = fake_sleep  # type: ignore[assignment]
        try:
            for _ in range(n):
                _, slot = await limiter.reserve()
                starts.append(clock.now)
                limiter.settle(slot)
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


def start_while_in_flight(
    limiter: SlidingWindowLimiter, clock: FakeClock, in_flight: list[tuple[SlidingWindowLimiter, Slot, float | None]]
) -> float:
    """When ``limiter`` grants one more request while others are in flight, each (its limiter, its slot) answered
    at its time (``None``: never, as when its process was killed); asyncio.sleep advances the fake clock and
    reports each answer that comes during a sleep."""
    real_sleep = asyncio.sleep
    pending = sorted(((at, owner, slot) for owner, slot, at in in_flight if at is not None), key=lambda p: p[0])

    async def fake_sleep(delay: float) -> None:
        wake = clock.now + delay
        while pending and pending[0][0] <= wake:
            at, owner, slot = pending.pop(0)
            clock.now = max(clock.now, at)
            owner.settle(slot)
        clock.now = wake
        await real_sleep(0)

    async def go() -> float:
        asyncio.sleep = fake_sleep  # type: ignore[assignment]
        try:
            await limiter.reserve()
            return clock.now
        finally:
            asyncio.sleep = real_sleep

    return asyncio.run(go())


def test_a_request_in_flight_holds_its_slot_until_its_answer_however_late() -> None:
    """A request may reach Graph any time before its answer (a loaded machine, a slow link): the next one in its
    place starts a window after the answer, not after a fixed allowance for the transit."""
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Budget(1, 1.0), clock=clock)
    _, first = asyncio.run(limiter.reserve())
    assert first is not None
    assert start_while_in_flight(limiter, clock, [(limiter, first, 3.0)]) == pytest.approx(3.0 + 1.02, abs=1e-9)


def test_a_request_answered_at_once_holds_its_slot_one_window() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Budget(1, 1.0), clock=clock)
    _, first = asyncio.run(limiter.reserve())
    assert first is not None
    limiter.settle(first)  # answered at its grant: the least transit
    assert start_while_in_flight(limiter, clock, []) == pytest.approx(0.05 + 1.02, abs=1e-9)


def test_pause_holds_the_bucket() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Budget(1, 1.0), clock=clock)
    limiter.pause(5.0)
    assert run_with_fake_time(limiter, clock, 1) == [5.0]


def test_time_scale_shrinks_windows() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(Budget(1, 1.0), time_scale=0.01, clock=clock)
    starts = run_with_fake_time(limiter, clock, 3)
    assert starts[2] < 2 * (0.01 * 1.02 + 0.05) + 1e-9  # two scaled windows, each plus the least transit


# ------------------------------------------------------------------------------ the record shared by processes

WALL = 1_800_000_000.0  # a wall-clock time (shared records use time.time)


def shared(tmp_path: Path, tenant: str = "contoso", client: str = "app") -> SharedRecord:
    return SharedRecord.for_app("https://graph.microsoft.com/v1.0", tenant, client, env={STATE_DIR_ENV: str(tmp_path)})


def two_processes(record_a: SharedRecord, record_b: SharedRecord, clock: FakeClock, n: int) -> list[float]:
    """Starts of n requests alternating between two limiters, as two processes with their own records would."""
    a = SlidingWindowLimiter(BUDGETS["reports"], clock=clock, record=record_a, bucket="reports")  # type: ignore[arg-type]
    b = SlidingWindowLimiter(BUDGETS["reports"], clock=clock, record=record_b, bucket="reports")  # type: ignore[arg-type]
    starts: list[float] = []
    for i in range(n):
        starts += run_with_fake_time(a if i % 2 else b, clock, 1)
    return starts


def one_per_second_in_two_processes(tmp_path: Path) -> tuple[FakeClock, SlidingWindowLimiter, SlidingWindowLimiter]:
    """A wall clock, and two limiters of one request a second sharing a record, as two processes hold them."""
    clock = FakeClock()
    clock.now = WALL
    a = SlidingWindowLimiter(Budget(1, 1.0), clock=clock, record=shared(tmp_path), bucket="identity_protection")
    b = SlidingWindowLimiter(Budget(1, 1.0), clock=clock, record=shared(tmp_path), bucket="identity_protection")
    return clock, a, b


def test_processes_sharing_a_record_share_the_budget(tmp_path: Path) -> None:
    clock = FakeClock()
    clock.now = WALL
    starts = two_processes(shared(tmp_path), shared(tmp_path), clock, 12)
    for i in range(len(starts) - 5):
        assert starts[i + 5] - starts[i] >= 10.0
    assert starts[:5] == [WALL] * 5


def test_the_record_is_keyed_by_graph_host_tenant_and_client(tmp_path: Path) -> None:
    assert shared(tmp_path).path == shared(tmp_path, "CONTOSO ", "App").path
    assert shared(tmp_path).path != shared(tmp_path, "fabrikam").path
    assert shared(tmp_path).path != shared(tmp_path, client="other-app").path
    gov = SharedRecord.for_app("https://graph.microsoft.us/v1.0", "contoso", "app", env={STATE_DIR_ENV: str(tmp_path)})
    assert gov.path != shared(tmp_path).path
    clock = FakeClock()
    clock.now = WALL
    starts = two_processes(shared(tmp_path), shared(tmp_path, "fabrikam"), clock, 10)
    assert starts == [WALL] * 10  # two tenants: two budgets


def test_state_dir_default_and_override(tmp_path: Path) -> None:
    assert state_dir({STATE_DIR_ENV: str(tmp_path)}) == tmp_path
    assert state_dir({"XDG_STATE_HOME": "/var/state"}) == Path("/var/state/sspr-review")
    assert state_dir({"XDG_STATE_HOME": "relative"}) == Path.home() / ".local/state/sspr-review"
    assert state_dir({}) == Path.home() / ".local/state/sspr-review"


def test_record_file_is_owner_only_and_holds_only_live_slots(tmp_path: Path) -> None:
    record = shared(tmp_path / "state")
    clock = FakeClock()
    clock.now = WALL
    limiter = SlidingWindowLimiter(Budget(5, 10.0), clock=clock, record=record, bucket="reports")
    run_with_fake_time(limiter, clock, 3)
    assert stat.S_IMODE(record.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.path.parent.stat().st_mode) == 0o700
    body = json.loads(record.path.read_text())
    assert body["tenant"] == "contoso" and body["client"] == "app" and body["graph"] == "graph.microsoft.com"
    assert len(body["buckets"]["reports"]["slots"]) == 3
    clock.now += 60  # a minute later the old slots are gone from the file at the next grant
    run_with_fake_time(limiter, clock, 1)
    assert len(json.loads(record.path.read_text())["buckets"]["reports"]["slots"]) == 1


def test_a_pause_after_a_429_holds_every_process(tmp_path: Path) -> None:
    clock, a, b = one_per_second_in_two_processes(tmp_path)
    a.pause(5.0)
    assert run_with_fake_time(b, clock, 1) == [WALL + 5.0]


def test_a_settled_transit_is_seen_by_the_other_process(tmp_path: Path) -> None:
    clock, a, b = one_per_second_in_two_processes(tmp_path)

    _, slot = asyncio.run(a.reserve())
    clock.now += 0.15  # answered after 0.15 s: the slot is held that much longer than the default 0.05
    a.settle(slot)
    assert run_with_fake_time(b, clock, 1) == [pytest.approx(WALL + 0.15 + 1.02, rel=0, abs=1e-6)]


def test_a_request_in_flight_in_another_process_holds_its_slot_until_its_answer(tmp_path: Path) -> None:
    clock, a, b = one_per_second_in_two_processes(tmp_path)
    _, slot = asyncio.run(a.reserve())
    assert slot is not None
    (written,) = json.loads(shared(tmp_path).path.read_text())["buckets"]["identity_protection"]["slots"]
    assert written[1] == ratelimit.IN_FLIGHT  # the record says the request is in flight
    answered = WALL + 2.5  # far past any fixed allowance for the transit
    assert start_while_in_flight(b, clock, [(a, slot, answered)]) == pytest.approx(answered + 1.02, rel=0, abs=1e-6)


def test_a_request_whose_answer_is_never_reported_holds_its_slot_the_longest_transit(tmp_path: Path) -> None:
    """Its process was killed with the request in flight: it is taken to have arrived by the longest transit."""
    clock, a, b = one_per_second_in_two_processes(tmp_path)
    _, slot = asyncio.run(a.reserve())
    assert slot is not None
    start = start_while_in_flight(b, clock, [(a, slot, None)])
    assert start == pytest.approx(WALL + MAX_TRANSIT_SECONDS + 1.02, rel=0, abs=1e-6)


CORRUPT = [
    b"",
    b"not json",
    b"\xff\xfe",
    b"[" * 5000 + b"]" * 5000,
    b'{"version": 2, "buckets": {}}',
    b'{"version": 1, "buckets": []}',
    b'{"version": 1, "buckets": {"reports": "x", "nope": {}}}',
    b'{"version": 1, "buckets": {"reports": {"slots": [1, [true, 0.1, 10, "a"], [NaN, 0.1, 10, "b"], '
    b'["1", 0.1, 10, "c"], [1e300, 1e300, 1e300, "d"]], "paused_until": 1e300}}}',
    b'{"version": 1, "buckets": {"reports": {"paused_until": Infinity, "slots": [[0, 0, 0, 0]]}}}',
    b"x" * (70 * 1024),
]


@pytest.mark.parametrize("content", CORRUPT, ids=range(len(CORRUPT)))
def test_a_corrupt_or_hostile_record_never_crashes_and_never_blocks_long(tmp_path: Path, content: bytes) -> None:
    record = shared(tmp_path)
    record.path.parent.mkdir(parents=True, exist_ok=True)
    record.path.write_bytes(content)
    clock = FakeClock()
    clock.now = WALL
    limiter = SlidingWindowLimiter(Budget(5, 10.0), clock=clock, record=record, bucket="reports")
    starts = run_with_fake_time(limiter, clock, 5)
    # at worst a value "in the future" holds its slot for one window from now, and a pause is capped
    assert starts[-1] <= WALL + MAX_PAUSE_SECONDS
    assert json.loads(record.path.read_text())["version"] == 1  # replaced by a good record


def test_a_record_from_the_future_holds_one_window_at_most(tmp_path: Path) -> None:
    """After the clock was set back an hour, the old entries look an hour ahead: each holds one window."""
    record = shared(tmp_path)
    record.path.parent.mkdir(parents=True, exist_ok=True)
    slots = [[WALL + 3600, 0.05, 10.2, f"s{i}"] for i in range(5)]
    record.path.write_text(json.dumps({"version": 1, "buckets": {"reports": {"slots": slots, "paused_until": 0}}}))
    clock = FakeClock()
    clock.now = WALL
    limiter = SlidingWindowLimiter(Budget(5, 10.0), clock=clock, record=record, bucket="reports")
    assert run_with_fake_time(limiter, clock, 1)[0] == pytest.approx(WALL + 10.25, rel=0, abs=1e-6)


def test_a_write_cut_short_leaves_a_readable_record() -> None:
    good = b'{"version":1,"buckets":{"reports":{"paused_until":0,"slots":[[100.0,0.05,10.2,"a"]]}}}'
    state = parse_record(good + b'0.05,10.2,"old"]]}}}', now=101.0)
    assert [s.id for s in state["reports"].slots] == ["a"]


def test_an_unusable_state_dir_falls_back_to_this_process_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    record = SharedRecord.for_app("https://graph.microsoft.com/v1.0", env={STATE_DIR_ENV: str(tmp_path / "file")})
    clock = FakeClock()
    clock.now = WALL
    limiter = SlidingWindowLimiter(Budget(1, 1.0), clock=clock, record=record, bucket="identity_protection")
    with caplog.at_level(logging.WARNING):
        starts = run_with_fake_time(limiter, clock, 3)
    assert starts[1] - starts[0] >= 1.0 and starts[2] - starts[1] >= 1.0  # still limited, within the process
    warnings = [r.getMessage() for r in caplog.records if "shared Graph request record" in r.getMessage()]
    assert len(warnings) == 1 and STATE_DIR_ENV in warnings[0] and str(tmp_path / "file") in warnings[0]  # once


def test_a_symlinked_record_is_not_followed(tmp_path: Path) -> None:
    record = shared(tmp_path)
    target = tmp_path / "elsewhere"
    target.write_text("keep me")
    record.path.parent.mkdir(parents=True, exist_ok=True)
    record.path.symlink_to(target)
    clock = FakeClock()
    clock.now = WALL
    run_with_fake_time(SlidingWindowLimiter(Budget(1, 1.0), clock=clock, record=record, bucket="reports"), clock, 1)
    assert target.read_text() == "keep me"


HOLD_LOCK = """
import sys, time
from pathlib import Path
from filelock import FileLock

lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[3]))
Path(sys.argv[2]).write_text("released")
lock.release()
"""


def hold_lock(record: SharedRecord, marker: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the record's lock for ``seconds``; it writes ``marker`` just before releasing."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(record.lock.lock_file), str(marker), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    return holder


def test_an_update_waits_for_the_lock_another_process_holds(tmp_path: Path) -> None:
    record = shared(tmp_path / "state")
    with record.update("reports", WALL):
        pass  # this process makes the lock file first
    assert stat.S_IMODE(Path(record.lock.lock_file).stat().st_mode) == 0o600
    holder = hold_lock(record, tmp_path / "released", 0.3)
    try:
        with record.update("reports", WALL) as state:
            assert (tmp_path / "released").exists(), "the update ran while the other process held the lock"
            state.slots.append(ratelimit.Slot(WALL, 0.05, 10.2, "mine"))
            state.changed = True
    finally:
        holder.wait(timeout=30)
    assert [s.id for s in parse_record(record.path.read_bytes(), WALL)["reports"].slots] == ["mine"]


def test_a_lock_held_too_long_falls_back_to_this_process_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "LOCK_TIMEOUT_SECONDS", 0.1)
    record = shared(tmp_path / "state")
    record.path.parent.mkdir()
    holder = hold_lock(record, tmp_path / "released", 3.0)
    clock = FakeClock()
    clock.now = WALL
    limiter = SlidingWindowLimiter(Budget(1, 1.0), clock=clock, record=record, bucket="identity_protection")
    try:
        with caplog.at_level(logging.WARNING):
            starts = run_with_fake_time(limiter, clock, 2)
        assert not (tmp_path / "released").exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert starts[1] - starts[0] >= 1.0  # still limited, within the process
    (warning,) = [r.getMessage() for r in caplog.records if "shared Graph request record" in r.getMessage()]
    assert "locked by another process for more than 0.1 s" in warning
