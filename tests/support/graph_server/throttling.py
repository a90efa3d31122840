"""Graph's documented throttling: a sliding window over request arrival times per bucket; a rejected request is a 429
(with ``Retry-After`` where Graph sends one) and consumes no budget. ``time_scale`` shrinks the windows."""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from .responses import GraphError, format_seconds

#: Documented limits per throttling bucket: (requests, window seconds, sends Retry-After).
THROTTLE_LIMITS: Mapping[str, tuple[int, float, bool]] = {
    "reports": (5, 10.0, True),
    "identityProtection": (1, 1.0, False),
}


@dataclass
class _Bucket:
    limit: int
    window: float  # scaled seconds
    retry_after: bool
    admitted: collections.deque[float] = field(default_factory=collections.deque)
    rejected: int = 0


class Throttle:
    """The buckets of :data:`THROTTLE_LIMITS`, their windows multiplied by ``time_scale``."""

    def __init__(self, time_scale: float) -> None:
        self.time_scale = time_scale
        self._lock = threading.Lock()
        self._buckets = {
            name: _Bucket(limit, window * time_scale, retry_after)
            for name, (limit, window, retry_after) in THROTTLE_LIMITS.items()
        }

    @property
    def rejected(self) -> dict[str, int]:
        with self._lock:
            return {name: bucket.rejected for name, bucket in self._buckets.items()}

    def admit(self, bucket_name: str) -> None:
        """Apply the bucket's sliding window at this request's arrival; raise 429 when over budget."""
        with self._lock:
            bucket = self._buckets[bucket_name]
            now = time.monotonic()
            while bucket.admitted and bucket.admitted[0] <= now - bucket.window:
                bucket.admitted.popleft()
            if len(bucket.admitted) < bucket.limit:
                bucket.admitted.append(now)
                return
            bucket.rejected += 1
            wait = bucket.admitted[0] + bucket.window - now
        headers: dict[str, str] = {}
        if bucket.retry_after:
            graph_seconds = max(1, math.ceil(wait / self.time_scale - 1e-9))
            headers["Retry-After"] = format_seconds(graph_seconds * self.time_scale)
        raise GraphError(
            429, "TooManyRequests", "Too many requests. The application or user has been throttled.", headers
        )
