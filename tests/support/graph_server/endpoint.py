"""One served endpoint (:class:`Route`: its path template, methods, throttling bucket, query rules and the function
that answers it) and what that function sees of a request (:class:`Call`)."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .data import GraphData, Record
from .responses import Response, bad_request

if TYPE_CHECKING:
    from .server import GraphServer

_KNOWN_OPTIONS = frozenset({"filter", "top", "select", "orderby", "expand", "skiptoken"})

#: A navigation property ``$expand`` can add: its value for a record that does not carry it already.
Expander = Callable[[GraphData, Record], Any]


@dataclass(frozen=True)
class Route:
    template: str  # "/groups/{id}/transitiveMembers", relative to /v1.0 or /beta; also the page_sizes key
    methods: tuple[str, ...]
    context: str  # @odata.context after "$metadata#"; "{id}" is substituted
    answer: Callable[[Call], Response]
    bucket: str | None = None  # the throttling bucket (throttling.THROTTLE_LIMITS)
    function: bool = False  # a function: the path may end in "(name='value',...)"
    page_size: tuple[int, int] | None = None  # (default, maximum) of a paged collection; None: one page
    top: bool = False  # honours $top
    expand: Mapping[str, Expander] = field(default_factory=dict)  # added to a record in this order
    hidden: frozenset[str] = frozenset()  # navigation properties only sent when expanded
    orderable: frozenset[str] | None = None  # None: any property path
    default_order: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    strict_filters: Mapping[str, frozenset[str]] | None = None  # what Microsoft documents as filterable
    # the forms of a record $filter is matched against (a record is listed when one matches); None: the record
    filter_views: Callable[[GraphServer, Record], list[Record]] | None = None

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        parts = [re.escape(p) if p != "{id}" else "(?P<id>[^/]+)" for p in self.template.split("/")]
        arguments = r"(?:\((?P<arguments>.*)\))?" if self.function else ""
        return re.compile("/".join(parts) + arguments + "$", re.IGNORECASE)


@dataclass(frozen=True)
class Call:
    """A request to a route, past authorisation, faults, denials and throttling."""

    server: GraphServer
    route: Route
    version: str  # "/v1.0" or "/beta"
    relative: str  # the path after the version
    path_id: str  # the "{id}" segment, or ""
    arguments: str  # a function's "(...)" text, or ""
    pairs: list[tuple[str, str]]  # the decoded query, in order
    body: bytes
    tenant: GraphData  # what the request is answered from (its token's tenant, when the server serves several)

    @property
    def data(self) -> GraphData:
        return self.tenant

    @property
    def context(self) -> str:
        return f"{self.server.origin}{self.version}/$metadata#{self.route.context.replace('{id}', self.path_id)}"

    def options(self) -> dict[str, str]:
        """The OData query options by name without ``$``: an unknown ``$`` option or one given twice is a 400,
        other parameters are ignored."""
        options: dict[str, str] = {}
        for key, value in self.pairs:
            name = key.lower().removeprefix("$")
            if name not in _KNOWN_OPTIONS:
                if key.startswith("$"):
                    raise bad_request(f"Query option '{key}' is not supported.")
                continue
            if name in options:
                raise bad_request(f"Query option '${name}' was specified more than once.")
            options[name] = value
        return options
