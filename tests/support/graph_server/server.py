"""The server object a test holds: :class:`GraphServer`, started and stopped around a test, with the hooks a test
uses (faults, denials, the request log, throttle counts) and the order in which a request is judged."""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import threading
from collections.abc import Mapping

from . import routes
from .auth import WWW_AUTHENTICATE, authorise, bearer
from .collection import Snapshots
from .data import GraphData
from .endpoint import Call
from .faults import Fault, Faults, suffix_match
from .handler import Handler, HTTPServer, RequestLog
from .responses import GraphError, Response, error_body, format_seconds
from .throttling import Throttle


class GraphServer:
    """A Graph-compatible server on ``127.0.0.1`` answering from a :class:`GraphData`.

    Use as a context manager (``with GraphServer(data) as server: ... server.url``), or call :meth:`start`
    and :meth:`stop`. ``page_sizes`` overrides the (default, maximum) page size per endpoint template (see
    :data:`DEFAULT_PAGE_SIZES`); ``strict_filters`` rejects directoryAudits filters on properties or with
    operators Microsoft does not document; ``echo`` prints one line per request to stderr.

    ``tenants`` serves several tenants, one per bearer token (:func:`.auth.mint_token` makes them): a request is
    answered from its token's tenant and throttled in that tenant's own buckets (Graph's budgets are per application
    and tenant), and an unknown token is a 401. ``data`` is then not served.
    """

    def __init__(
        self,
        data: GraphData,
        *,
        time_scale: float = 1.0,
        throttle: bool = True,
        token: str | None = None,
        page_sizes: Mapping[str, tuple[int, int]] | None = None,
        strict_filters: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        echo: bool = False,
        tenants: Mapping[str, GraphData] | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.data = data
        self.time_scale = time_scale
        self.throttle = throttle
        self.token = token
        self.page_sizes: dict[str, tuple[int, int]] = {**routes.DEFAULT_PAGE_SIZES, **(page_sizes or {})}
        self.strict_filters = strict_filters
        #: Which ``loggedByService`` values directoryAudits' ``$filter`` matches for the records carrying a value
        #: (by default that value only): ``{"Self-service Password Management": ("SSPR",)}`` serves SSPR's events
        #: under ``'SSPR'`` only, as public scripts suggest Graph may; the documented value then selects nothing.
        self.logged_by_service: dict[str, tuple[str, ...]] = {}
        self.host = host
        self.port = port
        self.echo = echo
        #: The origin the absolute ``@odata.nextLink`` names, when clients reach the server through another address
        #: (a proxy, e.g. :class:`tests.support.slow_link.SlowLink`); ``None``: the server's own :attr:`origin`.
        self.link_origin: str | None = None
        self.requests: list[RequestLog] = []
        #: Guards :attr:`requests`, the open connections and ``data.sent_mail``.
        self.lock = threading.Lock()
        self.snapshots = Snapshots()
        self.stopping = threading.Event()
        self._faults = Faults()
        self._throttle = Throttle(time_scale)
        self.tenants = dict(tenants or {})
        self._tenant_throttles = {token: Throttle(time_scale) for token in self.tenants}
        self._connections: set[socket.socket] = set()
        self._httpd: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT/v1.0`` (no trailing slash). Known once started."""
        if self._httpd is None:
            raise RuntimeError("GraphServer is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}/v1.0"

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``, for building ``/beta`` or raw URLs."""
        return self.url.removesuffix("/v1.0")

    def start(self) -> GraphServer:
        if self._httpd is not None:
            return self
        self.stopping.clear()
        httpd = HTTPServer((self.host, self.port), Handler)
        httpd.graph = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="graph-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        with self.lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> GraphServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def track(self, conn: socket.socket, *, add: bool) -> None:
        """Note a connection opened (``add``) or closed, so that :meth:`stop` can close those still open."""
        with self.lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # ------------------------------------------------------------------------------------- test hooks

    def add_fault(self, fault: Fault) -> None:
        """Inject a fault; the first matching active fault (in the order added) applies to a request."""
        self._faults.add(fault)

    def deny(
        self,
        path: str,
        *,
        code: str = "Authorization_RequestDenied",
        message: str = "Insufficient privileges to complete the operation.",
        status: int = 403,
    ) -> None:
        """Answer every request to ``path`` (a suffix) with this error, e.g. a missing permission or, with
        another code and message, a missing licence."""
        self._faults.deny(path, status, code, message)

    def count(self, path: str, status: int | None = None) -> int:
        """Requests received so far whose path ends with ``path``, optionally only those answered
        ``status``."""
        with self.lock:
            logs = list(self.requests)
        return sum(1 for r in logs if suffix_match(r.path, path) and (status is None or r.status == status))

    @property
    def throttled(self) -> dict[str, int]:
        """How many requests each throttling bucket answered with 429 (injected faults not included), over every
        tenant served."""
        counts = self._throttle.rejected
        for throttle in self._tenant_throttles.values():
            for bucket, rejected in throttle.rejected.items():
                counts[bucket] += rejected
        return counts

    def log_request(self, entry: RequestLog) -> None:
        with self.lock:
            self.requests.append(entry)
        if self.echo:
            query = "&".join(f"{k}={v}" for k, v in entry.query.items())
            print(
                f"{entry.method} {entry.path}{'?' + query if query else ''} -> {entry.status}",
                file=sys.stderr,
            )

    # -------------------------------------------------------------------------------------- handling

    def handle(
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
        too_large: bool,
        ids: tuple[str, str],
    ) -> Response:
        """The answer to one request: the token, then an injected fault, then the route (:meth:`_route`); any
        error as Graph's error body, and a bug here as a 500 rather than a dead thread."""
        request_id, client_request_id = ids
        delay = 0.0
        try:
            authorise(self.token, headers)
            data, throttle = self._tenant(headers)
            fault = self._faults.match(path)
            if fault is not None:
                delay = fault.delay
                if fault.status == -1:
                    self.stopping.wait(delay)
                    return Response(0, close=True)
                if fault.status not in (0, 200):
                    extra: dict[str, str] = {}
                    if fault.retry_after is not None:
                        extra["Retry-After"] = format_seconds(fault.retry_after)
                    raise GraphError(fault.status, fault.code, fault.message, extra)
            response = self._route(method, path, pairs, body, too_large, data, throttle)
        except GraphError as error:
            headers_out = dict(error.headers)
            headers_out["Content-Type"] = "application/json"
            if error.status == 401:
                headers_out["WWW-Authenticate"] = WWW_AUTHENTICATE
            response = Response(error.status, error_body(error, request_id, client_request_id), headers_out)
        except Exception as exc:  # a bug here must still answer like a server, not kill the thread
            bug = GraphError(500, "InternalServerError", f"graph_server: {type(exc).__name__}: {exc}")
            response = Response(500, error_body(bug, request_id, client_request_id))
        if delay > 0:
            self.stopping.wait(delay)
        return response

    def _tenant(self, headers: Mapping[str, str]) -> tuple[GraphData, Throttle]:
        """The data and buckets the request's token gives: the one tenant's, or (``tenants``) its token's."""
        if not self.tenants:
            return self.data, self._throttle
        token = bearer(headers)
        if token not in self.tenants:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
        return self.tenants[token], self._tenant_throttles[token]

    def _route(
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        body: bytes,
        too_large: bool,
        data: GraphData,
        throttle: Throttle,
    ) -> Response:
        """The version, the route (404), a denial, the method (405), throttling (429), the size (413), then the
        route's answer."""
        stripped = path.rstrip("/")
        version = next((v for v in ("/v1.0", "/beta") if stripped.lower().startswith(v + "/")), None)
        if version is None:
            raise GraphError(404, "ResourceNotFound", f"Invalid version: '{path}'.")
        relative = stripped[len(version) :]
        # Graph accepts the namespace alias "graph." for "microsoft.graph." in type casts; msgraph-sdk sends it.
        relative = re.sub(r"/graph\.(\w+)$", r"/microsoft.graph.\1", relative)
        found = routes.find(relative)
        if found is None:
            raise GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{relative}'.")
        route, match = found
        self._faults.check_denied(path)
        if method not in route.methods:
            raise GraphError(405, "Request_BadRequest", f"The method '{method}' is not allowed here.")
        if route.bucket is not None and self.throttle:
            throttle.admit(route.bucket)
        if too_large:
            raise GraphError(413)
        groups = match.groupdict()
        path_id, arguments = groups.get("id") or "", groups.get("arguments") or ""
        call = Call(self, route, version, relative, path_id, arguments, pairs, body, data)
        return route.answer(call)
