"""A slow network link for tests: a TCP proxy on 127.0.0.1 that holds chosen pieces of what clients send before
passing them on, as a loaded machine or a congested network delays a request between the moment its client sent
it and the moment the server sees it. Answers pass through unchanged.

``hold(n, link)`` is called before the ``n``-th piece received from any client (0, 1, 2 ... in arrival order over
every connection) is passed on, and returns when it may pass: at once, after a sleep, or once other pieces have
passed (:meth:`SlowLink.wait_passed`). A piece is what one ``recv`` returns, which for a small HTTP request (a GET)
is the whole request. A held piece holds only its own connection, as a slow link would.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Piece:
    """One piece a client sent: its bytes, when the link received it and passed it on (``time.monotonic()``, the
    clock of the Graph test server's request log), and how many pieces the link had passed on before it."""

    data: bytes
    received: float
    passed: float = 0.0
    after: int = 0

    @property
    def held(self) -> float:
        return self.passed - self.received


class SlowLink:
    """``with SlowLink(("127.0.0.1", port), hold) as link: ... link.origin``."""

    def __init__(self, upstream: tuple[str, int], hold: Callable[[int, SlowLink], object]) -> None:
        self.upstream = upstream
        self.hold = hold
        #: Every piece received, in the order received.
        self.pieces: list[Piece] = []
        self._passed = 0
        self._changed = threading.Condition()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def wait_passed(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` pieces have been passed on (``False``: not within ``timeout`` seconds)."""
        with self._changed:
            return self._changed.wait_for(lambda: self._passed >= count or self._stopping.is_set(), timeout)

    def __enter__(self) -> SlowLink:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._changed:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in list(self._threads):
            thread.join(timeout=5)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="slow-link")
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._changed:
                self._sockets.update((client, server))
            self._spawn(self._pump, client, server, True)
            self._spawn(self._pump, server, client, False)

    def _pump(self, source: socket.socket, target: socket.socket, held: bool) -> None:
        try:
            while True:
                data = source.recv(1 << 16)
                if not data:
                    break
                if held:
                    piece = Piece(data, time.monotonic())
                    with self._changed:
                        n = len(self.pieces)
                        self.pieces.append(piece)
                    self.hold(n, self)
                    with self._changed:
                        piece.passed, piece.after = time.monotonic(), self._passed
                        target.sendall(data)
                        self._passed += 1
                        self._changed.notify_all()
                else:
                    target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)
