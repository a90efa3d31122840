"""The Graph source: every kind of data from Microsoft Graph through msgraph-sdk."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from kiota_abstractions.base_request_configuration import RequestConfiguration

from ...core.errors import SourceError, TokenRejected, WrongTenant
from ...core.vocabulary import PASSWORD_RULE_TEMPLATE
from ..base import POLICY_ERROR_KIND, FetchStats, Pages, Record, RegistrationParts, RoleData, Source, collect
from .auth import is_guid
from .client import GraphClient, app_budget
from .endpoints import (
    AUDITS,
    AUTH_METHODS_POLICY,
    AUTHORIZATION_POLICY,
    GROUP_MEMBERS,
    GROUP_SETTINGS,
    LEAN_FILTERS,
    ORGANIZATION,
    REGISTRATION,
    REGISTRATION_BY_FEATURE,
    REGISTRATION_BY_METHOD,
    RISK,
    ROLE_ASSIGNMENTS,
    ROLE_DEFINITIONS,
    ROLE_ELIGIBILITY,
    Endpoint,
    audit_filters,
    audit_window,
    graph_time,
    lookup_filters,
    risk_filter,
)
from .sspr_service import Selection, SsprStream

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from kiota_abstractions.request_information import RequestInformation

    from ...core.config import Config


class GraphSource(Source):
    """Microsoft Graph through msgraph-sdk. Create inside the event loop that will use it."""

    name = "graph"

    def __init__(
        self, config: Config, credential: TokenCredential, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.client = GraphClient(config.graph, credential, budget=app_budget(config), tenant_id=config.auth.tenant_id)
        self._tenant_id = config.auth.tenant_id
        self.stats: dict[str, FetchStats] = {}
        self._clock = clock
        #: How far back a probe of the ``loggedByService`` values looks (the audit look-back).
        self.lookback = config.graph.audit_lookback_days
        #: The store's record of how SSPR's events are selected (:meth:`resume`); this fetch's stream.
        self.kept: Selection | None = None
        self.sspr: SsprStream | None = None
        #: The organization record :meth:`tenant` read (its ``onPremisesSyncEnabled`` goes into the policy snapshot).
        self._organization: dict[str, Any] | None = None

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
        from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
            DirectoryAuditsRequestBuilder as B,  # lazy: msgraph-sdk takes about a second to import
        )

        builder = self.client.sdk.audit_logs.directory_audits

        def read(clause: str) -> Pages:
            query = B.DirectoryAuditsRequestBuilderGetQueryParameters(filter=clause, top=999)
            return self._pages(builder, RequestConfiguration(query_parameters=query), AUDITS, "audit")

        async def ask(clause: str) -> bool:
            since = end - timedelta(days=self.lookback)  # the fetch's own end: one clock reading for the whole fetch
            query = B.DirectoryAuditsRequestBuilderGetQueryParameters(
                filter=f"{clause} and activityDateTime ge {graph_time(since)}", top=1
            )
            request = builder.to_get_request_information(RequestConfiguration(query_parameters=query))
            body = await self.client.get_json(request, AUDITS, self._stats("audit"), "audit")
            return bool(body.get("value"))

        window = audit_window(start, end)
        self.sspr = SsprStream(self.kept, lambda clause: read(f"{clause} and {window}"), ask, self.now())
        return [self.sspr.pages(), *(read(f) for f in audit_filters(start, end, sspr=()))]

    def resume(self, kind: str, state: Mapping[str, Any] | None) -> None:
        """The store's record of which ``loggedByService`` value selects SSPR's events (:mod:`.sspr_service`)."""
        if kind == "audit":
            self.kept = Selection.restore(state)

    def state(self, kind: str) -> dict[str, Any] | None:
        """Which ``loggedByService`` value selected SSPR's events in this fetch, for the store to keep."""
        if kind == "audit" and self.sspr is not None and self.sspr.selection is not None:
            return self.sspr.selection.state()
        return None

    def notes(self, kind: str) -> list[str]:
        """How SSPR's events were selected (:meth:`.sspr_service.Selection.describe`)."""
        if kind == "audit" and self.sspr is not None and self.sspr.selection is not None:
            return [f"Microsoft Graph, {self.sspr.selection.describe()}"]
        return []

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        from msgraph.generated.identity_protection.risk_detections.risk_detections_request_builder import (
            RiskDetectionsRequestBuilder as B,  # lazy: msgraph-sdk takes about a second to import
        )

        query = B.RiskDetectionsRequestBuilderGetQueryParameters(filter=risk_filter(since, end), top=500)
        builder = self.client.sdk.identity_protection.risk_detections
        return [self._pages(builder, RequestConfiguration(query_parameters=query), RISK, "risk")]

    def registration(self) -> list[Pages]:
        builder = self.client.sdk.reports.authentication_methods.user_registration_details
        return [self._pages(builder, None, REGISTRATION, "registration")]

    # ---------------------------------------------------------------- lean registration (see ingest.lean)
    def registration_filtered(self, filters: list[str]) -> list[Pages]:
        """The report's rows matching each of ``filters`` (server-side ``$filter``), a stream per filter."""
        from msgraph.generated.reports.authentication_methods.user_registration_details.user_registration_details_request_builder import (  # noqa: E501
            UserRegistrationDetailsRequestBuilder as B,  # lazy: msgraph-sdk takes about a second to import
        )

        builder = self.client.sdk.reports.authentication_methods.user_registration_details
        return [
            self._pages(
                builder,
                RequestConfiguration(
                    query_parameters=B.UserRegistrationDetailsRequestBuilderGetQueryParameters(filter=f)
                ),
                REGISTRATION,
                "registration",
            )
            for f in filters
        ]

    def registration_parts(self) -> RegistrationParts:
        """The report in parts, for a lean snapshot (:class:`GraphRegistrationParts`)."""
        return GraphRegistrationParts(self)

    async def _list(self, builder: Any, config: Any, endpoint: Endpoint, source: str) -> list[Record]:
        return await collect(self._pages(builder, config, endpoint, source))

    async def roles(self) -> RoleData:
        from msgraph.generated.role_management.directory.role_assignments.role_assignments_request_builder import (
            RoleAssignmentsRequestBuilder as A,  # lazy: msgraph-sdk takes about a second to import
        )
        from msgraph.generated.role_management.directory.role_definitions.role_definitions_request_builder import (
            RoleDefinitionsRequestBuilder as D,  # lazy: msgraph-sdk takes about a second to import
        )
        from msgraph.generated.role_management.directory.role_eligibility_schedule_instances.role_eligibility_schedule_instances_request_builder import (  # noqa: E501
            RoleEligibilityScheduleInstancesRequestBuilder as E,  # lazy: msgraph-sdk takes about a second to import
        )

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
            data.errors.append(exc)
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
                data.errors.append(exc)
        return data

    async def policy(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        try:
            settings = await self._list(self.client.sdk.group_settings, None, GROUP_SETTINGS, "policy")
            out["passwordRuleSettings"] = next(
                (s for s in settings if s.get("templateId") == PASSWORD_RULE_TEMPLATE), None
            )
        except SourceError as exc:
            out["passwordRuleSettingsError"] = str(exc)
            out[POLICY_ERROR_KIND] = exc.kind
        request = self.client.sdk.policies.authentication_methods_policy.to_get_request_information()
        out["authenticationMethodsPolicy"] = await self.client.get_json(
            request, AUTH_METHODS_POLICY, self._stats("policy"), "policy"
        )
        try:
            request = self.client.sdk.policies.authorization_policy.to_get_request_information()
            found = await self.client.get_json(request, AUTHORIZATION_POLICY, self._stats("policy"), "policy")
            out["authorizationPolicy"] = {"allowedToUseSSPR": found.get("allowedToUseSSPR")}
        except SourceError as exc:
            out["authorizationPolicyError"] = str(exc)
            if isinstance(exc, TokenRejected):  # a 401 on a part exits 5 (issue 27.2)
                out[POLICY_ERROR_KIND] = exc.kind
        out["organization"] = await self._sync_state()
        return out

    async def _sync_state(self) -> dict[str, Any] | None:
        """The organization's ``onPremisesSyncEnabled`` (from the record :meth:`tenant` read, else read now);
        ``None`` when it cannot be read."""
        if self._organization is None:
            try:
                orgs = await self._list(self.client.sdk.organization, None, ORGANIZATION, "policy")
            except SourceError:
                return None
            self._organization = orgs[0] if orgs else None
        if self._organization is None:
            return None
        return {"onPremisesSyncEnabled": self._organization.get("onPremisesSyncEnabled")}

    async def tenant(self) -> dict[str, Any]:
        """The tenant's id and name; the fetch's first request, so a rejected token stops it here, once
        (:class:`~sspr_review.core.errors.TokenRejected` is an authentication error), before any source is tried.
        A token for another tenant than ``[auth] tenant_id`` is refused before this request is sent, and an
        organization other than it stops the fetch here (:class:`~sspr_review.core.errors.WrongTenant`)."""
        try:
            orgs = await self._list(self.client.sdk.organization, None, ORGANIZATION, "tenant")
        except TokenRejected:
            raise
        except SourceError:
            return {}
        if orgs:
            self._organization = orgs[0]
        found = str(orgs[0].get("id") or "") if orgs else ""
        if found and is_guid(self._tenant_id) and found.lower() != self._tenant_id.lower():
            raise WrongTenant(
                f"Microsoft Graph answered for the organization {found}, not for [auth] tenant_id {self._tenant_id}; "
                "nothing was fetched. Check [graph] base_url and the credential."
            )
        return {"id": orgs[0].get("id"), "name": orgs[0].get("displayName")} if orgs else {}

    async def aclose(self) -> None:
        await self.client.aclose()


class GraphRegistrationParts:
    """The userRegistrationDetails report read in parts through a :class:`GraphSource`, for a lean snapshot."""

    def __init__(self, source: GraphSource) -> None:
        self.source = source

    def in_full(self) -> list[Pages]:
        """The parts of the report a lean snapshot holds in full (:data:`~.endpoints.LEAN_FILTERS`)."""
        return self.source.registration_filtered(list(LEAN_FILTERS.values()))

    def lookup(self, ids: list[str], upns: list[str]) -> list[Pages]:
        """The report's rows of these users (object ids, UPNs), a batch of them per request."""
        return self.source.registration_filtered(lookup_filters(ids, upns))

    async def counts(self) -> dict[str, Any]:
        """``usersRegisteredByFeature`` and ``usersRegisteredByMethod`` (every user type and role: Graph accepts
        no other ``includedUserTypes`` than ``all``), as Graph sent them."""
        source = self.source
        methods = source.client.sdk.reports.authentication_methods
        stats = source.stats.setdefault("registration", FetchStats())
        feature = await source.client.get_json(
            methods.users_registered_by_feature.to_get_request_information(),
            REGISTRATION_BY_FEATURE,
            stats,
            "registration",
        )
        method = await source.client.get_json(
            methods.users_registered_by_method.to_get_request_information(),
            REGISTRATION_BY_METHOD,
            stats,
            "registration",
        )
        return {"usersRegisteredByFeature": feature, "usersRegisteredByMethod": method}
