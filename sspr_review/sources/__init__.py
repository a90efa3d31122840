"""Where records come from: Microsoft Graph, the demo tenant, a folder of Graph JSON files, and for audit and risk
a Log Analytics workspace (``[sources]``; ``log-analytics``: Graph with both from the workspace).

All of them implement :class:`~.base.Source` and hand out records exactly as Graph sends them; everything after
that (normalisation, the store, analyses) is the same code for all of them.

Each source is registered here as a :class:`SourceKind`, which says for the workspace what the source needs and
how it is used, so that no caller compares source names: how it is opened, which store folder it writes to,
whether bringing the store up to date means rebuilding a demo history rather than one incremental fetch, and
whether its default review week is the last one its records cover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError
from .base import Source

if TYPE_CHECKING:
    from ..core.config import Config
    from ..workspace import Workspace


@dataclass(frozen=True)
class SourceKind:
    """One source as the workspace sees it."""

    name: str
    #: What it is, for ``--help`` and errors.
    summary: str
    #: The source for a fetch, looking at the tenant as it is at ``as_of`` (default: the workspace's clock).
    open: Callable[[Workspace, datetime | None], Source]
    #: The store folder (below the store path) its records go to.
    store_key: Callable[[Config], str]
    #: Bringing the store up to date rebuilds the whole history, week by week, as scheduled runs would have
    #: (the demo tenant); otherwise it is one incremental fetch.
    rebuilds_history: bool = False
    #: Without ``--week-ending``, the week reviewed is the last complete one its records cover (exported files,
    #: which end when they were saved), not the most recent calendar week.
    week_from_records: bool = False


# The sources' modules are imported when a source is opened: msgraph-sdk alone takes about a second to import.
def _open_graph(ws: Workspace, as_of: datetime | None) -> Source:
    from .graph.auth import build_credential
    from .graph.source import GraphSource

    return GraphSource(ws.config, build_credential(ws.config.auth), clock=ws.now)


def _open_demo(ws: Workspace, as_of: datetime | None) -> Source:
    from .demo.source import DemoSource

    return DemoSource(ws.demo_tenant(), as_of or ws.now())


def _open_files(ws: Workspace, as_of: datetime | None) -> Source:
    from .files import FilesSource

    if ws.files is None:
        raise ConfigError("the files source needs the folder of Graph JSON files (--files DIR)")
    return FilesSource(ws.files)


def _with_workspace(open_base: Callable[[Workspace, datetime | None], Source], *, both: bool = False) -> Any:
    """``open_base``, with audit and risk from the Log Analytics workspace where ``[sources]`` says so (``both``:
    always both, the ``log-analytics`` source), as one :class:`~.combined.CombinedSource`."""

    def open_(ws: Workspace, as_of: datetime | None) -> Source:
        from .combined import compose

        def credential() -> Any:
            from .graph.auth import build_credential

            return build_credential(ws.config.auth)

        return compose(open_base(ws, as_of), ws.config, log_analytics=both, clock=ws.now, credential=credential)

    return open_


def _graph_store(config: Config) -> str:
    return config.auth.tenant_id or "graph"


KINDS: dict[str, SourceKind] = {
    kind.name: kind
    for kind in (
        SourceKind("graph", "Microsoft Graph (the configured tenant)", _with_workspace(_open_graph), _graph_store),
        SourceKind(
            "demo", "the built-in demo tenant", _with_workspace(_open_demo), lambda c: "demo", rebuilds_history=True
        ),
        SourceKind(
            "files",
            "a folder of Graph JSON exports (--files DIR)",
            _with_workspace(_open_files),
            lambda c: "files",
            week_from_records=True,
        ),
        # the same tenant as graph, so the same store: a tenant can move its audit and risk to the workspace
        SourceKind(
            "log-analytics",
            "audit and risk from the [log_analytics] workspace, the rest from Microsoft Graph",
            _with_workspace(_open_graph, both=True),
            _graph_store,
        ),
    )
}
#: The names ``--source`` and the notebooks' ``source`` parameter accept.
SOURCE_NAMES: tuple[str, ...] = tuple(KINDS)


def source_kind(name: str) -> SourceKind:
    """The registered source called ``name``; :class:`~sspr_review.core.errors.ConfigError` naming the choices."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown source {name!r}; choose one of {', '.join(SOURCE_NAMES)}") from None
