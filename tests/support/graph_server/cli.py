"""``python -m tests.support.graph_server --demo``: serve the demo tenant until Ctrl-C (or ``kill``), printing the
base URL first; :func:`serve_until_stopped` is the same loop for the Log Analytics test endpoint."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, cast

from .data import DemoSource, GraphData
from .server import GraphServer


def _demo_tenant(users: int | None, weeks: int | None) -> DemoSource:
    # Imported here, by name: the server itself does not depend on the demo module.
    demo = importlib.import_module("sspr_review.sources.demo.tenant")
    kwargs = {k: v for k, v in (("users", users), ("weeks", weeks)) if v is not None}
    return cast(DemoSource, demo.DemoTenant(**kwargs))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.support.graph_server --demo``: serve the demo tenant until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.graph_server", description="Serve a Microsoft-Graph-compatible API locally."
    )
    parser.add_argument("--demo", action="store_true", help="serve the demo tenant (sspr_review.demo)")
    parser.add_argument("--users", type=int, default=None, help="demo tenant size")
    parser.add_argument("--weeks", type=int, default=None, help="weeks of demo history")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN'")
    parser.add_argument("--time-scale", type=float, default=1.0, help="scale throttling windows (0.01: 10 s → 0.1 s)")
    parser.add_argument("--no-throttle", action="store_true", help="disable the documented throttling")
    parser.add_argument("-v", "--verbose", action="store_true", help="print one line per request to stderr")
    args = parser.parse_args(argv)
    if not args.demo:
        parser.error("nothing to serve: pass --demo")
    tenant = _demo_tenant(args.users, args.weeks)
    data = GraphData.from_demo(tenant)
    server = GraphServer(
        data,
        time_scale=args.time_scale,
        throttle=not args.no_throttle,
        token=args.token,
        port=args.port,
        echo=args.verbose,
    )
    return serve_until_stopped(
        server,
        lambda url: (
            f"export SSPR_REVIEW_GRAPH_URL={url}   # {len(data.directory_audits)} audit events, "
            f"{len(data.user_registration_details)} users; Ctrl-C to stop"
        ),
    )


def serve_until_stopped(server: Any, banner: Callable[[str], str]) -> int:
    """Run a test server started with ``python -m``: its base URL first on stdout (what a test reads), the
    ``banner`` of that URL on stderr, then serve until Ctrl-C or ``kill`` (SIGTERM)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly on `kill` too, not only on Ctrl-C
    with server:
        print(server.url, flush=True)
        print(banner(server.url), file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0
