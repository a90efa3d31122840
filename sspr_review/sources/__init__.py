"""Where records come from: Microsoft Graph, the demo tenant, a folder of Graph JSON files, and for audit and risk
a Log Analytics workspace (``[sources]``; ``log-analytics``: Graph with both from the workspace).

All of them implement :class:`~.base.Source` and hand out records exactly as Graph sends them; everything after
that (normalisation, the store, analyses) is the same code for all of them.

Each source (a *provider*: not to be confused with the kinds of data it provides) is registered here as a
:class:`SourceKind`, the one place the names come from (:data:`PROVIDERS`). It says what the source needs and how
it is used, so that no caller compares source names: how it is opened (:func:`open_source`, from the
configuration, a clock and :class:`SourceOptions`), which store folder it writes to, whether bringing the store up
to date means rebuilding a demo history rather than one incremental fetch, and whether its default review week is
the last one its records cover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.config import Config
from ..core.errors import ConfigError
from ..core.timefmt import Clock, system_clock
from .base import Provider, Source
from .combined import compose
from .demo.source import open_demo

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential


@dataclass(frozen=True)
class SourceOptions:
    """What opening a source may need besides the configuration and the clock."""

    #: The folder of Graph JSON files (the files source).
    files: Path | None = None
    #: Where the demo tenant's history ends (default: the most recent review-week end at the clock).
    demo_end: datetime | None = None
    #: The moment the tenant is looked at (the demo source; default: the clock).
    as_of: datetime | None = None


#: How a source is opened: from the configuration, a clock and the options.
Opener = Callable[[Config, Clock, SourceOptions], Source]


@dataclass(frozen=True)
class SourceKind:
    """One source as the application sees it."""

    name: Provider
    #: What it is, for ``--help`` and errors.
    summary: str
    #: The source for a fetch, looking at the tenant as it is at ``options.as_of`` (default: the clock).
    open: Opener
    #: The store folder (below the store path) its records go to.
    store_key: Callable[[Config], str]
    #: Bringing the store up to date rebuilds the whole history, week by week, as scheduled runs would have
    #: (the demo tenant); otherwise it is one incremental fetch.
    rebuilds_history: bool = False
    #: Without ``--week-ending``, the week reviewed is the last complete one its records cover (exported files,
    #: which end when they were saved), not the most recent calendar week.
    week_from_records: bool = False
    #: It reads Microsoft Graph for ``[auth] tenant_id``: a tenants file's row must name that tenant (else the
    #: credential's own tenant would be read under the row's name).
    tenant_bound: bool = False


def _credential(config: Config) -> Callable[[], TokenCredential]:
    def build() -> TokenCredential:
        from .graph.auth import build_credential  # lazy: kiota, which --source's usage errors must not load

        return build_credential(config.auth)

    return build


def _open_graph(config: Config, clock: Clock, options: SourceOptions) -> Source:
    from .graph.source import GraphSource  # lazy: msgraph-sdk takes about a second to import

    return GraphSource(config, _credential(config)(), clock=clock)


def _open_demo(config: Config, clock: Clock, options: SourceOptions) -> Source:
    return open_demo(config, clock, end=options.demo_end, as_of=options.as_of)


def _open_files(config: Config, clock: Clock, options: SourceOptions) -> Source:
    from .files import FilesSource  # lazy: pandas, which the command line's start-up must not load

    if options.files is None:
        raise ConfigError("the files source needs the folder of Graph JSON files (--files DIR)")
    return FilesSource(options.files)


def _with_workspace(open_base: Opener, *, both: bool = False) -> Opener:
    """``open_base``, with audit and risk from the Log Analytics workspace where ``[sources]`` says so (``both``:
    always both, the ``log-analytics`` source), as one :class:`~.combined.CombinedSource`."""

    def open_(config: Config, clock: Clock, options: SourceOptions) -> Source:
        base = open_base(config, clock, options)
        return compose(base, config, log_analytics=both, clock=clock, credential=_credential(config))

    return open_


def _graph_store(config: Config) -> str:
    return config.auth.tenant_id or "graph"


KINDS: dict[Provider, SourceKind] = {
    kind.name: kind
    for kind in (
        SourceKind(
            Provider("graph"),
            "Microsoft Graph (the configured tenant)",
            _with_workspace(_open_graph),
            _graph_store,
            tenant_bound=True,
        ),
        SourceKind(
            Provider("demo"),
            "the built-in demo tenant",
            _with_workspace(_open_demo),
            lambda c: "demo",
            rebuilds_history=True,
        ),
        SourceKind(
            Provider("files"),
            "a folder of Graph JSON exports (--files DIR)",
            _with_workspace(_open_files),
            lambda c: "files",
            week_from_records=True,
        ),
        # the same tenant as graph, so the same store: a tenant can move its audit and risk to the workspace
        SourceKind(
            Provider("log-analytics"),
            "audit and risk from the [log_analytics] workspace, the rest from Microsoft Graph",
            _with_workspace(_open_graph, both=True),
            _graph_store,
            tenant_bound=True,
        ),
    )
}
#: The names ``--source`` and the notebooks' ``source`` parameter accept.
PROVIDERS: tuple[Provider, ...] = tuple(KINDS)


def source_kind(name: str) -> SourceKind:
    """The registered source called ``name``; :class:`~sspr_review.core.errors.ConfigError` naming the choices."""
    try:
        return KINDS[Provider(name)]
    except KeyError:
        raise ConfigError(f"unknown source {name!r}; choose one of {', '.join(PROVIDERS)}") from None


def open_source(
    provider: str, config: Config, *, clock: Clock = system_clock, options: SourceOptions | None = None
) -> Source:
    """Open the source ``provider`` for a fetch (see :class:`SourceKind`)."""
    return source_kind(provider).open(config, clock, options or SourceOptions())
