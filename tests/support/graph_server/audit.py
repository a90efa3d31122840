"""``/auditLogs/directoryAudits``: the "reports" bucket, ``$top`` up to 999, ordered by ``activityDateTime`` only
(newest first by default) and filtered only as Microsoft documents (:data:`DIRECTORY_AUDIT_FILTERS`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from .collection import listing
from .data import Record
from .endpoint import Route

if TYPE_CHECKING:
    from .server import GraphServer

#: directoryAudits properties Microsoft documents as filterable, with their operators. ``any`` marks a
#: lambda over a collection (``targetResources/any(t: t/id eq '...')``).
DIRECTORY_AUDIT_FILTERS: Mapping[str, frozenset[str]] = {
    "activityDateTime": frozenset({"eq", "ge", "gt", "le", "lt"}),
    "activityDisplayName": frozenset({"eq", "startswith"}),
    "loggedByService": frozenset({"eq"}),
    "correlationId": frozenset({"eq"}),
    "id": frozenset({"eq"}),
    "initiatedBy/user/id": frozenset({"eq"}),
    "initiatedBy/user/displayName": frozenset({"eq"}),
    "initiatedBy/user/userPrincipalName": frozenset({"eq", "startswith"}),
    "initiatedBy/app/appId": frozenset({"eq"}),
    "initiatedBy/app/displayName": frozenset({"eq"}),
    "targetResources/any/id": frozenset({"eq"}),
    "targetResources/any/displayName": frozenset({"eq", "startswith"}),
}


def _service_views(server: GraphServer, record: Record) -> list[Record]:
    """The record as ``$filter`` sees it: under each ``loggedByService`` value the server matches for the value it
    carries (:attr:`GraphServer.logged_by_service`; by default the value itself)."""
    carried = record.get("loggedByService")
    names = server.logged_by_service.get(str(carried)) if carried is not None else None
    if names is None:
        return [record]
    return [{**record, "loggedByService": name} for name in names]


ROUTES = (
    Route(
        "/auditLogs/directoryAudits",
        ("GET",),
        "auditLogs/directoryAudits",
        listing(lambda data, _: data.directory_audits),
        bucket="reports",
        page_size=(100, 999),
        top=True,
        orderable=frozenset({"activityDateTime"}),
        default_order=(("activityDateTime", True),),
        strict_filters=DIRECTORY_AUDIT_FILTERS,
        filter_views=_service_views,
    ),
)
