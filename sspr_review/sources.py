"""Where records come from: Microsoft Graph, the demo tenant, or a folder of Graph JSON files.

All three implement :class:`Source` and hand out records exactly as Graph sends them; everything after
that (normalisation, the store, analyses) is the same code for all of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

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

    def __init__(
        self, config: Config, credential: TokenCredential, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.client = GraphClient(config.graph, credential, budget=app_budget(config))
        self.stats: dict[str, FetchStats] = {}
        self._clock = clock

    def now(self) -> datetime:
        return self._clock() if self._clock is not None else datetime.now(UTC)

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
    if ORGANIZATION_KEYS.intersection(record):
        return "organization"
    for key, kind in KIND_MARKERS.items():
        if key in record:
            return kind
    if "groupsettings" in context.lower():
        return "groupsetting"
    if context.lower().rstrip("/").split("#")[-1].startswith("organization"):
        return "organization"  # GET /organization?$select=id,displayName
    return None


#: Keys only an organization record carries.
ORGANIZATION_KEYS = frozenset(
    {"verifiedDomains", "tenantType", "countryLetterCode", "assignedPlans", "onPremisesSyncEnabled"}
)


FILE_KIND_NAMES = {
    "audit": "directoryAudit",
    "risk": "riskDetection",
    "registration": "userRegistrationDetails",
    "assignment": "role assignment",
    "policy": "groupSetting or authenticationMethodsPolicy",
}


async def _missing(folder: Path, kind: str, given: int = 0) -> Pages:
    from .errors import FetchFailed

    if given:
        raise FetchFailed(
            f"none of the {given} {FILE_KIND_NAMES[kind]} records in {folder} could be read (each is listed with why)",
            source=kind,
        )
    raise FetchFailed(f"the files in {folder} hold no {FILE_KIND_NAMES[kind]} records", source=kind)
    yield []  # pragma: no cover - makes this an async generator


#: Per kind: the property that places a record in time in the store (its absence or an unreadable value is an
#: input error), the one whose span is the kind's window (else the first), and the one that picks which of
#: conflicting copies of one id is kept (the newest; else the last one given).
FILE_TIMES: dict[str, tuple[str, str, str | None]] = {
    "audit": ("activityDateTime", "activityDateTime", None),
    "risk": ("detectedDateTime", "lastUpdatedDateTime", "lastUpdatedDateTime"),
    "registration": ("", "", "lastUpdatedDateTime"),
}


class FilesSource:
    """A folder of Graph JSON as saved from Graph Explorer or ``az rest`` (for air-gapped review).

    Each ``*.json`` file holds one Graph response (``{"value": [...]}``), a bare list of records, or one
    object; ``*.jsonl`` holds one record per line; UTF-8, or UTF-16/32 with a byte-order mark (PowerShell).
    The kind of each record is recognised from its keys.

    Nothing is dropped without a word: every record given is either handed on (and stored) or listed in
    :attr:`report` (``rejected``, with file, item or line, record id, field and reason). That is a file that
    cannot be opened or decoded, JSON that does not parse, an item that is not an object or of no kind the kit
    reads, a record nested too deep, an audit event or risk detection without a readable time, and a
    conflicting copy of a record id (which copy was kept, and why, is said). Identical copies are stored once.

    Each kind's window is the span of its own records (:meth:`windows`); ``now()`` is the newest of them.
    """

    name = "files"

    def __init__(self, folder: str | Path) -> None:
        from . import normalize
        from .exports import read_file

        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise InputError(f"{self.folder} is not a folder of Graph JSON files")
        self.stats: dict[str, FetchStats] = {}
        self.records: dict[str, list[Record]] = {}
        self.where: dict[str, list[str]] = {}
        self.given: dict[str, int] = {}
        self.report = normalize.Report()
        self._times: dict[str, pd.Series] = {}
        files = sorted([*self.folder.rglob("*.json"), *self.folder.rglob("*.jsonl")])
        if not files:
            raise InputError(f"{self.folder} holds no .json or .jsonl files")
        for file in files:
            if file.is_dir():
                continue
            loaded = read_file(file)
            self.report.rejected.extend(loaded.rejected)
            for item, where in loaded.records:
                kind = _kind(item, loaded.context)
                if kind is None:
                    self.report.reject(
                        "not a record the kit reads (directoryAudit, riskDetection, userRegistrationDetails, role"
                        " assignment or definition, groupSetting, authentication methods policy, organization);"
                        f" its keys are {', '.join(sorted(item)[:8])}",
                        where,
                        normalize.safe_text(item),
                    )
                    continue
                self.records.setdefault(kind, []).append(item)
                self.where.setdefault(kind, []).append(where)
        for kind in FILE_TIMES:
            self.given[kind] = len(self.records.get(kind, []))
            self._settle(kind)

    def _settle(self, kind: str) -> None:
        """Set aside records of ``kind`` without a readable time and conflicting copies; note the window times."""
        from . import normalize

        records, where = self.records.get(kind, []), self.where.get(kind, [])
        if not records:
            return
        placed_by, window_by, newest_by = FILE_TIMES[kind]
        keep = np.ones(len(records), dtype=bool)
        if placed_by:
            placed = normalize.parse_times([r.get(placed_by) for r in records])
            for i in np.flatnonzero(placed.isna().to_numpy()):
                rec = records[i]
                self.report.reject(
                    normalize.time_problem(rec.get(placed_by), placed_by),
                    f"{where[i]}{_id_of(rec)}",
                    normalize.safe_text(rec),
                )
                keep[i] = False
        ids = pd.Series([normalize.record_key(r) for r in records], dtype=object)
        repeated = (ids.duplicated(keep=False) & pd.Series(keep)).to_numpy()
        if repeated.any():
            newest = normalize.parse_times([r.get(newest_by) for r in records]) if newest_by else None
            for record_id, group in ids[repeated].groupby(ids[repeated], sort=False):
                indices = [int(i) for i in group.index]
                chosen = self._keep_one(kind, str(record_id), indices, newest)
                keep[indices] = False
                keep[chosen] = True
        self.records[kind] = [r for r, k in zip(records, keep, strict=True) if k]
        self.where[kind] = [w for w, k in zip(where, keep, strict=True) if k]
        if window_by:
            kept = self.records[kind]
            times = normalize.parse_times([r.get(window_by) for r in kept])
            if window_by != placed_by:
                times = times.fillna(normalize.parse_times([r.get(placed_by) for r in kept]))
            self._times[kind] = times

    def _keep_one(self, kind: str, record_id: str, indices: list[int], newest: pd.Series | None) -> int:
        """Which of the copies ``indices`` of one id is kept: the newest by ``newest``, else the last given.

        Conflicting copies set aside are listed in the report with the one kept and why; identical ones counted.
        """
        from . import normalize

        records, where = self.records[kind], self.where[kind]
        chosen, why = indices[-1], "the last one given, as a later export replaces an earlier one"
        if newest is not None:
            stamps = newest.iloc[indices]
            if stamps.notna().any() and stamps.nunique() > 1:
                top = stamps.max()
                chosen = max(i for i, stamp in zip(indices, stamps, strict=True) if stamp == top)
                why = f"the newest {FILE_TIMES[kind][2]}"
        text = normalize.raw_json(_sorted(records[chosen]))
        for i in indices:
            if i == chosen:
                continue
            if normalize.raw_json(_sorted(records[i])) == text:
                self.report.identical_copies += 1
                continue
            self.report.reject(
                f"id {record_id!r} is given {len(indices)} times with different content; kept the copy in"
                f" {where[chosen]} ({why})",
                where[i],
                normalize.safe_text(records[i]),
                unreadable=False,
            )
        return chosen

    def windows(self) -> dict[str, tuple[datetime, datetime]]:
        """Per time-ranged kind, the span of its own records' times (the second is exclusive)."""
        out = {}
        for kind, times in self._times.items():
            readable = times.dropna()
            if len(readable):
                out[kind] = (
                    readable.min().floor("s").to_pydatetime(),
                    readable.max().floor("s").to_pydatetime() + timedelta(seconds=1),
                )
        return out

    def now(self) -> datetime:
        ends = [end for _, end in self.windows().values()]
        return max(ends) if ends else datetime.now(UTC)

    def window(self) -> tuple[datetime, datetime] | None:
        """The span of the audit records' times (see :meth:`windows` for every kind)."""
        return self.windows().get("audit")

    async def tenant(self) -> dict[str, Any]:
        orgs = self.records.get("organization", [])
        return {"id": orgs[0].get("id"), "name": orgs[0].get("displayName")} if orgs else {}

    def _filtered(self, kind: str, start: datetime, end: datetime) -> list[Pages]:
        if not self.has(kind):
            return [_missing(self.folder, kind, self.given.get(kind, 0))]
        times = self._times[kind]
        inside = ((times >= pd.Timestamp(start)) & (times <= pd.Timestamp(end))).to_numpy()
        records = self.records[kind]
        return [_one_page([r for r, ok in zip(records, inside, strict=True) if ok], len(records) or 1)]

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        return self._filtered("audit", start, end)

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        return self._filtered("risk", since, end)

    def registration(self) -> list[Pages]:
        if not self.has("registration"):
            return [_missing(self.folder, "registration", self.given.get("registration", 0))]
        return [_one_page(self.records["registration"], len(self.records["registration"]))]

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


def _id_of(record: Mapping[str, Any]) -> str:
    return f" (id {record['id']!r})" if isinstance(record.get("id"), str) and record["id"] else ""


def _sorted(value: Any) -> Any:
    """``value`` with object keys in order, to compare two copies of a record by content."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def chain(*lists: Iterable[Pages]) -> list[Pages]:
    return [p for group in lists for p in group]
