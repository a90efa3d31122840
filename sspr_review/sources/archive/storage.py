"""Audit events and risk detections straight from the storage account a diagnostic setting archives them to.

``[sources] audit = "archive"`` and ``risk = "archive"`` with ``[archive] account_url`` read the containers
``insights-logs-auditlogs`` and ``insights-logs-userriskevents`` (``[archive] *_container``) with azure-storage-blob
and the kit's azure-identity credential (or, when the variable ``[archive] connection_string_env`` names is set, a
connection string or SAS URL from it). A fetch lists only the days its window needs (one listing per day and path
layout) and reads the blobs of the hours in the window, line by line a chunk at a time; the window starts at the
store's high-water mark less the configured overlap (``[store] audit_overlap_hours``), so the last hours are read
again: an hour's blob can still grow for hours after it. A first fetch reads back ``[archive] backfill_days``.

The identity needs the data-plane role **Storage Blob Data Reader** on the account or the container: an Owner or
Contributor can list the blobs but is refused reading them, which would look like an empty archive; the error says
so. A missing container and an account URL of the wrong cloud are named too.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ...core.errors import AccessDenied, FetchFailed, TokenRejected
from ...core.records import SetAside
from ..base import FetchStats, Pages, Record, TimedSource
from .blobs import PAGE, BlobReader, Hours, LineSplitter, blob_hour, day_prefix

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from ...core.config import ArchiveSettings

#: What to grant when reading is refused.
ROLE = "Storage Blob Data Reader"
#: Bytes per download request: azure-storage-blob's first request of a blob otherwise takes up to 32 MiB at once,
#: which a reader holding a line at a time would hold whole (the hourly blobs of a large tenant reach that).
DOWNLOAD_BYTES = 4 * 1024 * 1024
ROLE_FIX = (
    f"assign the {ROLE} role on the storage account or the container to the identity the kit signs in as (Owner or"
    " Contributor can list the blobs but not read them, which looks like an empty archive)"
)


class ArchiveSource(TimedSource):
    """Audit and risk from the storage account in ``[archive]``. Create inside the event loop that will use it."""

    name = "archive"

    def __init__(
        self,
        settings: ArchiveSettings,
        credential: Callable[[], TokenCredential],
        *,
        connection_string: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self._credential = credential
        self._connection_string = connection_string
        self._clock = clock
        self._service: Any = None
        self.stats: dict[str, FetchStats] = {}
        self.hours = Hours()
        self.readers: dict[str, BlobReader] = {}
        self.set_aside_records = SetAside()

    def now(self) -> datetime:
        return self._clock() if self._clock is not None else datetime.now(UTC)

    def container(self, kind: str) -> str:
        return self.settings.audit_container if kind == "audit" else self.settings.risk_container

    def where(self, kind: str) -> str:
        return f"Azure Storage archive {self.account}/{self.container(kind)}"

    @property
    def account(self) -> str:
        return self.settings.account_url or "(from the connection string)"

    def lookback_days(self, kind: str, default: int) -> int:
        return self.settings.backfill_days

    def gaps(self, kind: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
        """The hours of ``[start, end]`` the container holds no blob for, between its first and last one read."""
        return self.hours.window_gaps(kind, start, end, self.where(kind))

    def notes(self, kind: str) -> list[str]:
        note = self.hours.note(kind, self.where(kind), self.readers.get(kind))
        return [note] if note else []

    def set_aside(self) -> SetAside:
        """The archived lines the kit could not read, each with where and why; repeated deliveries counted."""
        return self.set_aside_records

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        return [self._pages("audit", start, end)]

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        return [self._pages("risk", since, end)]

    def client(self) -> Any:
        """The container service client (azure-storage-blob), built once."""
        if self._service is None:
            from azure.storage.blob import BlobServiceClient  # lazy: azure-storage-blob is heavy

            options: dict[str, Any] = {
                "retry_total": self.settings.max_retries,
                "retry_connect": self.settings.max_retries,
                "max_single_get_size": DOWNLOAD_BYTES,
                "max_chunk_get_size": DOWNLOAD_BYTES,
            }
            if self._connection_string:
                text = self._connection_string
                if text.lower().startswith(("http://", "https://")):  # a SAS URL of the account
                    self._service = BlobServiceClient(text, **options)
                else:
                    self._service = BlobServiceClient.from_connection_string(text, **options)
            else:
                self._service = BlobServiceClient(self.settings.account_url, credential=self._credential(), **options)
        return self._service

    async def _call(self, kind: str, function: Callable[[], Any]) -> Any:
        """``function()`` in a thread, its errors as the kit's, counted as a request."""
        stats = self.stats.setdefault(kind, FetchStats())
        stats.requests += 1
        try:
            return await asyncio.to_thread(function)
        except Exception as exc:
            raise explain(exc, self.where(kind), kind) from None

    async def roots(self, kind: str) -> list[str]:
        """The path prefixes before ``y=`` in the container (``tenantId=<id>/``, ``resourceId=/tenants/...``)."""
        container = self.client().get_container_client(self.container(kind))

        def walk() -> list[str]:
            found: list[str] = []
            level = [""]
            for _ in range(8):  # resourceId=/tenants/<id>/providers/microsoft.aadiam/y=...: six levels down
                deeper = []
                for prefix in level:
                    for item in container.walk_blobs(name_starts_with=prefix or None, delimiter="/"):
                        name = str(item.name)
                        if name.rstrip("/").rsplit("/", 1)[-1].lower().startswith("y="):
                            found.append(prefix)
                            break
                        if name.endswith("/"):
                            deeper.append(name)
                level = deeper
                if not level:
                    break
            return sorted(set(found))

        return list(await self._call(kind, walk))

    async def blobs(self, kind: str, start: datetime, end: datetime) -> list[tuple[datetime, str]]:
        """The blobs of the hours in ``[start, end]``: (hour, name), oldest first; the hours are noted."""
        roots = await self.roots(kind)
        if not roots:
            raise FetchFailed(
                f"{self.where(kind)} holds no blob under the documented resourceId=/tenants/... or the tenantId=..."
                f" layout: check that a diagnostic setting sends {_category(kind)} to this account, and"
                f" [archive] {kind}_container",
                source=kind,
            )
        container = self.client().get_container_client(self.container(kind))
        first = start.replace(minute=0, second=0, microsecond=0)
        out: list[tuple[datetime, str]] = []
        day = first.replace(hour=0)
        while day <= end:
            for root in roots:
                prefix = day_prefix(root, day)
                names = await self._call(kind, functools.partial(_names, container, prefix))
                for name in names:
                    hour = blob_hour(name)
                    if hour is not None and first <= hour <= end:
                        out.append((hour, name))
                        self.hours.add(kind, hour)
            day += timedelta(days=1)
        return sorted(out)

    async def _pages(self, kind: str, start: datetime, end: datetime) -> Pages:
        reader = self.readers.setdefault(kind, BlobReader(kind, self.set_aside_records))
        stats = self.stats.setdefault(kind, FetchStats())
        container = self.client().get_container_client(self.container(kind))
        for _hour, name in await self.blobs(kind, start, end):
            chunks = iter(await self._call(kind, functools.partial(_chunks, container, name)))
            blob = reader.open(f"{self.where(kind)}/{name}", self.container(kind))
            lines = LineSplitter()
            page: list[Record] = []
            while True:
                chunk: bytes | None = await self._call(kind, functools.partial(next, chunks, None))
                tail = chunk is None
                for line in lines.rest() if chunk is None else lines.push(chunk):
                    page.extend(blob.feed(line))
                if tail:
                    page.extend(blob.finish())
                if page and (tail or len(page) >= PAGE):
                    stats.pages += 1
                    stats.records += len(page)
                    yield page
                    page = []
                if tail:
                    break

    async def aclose(self) -> None:
        if self._service is not None:
            await asyncio.to_thread(self._service.close)


def _names(container: Any, prefix: str) -> list[str]:
    return [str(b.name) for b in container.list_blobs(name_starts_with=prefix)]


def _chunks(container: Any, name: str) -> Any:
    """The chunks of a blob's download (azure-storage-blob reads one chunk per request, at most
    :data:`DOWNLOAD_BYTES`)."""
    return container.download_blob(name).chunks()


def _category(kind: str) -> str:
    return "AuditLogs" if kind == "audit" else "UserRiskEvents"


def explain(exc: Exception, where: str, kind: str) -> Exception:
    """An azure-storage-blob error as the kit's, naming the fix."""
    from azure.core.exceptions import (  # lazy: azure-core comes with the storage client
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
    )

    code = str(getattr(exc, "error_code", "") or "")
    status = getattr(exc, "status_code", None)
    if isinstance(exc, ResourceNotFoundError) or code == "ContainerNotFound":
        return FetchFailed(
            f"{where}: the container does not exist ({code or status}); the diagnostic setting names it"
            f" insights-logs-{_category(kind).lower()}: check [archive] {kind}_container and [archive] account_url",
            source=kind,
            status=status,
        )
    if status == 403 or code.startswith("Authorization"):
        return AccessDenied(f"{where}: reading is refused ({code or 403}); {ROLE_FIX}", source=kind, status=403)
    if isinstance(exc, ClientAuthenticationError):
        return TokenRejected(
            f"{where}: the storage account rejected the sign-in ({exc}); check [auth] and, for a national cloud,"
            " [archive] account_url",
            source=kind,
            status=status,
        )
    if isinstance(exc, ServiceRequestError):
        return FetchFailed(
            f"{where}: cannot reach the account ({type(exc).__name__}); check [archive] account_url: the account's"
            " Blob endpoint, such as https://<account>.blob.core.windows.net (US Government:"
            " .blob.core.usgovcloudapi.net, China: .blob.core.chinacloudapi.cn)",
            source=kind,
        )
    if isinstance(exc, HttpResponseError):
        return FetchFailed(f"{where}: {code or status}: {exc}", source=kind, status=status)
    if isinstance(exc, FetchFailed | AccessDenied | TokenRejected):
        return exc
    return FetchFailed(f"{where}: {type(exc).__name__}: {exc}", source=kind)
