"""The demo source: the built-in demo tenant, as it looks at a moment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ...core.timefmt import parse_iso
from ...core.vocabulary import PASSWORD_RULE_TEMPLATE
from ..base import FetchStats, Pages, RoleData, one_page

if TYPE_CHECKING:
    from .tenant import DemoTenant


class DemoSource:
    """The built-in demo tenant, as it looks at ``as_of`` (default: the tenant's end)."""

    name = "demo"

    def __init__(self, tenant: DemoTenant, as_of: datetime | None = None) -> None:
        self.tenant_data = tenant
        self.as_of = as_of or tenant.end
        self.stats: dict[str, FetchStats] = {}

    def now(self) -> datetime:
        return self.as_of

    async def tenant(self) -> dict[str, Any]:
        org = self.tenant_data.organization()[0]
        return {"id": org["id"], "name": org["displayName"], "demo": True}

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        return [one_page(self.tenant_data.directory_audits(start, min(end, self.as_of)))]

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        """The detections Graph's ``lastUpdatedDateTime ge {since} and le {end}`` filter returns: the bounds are
        whole-second literals (:func:`~sspr_review.sources.graph.endpoints.graph_time`), compared as times."""
        lo, hi = (_whole_second(m) for m in (since, end))
        records = [r for r in self.tenant_data.risk_detections(self.as_of) if lo <= _updated(r) <= hi]
        return [one_page(records)]

    def registration(self) -> list[Pages]:
        return [one_page(self.tenant_data.user_registration_details(self.as_of))]

    async def roles(self) -> RoleData:
        t = self.tenant_data
        assignments = t.role_assignments()
        groups = {
            str(a["principal"]["id"])
            for a in assignments
            if str(a.get("principal", {}).get("@odata.type", "")).endswith(".group")
        }
        return RoleData(
            t.role_definitions(),
            assignments,
            t.role_eligibility_schedule_instances(),
            {g: t.group_members(g) for g in sorted(groups)},
        )

    async def policy(self) -> dict[str, Any]:
        settings = self.tenant_data.group_settings()
        return {
            "passwordRuleSettings": next((s for s in settings if s.get("templateId") == PASSWORD_RULE_TEMPLATE), None),
            "authenticationMethodsPolicy": self.tenant_data.authentication_methods_policy(),
        }

    def windows(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def _whole_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _updated(record: dict[str, Any]) -> datetime:
    """When a detection was last updated (a demo record always says; one that does not sorts before any window)."""
    value = record.get("lastUpdatedDateTime")
    return parse_iso(value) if isinstance(value, str) and value else datetime.min.replace(tzinfo=UTC)
