"""The demo source: the built-in demo tenant, as it looks at a moment, and the tenant built from ``[demo]``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ...core.config import Config, DemoSettings
from ...core.timefmt import parse_iso
from ...core.vocabulary import PASSWORD_RULE_TEMPLATE
from ...core.weeks import last_monday
from ..base import FetchStats, Pages, RoleData, Source, one_page
from .tenant import DemoTenant


def demo_end(config: Config, now: datetime) -> datetime:
    """Where the demo tenant's history ends: the most recent review-week end (Monday 00:00 in ``[review]
    timezone``) at ``now``."""
    return last_monday(config.review.timezone, now)


@functools.lru_cache(maxsize=1)
def _tenant(users: int, weeks: int, seed: int, end: datetime, name: str) -> DemoTenant:
    return DemoTenant(users=users, weeks=weeks, seed=seed, end=end, name=name)


def demo_tenant(settings: DemoSettings, end: datetime) -> DemoTenant:
    """The demo tenant of ``[demo]`` ending at ``end``; the last one built is kept, since a demo history is built
    by one fetch per week of the same tenant."""
    return _tenant(settings.users, settings.weeks, settings.seed, end, settings.name)


def open_demo(
    config: Config, clock: Callable[[], datetime], *, end: datetime | None = None, as_of: datetime | None = None
) -> DemoSource:
    """The demo source of ``[demo]``: the tenant ending at ``end`` (default: :func:`demo_end` of the clock), as
    it looks at ``as_of`` (default: the clock)."""
    now = clock()
    return DemoSource(demo_tenant(config.demo, end or demo_end(config, now)), as_of or now)


class DemoSource(Source):
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
        org = self.tenant_data.organization()[0]
        return {
            "passwordRuleSettings": next((s for s in settings if s.get("templateId") == PASSWORD_RULE_TEMPLATE), None),
            "authenticationMethodsPolicy": self.tenant_data.authentication_methods_policy(),
            "authorizationPolicy": {"allowedToUseSSPR": self.tenant_data.authorization_policy()["allowedToUseSSPR"]},
            "organization": {"onPremisesSyncEnabled": org.get("onPremisesSyncEnabled")},
        }


def _whole_second(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


def _updated(record: dict[str, Any]) -> datetime:
    """When a detection was last updated (a demo record always says; one that does not sorts before any window)."""
    value = record.get("lastUpdatedDateTime")
    return parse_iso(value) if isinstance(value, str) and value else datetime.min.replace(tzinfo=UTC)
