"""One fetch: the source opened (from the configuration, a clock and the options), the store's files checked (the
damaged ones quarantined), the tenant's name noted, every kind of data fetched into the store under its write lock
(what damaged files took out read again), and the users a lean registration snapshot must hold looked up by the
analyses (:mod:`.lookups`)."""

from __future__ import annotations

from ..core.config import Config
from ..core.timefmt import Clock
from ..ingest.fetch import FetchResult, fetch_into
from ..ingest.store import Store
from ..ingest.store.health import settle, sweep
from ..sources import SourceOptions, open_source
from ..sources.base import run_sync
from .lookups import registration_needs

__all__ = ["FetchResult", "fetch"]


def fetch(
    store: Store,
    provider: str,
    config: Config,
    *,
    clock: Clock,
    options: SourceOptions,
    progress: bool | None = None,
) -> FetchResult:
    """Fetch every kind of data from ``provider`` incrementally into ``store``; what happened per kind."""

    async def go() -> FetchResult:
        source = open_source(provider, config, clock=clock, options=options)
        try:
            windows = source.windows()
            with store.writing():
                first = len(store.found)
                sweep(store)
                before = store.damage_records()
                info = await source.tenant()
                if info:
                    store.write_tenant(info)
                result = await fetch_into(
                    store, source, config, progress=progress, windows=windows, needs=registration_needs
                )
                settled = settle(store, before, {name for name, o in result.outcomes.items() if o.ok})
                result.damaged = [f"{d}; moved to quarantine/" for d in store.found[first:]]
                result.recovered, result.unrecovered = settled.recovered, settled.lost
                return result
        finally:
            await source.aclose()

    return run_sync(go())
