"""One source made of two: the time-ranged kinds named in ``[sources]`` (audit, risk) from a Log Analytics workspace,
everything else (registration, roles, policy, the tenant) from the run's source (graph, demo or files).

``sspr-review --source log-analytics`` is Graph with audit and risk from the workspace. The fetch sees one
:class:`~sspr_review.sources.base.Source`; the optional hooks a time-ranged source may offer
(``lookback_days``, ``limit_window``, ``notes``) are passed on for the kinds it serves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .base import FetchStats, Pages, RoleData, Source

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

    from ..core.config import Config
    from .log_analytics.source import LogAnalyticsSource

TIMED_KINDS = ("audit", "risk")


class CombinedSource:
    """``base`` with some time-ranged kinds served by ``timed`` (kind → source)."""

    def __init__(self, base: Source, timed: Mapping[str, LogAnalyticsSource]) -> None:
        unknown = set(timed) - set(TIMED_KINDS)
        if unknown:
            raise ValueError(f"only {', '.join(TIMED_KINDS)} can come from another source, not {sorted(unknown)}")
        self.base = base
        self.timed = dict(timed)
        self.name = base.name

    def __getattr__(self, name: str) -> Any:
        # what only the base offers (the files source's ``report``)
        return getattr(self.base, name)

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
        return self.timed[kind].name if kind in self.timed else self.base.name

    def now(self) -> datetime:
        return self.base.now()

    def windows(self) -> dict[str, tuple[datetime, datetime]] | None:
        """The base's own windows (exported files) for the kinds it still serves."""
        own = self.base.windows()
        if own is None:
            return None
        return {k: v for k, v in own.items() if k not in self.timed}

    async def tenant(self) -> dict[str, Any]:
        return await self.base.tenant()

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        return self.timed["audit"].audit(start, end) if "audit" in self.timed else self.base.audit(start, end)

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        return self.timed["risk"].risk(since, end) if "risk" in self.timed else self.base.risk(since, end)

    def registration(self) -> list[Pages]:
        return self.base.registration()

    async def roles(self) -> RoleData:
        return await self.base.roles()

    async def policy(self) -> dict[str, Any]:
        return await self.base.policy()

    def lookback_days(self, kind: str, default: int) -> int:
        return self.timed[kind].lookback_days(kind, default) if kind in self.timed else default

    async def limit_window(self, kind: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        return await self.timed[kind].limit_window(kind, start, end) if kind in self.timed else (start, end)

    def notes(self, kind: str) -> list[str]:
        return self.timed[kind].notes(kind) if kind in self.timed else []

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
    kinds = [k for k in TIMED_KINDS if log_analytics or getattr(config.sources, k) == "log_analytics"]
    if not kinds:
        return base
    from .log_analytics.source import LogAnalyticsSource

    workspace = LogAnalyticsSource(config.log_analytics, credential(), clock=clock)
    return CombinedSource(base, dict.fromkeys(kinds, workspace))
