"""Where records come from: Microsoft Graph, the demo tenant, or a folder of Graph JSON files.

All three implement :class:`Source` and hand out records exactly as Graph sends them; everything after
that (normalisation, the store, analyses) is the same code for all of them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import InputError
from .graph import Endpoint, FetchStats, GraphClient, app_budget

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from kiota_abstractions.request_information import RequestInformation

    from .config import Config
    from .demo import DemoTenant

Record = dict[str, Any]
Pages = AsyncIterator[list[Record]]

SSPR = "Self-service Password Management"
PASSWORD_RULE_TEMPLATE = "5cf42378-d67d-4f36-ba46-e8b86229381d"

# Endpoints: permission and licence named in errors. Buckets pick the rate limiter.
AUDITS = Endpoint("auditLogs/directoryAudits", "reports", "AuditLog.Read.All")
RISK = Endpoint(
    "identityProtection/riskDetections",
    "identity_protection",
    "IdentityRiskEvent.Read.All",
    "Microsoft Entra ID P2",
)
REGISTRATION = Endpoint(
    "reports/authenticationMethods/userRegistrationDetails",
    "reports",
    "AuditLog.Read.All",
    "Microsoft Entra ID P1 or P2",
)
ROLE_DEFINITIONS = Endpoint("roleManagement/directory/roleDefinitions", "directory", "RoleManagement.Read.Directory")
ROLE_ASSIGNMENTS = Endpoint("roleManagement/directory/roleAssignments", "directory", "RoleManagement.Read.Directory")
ROLE_ELIGIBILITY = Endpoint(
    "roleManagement/directory/roleEligibilityScheduleInstances",
    "directory",
    "RoleEligibilitySchedule.Read.Directory",
    "Microsoft Entra ID P2 (Privileged Identity Management)",
)
GROUP_MEMBERS = Endpoint("groups/{id}/transitiveMembers", "directory", "GroupMember.Read.All")
GROUP_SETTINGS = Endpoint("groupSettings", "directory", "Directory.Read.All")
AUTH_METHODS_POLICY = Endpoint("policies/authenticationMethodsPolicy", "directory", "Policy.Read.AuthenticationMethod")
ORGANIZATION = Endpoint("organization", "directory", "Organization.Read.All")


def graph_time(moment: datetime) -> str:
    """An unquoted OData datetime literal, UTC, whole seconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def audit_filters(start: datetime, end: datetime) -> list[str]:
    """The server-side ``$filter`` of each directoryAudits query for ``[start, end]``."""
    window = f"activityDateTime ge {graph_time(start)} and activityDateTime le {graph_time(end)}"
    return [
        f"loggedByService eq '{SSPR}' and {window}",
        f"loggedByService eq 'Core Directory' and activityDisplayName eq 'Reset user password' and {window}",
        f"loggedByService eq 'Core Directory' and startswith(activityDisplayName, 'Reset password') and {window}",
        f"loggedByService eq 'Authentication Methods' and {window}",
    ]


def risk_filter(since: datetime, end: datetime) -> str:
    return f"lastUpdatedDateTime ge {graph_time(since)} and lastUpdatedDateTime le {graph_time(end)}"


@dataclass
class RoleData:
    """Everything needed to list privileged principals. ``notes`` says what could not be read."""

    definitions: list[Record] = field(default_factory=list)
    assignments: list[Record] = field(default_factory=list)
    eligibility: list[Record] = field(default_factory=list)
    group_members: dict[str, list[Record]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Source(Protocol):
    """One interface, three implementations: :class:`GraphSource`, :class:`DemoSource`, :class:`FilesSource`."""

    name: str
    stats: dict[str, FetchStats]

    def now(self) -> datetime: ...
    async def tenant(self) -> dict[str, Any]: ...
    def audit(self, start: datetime, end: datetime) -> list[Pages]: ...
    def risk(self, since: datetime, end: datetime) -> list[Pages]: ...
    def registration(self) -> list[Pages]: ...
    async def roles(self) -> RoleData: ...
    async def policy(self) -> dict[str, Any]: ...
    async def aclose(self) -> None: ...


async def collect(pages: Pages) -> list[Record]:
    out: list[Record] = []
    async for page in pages:
        out.extend(page)
    return out


# --------------------------------------------------------------------------------------------- Graph
class GraphSource:
    """Microsoft Graph through msgraph-sdk. Create inside the event loop that will use it."""

    name = "graph"

    def __init__(self, config: Config, credential: TokenCredential) -> None:
        self.client = GraphClient(config.graph, credential, budget=app_budget(config))
        self.stats: dict[str, FetchStats] = {}

    def now(self) -> datetime:
        return datetime.now(UTC)

    def _stats(self, source: str) -> FetchStats:
        return self.stats.setdefault(source, FetchStats())

    def _pages(self, builder: Any, config: Any, endpoint: Endpoint, source: str) -> Pages:
        request: RequestInformation = builder.to_get_request_information(config)
        return self.client.pages(
            request,
            endpoint,
            self._stats(source),
            source,
            lambda link: builder.with_url(link).to_get_request_information(),
        )

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
            DirectoryAuditsRequestBuilder as B,
        )

        builder = self.client.sdk.audit_logs.directory_audits
        return [
            self._pages(
                builder,
                RequestConfiguration(
                    query_parameters=B.DirectoryAuditsRequestBuilderGetQueryParameters(filter=f, top=999)
                ),
                AUDITS,
                "audit",
            )
            for f in audit_filters(start, end)
        ]

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.identity_protection.risk_detections.risk_detections_request_builder import (
            RiskDetectionsRequestBuilder as B,
        )

        query = B.RiskDetectionsRequestBuilderGetQueryParameters(filter=risk_filter(since, end), top=500)
        builder = self.client.sdk.identity_protection.risk_detections
        return [self._pages(builder, RequestConfiguration(query_parameters=query), RISK, "risk")]

    def registration(self) -> list[Pages]:
        builder = self.client.sdk.reports.authentication_methods.user_registration_details
        return [self._pages(builder, None, REGISTRATION, "registration")]

    async def _list(self, builder: Any, config: Any, endpoint: Endpoint, source: str) -> list[Record]:
        return await collect(self._pages(builder, config, endpoint, source))

    async def roles(self) -> RoleData:
        from kiota_abstractions.base_request_configuration import RequestConfiguration
        from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (
            RoleAssignmentsRequestBuilder as A,
        )
        from msgraph.generated.role_management.directory.role_definitions.role_definitions_request_builder import (
            RoleDefinitionsRequestBuilder as D,
        )
        from msgraph.generated.role_management.directory.role_eligibility_schedule_instances.role_eligibility_schedule_instances_request_builder import (  # noqa: E501
            RoleEligibilityScheduleInstancesRequestBuilder as E,
        )

        from .errors import SourceError

        directory = self.client.sdk.role_management.directory
        data = RoleData()
        data.definitions = await self._list(
            directory.role_definitions,
            RequestConfiguration(
                query_parameters=D.RoleDefinitionsRequestBuilderGetQueryParameters(
                    select=["id", "displayName", "templateId", "isBuiltIn"]
                )
            ),
            ROLE_DEFINITIONS,
            "roles",
        )
        data.assignments = await self._list(
            directory.role_assignments,
            RequestConfiguration(
                query_parameters=A.RoleAssignmentsRequestBuilderGetQueryParameters(expand=["principal"])
            ),
            ROLE_ASSIGNMENTS,
            "roles",
        )
        try:
            data.eligibility = await self._list(
                directory.role_eligibility_schedule_instances,
                RequestConfiguration(
                    query_parameters=E.RoleEligibilityScheduleInstancesRequestBuilderGetQueryParameters(
                        expand=["principal"]
                    )
                ),
                ROLE_ELIGIBILITY,
                "roles",
            )
        except SourceError as exc:
            data.notes.append(f"PIM-eligible administrators are not included: {exc}")
        groups = {
            str(a.get("principalId") or a["principal"].get("id"))
            for a in [*data.assignments, *data.eligibility]
            if str((a.get("principal") or {}).get("@odata.type", "")).endswith(".group")
        }
        for group in sorted(groups):
            builder = self.client.sdk.groups.by_group_id(group).transitive_members.graph_user
            try:
                data.group_members[group] = await self._list(builder, None, GROUP_MEMBERS, "roles")
            except SourceError as exc:
                data.notes.append(f"members of role group {group} are not included: {exc}")
        return data

    async def policy(self) -> dict[str, Any]:
        from .errors import SourceError

        out: dict[str, Any] = {}
        try:
            settings = await self._list(self.client.sdk.group_settings, None, GROUP_SETTINGS, "policy")
            out["passwordRuleSettings"] = next(
                (s for s in settings if s.get("templateId") == PASSWORD_RULE_TEMPLATE), None
            )
        except SourceError as exc:
            out["passwordRuleSettingsError"] = str(exc)
        request = self.client.sdk.policies.authentication_methods_policy.to_get_request_information()
        out["authenticationMethodsPolicy"] = await self.client.get_json(
            request, AUTH_METHODS_POLICY, self._stats("policy"), "policy"
        )
        return out

    async def tenant(self) -> dict[str, Any]:
        """The tenant's id and name; the fetch's first request, so a rejected token stops it here, once
        (:class:`~sspr_review.errors.TokenRejected` is an authentication error), before any source is tried."""
        from .errors import SourceError, TokenRejected

        try:
            orgs = await self._list(self.client.sdk.organization, None, ORGANIZATION, "tenant")
        except TokenRejected:
            raise
        except SourceError:
            return {}
        return {"id": orgs[0].get("id"), "name": orgs[0].get("displayName")} if orgs else {}

    async def aclose(self) -> None:
        await self.client.aclose()


# ---------------------------------------------------------------------------------------------- demo
async def _one_page(records: list[Record], page_size: int = 5000) -> Pages:
    for i in range(0, max(len(records), 1), page_size):
        yield records[i : i + page_size]


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
        return [_one_page(self.tenant_data.directory_audits(start, min(end, self.as_of)))]

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        lo, hi = graph_time(since), graph_time(end)
        records = [
            r
            for r in self.tenant_data.risk_detections(self.as_of)
            if lo <= str(r.get("lastUpdatedDateTime", ""))[:19] + "Z" <= hi
        ]
        return [_one_page(records)]

    def registration(self) -> list[Pages]:
        return [_one_page(self.tenant_data.user_registration_details(self.as_of))]

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

    async def aclose(self) -> None:
        return None


# --------------------------------------------------------------------------------------------- files
#: How a record's kind is recognised: a key only that kind carries.
KIND_MARKERS: dict[str, str] = {
    "activityDisplayName": "audit",
    "riskEventType": "risk",
    "isSsprRegistered": "registration",
    "roleDefinitionId": "assignment",
    "rolePermissions": "definition",
    "templateId": "definition",
}


def _kind(record: Mapping[str, Any], context: str) -> str | None:
    if "roleDefinitionId" in record:
        return "eligibility" if "memberType" in record and "principal" not in record else "assignment"
    if "authenticationMethodConfigurations" in record:
        return "authmethods"
    if "values" in record and "templateId" in record:
        return "groupsetting"
    if "verifiedDomains" in record:
        return "organization"
    for key, kind in KIND_MARKERS.items():
        if key in record:
            return kind
    if "groupsettings" in context.lower():
        return "groupsetting"
    return None


FILE_KIND_NAMES = {
    "audit": "directoryAudit",
    "risk": "riskDetection",
    "registration": "userRegistrationDetails",
    "assignment": "role assignment",
    "policy": "groupSetting or authenticationMethodsPolicy",
}


async def _missing(folder: Path, kind: str) -> Pages:
    from .errors import FetchFailed

    raise FetchFailed(f"the files in {folder} hold no {FILE_KIND_NAMES[kind]} records", source=kind)
    yield []  # pragma: no cover - makes this an async generator


class FilesSource:
    """A folder of Graph JSON as saved from Graph Explorer or ``az rest`` (for air-gapped review).

    Each ``*.json`` file holds one Graph response (``{"value": [...]}``), a bare list of records, or one
    object; ``*.jsonl`` holds one record per line. The kind of each record is recognised from its keys; a
    file with records of no known kind is an error naming the file. ``now()`` is the newest record time.
    """

    name = "files"

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise InputError(f"{self.folder} is not a folder of Graph JSON files")
        self.stats: dict[str, FetchStats] = {}
        self.records: dict[str, list[Record]] = {}
        files = sorted([*self.folder.rglob("*.json"), *self.folder.rglob("*.jsonl")])
        if not files:
            raise InputError(f"{self.folder} holds no .json or .jsonl files")
        for file in files:
            self._load(file)

    def _load(self, file: Path) -> None:
        try:
            text = file.read_text(encoding="utf-8-sig")
            items: Any = (
                [json.loads(line) for line in text.splitlines() if line.strip()]
                if file.suffix == ".jsonl"
                else json.loads(text)
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{file}: not valid JSON ({exc})") from None
        context = ""
        if isinstance(items, dict):
            context = str(items.get("@odata.context", ""))
            items = items["value"] if isinstance(items.get("value"), list) else [items]
        if not isinstance(items, list):
            raise InputError(f"{file}: expected a Graph response, a list or an object, got {type(items).__name__}")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise InputError(f"{file}: item {index} is not a JSON object")
            kind = _kind(item, context)
            if kind is None:
                raise InputError(
                    f"{file}: item {index} is not a record the kit reads (directoryAudit, riskDetection, "
                    "userRegistrationDetails, role assignment or definition, groupSetting, authentication "
                    f"methods policy, organization); its keys are {', '.join(sorted(item)[:8])}"
                )
            self.records.setdefault(kind, []).append(item)

    def _times(self, kind: str, key: str) -> list[str]:
        return [str(r[key]) for r in self.records.get(kind, []) if r.get(key)]

    def now(self) -> datetime:
        times = self._times("audit", "activityDateTime") + self._times("risk", "lastUpdatedDateTime")
        if not times:
            return datetime.now(UTC)
        return datetime.fromisoformat(max(times).replace("Z", "+00:00")[:26].rstrip("+")).replace(
            tzinfo=UTC
        ) + timedelta(seconds=1)

    def window(self) -> tuple[datetime, datetime] | None:
        """The span of audit record times in the files."""
        times = sorted(self._times("audit", "activityDateTime"))
        if not times:
            return None
        parse: Callable[[str], datetime] = lambda t: datetime.fromisoformat(t[:19]).replace(tzinfo=UTC)  # noqa: E731
        return parse(times[0]), parse(times[-1]) + timedelta(seconds=1)

    async def tenant(self) -> dict[str, Any]:
        orgs = self.records.get("organization", [])
        return {"id": orgs[0].get("id"), "name": orgs[0].get("displayName")} if orgs else {}

    def _filtered(self, kind: str, key: str, start: datetime, end: datetime) -> list[Pages]:
        if not self.has(kind):
            return [_missing(self.folder, kind)]
        lo, hi = graph_time(start), graph_time(end)
        return [_one_page([r for r in self.records.get(kind, []) if lo <= str(r.get(key, ""))[:19] + "Z" <= hi])]

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        return self._filtered("audit", "activityDateTime", start, end)

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        return self._filtered("risk", "lastUpdatedDateTime", since, end)

    def registration(self) -> list[Pages]:
        if not self.has("registration"):
            return [_missing(self.folder, "registration")]
        return [_one_page(self.records["registration"])]

    def has(self, kind: str) -> bool:
        return bool(self.records.get(kind))

    async def roles(self) -> RoleData:
        if not self.has("assignment"):
            async for _ in _missing(self.folder, "assignment"):
                pass
        return RoleData(
            self.records.get("definition", []),
            self.records.get("assignment", []),
            self.records.get("eligibility", []),
        )

    async def policy(self) -> dict[str, Any]:
        settings = self.records.get("groupsetting", [])
        methods = self.records.get("authmethods", [])
        if not settings and not methods:
            async for _ in _missing(self.folder, "policy"):
                pass
        return {
            "passwordRuleSettings": next((s for s in settings if s.get("templateId") == PASSWORD_RULE_TEMPLATE), None),
            "authenticationMethodsPolicy": methods[0] if methods else None,
        }

    async def aclose(self) -> None:
        return None


def chain(*lists: Iterable[Pages]) -> list[Pages]:
    return [p for group in lists for p in group]
