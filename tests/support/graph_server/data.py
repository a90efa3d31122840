"""What the server answers from: :class:`GraphData`, the records as Graph JSON dicts, set by a test or taken whole
from a demo tenant (:meth:`GraphData.from_demo`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

Record = dict[str, Any]


class DemoSource(Protocol):
    """What :meth:`GraphData.from_demo` needs from a demo tenant (``sspr_review.demo.DemoTenant``)."""

    @property
    def end(self) -> datetime: ...

    def directory_audits(self, start: datetime | None = None, end: datetime | None = None) -> list[Record]: ...
    def risk_detections(self, as_of: datetime) -> list[Record]: ...
    def user_registration_details(self, as_of: datetime) -> list[Record]: ...
    def role_definitions(self) -> list[Record]: ...
    def role_assignments(self) -> list[Record]: ...
    def role_eligibility_schedule_instances(self) -> list[Record]: ...
    def group_members(self, group_id: str) -> list[Record]: ...
    def group_settings(self) -> list[Record]: ...
    def authentication_methods_policy(self) -> Record | None: ...
    def authorization_policy(self) -> Record | None: ...
    def organization(self) -> Any: ...


@dataclass
class GraphData:
    """The records the server answers with, as Graph JSON dicts. Tests may change the lists between requests;
    a listing that is already being paged keeps its snapshot."""

    directory_audits: list[Record] = field(default_factory=list)
    risk_detections: list[Record] = field(default_factory=list)
    user_registration_details: list[Record] = field(default_factory=list)
    role_definitions: list[Record] = field(default_factory=list)
    #: Each with ``principal`` already expanded; dropped from responses unless ``$expand=principal``.
    role_assignments: list[Record] = field(default_factory=list)
    role_eligibility_schedule_instances: list[Record] = field(default_factory=list)
    #: group id → its transitive user members.
    group_members: dict[str, list[Record]] = field(default_factory=dict)
    group_settings: list[Record] = field(default_factory=list)
    authentication_methods_policy: Record | None = None
    authorization_policy: Record | None = None
    organization: list[Record] = field(default_factory=list)
    #: Every accepted ``POST /users/{id}/sendMail``: the request JSON plus ``"userId"`` (the path's user).
    sent_mail: list[Record] = field(default_factory=list)

    @classmethod
    def from_demo(cls, tenant: DemoSource, as_of: datetime | None = None) -> GraphData:
        """Everything a demo tenant holds, as Graph would show it at ``as_of`` (default: ``tenant.end``)."""
        when = tenant.end if as_of is None else as_of
        assignments = list(tenant.role_assignments())
        eligible = list(tenant.role_eligibility_schedule_instances())
        group_ids: list[str] = []
        for record in (*assignments, *eligible):
            principal = record.get("principal")
            if isinstance(principal, dict) and _is_group(principal):
                gid = principal.get("id") or record.get("principalId")
                if isinstance(gid, str) and gid not in group_ids:
                    group_ids.append(gid)
        organization = tenant.organization()
        if isinstance(organization, dict):
            organization = [organization]
        return cls(
            directory_audits=list(tenant.directory_audits()),
            risk_detections=list(tenant.risk_detections(when)),
            user_registration_details=list(tenant.user_registration_details(when)),
            role_definitions=list(tenant.role_definitions()),
            role_assignments=assignments,
            role_eligibility_schedule_instances=eligible,
            group_members={gid: list(tenant.group_members(gid)) for gid in group_ids},
            group_settings=list(tenant.group_settings()),
            authentication_methods_policy=tenant.authentication_methods_policy(),
            authorization_policy=tenant.authorization_policy(),
            organization=list(organization or []),
        )


def _is_group(principal: Mapping[str, Any]) -> bool:
    return str(principal.get("@odata.type", "")).lower() == "#microsoft.graph.group"
