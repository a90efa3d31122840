"""The configuration's sections' base, and the sections that say where audit and risk come from (``[sources]``,
``[log_analytics]``, ``[archive]``), with the URL check they share with ``[graph]``. :mod:`.config` assembles them;
import them from there."""

from __future__ import annotations

import uuid
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
CONTAINER_NAME = r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$"  # an Azure Storage container: 3-63 of a-z, 0-9 and -


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)


def _check_http_url(value: str, example: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL such as {example}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"{value!r} uses plain http; tokens may only travel unencrypted to localhost. Use https.")
    return value.rstrip("/")


class SourcesSettings(_Section):
    """``[sources]``: where each time-ranged kind of data comes from (registration, roles and policy always come
    from the run's source: graph, demo or files)."""

    audit: Literal["graph", "log_analytics", "archive"] = "graph"
    risk: Literal["graph", "log_analytics", "archive"] = "graph"


class LogAnalyticsSettings(_Section):
    """``[log_analytics]``: the Log Analytics workspace (Microsoft Sentinel's) that audit and risk may come from."""

    workspace_id: str = Field("", description="The workspace's Workspace ID (a GUID, on its Overview page)")
    endpoint: str = "https://api.loganalytics.io/v1"
    backfill_days: int = Field(180, ge=1, le=730)
    max_rows: int = Field(500_000, ge=10, le=500_000)
    max_bytes: int = Field(64_000_000, ge=100_000, le=100_000_000)
    ingestion_delay_minutes: float = Field(30.0, ge=0, le=24 * 60)
    timeout_seconds: int = Field(180, ge=1, le=600)
    max_retries: int = Field(6, ge=0, le=20)
    retry_backoff_seconds: float = Field(2.0, ge=0, le=300)
    concurrent_queries: int = Field(4, ge=1, le=5)

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        return _check_http_url(value, "https://api.loganalytics.io/v1")

    @field_validator("workspace_id")
    @classmethod
    def _check_workspace(cls, value: str) -> str:
        if value:
            try:
                uuid.UUID(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a workspace ID: copy the Workspace ID (a GUID such as "
                    "1b2c3d4e-0000-0000-0000-000000000000) from the workspace's Overview page"
                ) from None
        return value


class ArchiveSettings(_Section):
    """``[archive]``: the storage account a diagnostic setting archives Entra's AuditLogs and UserRiskEvents to."""

    account_url: str = Field("", description="https://<account>.blob.core.windows.net (the account's Blob endpoint)")
    audit_container: str = Field("insights-logs-auditlogs", pattern=CONTAINER_NAME)
    risk_container: str = Field("insights-logs-userriskevents", pattern=CONTAINER_NAME)
    backfill_days: int = Field(30, ge=1, le=730)
    max_retries: int = Field(3, ge=0, le=20)
    #: The environment variable holding a connection string (or a SAS URL) to use instead of the azure-identity
    #: credential: a SAS, or the local emulator. Secrets stay in the environment.
    connection_string_env: str = "SSPR_REVIEW_ARCHIVE_CONNECTION_STRING"

    @field_validator("account_url")
    @classmethod
    def _check_account(cls, value: str) -> str:
        return _check_http_url(value, "https://contosologs.blob.core.windows.net") if value else value
