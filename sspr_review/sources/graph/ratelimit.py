"""Client-side rate limiting that keeps within Graph's documented budgets, so a normal run sees no 429.

Graph counts requests per sliding window: identity and access reports (directoryAudits and the
authentication-method reports) allow 5 requests per 10 s per app per tenant; Identity Protection allows 1
request per second per tenant. :class:`SlidingWindowLimiter` lets a request start only when fewer than
``limit`` requests may still be in Graph's window: those in flight, and those answered in the last ``window``
seconds (plus a small safety margin). Bursts use the whole budget; in the long run each slot serves one request
per window plus that request's round trip.

Graph counts a request when it *arrives*, which is some time after it left: the limiter cannot see that
moment, only bound it. A request arrives after its grant and before its answer, and nothing the client sees
comes between (a loaded machine or a congested link can delay the arrival by any amount). So a slot is held
from its grant until its answer plus the window: while the request is in flight the slot is busy (it may arrive
at any moment), and once :meth:`SlidingWindowLimiter.settle` reports the answer, its *transit* (the time from
grant to answer, never less than :data:`MARGIN_SECONDS`) is the latest it can have arrived. Then no ``limit + 1``
requests arrive within one window, however late each arrives: the one granted last waited for the answer of
another of them (a moment its request had already arrived by) plus the window, and arrived after its grant. A
request whose answer is never reported (its process was killed while it was in flight) is taken to have arrived
within :data:`MAX_TRANSIT_SECONDS` of its grant.

The budget belongs to the application and the tenant, not to one process: a fetch started right after
another one (or beside it, or after one was killed) must count the requests the other sent. The record of
recent requests per bucket therefore lives in a :class:`SharedRecord`, a small JSON file in the user's state
directory (:func:`state_dir`) keyed by Graph host, tenant and client id, read and updated under an exclusive
file lock (``filelock``, on the ``.lock`` file beside it) for every grant, answer and pause. Its times are
wall-clock (``time.time``) seconds, the only clock that processes share. The record only holds the grants of
about the last window, and the requests still in flight (:data:`MAX_TRANSIT_SECONDS` at most): a stale one is
empty, a corrupt one (unreadable JSON, odd values, an entry "in the future" after the clock was set back) is
ignored entry by entry, and deleting the file at any time is safe. A :class:`LocalRecord` keeps the same record
inside one process (monotonic clock); it is also the fallback, with a warning, when the shared file cannot be
used.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import math
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from filelock import FileLock, Timeout

from ...core.files import private_dir

log = logging.getLogger(__name__)


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

#: Safety margin added to each window: a fraction of the window (clock rates), and the least transit a request
#: is taken to have had (see the module doc).
MARGIN_FRACTION = 0.02
MARGIN_SECONDS = 0.05
#: The latest a request is taken to reach Graph after its grant, in real seconds (network and server delays do not
#: shrink with ``time_scale``): the client's default timeout for an answer. It bounds what a slot holds when its
#: answer is never reported (a process killed mid-request) or comes later still, and what a record may claim.
MAX_TRANSIT_SECONDS = 60.0
#: How a shared record writes the transit of a request still in flight (old readers take it as the least transit).
IN_FLIGHT = -1.0
#: The longest pause a shared record may impose (Graph's Retry-After is a few seconds; a larger value in the
#: file is a corrupt or hostile one).
MAX_PAUSE_SECONDS = 300.0

#: Environment variable naming the kit's state directory (default ``$XDG_STATE_HOME/sspr-review``, else
#: ``~/.local/state/sspr-review``): where the shared request records live.
STATE_DIR_ENV = "SSPR_REVIEW_STATE_DIR"
RECORD_VERSION = 1
#: A record file larger than this is not one the kit wrote: it is ignored (and replaced on the next grant).
MAX_RECORD_BYTES = 64 * 1024
#: How long to wait for another process's lock on the record (held for well under a millisecond normally)
#: before falling back to this process's own record for that request, and how often to try meanwhile.
LOCK_TIMEOUT_SECONDS = 2.0
LOCK_POLL_SECONDS = 0.0005
#: Flags opening the record: never through a symbolic link, not inherited by child processes, binary on Windows.
_OPEN_FLAGS = (
    os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)

_slot_ids = itertools.count()
_id_prefix = os.urandom(3).hex()


class Slot:
    """One granted request start: when it was granted, its transit (grant to answer; ``None`` while the request
    is in flight) and the window span it holds, with an id to settle it by."""

    __slots__ = ("granted", "id", "span", "transit")

    def __init__(self, granted: float, transit: float | None, span: float = 0.0, id: str = "") -> None:
        self.granted = granted
        self.transit = transit
        self.span = span
        self.id = id or f"{os.getpid():x}.{_id_prefix}.{next(_slot_ids):x}"

    def free_at(self, now: float) -> float:
        """When the slot frees, as known at ``now``: ``span`` after the latest its request can have arrived. In
        flight, that is no earlier than ``now`` (its answer may come next) and no later than
        :data:`MAX_TRANSIT_SECONDS` after its grant; so a waiter wakes no later than the slot frees, and looks again."""
        if self.transit is None:
            arrived = min(max(now, self.granted + MARGIN_SECONDS), self.granted + MAX_TRANSIT_SECONDS)
        else:
            arrived = self.granted + self.transit
        return arrived + self.span


@dataclass
class BucketState:
    """One bucket's record: the slots still (possibly) counted by Graph, and a pause after a 429."""

    slots: list[Slot] = field(default_factory=list)
    paused_until: float = 0.0
    changed: bool = False


class Record(Protocol):
    """Where a limiter keeps its bucket's slots: in this process, or shared by every process on the machine."""

    shared: bool

    def update(self, bucket: str, now: float) -> contextlib.AbstractContextManager[BucketState]:
        """The bucket's state at ``now``, held exclusively for the block; changes (``changed``) are kept."""
        ...


class LocalRecord:
    """The record of one process (the limiters of one fetch), on the monotonic clock."""

    shared = False

    def __init__(self) -> None:
        self._buckets: dict[str, BucketState] = {}

    @contextlib.contextmanager
    def update(self, bucket: str, now: float) -> Iterator[BucketState]:
        state = self._buckets.setdefault(bucket, BucketState())
        state.slots = [s for s in state.slots if s.free_at(now) > now]
        yield state
        state.changed = False


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """The kit's state directory: ``$SSPR_REVIEW_STATE_DIR``, else ``$XDG_STATE_HOME/sspr-review``, else
    ``~/.local/state/sspr-review``."""
    env = os.environ if env is None else env
    if env.get(STATE_DIR_ENV):
        return Path(env[STATE_DIR_ENV]).expanduser()
    xdg = env.get("XDG_STATE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "state"
    return base / "sspr-review"


def budget_key(base_url: str, tenant_id: str = "", client_id: str = "") -> dict[str, str]:
    """What Graph's budget belongs to: the Graph host, the tenant and the application (client id)."""
    parts = urlsplit(base_url)
    return {
        "graph": (parts.netloc or parts.path).lower(),
        "tenant": tenant_id.strip().lower(),
        "client": client_id.strip().lower(),
    }


class SharedRecord:
    """The record of every process of this user on this machine that uses the same Graph host, tenant and
    application: ``<state dir>/graph-budget-<hash of the key>.json``, owner-only, read and written while holding
    the file lock ``graph-budget-<hash>.lock`` beside it (``filelock``: ``flock`` on Linux and macOS, ``msvcrt``
    locking on Windows; the operating system releases it when its holder exits, however it exits).

    Processes whose configuration names no tenant or client id share one record per Graph host (the safe
    side: they may wait for each other, never overrun each other).
    """

    shared = True

    def __init__(self, path: Path, key: Mapping[str, str]) -> None:
        self.path = path
        self.key = dict(key)
        self.lock = FileLock(path.with_suffix(".lock"), mode=0o600)
        self._fallback = LocalRecord()
        self._warned = False

    @classmethod
    def for_app(
        cls, base_url: str, tenant_id: str = "", client_id: str = "", *, env: Mapping[str, str] | None = None
    ) -> SharedRecord:
        key = budget_key(base_url, tenant_id, client_id)
        digest = hashlib.sha256("\n".join(key.values()).encode()).hexdigest()[:16]
        return cls(state_dir(env) / f"graph-budget-{digest}.json", key)

    # ------------------------------------------------------------------------------------------- file
    def _warn(self, problem: str) -> None:
        if not self._warned:
            self._warned = True
            log.warning(
                "sspr-review: cannot use the shared Graph request record %s (%s); this process counts only its "
                "own requests, so a fetch running beside it may receive HTTP 429 (retried). Fix the folder's "
                "permissions or set %s to a writable folder.",
                self.path,
                problem,
                STATE_DIR_ENV,
            )

    def _open(self) -> int:
        """Take the record's lock, then open the record (created owner-only, never through a symbolic link);
        :meth:`_close` closes it and releases the lock."""
        private_dir(self.path.parent)
        try:
            self.lock.acquire(timeout=LOCK_TIMEOUT_SECONDS, poll_interval=LOCK_POLL_SECONDS)
        except Timeout:
            raise OSError(f"locked by another process for more than {LOCK_TIMEOUT_SECONDS:g} s") from None
        fd = -1
        try:
            fd = os.open(self.path, _OPEN_FLAGS, 0o600)
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise OSError("not a regular file")
            if os.name == "posix" and info.st_mode & 0o077 and info.st_uid == os.geteuid():
                os.fchmod(fd, 0o600)
        except BaseException:
            self._close(fd)
            raise
        return fd

    def _close(self, fd: int) -> None:
        if fd >= 0:
            os.close(fd)
        self.lock.release()

    @contextlib.contextmanager
    def update(self, bucket: str, now: float) -> Iterator[BucketState]:
        try:
            fd = self._open()
        except OSError as exc:
            self._warn(exc.strerror or str(exc))
            with self._fallback.update(bucket, now) as state:
                yield state
            return
        try:
            buckets = parse_record(_read(fd), now)
            state = buckets.setdefault(bucket, BucketState())
            yield state
            if any(b.changed for b in buckets.values()):
                try:
                    _rewrite(fd, self.dumps(buckets, now))
                except OSError as exc:
                    self._warn(exc.strerror or str(exc))
        finally:
            self._close(fd)

    def dumps(self, buckets: Mapping[str, BucketState], now: float) -> bytes:
        out: dict[str, Any] = {}
        for name, state in buckets.items():
            slots = [
                [s.granted, IN_FLIGHT if s.transit is None else s.transit, s.span, s.id]
                for s in state.slots
                if s.free_at(now) > now
            ]
            if slots or state.paused_until > now:
                out[name] = {"paused_until": state.paused_until if state.paused_until > now else 0.0, "slots": slots}
        record = {"version": RECORD_VERSION, **self.key, "written": now, "buckets": out}
        return json.dumps(record, separators=(",", ":")).encode()


def _read(fd: int) -> bytes:
    """The record's bytes (up to one more than :data:`MAX_RECORD_BYTES`, enough to tell one too large)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, MAX_RECORD_BYTES + 1)
    except OSError:
        return b""


def _rewrite(fd: int, data: bytes) -> None:
    """Replace the record's bytes in place (only ever under the lock)."""
    os.lseek(fd, 0, os.SEEK_SET)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.ftruncate(fd, len(data))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_record(raw: bytes, now: float) -> dict[str, BucketState]:
    """The buckets of a shared record file's bytes at wall-clock ``now``; anything unreadable is ignored.

    Text after the JSON object (a write cut short by a kill leaves the old record's tail) is ignored. Slots
    that have freed are dropped; values are bounded to what the kit writes: a transit within
    ``[MARGIN_SECONDS, MAX_TRANSIT_SECONDS]`` (a negative one, :data:`IN_FLIGHT`, is a request not answered
    yet), a span no longer than the bucket's documented window with its margin, a grant or pause no later than
    ``now`` allows (an entry in the future, after the clock was set back, is taken as granted ``now``, so it
    holds its slot one window at most, or that plus :data:`MAX_TRANSIT_SECONDS` in flight).
    """
    if not raw or len(raw) > MAX_RECORD_BYTES:
        return {}
    try:
        record, _ = json.JSONDecoder().raw_decode(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return {}
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        return {}
    buckets = record.get("buckets")
    if not isinstance(buckets, dict):
        return {}
    out: dict[str, BucketState] = {}
    for name, entry in buckets.items():
        budget = BUDGETS.get(name)
        if budget is None or not isinstance(entry, dict):
            continue
        state = BucketState()
        longest = budget.window * (1 + MARGIN_FRACTION)
        paused = _number(entry.get("paused_until"))
        if paused is not None and paused > now:
            state.paused_until = min(paused, now + MAX_PAUSE_SECONDS)
        raw_slots = entry.get("slots")
        for item in raw_slots if isinstance(raw_slots, list) else []:
            if not isinstance(item, list) or len(item) != 4 or not isinstance(item[3], str) or len(item[3]) > 64:
                continue
            granted, transit, span = (_number(v) for v in item[:3])
            if granted is None or transit is None or span is None:
                continue
            if granted > now:
                granted, state.changed = now, True
            held = None if transit < 0 else min(max(transit, MARGIN_SECONDS), MAX_TRANSIT_SECONDS)
            slot = Slot(granted, held, min(max(span, 0.0), longest), item[3])
            if slot.free_at(now) > now:
                state.slots.append(slot)
        state.slots.sort(key=lambda s: s.granted)
        out[name] = state
    return out


class SlidingWindowLimiter:
    """At most ``budget.limit`` requests arriving in any ``budget.window`` seconds (scaled by ``time_scale``).

    A slot is busy from its grant until its request's answer plus the window (``granted + transit + span``);
    see the module doc.
    ``record`` holds the bucket's slots (default: this process only); a shared record needs a wall clock, which
    ``clock`` defaults to then.
    """

    def __init__(
        self,
        budget: Budget,
        *,
        time_scale: float = 1.0,
        clock: Callable[[], float] | None = None,
        record: Record | None = None,
        bucket: str = "default",
    ) -> None:
        self.limit = budget.limit
        self.span = budget.window * time_scale * (1 + MARGIN_FRACTION)
        self.record: Record = record if record is not None else LocalRecord()
        self.bucket = bucket
        self._clock = clock or (time.time if self.record.shared else time.monotonic)
        self._lock = asyncio.Lock()
        self.waited = 0.0

    async def reserve(self) -> tuple[float, Slot | None]:
        """Wait for a slot; return the seconds waited and the slot, in flight until :meth:`settle` reports its
        request's answer (or failure): until then it holds its place in the window."""
        async with self._lock:
            waited = 0.0
            while True:
                now = self._clock()
                slot = None
                with self.record.update(self.bucket, now) as state:
                    busy = [t for t in (s.free_at(now) for s in state.slots) if t > now]
                    delay = state.paused_until - now
                    if len(busy) >= self.limit:
                        delay = max(delay, sorted(busy)[len(busy) - self.limit] - now)
                    if delay <= 0:
                        slot = Slot(now, None, self.span)
                        state.slots.append(slot)
                        state.changed = True
                if slot is not None:
                    self.waited += waited
                    return waited, slot
                await asyncio.sleep(delay)
                waited += delay

    def settle(self, slot: Slot | None) -> None:
        """The request of ``slot`` was answered (or failed) now: it arrived by now, so its slot frees a window
        from now."""
        if slot is None:
            return
        now = self._clock()
        slot.transit = min(max(now - slot.granted, MARGIN_SECONDS), MAX_TRANSIT_SECONDS)
        if not self.record.shared:
            return  # a local record holds this very slot
        with self.record.update(self.bucket, now) as state:
            for held in state.slots:
                if held.id == slot.id:
                    if held is not slot:
                        held.transit = slot.transit
                        state.changed = True
                    break

    def pause(self, seconds: float) -> None:
        """Hold every request of this bucket for ``seconds`` (after a 429), in every process sharing the record."""
        now = self._clock()
        with self.record.update(self.bucket, now) as state:
            if now + seconds > state.paused_until:
                state.paused_until = now + seconds
                state.changed = True


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


def limiters(time_scale: float = 1.0, record: Record | None = None) -> dict[str, Limiter]:
    """One limiter per bucket for one fetch run (they must live in the run's event loop), keeping their slots
    in ``record`` (default: this process only; pass a :class:`SharedRecord` to share Graph's budget)."""
    record = record if record is not None else LocalRecord()
    return {
        name: SlidingWindowLimiter(budget, time_scale=time_scale, record=record, bucket=name)
        if budget
        else ConcurrencyLimiter()
        for name, budget in BUDGETS.items()
    }
