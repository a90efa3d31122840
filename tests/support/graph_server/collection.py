"""Answers built from records: a collection (:func:`listing`: ``$filter``, ``$orderby``, ``$select``, ``$expand``,
pages of ``$top`` with an absolute ``@odata.nextLink``, the pages of one listing from one snapshot, like a
server-side cursor) and a single entity (:func:`entity`)."""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from . import query
from .data import GraphData, Record
from .endpoint import Call, Route
from .odata_filter import FilterError, matches, parse_filter
from .responses import GraphError, Response, bad_request, json_response

_QUERY_SAFE = "$',:/()"
_SNAPSHOTS_KEPT = 64


class Snapshots:
    """The record lists of listings being paged, by id, the most recently used kept."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: collections.OrderedDict[int, list[Record]] = collections.OrderedDict()
        self._next = 1

    def get(self, snapshot_id: int) -> list[Record] | None:
        with self._lock:
            items = self._items.get(snapshot_id)
            if items is not None:
                self._items.move_to_end(snapshot_id)
            return items

    def keep(self, items: list[Record]) -> int:
        with self._lock:
            snapshot_id = self._next
            self._next += 1
            self._items[snapshot_id] = items
            while len(self._items) > _SNAPSHOTS_KEPT:
                self._items.popitem(last=False)
            return snapshot_id


def listing(records: Callable[[GraphData, str], list[Record]]) -> Callable[[Call], Response]:
    """The answer of a collection whose records ``records(data, path_id)`` gives."""
    return functools.partial(_collection, records)


def entity(record: Callable[[GraphData], Record | None]) -> Callable[[Call], Response]:
    """The answer of a single entity (a 404 while there is none), with ``$select``."""
    return functools.partial(_single, record)


def _single(record_of: Callable[[GraphData], Record | None], call: Call) -> Response:
    options = call.options()
    context = call.context
    record = record_of(call.data)
    if record is None:
        raise GraphError(404, "ResourceNotFound", "Resource not found.")
    out = project(call.data, record, call.route, query.select(options), frozenset())
    return json_response({"@odata.context": context, **out})


def _collection(records: Callable[[GraphData, str], list[Record]], call: Call) -> Response:
    route, server = call.route, call.server
    options = call.options()
    context = call.context
    default_size, max_size = server.page_sizes.get(route.template, (0, 0))
    size = default_size
    if route.top and "top" in options:
        size = query.top(options["top"], max_size)
    select = query.select(options)
    expand = query.expand(route, options)
    if select:
        context += "(" + ",".join(select) + ")"
    snapshot_id, offset = 0, 0
    items: list[Record] | None = None
    if "skiptoken" in options:
        snapshot_id, offset = query.skiptoken(options["skiptoken"])
        items = server.snapshots.get(snapshot_id)
    if items is None:
        items = _query(call, list(records(call.data, call.path_id)), options)
        if size > 0 and len(items) > offset + size:
            snapshot_id = server.snapshots.keep(items)
    page = items[offset : offset + size] if size > 0 else items[offset:]
    payload: dict[str, Any] = {
        "@odata.context": context,
        "value": [project(call.data, r, route, select, expand) for r in page],
    }
    if size > 0 and offset + size < len(items):
        token = query.make_skiptoken(snapshot_id, offset + size)
        kept = [(k, v) for k, v in call.pairs if k.lower().removeprefix("$") != "skiptoken"]
        text = "&".join(f"{quote(k, safe='$')}={quote(v, safe=_QUERY_SAFE)}" for k, v in kept)
        text = f"{text}&$skiptoken={token}" if text else f"$skiptoken={token}"
        payload["@odata.nextLink"] = f"{server.link_origin or server.origin}{call.version}{call.relative}?{text}"
    return json_response(payload)


def _query(call: Call, items: list[Record], options: Mapping[str, str]) -> list[Record]:
    route = call.route
    if "filter" in options:
        allowed = route.strict_filters if call.server.strict_filters else None
        try:
            node = parse_filter(options["filter"], allowed)
            views = route.filter_views
            if views is None:
                items = [r for r in items if matches(node, r, {})]
            else:
                items = [r for r in items if any(matches(node, v, {}) for v in views(call.server, r))]
        except FilterError as exc:
            raise bad_request(f"Invalid filter clause: {exc}") from None
    order = query.orderby(route, options)
    for prop, descending in reversed(order):
        items.sort(key=functools.partial(query.sort_key, prop), reverse=descending)
    return items


def project(data: GraphData, record: Record, route: Route, select: tuple[str, ...], expand: frozenset[str]) -> Record:
    """The record as sent: hidden navigation properties only when expanded (filled in when missing), ``$select``
    keeping the selected, the expanded and the ``@odata.*`` properties."""
    out = {k: v for k, v in record.items() if k not in route.hidden or k in expand}
    for name, expander in route.expand.items():
        if name in expand and name not in out:
            out[name] = expander(data, record)
    if select:
        keep = set(select) | expand | {k for k in out if k.startswith("@odata.")}
        out = {k: v for k, v in out.items() if k in keep}
    return out
