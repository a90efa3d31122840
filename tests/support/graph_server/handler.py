"""The HTTP side: a threading ``http.server`` on 127.0.0.1 speaking HTTP/1.1 with keep-alive, reading bodies
(chunked or sized, over :data:`MAX_REQUEST_BYTES` drained and refused), handing each request to
:meth:`GraphServer.handle` and logging it as a :class:`RequestLog`."""

from __future__ import annotations

import contextlib
import socket
import sys
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from .responses import GraphError, error_body

if TYPE_CHECKING:
    from .server import GraphServer

#: Graph refuses request bodies above 4 MB (sendMail: "The maximum request length supported is 4MB.").
MAX_REQUEST_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class RequestLog:
    """One received request. ``time`` is ``time.monotonic()`` at arrival; ``path`` is the request path as
    sent (with ``/v1.0``, without the query, percent-decoded); ``query`` the decoded query options (the last
    one wins when repeated); ``headers`` with lower-case names; ``status`` the status answered (-1: connection
    closed without an answer)."""

    time: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    headers: dict[str, str]
    body: bytes


class HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    graph: GraphServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.graph.stopping.is_set():
            return  # a client hung up, or we are shutting down
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graph-server/1.0"
    sys_version = ""

    @property
    def graph(self) -> GraphServer:
        return cast(HTTPServer, self.server).graph

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed ACKs
        # add ~40 ms to every keep-alive request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.graph.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.graph.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_body(self) -> tuple[bytes, bool]:
        """The request body, and whether it was over :data:`MAX_REQUEST_BYTES`."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(65537)
                length = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunk = self.rfile.read(length)
                self.rfile.readline(65537)
                size += len(chunk)
                if size <= MAX_REQUEST_BYTES:
                    chunks.append(chunk)
            return b"".join(chunks), size > MAX_REQUEST_BYTES
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            remaining = length
            while remaining > 0:
                got = self.rfile.read(min(remaining, 1 << 16))
                if not got:
                    break
                remaining -= len(got)
            return b"", True
        return (self.rfile.read(length) if length > 0 else b""), False

    def _dispatch(self) -> None:
        arrival = time.monotonic()
        split = urlsplit(self.path)
        path = unquote(split.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body, too_large = self._read_body()
        except (ValueError, OSError):
            body, too_large = b"", False
            self.close_connection = True
        graph = self.graph
        request_id = str(uuid.uuid4())
        client_request_id = headers.get("client-request-id") or str(uuid.uuid4())
        ids = (request_id, client_request_id)
        response = graph.handle(self.command, path, pairs, headers, body, too_large, ids)
        status = -1 if response.close else response.status
        graph.log_request(RequestLog(arrival, self.command, path, dict(pairs), status, headers, body))
        if response.close:
            self.close_connection = True
            return
        body_out = response.body
        if response.status >= 400 and not body_out:
            body_out = error_body(GraphError(response.status), request_id, client_request_id)
        try:
            self.send_response(response.status)
            self.send_header("request-id", request_id)
            self.send_header("client-request-id", client_request_id)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if body_out and "Content-Type" not in response.headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body_out)))
            self.end_headers()
            if body_out and self.command != "HEAD":
                self.wfile.write(body_out)
            self.wfile.flush()
        except OSError:
            self.close_connection = True
