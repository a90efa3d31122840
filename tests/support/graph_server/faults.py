"""What a test makes go wrong: injected faults (:class:`Fault`: an error status, a slow answer, a dropped
connection) and permanent denials (a missing permission or licence), matched by path suffix."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from .responses import GraphError


def suffix_match(path: str, suffix: str) -> bool:
    """Whether ``path`` ends with ``suffix`` at a segment boundary, case-insensitive."""
    path = path.rstrip("/").lower()
    suffix = "/" + suffix.strip("/").lower()
    return path == suffix or path.endswith(suffix)


@dataclass
class Fault:
    """One injected fault.

    ``path`` is matched as a suffix of the request path (at a segment boundary, case-insensitive).
    ``status`` 0 or 200 means "sleep ``delay`` seconds, then answer normally" (a timeout or a slow
    response); -1 closes the connection without answering; anything else is answered with that status, a
    Graph error body (``code``/``message``, defaults by status) and ``Retry-After`` when ``retry_after`` is
    set.
    The fault skips the first ``after`` matching requests, then hits the next ``times`` ones. Faults are
    checked before authorisation denials and throttling, and a faulted request consumes no throttle budget.
    """

    path: str
    status: int
    times: int = 1
    after: int = 0
    retry_after: float | None = None
    code: str = ""
    message: str = ""
    delay: float = 0.0


@dataclass
class _FaultState:
    fault: Fault
    seen: int = 0


class Faults:
    """The faults and denials a test set, in the order it set them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_FaultState] = []
        self._denied: list[tuple[str, int, str, str]] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(_FaultState(fault))

    def match(self, path: str) -> Fault | None:
        """The first active fault for ``path``; every fault matching the path counts the request."""
        chosen: Fault | None = None
        with self._lock:
            for state in self._faults:
                if not suffix_match(path, state.fault.path):
                    continue
                index = state.seen
                state.seen += 1
                active = state.fault.after <= index < state.fault.after + state.fault.times
                if active and chosen is None:
                    chosen = state.fault
        return chosen

    def deny(self, path: str, status: int, code: str, message: str) -> None:
        with self._lock:
            self._denied.append((path, status, code, message))

    def check_denied(self, path: str) -> None:
        """Raise the first denial set for ``path``."""
        with self._lock:
            denied = list(self._denied)
        for denied_path, status, code, message in denied:
            if suffix_match(path, denied_path):
                raise GraphError(status, code, message)
