"""One source made of two: the time-ranged kinds named in ``[sources]`` (audit, risk) from a Log Analytics workspace
or a storage account's diagnostic-setting archive, everything else (registration, roles, policy, the tenant) from
the run's source (graph, demo or files).

``sspr-review --source log-analytics`` is Graph with audit and risk from the workspace. The fetch sees one
:class:`~sspr_review.sources.base.Source`: each capability is answered by the source that serves the kind asked
about (``lookback_days``, ``limit_window``, ``notes``), the rest by the base source.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError
from ..core.records import SetAside
from ..core.vocabulary import TIMED_KINDS
from .base import FetchStats, Pages, RegistrationParts, RoleData, Source, TimedSource

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from ..core.config import Config


class CombinedSource(Source):
    """``base`` with some time-ranged kinds served by ``timed`` (kind → source)."""

    def __init__(self, base: Source, timed: Mapping[str, TimedSource]) -> None:
        unknown = set(timed) - set(TIMED_KINDS)
        if unknown:
            raise ValueError(f"only {', '.join(TIMED_KINDS)} can come from another source, not {sorted(unknown)}")
        self.base = base
        self.timed = dict(timed)
        self.name = base.name

    def _serving(self, kind: str) -> TimedSource:
        """The source that serves ``kind``."""
        return self.timed.get(kind, self.base)

    @property
    def stats(self) -> dict[str, FetchStats]:
        """Each kind's counters from the source that serves it."""
        merged = {k: v for k, v in self.base.stats.items() if k not in self.timed}
        for kind, source in self.timed.items():
            if kind in source.stats:
                merged[kind] = source.stats[kind]
        return merged

    @stats.setter
    def stats(self, value: dict[str, FetchStats]) -> None:
        self.base.stats = value

    def origin(self, kind: str) -> str:
        """Which source serves ``kind``."""
        return self._serving(kind).name

    def now(self) -> datetime:
        return self.base.now()

    def windows(self) -> dict[str, tuple[datetime, datetime]] | None:
        """The base's own windows (exported files) for the kinds it still serves."""
        own = self.base.windows()
        if own is None:
            return None
        return {k: v for k, v in own.items() if k not in self.timed}

    def lookback_days(self, kind: str, default: int) -> int:
        return self._serving(kind).lookback_days(kind, default)

    async def limit_window(self, kind: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        return await self._serving(kind).limit_window(kind, start, end)

    def notes(self, kind: str) -> list[str]:
        return self._serving(kind).notes(kind)

    def gaps(self, kind: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
        return self._serving(kind).gaps(kind, start, end)

    def resume(self, kind: str, state: Mapping[str, Any] | None) -> None:
        self._serving(kind).resume(kind, state)

    def state(self, kind: str) -> dict[str, Any] | None:
        return self._serving(kind).state(kind)

    async def tenant(self) -> dict[str, Any]:
        return await self.base.tenant()

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        return self._serving("audit").audit(start, end)

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        return self._serving("risk").risk(since, end)

    def registration(self) -> list[Pages]:
        return self.base.registration()

    def registration_parts(self) -> RegistrationParts | None:
        return self.base.registration_parts()

    async def roles(self) -> RoleData:
        return await self.base.roles()

    async def policy(self) -> dict[str, Any]:
        return await self.base.policy()

    def set_aside(self) -> SetAside | None:
        """What every source it is made of set aside, together (``None`` when none set anything aside)."""
        parts = [s.set_aside() for s in {id(s): s for s in [self.base, *self.timed.values()]}.values()]
        found = [p for p in parts if p is not None]
        if not found:
            return None
        merged = SetAside()
        for part in found:
            merged.merge(part)
        return merged

    async def aclose(self) -> None:
        try:
            for source in {id(s): s for s in self.timed.values()}.values():
                await source.aclose()
        finally:
            await self.base.aclose()


def compose(
    base: Source,
    config: Config,
    *,
    log_analytics: bool = False,
    clock: Callable[[], datetime] | None = None,
    credential: Callable[[], TokenCredential],
) -> Source:
    """``base``, or a :class:`CombinedSource` when ``[sources]`` (or ``log_analytics``: both kinds) names the
    workspace for audit or risk. ``credential`` builds the azure-identity credential (only when needed)."""
    chosen = config.sources.model_dump()
    kinds = [k for k in TIMED_KINDS if log_analytics or chosen[k] == "log_analytics"]
    stored = [k for k in TIMED_KINDS if not log_analytics and chosen[k] == "archive"]
    timed: dict[str, TimedSource] = {}
    if kinds:
        from .log_analytics.source import LogAnalyticsSource  # lazy: azure-monitor-query and azure-identity are heavy

        workspace = LogAnalyticsSource(config.log_analytics, credential(), clock=clock)
        timed.update(dict.fromkeys(kinds, workspace))
    if stored:
        timed.update(dict.fromkeys(stored, open_archive(config, clock=clock, credential=credential)))
    return CombinedSource(base, timed) if timed else base


def open_archive(
    config: Config, *, clock: Callable[[], datetime] | None, credential: Callable[[], TokenCredential]
) -> TimedSource:
    """The storage-account archive of ``[archive]`` (:mod:`.archive.storage`)."""
    from .archive.storage import ArchiveSource  # lazy: azure-storage-blob is heavy

    settings = config.archive
    connection = os.environ.get(settings.connection_string_env) if settings.connection_string_env else None
    if not settings.account_url and not connection:
        raise ConfigError(
            "[sources] reads from the archive but [archive] account_url is empty: set it to the storage account's"
            f" Blob endpoint (https://<account>.blob.core.windows.net), or set {settings.connection_string_env}"
        )
    return ArchiveSource(settings, credential, connection_string=connection or None, clock=clock)
