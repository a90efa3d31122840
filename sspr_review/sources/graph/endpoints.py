"""The Graph endpoints the kit reads, and their filters.

Each endpoint names the permission and licence its errors cite; its bucket picks the rate limiter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ...core.timefmt import iso_z
from ...core.vocabulary import SSPR_SERVICE


@dataclass(frozen=True)
class Endpoint:
    """What the kit needs to know about one Graph endpoint to call it and explain its failures."""

    name: str
    bucket: str
    permission: str
    licence: str = ""


SSPR = SSPR_SERVICE

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
REGISTRATION_BY_FEATURE = Endpoint(
    "reports/authenticationMethods/usersRegisteredByFeature",
    "reports",
    "AuditLog.Read.All (delegated: Graph offers no application permission for it)",
    "Microsoft Entra ID P1 or P2",
)
REGISTRATION_BY_METHOD = Endpoint(
    "reports/authenticationMethods/usersRegisteredByMethod",
    "reports",
    "AuditLog.Read.All (delegated: Graph offers no application permission for it)",
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
AUTHORIZATION_POLICY = Endpoint("policies/authorizationPolicy", "directory", "Policy.Read.All")
ORGANIZATION = Endpoint("organization", "directory", "Organization.Read.All")


def graph_time(moment: datetime) -> str:
    """An unquoted OData datetime literal, UTC, whole seconds."""
    return iso_z(moment, 0)


def audit_window(start: datetime, end: datetime) -> str:
    """The ``$filter`` clause of a directoryAudits window ``[start, end]``."""
    return f"activityDateTime ge {graph_time(start)} and activityDateTime le {graph_time(end)}"


def audit_filters(
    start: datetime, end: datetime, sspr: tuple[str, ...] = (f"loggedByService eq '{SSPR}'",)
) -> list[str]:
    """The server-side ``$filter`` of each directoryAudits query for ``[start, end]``: SSPR's events selected by
    each clause of ``sspr`` (see :mod:`.sspr_service`; by default the documented service name), then the directory's
    resets and the authentication methods' events."""
    window = audit_window(start, end)
    return [
        *(f"{clause} and {window}" for clause in sspr),
        f"loggedByService eq 'Core Directory' and activityDisplayName eq 'Reset user password' and {window}",
        f"loggedByService eq 'Core Directory' and startswith(activityDisplayName, 'Reset password') and {window}",
        f"loggedByService eq 'Authentication Methods' and {window}",
    ]


def risk_filter(since: datetime, end: datetime) -> str:
    return f"lastUpdatedDateTime ge {graph_time(since)} and lastUpdatedDateTime le {graph_time(end)}"


#: The parts of a lean registration snapshot read in full (``$filter`` on userRegistrationDetails): the members
#: who are not SSPR-capable (the registration gap lists them), the administrators, and the SSPR-capable guests
#: (Graph's counts cover every user type; the kit's registration metrics count members).
LEAN_FILTERS: dict[str, str] = {
    "members not SSPR-capable": "isSsprCapable eq false and userType eq 'member'",
    "administrators": "isAdmin eq true",
    "SSPR-capable guests": "isSsprCapable eq true and userType eq 'guest'",
}

#: Users looked up in one userRegistrationDetails request (``id eq '...' or id eq '...'``).
LOOKUP_BATCH = 15


def odata_string(value: str) -> str:
    """An OData string literal: single quotes, an inner quote doubled."""
    return "'" + value.replace("'", "''") + "'"


def lookup_filters(ids: list[str], upns: list[str], batch: int = LOOKUP_BATCH) -> list[str]:
    """``$filter`` texts looking up the registration rows of these object ids and UPNs, ``batch`` per request."""
    clauses = [f"id eq {odata_string(i)}" for i in ids] + [f"userPrincipalName eq {odata_string(u)}" for u in upns]
    return [" or ".join(clauses[i : i + batch]) for i in range(0, len(clauses), batch)]
