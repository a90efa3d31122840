"""The one place that talks to Microsoft Graph: msgraph-sdk requests, paging, rate limits, retries, errors.

Requests are built with msgraph-sdk's typed request builders (so query options are encoded exactly as the
SDK does), but bodies are read as raw JSON bytes: the SDK's typed models turn enum values they do not know
into ``None`` and would lose data the history store must keep.

The SDK's own retry handler is switched off; :meth:`GraphClient.get_json` (every request, each page of
:meth:`GraphClient.pages` too) retries 429, 5xx and timeouts itself through tenacity, with bounded exponential
backoff, honouring ``Retry-After`` (read by :mod:`sspr_review.sources.retry`, as Log Analytics reads it) and going
through the bucket's rate limiter again on every attempt (:class:`_Call`). The limiter admits each request in
the last middleware before the network (:func:`_admission`), and keeps its record of recent requests with every
other process of this user calling the same tenant with the same application (:func:`app_budget`).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

import httpx
from kiota_abstractions.api_error import APIError
from kiota_abstractions.authentication import BaseBearerTokenAuthenticationProvider
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from ...core.config import Config, GraphSettings
from ...core.errors import AccessDenied, FetchFailed, LicenceRequired, SourceError, TokenRejected
from ..base import FetchStats
from ..retry import failure, wait_retry_after
from .auth import TOKEN_ENV, CredentialTokenProvider
from .endpoints import Endpoint
from .ratelimit import Limiter, Record, SharedRecord, Slot, limiters

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from kiota_abstractions.request_information import RequestInformation
    from msgraph.graph_service_client import GraphServiceClient

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 60.0
MAX_RETRY_AFTER_SECONDS = 300.0
LICENCE_MARKERS = ("licen", "premium", "p1", "p2", "nonpremium", "sku")


@dataclass
class _Ticket:
    """The bucket one request goes through, handed to the admission middleware; it adds the seconds waited."""

    limiter: Limiter
    waited: float = 0.0


_TICKET: contextvars.ContextVar[_Ticket | None] = contextvars.ContextVar("sspr_review_graph_ticket", default=None)


class _Admission:
    """One request's passage through its bucket, driven by httpcore's trace events: the slot is granted when
    the request's headers are about to be written (the connection is open, the bytes leave next) and settled
    when the answer's headers arrive (or sending or receiving failed)."""

    def __init__(self, ticket: _Ticket) -> None:
        self.ticket = ticket
        self.slot: Slot | None = None
        self.granted = False

    async def trace(self, name: str, info: dict[str, Any]) -> None:
        if name.endswith(".send_request_headers.started") and not self.granted:
            waited, self.slot = await self.ticket.limiter.reserve()
            self.ticket.waited += waited
            self.granted = True
        elif name.endswith(_ANSWERED):
            self.settle()

    def settle(self) -> None:
        if self.slot is not None:
            self.ticket.limiter.settle(self.slot)
            self.slot = None


_ANSWERED = (
    ".receive_response_headers.complete",
    ".receive_response_headers.failed",
    ".send_request_headers.failed",
    ".send_request_body.failed",
)


def _admission() -> Any:
    """The last middleware before the HTTP transport: the request waits for its rate-limit slot right before
    its bytes are written.

    The limiter holds the slot from its grant until the answer (settled here) plus the window: Graph counts the
    request when it arrives, at some moment between the two (see ratelimit). Granting at the moment of sending
    keeps out of the slot what happens in this process first: acquiring a token from Entra ID, building the
    request, opening a connection (TCP and TLS), a busy event loop starting several requests at once; in a fresh
    process these took up to 0.3 s. A request that never reached the network (a connection that could not be
    opened) consumes no slot.
    """
    from kiota_http.middleware.middleware import BaseMiddleware  # lazy: msgraph-sdk's HTTP layer is heavy

    class AdmissionHandler(BaseMiddleware):
        async def send(self, request: Any, transport: Any) -> Any:
            ticket = _TICKET.get()
            if ticket is None:
                return await super().send(request, transport)
            admission = _Admission(ticket)
            request.extensions["trace"] = admission.trace
            try:
                response = await super().send(request, transport)
            finally:
                admission.settle()
            if not admission.granted:  # pragma: no cover - only if httpcore stopped reporting its sends
                raise RuntimeError("httpcore sent a request without reporting it: the rate limiter was bypassed")
            return response

    return AdmissionHandler()


def app_budget(config: Config) -> SharedRecord:
    """The request record shared by every process of this user that calls this Graph host for the configured
    tenant and application (Graph's budgets are per app and tenant)."""
    return SharedRecord.for_app(config.graph.base_url, config.auth.tenant_id, config.auth.client_id)


class GraphClient:
    """msgraph-sdk client with the kit's rate limiting, retries and error mapping.

    Create it inside the event loop that uses it (the limiters belong to that loop) and close it with
    :meth:`aclose` or ``async with``. ``budget`` is where the limiters record recent requests; by default the
    record every process of this user shares for ``settings.base_url`` (:func:`app_budget` gives the one keyed by
    the configured tenant and application). With ``tenant_id`` (``[auth] tenant_id``, a GUID) a token issued for
    another tenant is refused before any request is sent (:func:`~.auth.check_tenant`).
    """

    def __init__(
        self,
        settings: GraphSettings,
        credential: TokenCredential,
        *,
        sleep: Callable[[float], Any] = asyncio.sleep,
        budget: Record | None = None,
        tenant_id: str = "",
    ) -> None:
        from kiota_http.kiota_client_factory import (
            KiotaClientFactory,  # lazy: msgraph-sdk takes about a second to import
        )
        from kiota_http.middleware.options import RetryHandlerOption  # lazy: msgraph-sdk takes about a second to import
        from msgraph.graph_request_adapter import (
            GraphRequestAdapter,  # lazy: msgraph-sdk takes about a second to import
        )
        from msgraph.graph_service_client import GraphServiceClient  # lazy: msgraph-sdk takes about a second to import
        from msgraph_core import GraphClientFactory  # lazy: msgraph-sdk takes about a second to import
        from msgraph_core.middleware import GraphTelemetryHandler  # lazy: msgraph-sdk takes about a second to import

        self.settings = settings
        self._scale = settings.throttle_time_scale
        self._sleep = sleep
        timeout = httpx.Timeout(settings.timeout_seconds, connect=min(30.0, settings.timeout_seconds))
        options: dict[str, Any] = {RetryHandlerOption.get_key(): RetryHandlerOption(max_retries=0, should_retry=False)}
        # msgraph-sdk's default middleware, then the kit's admission last, right before the transport
        middleware = [*KiotaClientFactory.get_default_middleware(options), GraphTelemetryHandler(), _admission()]
        http = GraphClientFactory.create_with_custom_middleware(
            middleware, client=httpx.AsyncClient(timeout=timeout, http2=False)
        )
        self._http = http
        auth = BaseBearerTokenAuthenticationProvider(CredentialTokenProvider(credential, settings.base_url, tenant_id))
        adapter = GraphRequestAdapter(auth, client=http)
        adapter.base_url = settings.base_url
        self.adapter = adapter
        self.sdk: GraphServiceClient = GraphServiceClient(request_adapter=adapter)
        self.budget: Record = budget if budget is not None else SharedRecord.for_app(settings.base_url)
        self.limiters: dict[str, Limiter] = limiters(self._scale, self.budget)

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def get_json(
        self, request: RequestInformation, endpoint: Endpoint, stats: FetchStats, source: str
    ) -> dict[str, Any]:
        """Send one GET with rate limiting and retries (:class:`_Call`); return the decoded JSON object."""
        call = _Call(self, request, endpoint, stats, source)
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=wait_retry_after(_headers, self._backoff, MAX_RETRY_AFTER_SECONDS * self._scale),
            sleep=self._sleep,
            before=call.arm,
            before_sleep=call.before_sleep,
            retry_error_callback=call.give_up,
        )
        body: bytes | None = await retrying(call.send)
        return call.decode(body)

    def _backoff(self, state: RetryCallState) -> float:
        """The wait after an attempt without ``Retry-After``: 1, 2, 4 ... s up to a minute, 0.75 to 1 of it."""
        base = min(MAX_BACKOFF_SECONDS, 2.0 ** (state.attempt_number - 1))
        return base * random.uniform(0.75, 1.0) * self._scale

    async def pages(
        self,
        request: RequestInformation,
        endpoint: Endpoint,
        stats: FetchStats,
        source: str,
        next_request: Callable[[str], RequestInformation],
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield each page's ``value`` list, following every ``@odata.nextLink``."""
        seen_links: set[str] = set()
        while True:
            body = await self.get_json(request, endpoint, stats, source)
            value = body.get("value")
            if not isinstance(value, list):
                raise FetchFailed(f"{endpoint.name}: Graph's answer has no 'value' list", source=source)
            stats.pages += 1
            stats.records += len(value)
            yield value
            link = body.get("@odata.nextLink")
            if not link:
                return
            if link in seen_links:
                raise FetchFailed(f"{endpoint.name}: Graph repeated a nextLink; stopping", source=source)
            seen_links.add(link)
            request = next_request(str(link))


class _Call:
    """One GET through :class:`GraphClient`: each attempt, and tenacity's hooks between attempts.

    Before every attempt (tenacity's ``before`` hook, :meth:`arm`) the call takes a new ticket for the
    endpoint's bucket: the admission middleware reserves a fresh rate-limit slot for each attempt, retries
    included. 429, 5xx and timeouts are retried (:func:`_retryable`) after the answer's ``Retry-After`` or else
    :meth:`GraphClient._backoff`; before the sleep (:meth:`before_sleep`) a 429 pauses the bucket for every request
    sharing it; after the last attempt :meth:`give_up` raises :class:`FetchFailed`. ``stats`` counts requests,
    statuses, retries, 429s and the seconds waited (for a slot and between attempts).
    """

    def __init__(
        self, client: GraphClient, request: RequestInformation, endpoint: Endpoint, stats: FetchStats, source: str
    ) -> None:
        self.client, self.request, self.endpoint, self.stats, self.source = client, request, endpoint, stats, source
        self.limiter = client.limiters[endpoint.bucket]
        self.ticket = _Ticket(self.limiter)

    def arm(self, state: RetryCallState) -> None:
        self.ticket = _Ticket(self.limiter)

    async def send(self) -> bytes | None:
        from msgraph.generated.models.o_data_errors.o_data_error import (
            ODataError,  # lazy: msgraph-sdk takes about a second to import
        )

        stats = self.stats
        stats.requests += 1
        context = _TICKET.set(self.ticket)
        try:
            body: bytes | None = await self.client.adapter.send_primitive_async(
                self.request, "bytes", {"XXX": ODataError}
            )
        except APIError as exc:
            status = exc.response_status_code or 0
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            if status not in RETRY_STATUSES:
                raise _map_error(status, _error_text(exc), self.endpoint, self.source) from None
            if status == 429:
                stats.throttled += 1
            raise
        finally:
            _TICKET.reset(context)
            stats.waited += self.ticket.waited
        stats.statuses[200] = stats.statuses.get(200, 0) + 1
        return body

    def before_sleep(self, state: RetryCallState) -> None:
        delay = state.upcoming_sleep
        if _status(failure(state)) == 429:
            self.limiter.pause(delay)
        self.stats.retries += 1
        self.stats.waited += delay

    def give_up(self, state: RetryCallState) -> NoReturn:
        exc = failure(state)
        status = _status(exc)
        what = f"HTTP {status}" if status else _problem(exc)
        raise FetchFailed(
            f"{self.endpoint.name}: gave up after {state.attempt_number} attempts ({what}). Graph may be degraded; "
            "run the fetch again later: it resumes where the store ends.",
            source=self.source,
            status=status,
        )

    def decode(self, body: bytes | None) -> dict[str, Any]:
        name, source = self.endpoint.name, self.source
        try:
            decoded = json.loads(body or b"{}")
        except ValueError:
            raise FetchFailed(f"{name}: Graph answered with something that is not JSON", source=source) from None
        if not isinstance(decoded, dict):
            raise FetchFailed(f"{name}: expected a JSON object from Graph", source=source)
        return decoded


def _status(exc: BaseException | None) -> int | None:
    """The HTTP status of a failed attempt; ``None`` for a timeout or transport error."""
    if not isinstance(exc, APIError):
        return None
    return exc.response_status_code or None


def _retryable(exc: BaseException) -> bool:
    """429, 5xx (:data:`RETRY_STATUSES`), timeouts and transport errors are worth another attempt."""
    status = _status(exc)
    return status in RETRY_STATUSES if status is not None else isinstance(exc, Exception) and _is_transient(exc)


def _headers(exc: BaseException) -> dict[str, str] | None:
    """The response headers of a failed attempt (``Retry-After`` among them), if Graph answered."""
    return exc.response_headers if isinstance(exc, APIError) else None


def _problem(exc: BaseException | None) -> str:
    if exc is None:
        return "no answer"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _error_text(exc: Exception) -> str:
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None) or ""
    message = getattr(error, "message", None) or ""
    return f"{code}: {message}".strip(": ") or str(exc)


def _is_transient(exc: Exception) -> bool:
    return isinstance(exc, httpx.TimeoutException | httpx.TransportError)


def _map_error(status: int, problem: str, endpoint: Endpoint, source: str) -> SourceError:
    lowered = problem.lower()
    if status in (401, 403) and endpoint.licence and any(m in lowered for m in LICENCE_MARKERS):
        return LicenceRequired(
            f"{endpoint.name} needs a {endpoint.licence} licence in the tenant (Graph said: {problem}). "
            "Without it this source is reported as 'no data'.",
            source=source,
            status=status,
        )
    if status == 403:
        return AccessDenied(
            f"{endpoint.name} needs the Microsoft Graph application permission {endpoint.permission} "
            f"with admin consent (Graph said: {problem}). Add it to the app registration and grant consent.",
            source=source,
            status=status,
        )
    if status == 401:
        return TokenRejected(
            f"Microsoft Graph rejected the access token (HTTP 401 from {endpoint.name}: {problem}): it is invalid, "
            "expired, or issued for another tenant or another resource than Microsoft Graph. Check [auth] mode, "
            f"tenant_id and client_id and the credential they use; a ready token ([auth] token_env, {TOKEN_ENV} by "
            "default) is sent as it is "
            "(mode auto or token): replace it with a current token for Microsoft Graph.",
            source=source,
            status=status,
        )
    return FetchFailed(f"{endpoint.name}: HTTP {status} ({problem})", source=source, status=status)
