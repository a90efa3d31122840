"""The OData query options of a collection: ``$top``, ``$select``, ``$expand``, ``$orderby`` and the opaque
``$skiptoken``, each checked as Graph checks it (a 400 naming what is wrong)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from typing import Any

from .data import Record
from .endpoint import Route
from .odata_filter import datetime_ns
from .responses import bad_request


def top(value: str, max_size: int) -> int:
    try:
        size = int(value)
    except ValueError:
        raise bad_request(f"Invalid value '{value}' for query option '$top'.") from None
    if size < 1 or (max_size and size > max_size):
        raise bad_request(f"Invalid page size specified: '{size}'. Must be between 1 and {max_size} inclusive.")
    return size


def select(options: Mapping[str, str]) -> tuple[str, ...]:
    if "select" not in options:
        return ()
    names = tuple(part.strip() for part in options["select"].split(","))
    for name in names:
        if not re.fullmatch(r"[A-Za-z_@][\w.@]*", name):
            raise bad_request(f"Invalid $select: '{name}'. Only top-level property names are supported.")
    return names


def expand(route: Route, options: Mapping[str, str]) -> frozenset[str]:
    if "expand" not in options:
        return frozenset()
    names = [part.strip() for part in options["expand"].split(",")]
    by_lower = {name.lower(): name for name in route.expand}
    out: set[str] = set()
    for name in names:
        if name.lower() not in by_lower:
            raise bad_request(f"Could not find a navigation property named '{name}' to expand.")
        out.add(by_lower[name.lower()])
    return frozenset(out)


def orderby(route: Route, options: Mapping[str, str]) -> tuple[tuple[str, bool], ...]:
    if "orderby" not in options:
        return route.default_order
    order: list[tuple[str, bool]] = []
    for clause in options["orderby"].split(","):
        parts = clause.split()
        if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
            raise bad_request(f"Invalid $orderby clause: '{clause.strip()}'.")
        prop = parts[0]
        if not re.fullmatch(r"[A-Za-z_][\w]*(?:/[A-Za-z_][\w]*)*", prop):
            raise bad_request(f"Invalid $orderby property: '{prop}'.")
        if route.orderable is not None and prop not in route.orderable:
            raise bad_request(f"Ordering by '{prop}' is not supported.")
        order.append((prop, len(parts) == 2 and parts[1].lower() == "desc"))
    return tuple(order)


def sort_key(prop: str, record: Record) -> tuple[int, Any]:
    """Graph's order of a property's values: missing first, then numbers, timestamps (as instants), text, others."""
    value: Any = record
    for segment in prop.split("/"):
        value = value.get(segment) if isinstance(value, dict) else None
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        ns = datetime_ns(value) if prop.endswith("DateTime") else None
        return (2, ns) if ns is not None else (3, value)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (4, json.dumps(value, sort_keys=True))


def make_skiptoken(snapshot: int, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{snapshot}:{offset}".encode()).decode().rstrip("=")


def skiptoken(token: str) -> tuple[int, int]:
    """The (snapshot, offset) a ``$skiptoken`` made by :func:`make_skiptoken` holds; anything else is a 400."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        snapshot, offset = text.split(":")
        result = int(snapshot), int(offset)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise bad_request("Invalid $skiptoken.") from None
    if result[1] < 0:
        raise bad_request("Invalid $skiptoken.")
    return result
