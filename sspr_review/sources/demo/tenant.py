"""The deterministic demo tenant "Northgate Engineering": Microsoft Graph records with planted cases.

:class:`DemoTenant` emits directoryAudit, riskDetection, userRegistrationDetails, role, groupSetting,
authentication-methods-policy, authorization-policy and organization records in exactly Graph's JSON shape
(camelCase keys, UTC timestamps with seven fractional digits), generated from a seed: the same arguments give
identical records.

The history has a normal rhythm (password-expiry-driven changes and self-service resets with weekday peaks,
registration campaigns, a few helpdesk resets, risk detections) and, in the last review week, the planted cases a
security review should find; :class:`Planted` describes every one of them so tests and demos can assert on them.
Source IPs come from the documentation ranges only (RFC 5737, RFC 3849).

This module serves the records; :mod:`.generator` makes the background history, :mod:`.plants` the planted
cases on top of it, :mod:`.planted` describes them and :mod:`.constants` holds the tenant's fixed facts.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import uuid
from bisect import bisect_left, bisect_right
from datetime import UTC, datetime, timedelta

from ...core.vocabulary import PASSWORD_RULE_TEMPLATE
from ...core.weeks import last_monday
from .constants import (
    ADMIN_GROUP,
    AUTH_METHOD_STATES,
    DEMO_TENANT_NAME,
    METHODS,
    MFA_METHODS,
    PASSWORD_RULES,
    ROLES,
    Record,
    as_ticks,
    domains,
    graph_time,
)
from .generator import User
from .planted import Planted, PlantedUser
from .plants import PlantedHistory

__all__ = ["DEMO_TENANT_NAME", "DemoTenant", "Planted", "PlantedUser"]


@functools.cache
def _method_flags(methods: tuple[str, ...]) -> tuple[bool, bool, bool, str]:
    """(usable for SSPR, MFA-capable, passwordless-capable, preferred second factor) of a set of methods."""
    preferred = "push" if "microsoftAuthenticatorPush" in methods else "sms" if "mobilePhone" in methods else "none"
    passwordless = "fido2" in methods or "windowsHelloForBusiness" in methods
    return any(METHODS[m][0] for m in methods), bool(MFA_METHODS & set(methods)), passwordless, preferred


def _aware(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), not {moment!r}")
    return as_ticks(moment)


class DemoTenant:
    """The demo tenant "Northgate Engineering": ``users`` accounts and ``weeks`` weeks of history ending at ``end``
    (default: the most recent Monday 00:00 UTC), generated from ``seed`` on first use and cached. Another ``name``
    makes another tenant (its domain made from the name; with another ``seed``, other people and events)."""

    def __init__(
        self,
        *,
        users: int = 2000,
        weeks: int = 26,
        seed: int = 7,
        end: datetime | None = None,
        name: str = DEMO_TENANT_NAME,
    ) -> None:
        for what, value, least in (("users", users, 50), ("weeks", weeks, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"DemoTenant {what} must be a whole number of at least {least}, not {value!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"DemoTenant seed must be an integer, not {seed!r}")
        if end is None:
            end = last_monday("UTC")
        elif not isinstance(end, datetime) or end.tzinfo is None or end.utcoffset() is None:
            raise ValueError(f"DemoTenant end must be a timezone-aware datetime (UTC), not {end!r}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"DemoTenant name must be a non-empty string, not {name!r}")
        self.users, self.weeks, self.seed, self.name = users, weeks, seed, name
        self.end: datetime = end.astimezone(UTC)
        self.start: datetime = self.end - timedelta(weeks=weeks)
        self.domain, self.initial_domain = domains(name)
        self.tenant_id: str = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"tenant.{self.domain}/seed/{seed}"))
        self._history: PlantedHistory | None = None
        self._planted: Planted | None = None
        self._times: list[int] = []
        self._records: list[Record] = []
        self._registration: list[tuple[Record | None, Record | None]] = []

    def __repr__(self) -> str:
        named = "" if self.name == DEMO_TENANT_NAME else f", name={self.name!r}"
        return (
            f"DemoTenant(users={self.users}, weeks={self.weeks}, seed={self.seed}, end={self.end.isoformat()}{named})"
        )

    def _data(self) -> PlantedHistory:
        if self._history is None:
            history = PlantedHistory(self.users, self.weeks, self.seed, self.end, self.domain)
            self._planted = history.generate()
            self._times = [t for t, _ in history.events]
            self._records = [r for _, r in history.events]
            self._history = history
        return self._history

    @property
    def planted(self) -> Planted:
        """Every planted case (generates the tenant on first use)."""
        self._data()
        assert self._planted is not None
        return self._planted

    def directory_audits(self, start: datetime | None = None, end: datetime | None = None) -> list[Record]:
        """directoryAudit records with ``start <= activityDateTime <= end`` (None: open), oldest first."""
        lo = None if start is None else _aware(start, "start")
        hi = None if end is None else _aware(end, "end")
        self._data()
        first = 0 if lo is None else bisect_left(self._times, lo)
        last = len(self._times) if hi is None else bisect_right(self._times, hi)
        return self._records[first:last]

    def risk_detections(self, as_of: datetime | None = None) -> list[Record]:
        """riskDetection records as Identity Protection shows them at ``as_of`` (default: ``end``): only those that
        had arrived, each in its state at that time."""
        t = as_ticks(self.end) if as_of is None else _aware(as_of, "as_of")
        return [
            r.later if r.change is not None and r.change <= t and r.later else r.first
            for r in self._data().risks
            if r.arrival <= t
        ]

    def user_registration_details(self, as_of: datetime | None = None) -> list[Record]:
        """The userRegistrationDetails report as it was at ``as_of`` (default: ``end``)."""
        t = as_ticks(self.end) if as_of is None else _aware(as_of, "as_of")
        history = self._data()
        t0, users = history.t0, history.users
        if not self._registration:  # each user's row before and after registering, built when first needed
            self._registration = [
                (self._reg_row(u, False, t0) if u.reg is None or u.reg > t0 else None, None) for u in users
            ]
        rows = []
        for i, (u, (before, after)) in enumerate(zip(users, self._registration, strict=True)):
            if u.reg is not None and u.reg <= t:
                if after is None:
                    after = self._reg_row(u, True, t0)
                    self._registration[i] = (before, after)
                rows.append(after)
            else:
                rows.append(before if before is not None else self._reg_row(u, False, t0))
        return rows

    @staticmethod
    def _reg_row(u: User, registered: bool, t0: int) -> Record:
        methods = u.methods if registered else u.before
        usable, mfa, passwordless, preferred = _method_flags(methods)
        sspr = registered and usable
        return {
            "id": u.id,
            "userPrincipalName": u.upn,
            "userDisplayName": u.name,
            "userType": "guest" if u.guest else "member",
            "isAdmin": u.admin,
            "isSsprRegistered": sspr,
            "isSsprEnabled": not u.guest,
            "isSsprCapable": sspr and not u.guest,
            "isMfaRegistered": mfa,
            "isMfaCapable": mfa,
            "isPasswordlessCapable": passwordless,
            "isSystemPreferredAuthenticationMethodEnabled": True,
            "systemPreferredAuthenticationMethods": [] if preferred == "none" else [preferred],
            "userPreferredMethodForSecondaryAuthentication": preferred,
            "methodsRegistered": list(methods),
            "lastUpdatedDateTime": graph_time(u.reg if registered and u.reg is not None and u.reg > t0 else t0),
        }

    # ------------------------------------------------------------------ directory configuration
    def _principal(self, u: User | None) -> Record:
        if u is None:
            return {"@odata.type": "#microsoft.graph.group", "id": self._data().group_id, "displayName": ADMIN_GROUP}
        return {"@odata.type": "#microsoft.graph.user", **u.ref()}

    def _assignments(self, eligible: bool) -> list[Record]:
        out = []
        for k, (role, kind, u) in enumerate(self._data().assign):
            if (kind == "eligible") != eligible or kind == "group":
                continue
            principal = self._principal(u)
            digest = hashlib.sha256(f"{self.tenant_id}/{role}/{principal['id']}/{kind}".encode()).digest()
            record: Record = {
                "id": base64.urlsafe_b64encode(digest[:33]).decode() + ("-1" if eligible else ""),
                "principalId": principal["id"],
                "roleDefinitionId": role,
                "directoryScopeId": "/",
            }
            if eligible:
                since = self.end - timedelta(days=200 + 17 * k)  # a year-long eligibility that spans the end
                record |= {
                    "appScopeId": None,
                    "startDateTime": graph_time(as_ticks(since)),
                    "endDateTime": graph_time(as_ticks(since + timedelta(days=365))),
                    "memberType": "Direct",
                    "roleEligibilityScheduleId": str(uuid.uuid5(uuid.UUID(self.tenant_id), record["id"])),
                }
            out.append(record | {"principal": principal})
        return out

    def role_definitions(self) -> list[Record]:
        """Built-in unifiedRoleDefinitions (``id`` = ``templateId``)."""
        return [
            {
                "id": rid,
                "description": text,
                "displayName": name,
                "isBuiltIn": True,
                "isEnabled": True,
                "resourceScopes": ["/"],
                "templateId": rid,
                "version": "1",
            }
            for rid, name, text in ROLES
        ]

    def role_assignments(self) -> list[Record]:
        """Active unifiedRoleAssignments with ``principal`` expanded (users, and the role-assignable group)."""
        return self._assignments(False)

    def role_eligibility_schedule_instances(self) -> list[Record]:
        """PIM-eligible role holders."""
        return self._assignments(True)

    def group_members(self, group_id: str) -> list[Record]:
        """Transitive user members of a role-assignable group (empty for any other id)."""
        history = self._data()
        members = history.group if group_id == history.group_id else []
        return [{"@odata.type": "#microsoft.graph.user", **u.ref()} for u in members]

    def group_settings(self) -> list[Record]:
        """groupSettings, including "Password Rule Settings" (Microsoft Entra Password Protection)."""
        return [
            {
                "id": str(uuid.uuid5(uuid.UUID(self.tenant_id), "groupSetting/password")),
                "displayName": "Password Rule Settings",
                "templateId": PASSWORD_RULE_TEMPLATE,
                "values": [{"name": n, "value": v} for n, v in PASSWORD_RULES],
            }
        ]

    def authentication_methods_policy(self) -> Record:
        """The tenant's authenticationMethodsPolicy."""
        everyone = [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}]
        return {
            "id": "authenticationMethodsPolicy",
            "displayName": "Authentication Methods Policy",
            "description": "The tenant-wide policy that controls which authentication methods are allowed in the "
            "tenant, authentication method registration requirements, and self-service password reset settings",
            "lastModifiedDateTime": graph_time(as_ticks(self.start - timedelta(days=41, hours=-10))),
            "policyVersion": "1.5",
            "policyMigrationState": "migrationComplete",
            "authenticationMethodConfigurations": [
                {
                    "@odata.type": f"#microsoft.graph.{kind}AuthenticationMethodConfiguration",
                    "id": mid,
                    "state": state,
                    "excludeTargets": [],
                    **({"includeTargets": everyone} if state == "enabled" else {}),
                }
                for kind, mid, state in AUTH_METHOD_STATES
            ],
        }

    def organization(self) -> list[Record]:
        """The organization object (tenant id, name, verified domains)."""
        domains = [
            {
                "isDefault": name == self.domain,
                "isInitial": name == self.initial_domain,
                "name": name,
                "type": "Managed",
            }
            for name in (self.domain, self.initial_domain)
        ]
        org = {"id": self.tenant_id, "displayName": self.name, "countryLetterCode": "GB", "tenantType": "AAD"}
        synced = {
            "onPremisesSyncEnabled": True,
            "onPremisesLastSyncDateTime": graph_time(as_ticks(self.end) - 1800 * 10**7),
        }
        return [org | {"verifiedDomains": domains} | synced]

    def authorization_policy(self) -> Record:
        """The tenant's authorizationPolicy (``allowedToUseSSPR``: administrators may use SSPR)."""
        return {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#policies/authorizationPolicy/$entity",
            "id": "authorizationPolicy",
            "displayName": "Authorization Policy",
            "description": "Used to manage authorization related settings across the company.",
            "allowInvitesFrom": "everyone",
            "allowedToSignUpEmailBasedSubscriptions": True,
            "allowedToUseSSPR": True,
            "allowEmailVerifiedUsersToJoinOrganization": False,
            "blockMsolPowerShell": True,
            "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
            "defaultUserRolePermissions": {
                "allowedToCreateApps": False,
                "allowedToCreateSecurityGroups": False,
                "allowedToReadOtherUsers": True,
            },
        }
