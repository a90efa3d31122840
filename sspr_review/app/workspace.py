"""The Python API notebooks and the CLI share: open a configuration and a source, fetch, read tables, review.

>>> import sspr_review
>>> ws = sspr_review.open_workspace(source="demo")        # or open_workspace("config.toml") for Graph
>>> ws.fetch()                                            # doctest: +SKIP
>>> audit = ws.read("audit", start, end)                  # doctest: +SKIP

:class:`Workspace` is a thin facade: each method hands its job to the module of the application layer that does
it (:mod:`.fetching`, :mod:`.demo_history`, :mod:`.inputs`, :mod:`.week`, :mod:`.review`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from ..analysis import Review, ReviewWindow
from ..core import config as config_mod
from ..core.coverage import Coverage
from ..core.errors import ConfigError
from ..core.reason_rules import ReasonRule
from ..core.timefmt import Clock, system_clock
from ..ingest.fetch import FetchResult
from ..ingest.store import Store
from ..ingest.store.health import status as store_status
from ..sources import SourceKind, SourceOptions, source_kind
from ..sources.base import Provider
from ..sources.demo.source import demo_end, demo_tenant
from ..sources.demo.tenant import DemoTenant
from . import fetching, inputs
from .demo_history import build_demo_history
from .review import review_week
from .week import choose_week, held_weeks


class Workspace:
    """A configuration, a source and the store folder that source writes to.

    ``source`` is a registered source's name (:data:`sspr_review.sources.PROVIDERS`). ``clock`` gives the current
    time (UTC-aware; default: the system clock). Everything that depends on "now" asks it: the default review week
    (the most recent Monday), the end of the demo tenant's history and the time the demo tenant is looked at by a
    fetch, and the end of a Graph fetch's window. Tests inject one to run the same review "on Monday morning" and
    "ten days later" without waiting.
    """

    def __init__(
        self,
        config: config_mod.Config,
        source: str = "graph",
        *,
        files: str | Path | None = None,
        demo_end: datetime | None = None,
        clock: Clock | None = None,
    ) -> None:
        #: The source, as the registry describes it (:mod:`sspr_review.sources`).
        self.kind: SourceKind = source_kind(source)
        self.clock: Clock = clock or system_clock
        self.config = config
        self.source_name: Provider = self.kind.name
        self.files = Path(files) if files is not None else None
        self._demo_end = demo_end
        self.store = Store(config.store_path(), self.kind.store_key(config))
        #: How the last default review week was chosen, when that needs saying (the files source).
        self.week_note: str | None = None

    # ------------------------------------------------------------------ sources
    def now(self) -> datetime:
        """The current time from the workspace's clock (UTC)."""
        moment = self.clock()
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ConfigError(f"the workspace clock gave {moment!r}, a time without a time zone: return UTC times")
        return moment.astimezone(UTC)

    def demo_end(self) -> datetime:
        """Where the demo tenant's history ends: fixed when the workspace first asks (the clock's last Monday)."""
        if self._demo_end is None:
            self._demo_end = demo_end(self.config, self.now())
        return self._demo_end

    def demo_tenant(self) -> DemoTenant:
        """The demo tenant of ``[demo]``, ending at the most recent review-week end."""
        return demo_tenant(self.config.demo, self.demo_end())

    def _options(self, as_of: datetime | None = None) -> SourceOptions:
        return SourceOptions(files=self.files, demo_end=self.demo_end(), as_of=as_of)

    # -------------------------------------------------------------------- fetch
    def fetch(self, *, progress: bool | None = None, as_of: datetime | None = None) -> FetchResult:
        """Fetch every kind of data incrementally into the store and return what happened per kind."""
        options = self._options(as_of)
        return fetching.fetch(
            self.store, self.source_name, self.config, clock=self.now, options=options, progress=progress
        )

    def build_demo_history(self, *, progress: bool | None = None, if_missing: bool = False) -> list[FetchResult]:
        """Fill the demo store as weekly scheduled runs would have (:mod:`.demo_history`)."""
        if not self.kind.rebuilds_history:
            raise ConfigError(f"build_demo_history is for the demo source, not {self.source_name}")

        def fetch_week(store: Store, moment: datetime) -> FetchResult:
            options = self._options(moment)
            return fetching.fetch(store, self.source_name, self.config, clock=self.now, options=options, progress=False)

        return build_demo_history(
            self.store,
            self.demo_tenant(),
            fetch_week,
            progress=progress,
            if_missing=if_missing,
            timezone=self.config.review.timezone,
        )

    def update(self, *, progress: bool | None = None) -> FetchResult:
        """Bring the store up to date the way this source does: one incremental fetch, or (the demo tenant) the
        whole weekly history rebuilt. The result of the (last) fetch."""
        if self.kind.rebuilds_history:
            return self.build_demo_history(progress=progress)[-1]
        return self.fetch(progress=progress)

    def ensure_store(self) -> bool:
        """For a source that rebuilds its history (the demo tenant): build the store unless it is there; when
        another process is building it, wait for that build (with a message) instead of reading a half-built
        store. True when this call built it. Other sources' stores are filled by ``fetch`` only: False."""
        if not self.kind.rebuilds_history or self.store.intervals("audit"):
            return False
        return bool(self.build_demo_history(progress=False, if_missing=True))

    # --------------------------------------------------------------------- read
    def read(
        self, table: str, start: datetime | None = None, end: datetime | None = None, *, raw: bool = False
    ) -> pd.DataFrame:
        """Rows of a normalised table in ``[start, end)`` (see :mod:`sspr_review.core.schema`)."""
        return self.store.read(table, start, end, raw=raw)

    def coverage(self, start: datetime, end: datetime) -> dict[str, Coverage]:
        """What the store holds of each kind of data for ``[start, end)`` (see :func:`.inputs.coverage`)."""
        return inputs.coverage(self.store, self.config, start, end)

    def status(self) -> dict[str, Any]:
        return store_status(self.store)

    def tenant(self) -> dict[str, str]:
        """Tenant id and name for reports: ``[tenant] name`` wins over what the store learnt from Graph."""
        return inputs.tenant(self.store, self.config)

    def reason_texts(self, rules: tuple[ReasonRule, ...]) -> list[str] | None:
        """Every distinct resultReason the review classifies in the store; ``None`` without audit events."""
        return inputs.reason_texts(self.store, rules)

    # ------------------------------------------------------------------- review
    def window(self, week_ending: str | datetime | None = None, *, within_history: bool = True) -> ReviewWindow:
        """The review week ending at ``week_ending`` (default: the most recent Monday in [review] timezone; for
        exported files, the last complete week they cover, said in :attr:`week_note`). A date given as text must
        end on a Monday, have ended, and (unless ``within_history`` is false: before a fetch) lie within what the
        store holds (:func:`.week.check_week`)."""
        self.week_note = None
        chosen = choose_week(
            self.store,
            self.config,
            self.now(),
            week_ending,
            from_records=self.kind.week_from_records,
            within_history=within_history,
        )
        self.week_note = chosen.note
        return chosen.window

    def held_weeks(self) -> list[date]:
        """The week endings of the weeks the store holds complete (:func:`.week.held_weeks`)."""
        return held_weeks(self.store, self.config)

    def review(self, week_ending: str | datetime | None = None, *, compare: bool = True) -> Review:
        """Review one week from the store (:func:`.review.review_week`): metrics with last week's values,
        findings, trend; with ``compare``, each finding new or continuing and last week's resolved ones."""
        return review_week(self.store, self.config, self.window(week_ending), compare=compare)


def open_workspace(
    config: str | Path | None = None,
    *,
    source: str | None = None,
    store: str | Path | None = None,
    files: str | Path | None = None,
    demo_end: datetime | None = None,
    clock: Clock | None = None,
) -> Workspace:
    """Open a workspace from a config file (or the defaults) for ``source`` (default: graph with a config
    file, demo without one). ``clock``: see :class:`Workspace`."""
    # A store folder given here (command line, notebook parameter) is taken from the current folder.
    cfg = config_mod.load(config, store__path=str(Path(store).expanduser().absolute()) if store else None)
    chosen = source or ("graph" if config is not None else "demo")
    return Workspace(cfg, chosen, files=files, demo_end=demo_end, clock=clock)
