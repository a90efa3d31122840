"""One KQL query against the workspace: azure-monitor-query's ``LogsQueryClient``, the kit's retries, errors that
name the fix.

The synchronous client runs in worker threads (at most ``[log_analytics] concurrent_queries`` at once; the
service allows about five per user). azure-core's own retries are off: throttling (429, with or without
``Retry-After``), 5xx answers and unreachable endpoints are retried here through tenacity, as the Graph client
retries: at most ``max_retries`` times, after the answer's ``Retry-After`` (read by
:mod:`sspr_review.sources.retry`; at most :data:`MAX_RETRY_AFTER_SECONDS`) or else ``retry_backoff_seconds``
doubled after each attempt (2, 4, 8 ... s), counted in :class:`~sspr_review.sources.base.FetchStats`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_exponential

from ...core.errors import (
    AccessDenied,
    FetchFailed,
    PartialResult,
    QueryRejected,
    TableMissing,
    TokenRejected,
    WorkspaceNotFound,
)
from ..base import FetchStats
from ..retry import failure, wait_retry_after

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from ...core.config import LogAnalyticsSettings

#: The diagnostic-setting category that fills each table.
CATEGORIES = {"AuditLogs": "AuditLogs", "AADUserRiskEvents": "UserRiskEvents"}
CLOUDS = (
    "public cloud https://api.loganalytics.io/v1, US Government https://api.loganalytics.us/v1, "
    "China https://api.loganalytics.azure.cn/v1"
)
RETRIED = frozenset({429, 500, 502, 503, 504})
#: The longest ``Retry-After`` obeyed (a larger one is a misconfigured or hostile answer, not a reason to hang).
MAX_RETRY_AFTER_SECONDS = 300.0
#: What a truncated answer says (the service's row and size caps).
TRUNCATED = ("E_QUERY_RESULT_SET_TOO_LARGE", "exceeded the internal", "result set has exceeded")


@dataclass
class Table:
    """A query's primary result: column names and rows (datetime columns as ``datetime``)."""

    columns: list[str]
    rows: list[list[Any]]


Sleep = Callable[[float], Awaitable[None]]


class WorkspaceClient:
    """Queries one workspace. ``sleep`` waits between retries (tests inject their own clock)."""

    def __init__(
        self, settings: LogAnalyticsSettings, credential: TokenCredential, *, sleep: Sleep | None = None
    ) -> None:
        from azure.monitor.query import (
            LogsQueryClient,  # lazy: azure-monitor-query is heavy; only a workspace source needs it
        )

        self.settings = settings
        self.workspace = settings.workspace_id
        self.endpoint = settings.endpoint
        # a token travels over plain http only to a loopback test endpoint (the configuration refuses others)
        self._https = urlsplit(self.endpoint).scheme == "https"
        self._client = LogsQueryClient(credential, endpoint=self.endpoint, retry_total=0)
        self._sleep: Sleep = sleep or asyncio.sleep
        self._gate: asyncio.Semaphore | None = None

    def _run(self, text: str, timespan: tuple[datetime, datetime] | None) -> Any:
        extra: dict[str, Any] = {} if self._https else {"enforce_https": False}
        return self._client.query_workspace(
            self.workspace, text, timespan=timespan, server_timeout=self.settings.timeout_seconds, **extra
        )

    async def query(
        self, text: str, timespan: tuple[datetime, datetime] | None, stats: FetchStats, source: str, table: str
    ) -> Table:
        """Run ``text``; raise a :class:`~sspr_review.core.errors.SourceError` naming the fix when it cannot."""
        if not self.workspace:
            raise WorkspaceNotFound(
                "no Log Analytics workspace is configured: set [log_analytics] workspace_id to the Workspace ID "
                "on the workspace's Overview page (or SSPR_REVIEW_LOG_ANALYTICS_WORKSPACE_ID)",
                source=source,
            )
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.settings.concurrent_queries)
        attempt = _Attempt(self, self._gate, text, timespan, stats, source, table)
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable),
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=wait_retry_after(
                _headers,
                wait_exponential(multiplier=self.settings.retry_backoff_seconds, exp_base=2, min=0),
                MAX_RETRY_AFTER_SECONDS,
            ),
            sleep=self._sleep,
            before_sleep=attempt.before_sleep,
            retry_error_callback=attempt.give_up,
        )
        result: Any = await retrying(attempt.run)
        return _table(result, source, table)

    def _error(self, exc: Any, status: int, text: str, source: str, table: str) -> Exception:
        detail = _detail(exc)
        where = f"workspace {self.workspace} at {self.endpoint}"
        if status == 401:
            return TokenRejected(
                f"the Log Analytics endpoint rejected the access token ({detail}); if the workspace is in a national "
                f"cloud, set [log_analytics] endpoint to that cloud ({CLOUDS}) and sign in to the same cloud",
                source=source,
                status=status,
            )
        if status == 403:
            return AccessDenied(
                f"the identity may not query {where} ({detail}): give it the Log Analytics Reader role on the "
                "workspace (Access control (IAM) → Add role assignment), or another role allowing "
                "Microsoft.OperationalInsights/workspaces/query/read",
                source=source,
                status=status,
            )
        if status == 404:
            return WorkspaceNotFound(
                f"{where} was not found ({detail}): check [log_analytics] workspace_id (the Workspace ID on the "
                f"workspace's Overview page) and that [log_analytics] endpoint is the workspace's cloud ({CLOUDS})",
                source=source,
                status=status,
            )
        if status == 400 and _names_missing_table(detail, table):
            return TableMissing(
                f"{where} has no {table} table ({detail}): add a diagnostic setting in the Microsoft Entra admin "
                f"center (Identity → Monitoring & health → Diagnostic settings) that sends {CATEGORIES[table]} to "
                "this workspace; the table appears with the first events sent",
                source=source,
                status=status,
            )
        if status == 400:
            return QueryRejected(
                f"{where} rejected the kit's query ({detail}); this is a bug in sspr-review, please report it "
                f"with this query:\n{text}",
                source=source,
                status=status,
            )
        return FetchFailed(
            f"{where} answered {status} after {self.settings.max_retries} retries ({detail}); try again later or "
            "raise [log_analytics] max_retries",
            source=source,
            status=status,
        )

    def close(self) -> None:
        self._client.close()


class _Attempt:
    """One query through :class:`WorkspaceClient`: each attempt, and tenacity's hooks between attempts.

    An answer that will not change by asking again (401, 403, 404, 400) is raised at once as the error naming its
    fix; 429, 5xx (:data:`RETRIED`) and an unreachable endpoint are retried; after the last attempt :meth:`give_up`
    raises the error for the last failure. ``stats`` counts requests, statuses, retries, 429s retried and the
    seconds slept between attempts."""

    def __init__(
        self,
        client: WorkspaceClient,
        gate: asyncio.Semaphore,
        text: str,
        timespan: tuple[datetime, datetime] | None,
        stats: FetchStats,
        source: str,
        table: str,
    ) -> None:
        self.client, self.gate, self.text, self.timespan = client, gate, text, timespan
        self.stats, self.source, self.table = stats, source, table

    async def run(self) -> Any:
        client, stats = self.client, self.stats
        stats.requests += 1
        try:
            async with self.gate:
                result = await asyncio.to_thread(client._run, self.text, self.timespan)
        except HttpResponseError as exc:
            status = _status(exc)
            stats.statuses[status] = stats.statuses.get(status, 0) + 1
            if status not in RETRIED:
                raise client._error(exc, status, self.text, self.source, self.table) from None
            raise
        stats.statuses[200] = stats.statuses.get(200, 0) + 1
        return result

    def before_sleep(self, state: RetryCallState) -> None:
        exc = failure(state)
        if exc is not None and _status(exc) == 429:
            self.stats.throttled += 1
        self.stats.retries += 1
        self.stats.waited += state.upcoming_sleep

    def give_up(self, state: RetryCallState) -> NoReturn:
        exc = failure(state)
        if isinstance(exc, HttpResponseError):
            raise self.client._error(exc, _status(exc), self.text, self.source, self.table) from None
        raise FetchFailed(
            f"could not reach the Log Analytics endpoint {self.client.endpoint} ({exc}); check [log_analytics] "
            f"endpoint is the workspace's cloud ({CLOUDS})",
            source=self.source,
        ) from None


def _status(exc: Any) -> int:
    return int(getattr(exc, "status_code", None) or 0)


def _retryable(exc: BaseException) -> bool:
    """429 and 5xx answers (:data:`RETRIED`) and an endpoint that could not be reached are worth another attempt."""
    if isinstance(exc, HttpResponseError):
        return _status(exc) in RETRIED
    return isinstance(exc, ServiceRequestError | ServiceResponseError)


def _headers(exc: BaseException) -> Mapping[str, str] | None:
    """The response headers of a failed attempt (``Retry-After`` among them), if the workspace answered."""
    return getattr(getattr(exc, "response", None), "headers", None)


def _table(result: Any, source: str, table: str) -> Table:
    from azure.monitor.query import (
        LogsQueryPartialResult,  # lazy: azure-monitor-query is heavy; only a workspace source needs it
    )

    if isinstance(result, LogsQueryPartialResult):
        data = result.partial_data or []
        rows = [list(r) for t in data[:1] for r in t.rows]
        columns = list(data[0].columns) if data else []
        error = result.partial_error
        said = f"{getattr(error, 'code', '')}: {getattr(error, 'message', '')}"
        detail = json.dumps(getattr(error, "details", None) or [], default=_plain)
        truncated = any(t in said or t in detail for t in TRUNCATED)
        innermost = _innermost(json.loads(detail))
        said = f"{said} {innermost}" if innermost else said
        raise PartialResult(
            f"the workspace answered the {table} query with part of its rows ({len(rows)} rows; {said})",
            source=source,
            truncated=truncated,
            data=Table(columns, rows),
        )
    if not result.tables:
        return Table([], [])
    primary = result.tables[0]
    return Table(list(primary.columns), [list(r) for r in primary.rows])


def _innermost(details: Any) -> str:
    """The innermost messages of a partial error's ``details`` (where the workspace says why)."""
    found = []
    for item in details if isinstance(details, list) else []:
        while isinstance(item, dict) and isinstance(item.get("innererror"), dict):
            item = item["innererror"]
        if isinstance(item, dict) and item.get("message"):
            found.append(str(item["message"]))
    return " ".join(found)


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else str(value)


def _detail(exc: Any) -> str:
    """The error's codes and messages, innermost last (``BadArgumentError: ...; SEM0100: ...``)."""
    try:
        body = json.loads(exc.response.text())
    except (AttributeError, ValueError, TypeError):
        return str(getattr(exc, "message", exc)).splitlines()[0]
    parts: list[str] = []
    error = body.get("error") if isinstance(body, dict) else None
    while isinstance(error, dict):
        parts.append(f"{error.get('code', '')}: {error.get('message', '')}".strip(": "))
        error = error.get("innererror")
    return "; ".join(parts) or str(body)[:300]


def _names_missing_table(detail: str, table: str) -> bool:
    return "Failed to resolve table" in detail and table in detail
