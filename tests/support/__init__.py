"""Helpers for the tests, not tests themselves: the Graph- and Log Analytics-compatible servers (also run with
``python -m tests.support.graph_server --demo`` and ``python -m tests.support.log_analytics_server --port 0``), the
SMTP relay, the wheelhouse for the install test and the analysis tests' table builders."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a server a test starts there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
