"""Directory roles: role definitions, active assignments and PIM eligibility instances (``$expand`` of
``principal`` and ``roleDefinition``), and the transitive members of the groups they are assigned to (all of them,
or the users only through the ``microsoft.graph.user`` cast), pages of up to 999; ``/groups`` lists those groups
(what ``sspr-review doctor`` asks to check GroupMember.Read.All)."""

from __future__ import annotations

from typing import Any

from .collection import listing
from .data import GraphData, Record
from .endpoint import Expander, Route
from .responses import GraphError


def _role_definition(data: GraphData, record: Record) -> Record | None:
    rid = record.get("roleDefinitionId")
    return next((d for d in data.role_definitions if d.get("id") == rid), None)


def _principal(data: GraphData, record: Record) -> Record | None:
    principal_id: Any = record.get("principalId")
    for assignment in (*data.role_assignments, *data.role_eligibility_schedule_instances):
        principal = assignment.get("principal")
        if isinstance(principal, dict) and principal.get("id") == principal_id:
            return principal
    for members in data.group_members.values():
        for member in members:
            if member.get("id") == principal_id:
                return member
    return None


def _members(data: GraphData, group_id: str) -> list[Record]:
    members = data.group_members.get(group_id)
    if members is None:
        raise GraphError(
            404,
            "Request_ResourceNotFound",
            f"Resource '{group_id}' does not exist or one of its queried reference-property objects are not present.",
        )
    return list(members)


def _groups(data: GraphData, _: str) -> list[Record]:
    """The groups the tenant's roles are assigned to (the directory's other groups play no part here)."""
    out: dict[str, Record] = {}
    for assignment in (*data.role_assignments, *data.role_eligibility_schedule_instances):
        principal = assignment.get("principal")
        if isinstance(principal, dict) and str(principal.get("@odata.type", "")).lower() == "#microsoft.graph.group":
            out.setdefault(str(principal.get("id")), {k: v for k, v in principal.items() if k != "@odata.type"})
    return list(out.values())


def _user_members(data: GraphData, group_id: str) -> list[Record]:
    return [
        m
        for m in _members(data, group_id)
        if str(m.get("@odata.type", "#microsoft.graph.user")).lower() == "#microsoft.graph.user"
    ]


#: Each role assignment and eligibility instance is held with ``principal`` already expanded; it is dropped from
#: answers unless asked for with ``$expand``.
_EXPAND: dict[str, Expander] = {"roleDefinition": _role_definition, "principal": _principal}

ROUTES = (
    Route(
        "/roleManagement/directory/roleDefinitions",
        ("GET",),
        "roleManagement/directory/roleDefinitions",
        listing(lambda data, _: data.role_definitions),
    ),
    Route(
        "/roleManagement/directory/roleAssignments",
        ("GET",),
        "roleManagement/directory/roleAssignments",
        listing(lambda data, _: data.role_assignments),
        expand=_EXPAND,
        hidden=frozenset(_EXPAND),
    ),
    Route(
        "/roleManagement/directory/roleEligibilityScheduleInstances",
        ("GET",),
        "roleManagement/directory/roleEligibilityScheduleInstances",
        listing(lambda data, _: data.role_eligibility_schedule_instances),
        expand=_EXPAND,
        hidden=frozenset(_EXPAND),
    ),
    Route("/groups", ("GET",), "groups", listing(_groups), page_size=(100, 999), top=True),
    Route(
        "/groups/{id}/transitiveMembers/microsoft.graph.user",
        ("GET",),
        "users",
        listing(_user_members),
        page_size=(100, 999),
        top=True,
    ),
    Route(
        "/groups/{id}/transitiveMembers",
        ("GET",),
        "directoryObjects",
        listing(_members),
        page_size=(100, 999),
        top=True,
    ),
)
