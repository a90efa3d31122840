"""B5: what the shared request record costs per request (issue 14 §2).

Every rate-limited request takes the record's file lock, reads and parses the record, writes it back on the
grant (the request in flight), and does the same once more when the answer settles the request's transit. This
measures one ``reserve`` plus one ``settle`` with the shared record (in a fresh state directory, on the
machine's temporary file system) against the process-local record, on a budget large enough that nothing
waits. At Graph's budgets (5 requests / 10 s, 1 / s) the figure is to be compared with 2 s per request.

Run: ``python benchmarks/bench_limiter.py [--requests 2000]``. Prints the figures; it writes no file.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts the project on sys.path)

from sspr_review.sources.graph.ratelimit import (
    STATE_DIR_ENV,
    Budget,
    LocalRecord,
    Record,
    SharedRecord,
    SlidingWindowLimiter,
)


def per_request(record: Record, n: int, answer_after: float) -> list[float]:
    """Seconds of one reserve + settle, n times (answers reported ``answer_after`` s after the grant)."""
    limiter = SlidingWindowLimiter(Budget(10**9, 10.0), record=record, bucket="reports")
    out: list[float] = []

    async def go() -> None:
        for _ in range(n):
            t0 = time.perf_counter()
            _, slot = await limiter.reserve()
            assert slot is not None
            slot.granted -= answer_after  # as if answered answer_after later (no sleeping)
            limiter.settle(slot)
            out.append(time.perf_counter() - t0)

    asyncio.run(go())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        shared = SharedRecord.for_app("https://graph.microsoft.com/v1.0", "tenant", "app", env={STATE_DIR_ENV: tmp})
        rows = []
        for label, answer in (("answered at once", 0.0), ("answered after 0.15 s", 0.15)):
            for kind in ("local", "shared"):
                times: list[float] = []
                for _ in range(args.requests // 5):
                    # batches of 5, the most a live reports window holds (budget 10**9 would grow the record)
                    if shared.path.exists():
                        shared.path.write_bytes(b"")
                    times += per_request(LocalRecord() if kind == "local" else shared, 5, answer)
                rows.append((label, kind, statistics.median(times), sorted(times)[int(len(times) * 0.99)]))
        print(f"{'case':<36} {'record':<7} {'median µs':>10} {'p99 µs':>8}")
        for label, kind, median, p99 in rows:
            print(f"{label:<36} {kind:<7} {median * 1e6:>10.0f} {p99 * 1e6:>8.0f}")
        print(f"(state directory on {Path(tmp).resolve().anchor}, {args.requests} requests per row)")


if __name__ == "__main__":
    main()
