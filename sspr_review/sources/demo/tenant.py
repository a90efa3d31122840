"""The deterministic demo tenant "Northgate Engineering": Microsoft Graph records with planted cases.

:class:`DemoTenant` emits directoryAudit, riskDetection, userRegistrationDetails, role, groupSetting,
authentication-methods-policy and organization records in exactly Graph's JSON shape (camelCase keys, UTC
timestamps with seven fractional digits), generated from a seed: the same arguments give identical records.

The history has a normal rhythm (password-expiry-driven changes and self-service resets with weekday peaks,
registration campaigns, a few helpdesk resets, risk detections) and, in the last review week, the planted cases a
security review should find; :class:`Planted` describes every one of them so tests and demos can assert on them.
Source IPs come from the documentation ranges only (RFC 5737, RFC 3849).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import random
import uuid
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ...catalog import PASSWORD_RULE_TEMPLATE, SSPR_SERVICE
from ...timefmt import ticks_iso as _iso  # Graph's form: 2026-11-16T10:41:03.1234567Z

__all__ = ["DEMO_TENANT_NAME", "DemoTenant", "Planted", "PlantedUser"]

DEMO_TENANT_NAME: Final = "Northgate Engineering"
DOMAIN: Final = "northgate-eng.example"
INITIAL_DOMAIN: Final = "northgateeng.onmicrosoft.example"

Record = dict[str, Any]

SSPR: Final = SSPR_SERVICE
AUTH_METHODS: Final = "Authentication Methods"
CORE: Final = "Core Directory"
PROGRESS: Final = "Self-service password reset flow activity progress"
SSPR_RESET: Final = "Reset password (self-service)"
SSPR_CHANGE: Final = "Change password (self-service)"
ADMIN_RESET: Final = "Reset password (by admin)"
CORE_RESET: Final = "Reset user password"
BLOCKED: Final = "Blocked from self-service password reset"
UNLOCK: Final = "Unlock user account (self-service)"
UNKNOWN_ACTIVITY: Final = "Self-service password reset notification sent"
UNKNOWN_REASON: Final = "User completed the passkey verification option"
HOSTILE_NAME: Final = "Robert <img src=x onerror=alert(1)> \"Bobby\" <script>alert('xss')</script>'); DROP TABLE--"

CONFIG_FAILURE: Final = (
    "User's account has insufficient authentication methods defined. Add authentication info to resolve this "
)
WRITEBACK_UNREACHABLE: Final = (
    "We could not reach your on-premises password reset service. Check your sync machine's event log"
)
WRITEBACK_PROBLEM: Final = (
    "We encountered a problem while resetting the user's on-premises password. Check your sync machine's event log"
)
BLOCK_REASON: Final = "User has been blocked after more than 5 attempts in 24 hours"
TAP_REASON: Final = "Admin registered temporary access pass method for user"

# fmt: off
# methodsRegistered name -> (SSPR verification option, combined-registration resultReason)
METHODS: Final[dict[str, tuple[str | None, str]]] = {
    "email": ("email", "User registered Email"),
    "mobilePhone": ("mobile SMS", "User registered Mobile Phone SMS"),
    "officePhone": ("office voice call", "User registered Office Phone"),
    "microsoftAuthenticatorPush": ("mobile app notification", "User registered Authenticator App with Notification"),
    "softwareOneTimePasscode": ("mobile app code", "User registered Authenticator App with Code"),
    "securityQuestion": ("security questions", "User registered Security Questions"),
    "fido2": (None, "User registered FIDO2 Security Key"),
    "windowsHelloForBusiness": (None, "User registered Windows Hello for Business"),
}
MFA_METHODS: Final = frozenset({"mobilePhone", "microsoftAuthenticatorPush", "softwareOneTimePasscode", "fido2"})
# (methodsRegistered once registered, weight)
METHOD_SETS: Final[tuple[tuple[tuple[str, ...], int], ...]] = (
    (("email", "mobilePhone"), 22),
    (("microsoftAuthenticatorPush", "mobilePhone", "softwareOneTimePasscode"), 30),
    (("email", "microsoftAuthenticatorPush", "softwareOneTimePasscode"), 14),
    (("email", "microsoftAuthenticatorPush", "mobilePhone", "softwareOneTimePasscode"), 12),
    (("mobilePhone", "officePhone"), 7),
    (("email", "securityQuestion"), 5),
    (("fido2", "microsoftAuthenticatorPush", "mobilePhone", "softwareOneTimePasscode"), 5),
    (("email", "microsoftAuthenticatorPush", "softwareOneTimePasscode", "windowsHelloForBusiness"), 5),
)
ADMIN_METHODS: Final = ("fido2", "microsoftAuthenticatorPush", "mobilePhone", "softwareOneTimePasscode")

FIRST: Final = (  # noqa: SIM905 (a list of names reads better as text)
    "Oliver Amelia Jack Isla Harry Ava George Mia Noah Grace Leo Freya Arthur Lily Oscar Sophie Charlie Emily "
    "Thomas Chloe James Ella William Ruby Henry Evie Daniel Hannah Samuel Lucy Joseph Zara Aarav Priya Rohan Ananya "
    "Mateusz Zofia Jakub Julia Lukas Lena Matteo Giulia Pierre Camille Javier Lucia Tomas Eva Kwame Ama Chidi Ngozi "
    "Hiroshi Yuki Wei Mei Omar Layla Sean Niamh Connor Aoife Magnus Ingrid Lars Astrid Ahmed Fatima"
).split()
LAST: Final = (  # noqa: SIM905
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Wright Robinson Thompson Evans Walker White "
    "Roberts Green Hall Wood Jackson Clarke Hughes Edwards Turner Hill Moore Cooper Ward Morris King Harris Baker "
    "Lewis Scott Young Allen Mitchell Kelly Campbell Murphy OBrien Nowak Kowalski Muller Schmidt Rossi Bianchi "
    "Dubois Martin Garcia Fernandez Silva Novak Mensah Okafor Adeyemi Tanaka Sato Chen Wang Khan Hussain Singh "
    "Sharma Gupta Lindqvist Johansson Nielsen Murray Fraser Byrne"
).split()
PARTNERS: Final = ("contoso-partners.example", "fabrikam.example", "tailspin-consulting.example")

# Documentation ranges only. 192.0.2.0/27 and 203.0.113.0/25 are kept for offices, attackers and planted cases.
OFFICE_IPS: Final = ("192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.13")
HOME_IPS: Final = tuple(
    [f"198.51.100.{i}" for i in range(1, 255)]
    + [f"203.0.113.{i}" for i in range(128, 255)]
    + [f"192.0.2.{i}" for i in range(32, 255)]
)
SPIKE_IPS: Final = ("203.0.113.45", "203.0.113.46", "203.0.113.47")

DAY_WEIGHTS: Final = (1.6, 1.35, 1.1, 1.0, 0.85, 0.2, 0.15)  # Monday first
HOUR_WEIGHTS: Final = (0.1, 0.05, 0.05, 0.05, 0.05, 0.1, 0.3, 0.9, 1.6, 1.7, 1.4, 1.2,
                       0.9, 1.1, 1.2, 1.1, 0.9, 0.7, 0.5, 0.35, 0.3, 0.25, 0.2, 0.15)  # UTC hours
HOURS: Final = tuple(range(24))
HOUR_CUM: Final = tuple(sum(HOUR_WEIGHTS[: i + 1]) for i in range(24))
USER_AGENTS: Final = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
    "Safari/605.1.15",
    "python-requests/2.32.3",
)

# Built-in roles: (templateId = id, displayName, description)
ROLES: Final = (
    ("62e90394-69f5-4237-9190-012177145e10", "Global Administrator",
     "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities."),
    ("e8611ab8-c189-46e8-94e1-60213ab1f814", "Privileged Role Administrator",
     "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management."),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator",
     "Can manage all aspects of users and groups, including resetting passwords for limited admins."),
    ("729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator",
     "Can reset passwords for non-administrators and Helpdesk Administrators."),
    ("c4e39bd9-1100-46d3-8c65-fb160da0071f", "Authentication Administrator",
     "Can access to view, set and reset authentication method information for any non-admin user."),
    ("194ae4cb-b126-40b2-bd5b-6091b380977d", "Security Administrator",
     "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365."),
    ("966707d0-3269-4727-9be2-8c3a10f19b9d", "Password Administrator",
     "Can reset passwords for non-administrators and Password Administrators."),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader",
     "Can read everything that a Global Administrator can, but not update anything."),
)
# Who holds them: (index into ROLES, how many people, "active" | "eligible" | "group" (via ADMIN_GROUP))
ROLE_LAYOUT: Final = ((0, 3, "active"), (1, 1, "active"), (1, 1, "eligible"), (2, 2, "active"), (2, 1, "eligible"),
                      (3, 3, "active"), (4, 2, "active"), (5, 1, "active"), (5, 3, "group"))
ADMIN_GROUP: Final = "Tier0 Security Operators"
ONBOARDING_APP: Final = "Northgate Onboarding Automation"
DEVICE: Final = {"displayName": "NGE-LT-0417", "operatingSystem": "Windows 11", "browser": "Edge 131.0.2903.86",
                 "isCompliant": True, "isManaged": True, "trustType": "Azure AD joined"}
AUTH_METHOD_STATES: Final = (
    ("fido2", "Fido2", "enabled"), ("microsoftAuthenticator", "MicrosoftAuthenticator", "enabled"),
    ("sms", "Sms", "enabled"), ("temporaryAccessPass", "TemporaryAccessPass", "enabled"),
    ("softwareOath", "SoftwareOath", "enabled"), ("voice", "Voice", "enabled"), ("email", "Email", "enabled"),
    ("x509Certificate", "X509Certificate", "disabled"),
)
PASSWORD_RULES: Final = (
    ("BannedPasswordCheckOnPremisesMode", "Enforce"), ("EnableBannedPasswordCheckOnPremises", "True"),
    ("EnableBannedPasswordCheck", "True"), ("LockoutDurationInSeconds", "60"), ("LockoutThreshold", "10"),
    ("BannedPasswordList", "\t".join(("northgate", "nge", "ngeng", "turbine", "gearbox", "sheffield", "welcome"))),
)

# How an SSPR flow ends: outcome -> (gates completed: 0, the first only (1) or all (2); the last steps ("{}": the
# first gate) as (resultReason, result); the "Reset password (self-service)" event's (result, resultReason) or None)
_NEW: Final = ("User submitted a new password", "success")
FLOW_ENDINGS: Final[dict[str, tuple[int, tuple[tuple[str, str], ...], tuple[str, str] | None]]] = {
    "completed": (2, (_NEW, ("User successfully reset password", "success")), ("success", "")),
    "banned": (2, (_NEW,), ("failure", "PasswordDoesnotComplyFuzzyPolicy")),
    "writeback": (2, (_NEW, (WRITEBACK_UNREACHABLE, "failure")), ("failure", "OnPremisesConnectivityError")),
    "writeback_admin": (2, (_NEW, (WRITEBACK_PROBLEM, "failure")), ("failure", "OnPremisesAdminActionRequired")),
    "abandoned": (1, (("User abandoned after completing the {} verification option", "success"),), None),
    "cancelled": (0, (("User cancelled before passing the required authentication methods", "success"),), None),
    "contacted": (0, (("User contacted an admin after trying the {} verification option", "success"),), None),
    "throttled": (0, (("User entered too many invalid SMS verification codes and is blocked for 24 hours",
                       "failure"),), None),
    "config": (0, ((CONFIG_FAILURE, "failure"),), None),
}
# (city, state, countryOrRegion, latitude, longitude); the first four are where Northgate staff work
PLACES: Final = (
    ("Manchester", "England", "GB", 53.4808, -2.2426), ("Leeds", "England", "GB", 53.8008, -1.5491),
    ("Sheffield", "England", "GB", 53.3811, -1.4701), ("Glasgow", "Scotland", "GB", 55.8642, -4.2518),
    ("Amsterdam", "Noord-Holland", "NL", 52.3676, 4.9041), ("Frankfurt am Main", "Hessen", "DE", 50.1109, 8.6821),
    ("Lagos", "Lagos", "NG", 6.5244, 3.3792), ("Singapore", "Singapore", "SG", 1.3521, 103.8198),
    ("Sao Paulo", "Sao Paulo", "BR", -23.5505, -46.6333), ("Ashburn", "Virginia", "US", 39.0438, -77.4874),
    ("Bucharest", "Bucuresti", "RO", 44.4268, 26.1025),
)
# riskEventType -> (weight, riskLevels, detectionTimingType, from abroad)
RISK_TYPES: Final[dict[str, tuple[int, tuple[str, ...], str, bool]]] = {
    "unfamiliarFeatures": (35, ("low", "medium"), "realtime", False),
    "anonymizedIPAddress": (20, ("medium",), "realtime", True),
    "unlikelyTravel": (15, ("medium", "low"), "offline", True),
    "passwordSpray": (8, ("high", "medium"), "offline", True),
    "maliciousIPAddress": (6, ("high",), "offline", True),
    "leakedCredentials": (10, ("high",), "offline", False),
    "suspiciousBrowser": (6, ("medium",), "offline", False),
}
# fmt: on

SECOND: Final = 10_000_000  # Graph timestamps have 100 ns resolution
MINUTE: Final = 60 * SECOND
HOUR: Final = 60 * MINUTE
DAY: Final = 24 * HOUR
WEEK: Final = 7 * DAY
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _ticks(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86400 + delta.seconds) * SECOND + delta.microseconds * 10


def _dt(ticks: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ticks // 10)


@functools.cache
def _method_flags(methods: tuple[str, ...]) -> tuple[bool, bool, bool, str]:
    """(usable for SSPR, MFA-capable, passwordless-capable, preferred second factor) of a set of methods."""
    preferred = "push" if "microsoftAuthenticatorPush" in methods else "sms" if "mobilePhone" in methods else "none"
    passwordless = "fido2" in methods or "windowsHelloForBusiness" in methods
    return any(METHODS[m][0] for m in methods), bool(MFA_METHODS & set(methods)), passwordless, preferred


def _pu(users: Sequence[_User]) -> tuple[PlantedUser, ...]:
    return tuple(PlantedUser(u.id, u.upn, u.name) for u in users)


def _monday(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class PlantedUser:
    """One account a planted case is about."""

    id: str
    upn: str
    display_name: str


@dataclass(frozen=True)
class Planted:
    """Every planted case of the demo tenant (times are UTC; "week" = the last review week, ``review_start`` to
    ``review_end``). Users are :class:`PlantedUser`; ``*_ids`` are record ids."""

    review_start: datetime
    review_end: datetime
    hostile_user: PlantedUser
    # 1. reset spike: 14 accounts within ~40 minutes straddling a clock hour, from spike_ips
    spike_users: tuple[PlantedUser, ...]
    spike_ips: tuple[str, ...]
    spike_start: datetime
    spike_end: datetime
    burst_user: PlantedUser  # one account, burst_resets completed resets within one hour (not a spike)
    burst_resets: int
    burst_start: datetime
    near_miss_users: tuple[PlantedUser, ...]  # 9 accounts within one hour, in an earlier week
    near_miss_start: datetime
    # 2. leaked credentials
    leak_remediated_users: tuple[PlantedUser, ...]  # reset or changed 1-2 days after the detection
    leak_unremediated_users: tuple[PlantedUser, ...]  # atRisk, older than 3 days, no reset/change since
    leak_previous_week_user: PlantedUser  # one of the above, already older than the grace a week earlier
    leak_reset_before_user: PlantedUser  # reset before the detection only
    leak_grace_user: PlantedUser  # detected less than 3 days before the end
    leak_dismissed_user: PlantedUser
    leak_detection_ids: tuple[tuple[str, str], ...]  # (user principal name, riskDetection id)
    # 3. blocked from SSPR
    blocked_unregistered_users: tuple[PlantedUser, ...]
    blocked_risk_user: PlantedUser
    blocked_risk_detection_id: str
    blocked_ip: str
    blocked_ip_users: tuple[PlantedUser, ...]  # accounts blocked_ip tried; the first one was blocked
    blocked_voice_user: PlantedUser  # failed "mobile voice call" gates without a registered phone
    # 4. administrators
    admin_self_reset_user: PlantedUser  # Global Administrator, completed SSPR reset
    admin_group_reset_user: PlantedUser  # admin only through the role-assignable group, reset by the helpdesk
    admin_group_reset_by: PlantedUser
    # 5. helpdesk resets of non-privileged users
    helpdesk_reset_users: tuple[PlantedUser, ...]
    helpdesk_tap_users: tuple[PlantedUser, ...]
    helpdesk_previous_week_user: PlantedUser  # also reset by the helpdesk in the previous week
    helpdesk_admins: tuple[PlantedUser, ...]
    # 6. password writeback failures
    writeback_users: tuple[PlantedUser, ...]
    writeback_earlier_users: tuple[PlantedUser, ...]
    # 7. banned-password rejections
    banned_users: tuple[PlantedUser, ...]
    # 8. values the kit does not know
    unknown_activity: str
    unknown_activity_ids: tuple[str, ...]
    unknown_result_id: str
    unknown_reason: str
    unknown_reason_id: str
    unknown_risk_id: str
    extra_property_id: str
    app_initiated_id: str
    # roles
    global_admins: tuple[PlantedUser, ...]
    admin_group_id: str
    admin_group_members: tuple[PlantedUser, ...]
    eligible_admins: tuple[PlantedUser, ...]
    # 9. account takeover signals (review week unless said otherwise)
    takeover_ip: str  # the IP the "attacker" registers security info from
    takeover_high_user: PlantedUser  # SMS-verified SSPR reset, then a registration sitting from takeover_ip
    takeover_medium_user: PlantedUser  # previous week: SSPR reset, then a security-info update from the same IP
    takeover_deleted_user: PlantedUser  # previous week: helpdesk reset, then a method deleted
    takeover_late_user: PlantedUser  # near miss: a registration 25 h after the reset
    takeover_before_user: PlantedUser  # near miss: a registration 2 h before the reset, nothing after
    takeover_tap_user: PlantedUser  # near miss, previous week: helpdesk reset, TAP, then a registration
    phone_new_ip: str  # the IP the phone-only resets come from
    phone_new_ip_user: PlantedUser  # SMS-only reset from phone_new_ip; Authenticator registered and used before
    phone_new_ip_medium_user: PlantedUser  # previous week: voice-call reset from phone_new_ip; phone methods only
    phone_usual_ip_user: PlantedUser  # near miss: SMS-only reset from the IP of their earlier events
    app_new_ip_user: PlantedUser  # near miss: Authenticator-verified reset from phone_new_ip
    phone_no_history_user: PlantedUser  # near miss: SMS-only reset from phone_new_ip, no earlier events at all
    # 9. risk detections and resets (the correlation tables), on accounts of the cases above
    risk_reset_sspr_user: PlantedUser  # unfamiliarFeatures detection, then the user's SSPR reset (banned_users[0])
    risk_reset_sspr_detection_id: str
    risk_reset_admin_user: PlantedUser  # anonymizedIPAddress detection, then a helpdesk reset (helpdesk_reset_users[4])
    risk_reset_admin_detection_id: str
    reset_then_risk_user: PlantedUser  # a spike account: its reset, then a detection from the reset's IP
    reset_then_risk_ip: str
    reset_then_risk_detection_id: str


@dataclass(slots=True)
class _User:
    index: int
    id: str
    upn: str
    name: str
    guest: bool
    ip: str
    offset: int  # day of the 90-day password-expiry cycle
    reg: int | None  # ticks of the SSPR registration (None: never registers)
    methods: tuple[str, ...]  # methodsRegistered once registered
    before: tuple[str, ...]  # methodsRegistered before that
    admin: bool = False
    reserved: bool = False  # a planted user: no background activity
    _target: list[Record] | None = None

    def ref(self) -> Record:
        return {"id": self.id, "displayName": self.name, "userPrincipalName": self.upn}

    def target(self) -> list[Record]:
        if self._target is None:
            self._target = [
                {
                    "id": self.id,
                    "displayName": self.name,
                    "type": "User",
                    "userPrincipalName": self.upn,
                    "modifiedProperties": [],
                }
            ]
        return self._target

    def gates(self, moment: int) -> list[str]:
        """SSPR verification options the user can use at ``moment``."""
        methods = self.methods if self.reg is not None and self.reg <= moment else self.before
        return [g for m in methods if (g := METHODS[m][0]) is not None]


@dataclass
class _Risk:
    """One riskDetection: as it arrives, and optionally as it is after a later state change."""

    arrival: int
    first: Record
    change: int | None = None
    later: Record | None = None


class _History:
    """Generates everything once; :class:`DemoTenant` filters and copies from it."""

    def __init__(self, n: int, weeks: int, seed: int, end: datetime) -> None:
        self.rng = random.Random(seed)
        self.ns = uuid.uuid5(uuid.NAMESPACE_DNS, f"{DOMAIN}/seed/{seed}")
        self.t1 = _ticks(end)
        self.t0 = self.t1 - weeks * WEEK
        self.weeks = weeks
        self.seq = 0
        self.shards = ["".join(self.rng.choices("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", k=5)) for _ in range(64)]
        self.events: list[tuple[int, Record]] = []
        self.risks: list[_Risk] = []
        self.quiet: list[tuple[int, int]] = []  # no background SSPR flows start here (around planted bursts)
        self.users = self._users(n)
        self.members = [u for u in self.users if not u.guest]
        self.pool: list[_User] = []  # members for planted cases, taken in order by pick()
        self.next = 0
        self.group_id = self.oid("group/tier0")
        self.group: list[_User] = []  # members of ADMIN_GROUP
        self.assign: list[tuple[str, str, _User | None]] = []  # (role id, kind, user; None = the group)
        self.helpdesk: list[_User] = []

    # ------------------------------------------------------------------ ids and users
    def oid(self, kind: str) -> str:
        return str(uuid.uuid5(self.ns, kind))

    def guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _users(self, n: int) -> list[_User]:
        rng = self.rng
        campaign = max(self.weeks, 26) * WEEK
        c0 = self.t1 - campaign
        hostile = n // 3
        seen: dict[str, int] = {}
        sets, weights = zip(*METHOD_SETS, strict=True)
        ips = list(HOME_IPS)
        rng.shuffle(ips)
        users = []
        for i in range(n):
            guest = i != hostile and rng.random() < 0.05
            first, last = ("Robert", "Tables") if i == hostile else (rng.choice(FIRST), rng.choice(LAST))
            base = f"{first}.{last}".lower()
            count = seen[base] = seen.get(base, 0) + 1
            local = base if count == 1 else f"{base}{count}"
            upn = f"{local}_{rng.choice(PARTNERS)}#EXT#@{DOMAIN}" if guest else f"{local}@{DOMAIN}"
            ip = (
                f"2001:db8:4e47:{rng.getrandbits(16):x}::{rng.getrandbits(16):x}"
                if rng.random() < 0.04
                else ips[i % len(ips)]
            )
            r = rng.random()
            if guest:
                reg = c0 - DAY if r < 0.08 else None
            elif r < 0.60:
                reg = c0 - rng.randrange(1, 400) * DAY - rng.randrange(DAY)
            elif r < 0.92:
                reg = c0 + int(campaign * ((r - 0.60) / 0.32) ** 1.15) + rng.randrange(-DAY, DAY)
                reg = min(reg, self.t1 - HOUR)
            else:
                reg = None
            methods = ("email",) if guest else rng.choices(sets, weights)[0]
            before = ("windowsHelloForBusiness",) if not guest and rng.random() < 0.15 else ()
            name = HOSTILE_NAME if i == hostile else f"{first} {last}"
            uid = self.oid(f"user/{i}")
            users.append(_User(i, uid, upn, name, guest, ip, rng.randrange(90), reg, methods, before))
        return users

    # ------------------------------------------------------------------ records
    def audit(
        self,
        t: int,
        service: str,
        activity: str,
        corr: str,
        by: Record,
        targets: list[Record],
        result: str = "success",
        reason: str = "",
        *,
        details: list[Record] | None = None,
    ) -> Record:
        self.seq += 1
        prefix = {SSPR: "SSPR", CORE: "Directory"}.get(service, "AuthenticationMethods")
        rec: Record = {
            "id": f"{prefix}_{corr}_{self.shards[self.seq % 64]}_{3_771_000 + self.seq * 37}",
            "category": "UserManagement",
            "correlationId": corr,
            "result": result,
            "resultReason": reason,
            "activityDisplayName": activity,
            "activityDateTime": _iso(t),
            "loggedByService": service,
            "operationType": "Update",
            "initiatedBy": by,
            "targetResources": targets,
            "additionalDetails": [] if details is None else details,
        }
        self.events.append((t, rec))
        return rec

    def step(self) -> int:
        """A few seconds between two steps of a flow (100 ns resolution)."""
        return self.rng.randrange(4 * SECOND, 45 * SECOND)

    def by(self, u: _User, ip: str) -> Record:
        return {"user": {**u.ref(), "ipAddress": ip}, "app": None}

    def flow(
        self,
        u: _User,
        t: int,
        ip: str,
        outcome: str = "completed",
        gates: Sequence[str] | None = None,
        failed: Sequence[str] = (),
    ) -> tuple[int, list[Record]]:
        """One SSPR flow from ``t``; returns its end time and its records. ``gates``: the methods passed (default:
        one the user registered, two for administrators); ``failed``: methods started and not completed first."""
        rng = self.rng
        if gates is None:
            usable = u.gates(t) or ["email"]
            gates = rng.sample(usable, 2) if u.admin and len(usable) > 1 else [rng.choice(usable)]
            gates = ["mobile voice call" if g == "mobile SMS" and rng.random() < 0.15 else g for g in gates]
        passed, ending, reset = FLOW_ENDINGS[outcome]
        steps = [("User submitted their user ID", "success")]
        if outcome != "config":
            steps.append(("User was presented with verification options", "success"))
            steps += [(f"User started the {g} verification option", "success") for g in failed]
            for g in gates if passed == 2 else gates[:1]:
                steps.append((f"User started the {g} verification option", "success"))
                if passed:
                    steps.append((f"User completed the {g} verification option", "success"))
            if passed == 2:
                steps.append(("User completed all verification steps required", "success"))
        steps += [(reason.format(gates[0]), result) for reason, result in ending]
        corr, by, target = self.guid(), self.by(u, ip), u.target()
        records = []
        for i, (reason, result) in enumerate(steps):
            t += self.step() if i else 0
            records.append(self.audit(t, SSPR, PROGRESS, corr, by, target, result, reason))
        if reset is not None:
            t += rng.randrange(SECOND // 2, 2 * SECOND)
            records.append(self.audit(t, SSPR, SSPR_RESET, corr, by, target, *reset))
        return t, records

    def change(self, u: _User, t: int, ip: str, result: str = "success", reason: str = "") -> Record:
        return self.audit(t, SSPR, SSPR_CHANGE, self.guid(), self.by(u, ip), u.target(), result, reason)

    def blocked(self, u: _User, t: int, ip: str) -> Record:
        return self.audit(t, SSPR, BLOCKED, self.guid(), self.by(u, ip), u.target(), "success", BLOCK_REASON)

    def attempts(self, u: _User, t: int, ip: str, outcomes: Sequence[str], **kw: Any) -> int:
        """Several failed flows a few minutes apart, then the block; returns the block time."""
        for outcome in outcomes:
            t, _ = self.flow(u, t, ip, outcome, **kw)
            t += self.rng.randrange(2 * MINUTE, 9 * MINUTE)
        self.blocked(u, t, ip)
        return t

    def admin_reset(self, admin: _User, u: _User, t: int, portal: bool, agent: str = "None") -> None:
        """A helpdesk reset: the portal logs the SSPR-service event and the Core Directory one; scripts only the
        latter."""
        corr, by = self.guid(), self.by(admin, OFFICE_IPS[admin.index % 4])
        if portal:
            details = [{"key": "OnPremisesAgent", "value": agent}]
            self.audit(t, SSPR, ADMIN_RESET, corr, by, u.target(), details=details)
            t += self.rng.randrange(SECOND, 6 * SECOND)
        self.audit(t, CORE, CORE_RESET, corr, by, u.target())

    def tap(self, admin: _User, u: _User, t: int) -> None:
        by = self.by(admin, OFFICE_IPS[admin.index % 4])
        self.audit(t, AUTH_METHODS, "Admin registered security info", self.guid(), by, u.target(), reason=TAP_REASON)

    def registration(self, u: _User, t: int) -> None:
        """Combined security-info registration, then the SSPR service's own events."""
        corr, by, target = self.guid(), self.by(u, u.ip), u.target()
        steps = [
            (AUTH_METHODS, "User started security info registration", "User started the registration for security info")
        ]
        steps += [
            (AUTH_METHODS, "User registered security info", METHODS[m][1]) for m in u.methods if m not in u.before
        ]
        steps += [
            (AUTH_METHODS, "User registered all required security info", "User registered all required security info"),
            (SSPR, "Security info saved for self-service password reset", ""),
            (SSPR, "User registered for self-service password reset", ""),
        ]
        for service, activity, reason in steps:
            self.audit(t, service, activity, corr, by, target, reason=reason)
            t += self.rng.randrange(2 * SECOND, 90 * SECOND)

    # ------------------------------------------------------------------ the normal rhythm
    def count(self, expected: float) -> int:
        return int(expected) + (self.rng.random() < expected - int(expected))

    def when(self, day0: int, monday: bool = True) -> int:
        """A working-hours moment on the day starting at ``day0``; weekends mostly move to Monday."""
        weekday = (day0 // DAY + 3) % 7
        if monday and weekday >= 5 and self.rng.random() < 0.85:
            day0 += (7 - weekday) * DAY
        t = day0 + self.rng.choices(HOURS, cum_weights=HOUR_CUM)[0] * HOUR + self.rng.randrange(HOUR)
        for lo, hi in self.quiet:
            if lo <= t <= hi:
                t = hi + self.rng.randrange(HOUR, 3 * HOUR)
        return t

    def background(self, helpdesk: Sequence[_User]) -> None:
        last_week = self.t1 - WEEK
        by_offset: list[list[_User]] = [[] for _ in range(90)]
        for u in self.members:
            if not u.reserved:
                by_offset[u.offset].append(u)
        free = [u for u in self.members if not u.reserved and not u.admin] or [u for u in self.members if not u.admin]
        first, last = self.t0 // DAY, (self.t1 - 1) // DAY
        for dnum in range(first - 4, last + 12):  # password expiry days (changes come up to 10 days early)
            for u in by_offset[(-dnum) % 90]:
                self.expiry(u, dnum * DAY, helpdesk)
        n = len(self.members)
        for dnum in range(first, last + 1):
            day0, weekday = dnum * DAY, (dnum + 3) % 7
            quiet = day0 >= last_week  # the planted cases stand alone in the review week
            weight = DAY_WEIGHTS[weekday] / sum(DAY_WEIGHTS)
            for _ in range(self.count(n * 0.006 * weight)):  # forgotten passwords
                self.sspr(self.rng.choice(free), self.when(day0, False), helpdesk, quiet)
            for _ in range(self.count(n * 0.001 * weight)):
                u = self.rng.choice(free)
                self.audit(self.when(day0, False), SSPR, UNLOCK, self.guid(), self.by(u, u.ip), u.target())
            if not quiet:
                for _ in range(self.count(n / 1000 * weight)):
                    self.background_block(self.rng.choice(free), self.when(day0, False))
                for _ in range(self.count(n / 2500 * weight)):
                    self.helpdesk_reset(self.rng.choice(helpdesk), self.rng.choice(free), self.when(day0, False))
            for _ in range(self.count(n / 400 / 7)):
                self.background_risk(self.rng.choice(free), day0 + self.rng.randrange(DAY), day0 < last_week - WEEK)
        for u in self.users:
            if u.reg is not None and self.t0 <= u.reg < self.t1:
                self.registration(u, u.reg)

    def expiry(self, u: _User, day0: int, helpdesk: Sequence[_User]) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.60 or (r < 0.95 and u.admin):  # changed before the expiry, on a busy weekday
            days = [day0 - k * DAY for k in range(11)]
            day = rng.choices(days, [DAY_WEIGHTS[(d // DAY + 3) % 7] for d in days])[0]
            t = self.when(day, False)
            ip = OFFICE_IPS[u.index % 4] if rng.random() < 0.7 else u.ip
            if rng.random() < 0.02 and t < self.t1 - WEEK:
                self.change(u, t, ip, "failure", "FuzzyPolicyViolationInvalidPassword")
                t += rng.randrange(MINUTE, 4 * MINUTE)
            self.change(u, t, ip)
        elif r < 0.82:  # forced change at the first sign-in after the expiry
            self.change(u, self.when(day0 + rng.randrange(3) * DAY), u.ip)
        elif r < 0.95:  # forgot it: self-service reset
            self.sspr(u, self.when(day0 + rng.randrange(4) * DAY), helpdesk, day0 >= self.t1 - WEEK - 4 * DAY)

    def sspr(self, u: _User, t: int, helpdesk: Sequence[_User], quiet: bool) -> None:
        rng = self.rng
        gates = u.gates(t)
        if not gates:
            t, _ = self.flow(u, t, u.ip, "config")
            if rng.random() < 0.5 and not quiet and t < self.t1 - WEEK:
                self.helpdesk_reset(rng.choice(helpdesk), u, t + rng.randrange(20 * MINUTE, 4 * HOUR), tap=0.5)
            return
        outcome = rng.choices(
            ("completed", "abandoned", "cancelled", "contacted", "throttled", "banned"), (80, 7, 4, 3, 3, 3)
        )[0]
        if outcome == "banned" and quiet:
            outcome = "completed"
        if outcome == "throttled" and "mobile SMS" not in gates:
            outcome = "cancelled"
        use = ["mobile SMS"] if outcome == "throttled" else None  # the SMS-code throttle
        failed: list[str] = []
        if use is None and len(gates) > 1 and rng.random() < 0.08:  # a first method that does not work out
            first, second = rng.sample(gates, 2)
            failed, use = [first], [second]
        t, _ = self.flow(u, t, u.ip, outcome, use, failed)
        if outcome == "banned" and rng.random() < 0.7:
            self.flow(u, t + rng.randrange(MINUTE, 5 * MINUTE), u.ip)

    def helpdesk_reset(self, admin: _User, u: _User, t: int, tap: float = 0.25) -> None:
        portal = self.rng.random() < 0.6
        self.admin_reset(admin, u, t, portal, self.rng.choice(("None", "Microsoft Entra Connect")))
        if self.rng.random() < tap:
            self.tap(admin, u, t + self.rng.randrange(-2 * HOUR, 3 * HOUR))

    def background_block(self, u: _User, t: int) -> None:
        rng, gates = self.rng, u.gates(t)
        if not gates:
            self.attempts(u, t, u.ip, ["config"] * 6)
        elif "mobile SMS" in gates and rng.random() < 0.4:  # codes that never arrive or are mistyped
            self.attempts(u, t, u.ip, rng.choices(("cancelled", "throttled"), k=6), gates=["mobile SMS"])
        else:
            self.attempts(u, t, u.ip, rng.choices(("cancelled", "contacted", "abandoned"), k=6))

    # ------------------------------------------------------------------ risk detections
    def risk(
        self,
        u: _User,
        t: int,
        kind: str,
        ip: str | None = None,
        *,
        level: str | None = None,
        arrival: int | None = None,
        change: tuple[int, str, str] | None = None,
    ) -> _Risk:
        """A riskDetection detected at ``t``; ``change``: (when, riskState, riskDetail) applied later."""
        rng = self.rng
        _, levels, timing, foreign = RISK_TYPES.get(kind, (0, ("medium",), "offline", True))
        user_level = kind == "leakedCredentials"
        if arrival is None:
            arrival = t if timing == "realtime" else t + rng.randrange(2 * HOUR, (20 if user_level else 6) * HOUR)
        city, state, country, lat, lon = PLACES[rng.randrange(4, len(PLACES)) if foreign else rng.randrange(4)]
        info: list[Record] = [{"Key": "userAgent", "Value": rng.choice(USER_AGENTS)}]
        if kind == "unfamiliarFeatures":
            info.append({"Key": "riskReasons", "Value": ["UnfamiliarASN", "UnfamiliarBrowser", "UnfamiliarIP"]})
        key = f"{self.ns}/risk/{len(self.risks)}"
        first: Record = {
            "id": hashlib.sha256(key.encode()).hexdigest(),
            "requestId": self.guid(),
            "correlationId": self.guid(),
            "riskEventType": kind,
            "riskState": "atRisk",
            "riskLevel": level or rng.choice(levels),
            "riskDetail": "none",
            "source": "IdentityProtection",
            "detectionTimingType": timing,
            "activity": "user" if user_level else "signin",
            "tokenIssuerType": "AzureAD",
            "ipAddress": None if user_level else (ip or u.ip),
            "location": None
            if user_level
            else {
                "city": city,
                "state": state,
                "countryOrRegion": country,
                "geoCoordinates": {"altitude": None, "latitude": lat, "longitude": lon},
            },
            "activityDateTime": _iso(t - (rng.randrange(HOUR, 3 * DAY) if user_level else 0)),
            "detectedDateTime": _iso(t),
            "lastUpdatedDateTime": _iso(arrival),
            "userId": u.id,
            "userDisplayName": u.name,
            "userPrincipalName": u.upn,
            "additionalInfo": "[]" if user_level else json.dumps(info, separators=(",", ":")),
        }
        risk = _Risk(arrival, first)
        if change is not None:
            when, state, detail = change
            risk.change = max(when, arrival)
            risk.later = first | {"riskState": state, "riskDetail": detail, "lastUpdatedDateTime": _iso(risk.change)}
        self.risks.append(risk)
        return risk

    def background_risk(self, u: _User, t: int, leaks: bool) -> None:
        rng = self.rng
        kinds = [k for k in RISK_TYPES if leaks or k != "leakedCredentials"]
        kind = rng.choices(kinds, [RISK_TYPES[k][0] for k in kinds])[0]
        ip = f"203.0.113.{rng.randrange(100, 128)}" if RISK_TYPES[kind][3] else u.ip
        if kind == "leakedCredentials":  # the user acts on the notification a day or two later
            fix = self.when(t // DAY * DAY + rng.randrange(1, 3) * DAY)
            if rng.random() < 0.8 and u.gates(fix):
                self.flow(u, fix, u.ip, "completed")
                self.risk(u, t, kind, change=(fix, "remediated", "userPerformedSecuredPasswordReset"))
            else:
                self.change(u, fix, u.ip)
                self.risk(u, t, kind, change=(fix, "remediated", "userPerformedSecuredPasswordChange"))
            return
        r = rng.random()
        if r < 0.55:
            change = (t + rng.randrange(MINUTE, 10 * MINUTE), "remediated", "userPassedMFADrivenByRiskBasedPolicy")
        elif r < 0.75:
            change = (t + rng.randrange(DAY, 4 * DAY), "dismissed", "adminDismissedAllRiskForUser")
        elif r < 0.85:
            change = (t + rng.randrange(HOUR, 3 * DAY), "confirmedSafe", "adminConfirmedSigninSafe")
        else:
            change = None
        self.risk(u, t, kind, ip, change=change)

    # ------------------------------------------------------------------ roles and planted cases
    def pick(self, k: int = 1, *, registered: bool | None = True) -> list[_User]:
        """``k`` members for planted cases (reserved: no background activity). ``registered``: force the SSPR
        registration state (registered since before the history, or never)."""
        out = []
        for _ in range(k):
            u = self.pool[self.next % len(self.pool)]
            while u.admin:  # (a tiny tenant wraps round: planted cases then share accounts, never admins')
                self.next += 1
                u = self.pool[self.next % len(self.pool)]
            self.next += 1
            u.reserved = True
            if registered is True and (u.reg is None or u.reg > self.t0):
                u.reg = self.t0 - 90 * DAY
            elif registered is False:
                u.reg = None
            out.append(u)
        return out

    def setup_roles(self) -> None:
        self.pool = [u for u in self.members if u.index != len(self.users) // 3]
        self.rng.shuffle(self.pool)
        for role, k, kind in ROLE_LAYOUT:
            people = self.pick(k)
            for u in people:
                u.admin, u.methods, u.reserved = True, ADMIN_METHODS, False
                self.assign.append((ROLES[role][0], kind, u))
            if kind == "group":
                self.group = people
                self.assign.append((ROLES[role][0], "active", None))
        self.helpdesk = [u for role, kind, u in self.assign if role == ROLES[3][0] and u is not None]

    def generate(self) -> Planted:
        self.setup_roles()
        planted = self.plant()
        self.background(self.helpdesk)
        self.events = [e for e in self.events if self.t0 <= e[0] <= self.t1]
        self.events.sort(key=lambda e: e[0])
        self.risks = [r for r in self.risks if self.t0 - 30 * DAY <= r.arrival]
        self.risks.sort(key=lambda r: str(r.first["detectedDateTime"]))
        return planted

    def at(self, day: float, hour: float, minute: float = 0) -> int:
        """A moment in the review week: ``day`` days after its start (negative: earlier weeks)."""
        return self.t1 - WEEK + int(day * DAY + hour * HOUR + minute * MINUTE) + self.rng.randrange(SECOND * 50)

    def plant(self) -> Planted:
        rng, w, at, pu = self.rng, self.t1 - WEEK, self.at, _pu
        found: dict[str, Any] = {"review_start": _dt(w), "review_end": _dt(self.t1), "spike_ips": SPIKE_IPS}
        # 1. reset spike, a burst from one account, and a near miss in an earlier week
        spike = self.pick(14)
        self.quiet.append((at(1, 9, 30), at(1, 12, 30)))
        ends = [self.flow(u, at(1, 10, 38 + 2.9 * k), SPIKE_IPS[k % 3])[0] for k, u in enumerate(spike)]
        found |= {"spike_users": pu(spike), "spike_start": _dt(min(ends)), "spike_end": _dt(max(ends))}
        (burst,) = self.pick()
        self.quiet.append((at(3, 13, 0), at(3, 16, 0)))
        starts = [at(3, 14, 5 + 4 * k) for k in range(12)]
        for t in starts:
            self.flow(burst, t, "203.0.113.58", gates=["mobile app notification"])
        found |= {"burst_user": pu([burst])[0], "burst_resets": 12, "burst_start": _dt(starts[0])}
        near, nw = self.pick(9), (-2 if self.weeks >= 3 else -1)
        self.quiet.append((at(nw * 7, 8, 0), at(nw * 7, 11, 0)))
        starts = [at(nw * 7, 9, 5 + 5.5 * k) for k in range(9)]
        for u, t in zip(near, starts, strict=True):
            self.flow(u, t, u.ip)
        found |= {"near_miss_users": pu(near), "near_miss_start": _dt(starts[0])}
        # 2. leaked credentials
        fixed = self.pick(3)
        ids = []
        for k, u in enumerate(fixed):
            seen = at(k, 5 + k, 12)
            arrive = seen + rng.randrange(3 * HOUR, 10 * HOUR)
            start = at(k + 1, 9 + 3 * k, 20)  # 1-2 days after the detection
            if k < 2:
                fix, detail = self.flow(u, start, u.ip)[0], "userPerformedSecuredPasswordReset"
            else:
                fix, detail = start, "userPerformedSecuredPasswordChange"
                self.change(u, start, u.ip)
            change = (fix, "remediated", detail)
            ids.append((u.upn, self.risk(u, seen, "leakedCredentials", arrival=arrive, change=change).first["id"]))
        open_ = self.pick(3)
        for u, seen in zip(open_, (self.t1 - 12 * DAY + 3 * HOUR, at(1, 4), at(3, 2, 30)), strict=True):
            ids.append((u.upn, self.risk(u, seen, "leakedCredentials").first["id"]))
        before, grace, dismissed = self.pick(3)
        self.flow(before, at(0, 9, 15), before.ip)
        ids.append((before.upn, self.risk(before, at(2, 6), "leakedCredentials").first["id"]))
        late = self.risk(grace, self.t1 - 36 * HOUR, "leakedCredentials", arrival=self.t1 - 27 * HOUR)
        gone = (at(2, 10), "dismissed", "adminDismissedAllRiskForUser")
        ids += [
            (grace.upn, late.first["id"]),
            (dismissed.upn, self.risk(dismissed, at(1, 3), "leakedCredentials", change=gone).first["id"]),
        ]
        found |= {
            "leak_remediated_users": pu(fixed),
            "leak_unremediated_users": pu(open_),
            "leak_previous_week_user": pu(open_)[0],
            "leak_reset_before_user": pu([before])[0],
            "leak_grace_user": pu([grace])[0],
            "leak_dismissed_user": pu([dismissed])[0],
            "leak_detection_ids": tuple(ids),
        }
        return self.plant_more(found)

    def notify(self, t: int, flow: list[Record], reason: str) -> Record:
        """A notification after a completed reset (an activity name the kit does not know)."""
        first = flow[0]
        target = first["targetResources"]
        return self.audit(
            t + 2 * SECOND, SSPR, UNKNOWN_ACTIVITY, first["correlationId"], first["initiatedBy"], target, reason=reason
        )

    def plant_more(self, found: dict[str, Any]) -> Planted:
        rng, at, pu = self.rng, self.at, _pu
        # 3. blocked from SSPR: two needing registration help, three looking like attacks
        lost = self.pick(2, registered=False)
        for k, u in enumerate(lost):  # no methods at all / only Windows Hello (not usable for SSPR)
            u.before, u.ip = ("windowsHelloForBusiness",)[:k], f"203.0.113.{21 + k}"
            self.attempts(u, at(2 * k, 8 + 5 * k, 50), u.ip, ["config"] * 6)
        (risky,) = self.pick()
        spray = self.risk(risky, self.t1 - WEEK - 2 * DAY + 3 * HOUR, "passwordSpray", "203.0.113.71", level="high")
        self.attempts(risky, at(2, 22, 15), "203.0.113.72", ["cancelled", "contacted", "abandoned"] * 2)
        probed, ip = self.pick(4), "203.0.113.66"
        for k, u in enumerate(probed[1:]):
            self.flow(u, at(4, 2, 10 + 7 * k), ip, "cancelled")
        self.attempts(probed[0], at(4, 2, 35), ip, ["cancelled"] * 6)
        (voice,) = self.pick()
        voice.methods = ("email", "microsoftAuthenticatorPush", "softwareOneTimePasscode")
        self.attempts(voice, at(3, 16, 40), "203.0.113.81", ["cancelled"] * 6, gates=["mobile voice call"])
        found |= {
            "blocked_unregistered_users": pu(lost),
            "blocked_risk_user": pu([risky])[0],
            "blocked_risk_detection_id": spray.first["id"],
            "blocked_ip": ip,
            "blocked_ip_users": pu(probed),
            "blocked_voice_user": pu([voice])[0],
        }
        # 4. administrators: a Global Administrator resets via SSPR, a group-made admin is reset by the helpdesk
        ga = [u for role, _, u in self.assign if role == ROLES[0][0] and u is not None]
        end, records = self.flow(ga[0], at(2, 7, 48), ga[0].ip)
        notices = [self.notify(end, records, "Administrators were notified that an administrator reset their password")]
        self.admin_reset(self.helpdesk[0], self.group[0], at(3, 11, 20), False)
        found |= {
            "admin_self_reset_user": pu(ga)[0],
            "admin_group_reset_user": pu(self.group)[0],
            "admin_group_reset_by": pu(self.helpdesk)[0],
            "global_admins": pu(ga),
        }
        # 5. helpdesk resets of non-privileged users (one of them also last week), two with a Temporary Access Pass
        hostile = self.users[len(self.users) // 3]
        hostile.reserved = True
        desk = [hostile, *self.pick(4, registered=None)]
        plan = (
            (0, 10, 5, "Microsoft Entra Connect", None),
            (1, 14, 30, "None", 40),
            (2, 9, 20, "", None),
            (3, 15, 45, "", -35),
            (4, 8, 55, "", None),
        )
        for k, (u, (day, hour, minute, agent, tap)) in enumerate(zip(desk, plan, strict=True)):
            admin, t = self.helpdesk[k % len(self.helpdesk)], at(day, hour, minute)
            if not u.gates(t):
                self.flow(u, t - rng.randrange(20 * MINUTE, 50 * MINUTE), u.ip, "config")
            self.admin_reset(admin, u, t, bool(agent), agent)
            if tap is not None:
                self.tap(admin, u, t + tap * MINUTE)
        self.admin_reset(self.helpdesk[-1], desk[2], at(-5, 11, 10), True, "Microsoft Entra Connect")
        found |= {
            "hostile_user": pu([hostile])[0],
            "helpdesk_reset_users": pu(desk),
            "helpdesk_tap_users": pu([desk[1], desk[3]]),
            "helpdesk_previous_week_user": pu(desk)[2],
            "helpdesk_admins": pu(self.helpdesk),
        }
        # 6. password writeback: an agent outage on Wednesday afternoon, one account needing an admin
        writeback = self.pick(4)
        for k, u in enumerate(writeback):
            self.flow(
                u,
                at(2, 13, 12 + 40 * k) if k < 3 else at(4, 10, 20),
                u.ip,
                "writeback_admin" if k == 3 else "writeback",
            )
            if k < 2:
                self.flow(u, at(2, 17, 10 + 9 * k), u.ip)
        early, t = self.pick(2), max(self.t0 + DAY, self.t1 - 4 * WEEK) + 2 * DAY
        for k, u in enumerate(early):
            self.flow(u, t + (10 + k) * HOUR + rng.randrange(HOUR), u.ip, "writeback")
        found |= {"writeback_users": pu(writeback), "writeback_earlier_users": pu(early)}
        # 7. banned passwords: three self-service resets, two changes
        banned = self.pick(5)
        for k, u in enumerate(banned[:3]):
            t, _ = self.flow(u, at((0, 1, 3)[k], 11 + k, 25), u.ip, "banned")
            if k == 0:
                end, records = self.flow(u, t + rng.randrange(2 * MINUTE, 5 * MINUTE), u.ip)
                notices.append(self.notify(end, records, "User was notified that their password was reset"))
        for k, u in enumerate(banned[3:]):
            t, office = at(2 + 2 * k, 11, 5), OFFICE_IPS[k]
            self.change(u, t, office, "failure", "FuzzyPolicyViolationInvalidPassword")
            self.change(u, t + rng.randrange(MINUTE, 3 * MINUTE), office)
        found["banned_users"] = pu(banned)
        # 8. values the kit does not know
        odd = self.pick(3)
        unknown_result = self.change(odd[0], at(4, 11, 11), odd[0].ip, "unknownFutureValue")
        _, records = self.flow(odd[1], at(3, 9, 40), odd[1].ip, gates=["passkey"])
        records[0]["deviceInfo"] = {"deviceId": self.oid("device/nge-lt-0417"), **DEVICE}
        future = self.risk(odd[2], at(2, 19, 5), "futureDetectionType", "203.0.113.90", level="unknownFutureValue")
        app = {"appId": self.oid("app/onboarding"), "displayName": ONBOARDING_APP}
        app |= {"servicePrincipalId": self.oid("sp/onboarding"), "servicePrincipalName": ONBOARDING_APP}
        by_app = self.audit(
            at(1, 16, 2),
            AUTH_METHODS,
            "Admin registered security info",
            self.guid(),
            {"user": None, "app": app},
            odd[0].target(),
            reason="Admin registered phone method for user",
        )
        found |= {
            "unknown_activity": UNKNOWN_ACTIVITY,
            "unknown_activity_ids": tuple(r["id"] for r in notices),
            "unknown_result_id": unknown_result["id"],
            "unknown_reason": UNKNOWN_REASON,
            "unknown_reason_id": next(r["id"] for r in records if r["resultReason"] == UNKNOWN_REASON),
            "unknown_risk_id": future.first["id"],
            "extra_property_id": records[0]["id"],
            "app_initiated_id": by_app["id"],
            "admin_group_id": self.group_id,
            "admin_group_members": pu(self.group),
            "eligible_admins": pu([u for _, kind, u in self.assign if kind == "eligible" and u is not None]),
        }
        # the takeover cases draw from their own random stream, so the cases above keep their times and ids
        main, self.rng = self.rng, random.Random(f"{self.ns}/takeover")
        try:
            self.plant_takeover(found)
        finally:
            self.rng = main
        self.plant_correlations(found, spike=found["spike_users"][0], banned=banned[0], helped=desk[4])
        return Planted(**found)

    def sitting(self, u: _User, t: int, ip: str, steps: Sequence[tuple[str, str]]) -> int:
        """One security-info sitting (shared correlation id) of ``(activity, resultReason)`` steps; returns the
        time of the last."""
        corr, by, target = self.guid(), self.by(u, ip), u.target()
        for k, (activity, reason) in enumerate(steps):
            t += self.rng.randrange(2 * SECOND, 40 * SECOND) if k else 0
            self.audit(t, AUTH_METHODS, activity, corr, by, target, reason=reason)
        return t

    def plant_takeover(self, found: dict[str, Any]) -> None:
        at, pu = self.at, _pu
        registered = "User registered security info"
        attacker, sim = "203.0.113.93", "203.0.113.95"
        app = ("microsoftAuthenticatorPush", "mobilePhone", "softwareOneTimePasscode")
        high, medium, deleted, late, before, tap = self.pick(6)
        for u in (high, medium, deleted, late, before, tap):
            u.methods = app
        # security info changed after a reset: 40 minutes after an SMS-verified reset, from another IP, one sitting
        # with the "registered" event twice (Graph sometimes logs one method twice) and a new default method
        end, _ = self.flow(high, at(1, 20, 10), high.ip, gates=["mobile SMS"])
        auth_push = METHODS["microsoftAuthenticatorPush"][1]
        self.sitting(
            high,
            end + 40 * MINUTE,
            attacker,
            [
                ("User started security info registration", "User started the registration for security info"),
                (registered, auth_push),
                (registered, auth_push),
                ("User changed default security info", "User changed default sign-in method to Authenticator App"),
            ],
        )
        end, _ = self.flow(medium, at(-3, 18, 5), medium.ip, gates=["mobile app notification"])
        self.sitting(medium, end + 5 * HOUR, medium.ip, [("User updated security info", "User updated Mobile Phone")])
        helpdesk = self.helpdesk[-1]
        t = at(-5, 14, 30)
        self.admin_reset(helpdesk, deleted, t, True)
        self.sitting(deleted, t + 2 * HOUR, deleted.ip, [("User deleted security info", "User deleted Mobile Phone")])
        # near misses
        end, _ = self.flow(late, at(2, 8, 30), late.ip, gates=["mobile app code"])
        self.sitting(late, end + 25 * HOUR, late.ip, [(registered, METHODS["softwareOneTimePasscode"][1])])
        t = self.sitting(before, at(4, 9, 0), before.ip, [(registered, auth_push)])
        self.flow(before, t + 2 * HOUR, before.ip, gates=["mobile app notification"])
        t = at(-4, 11, 0)
        self.admin_reset(helpdesk, tap, t, False)
        self.tap(helpdesk, tap, t + 10 * MINUTE)
        self.sitting(tap, t + 70 * MINUTE, tap.ip, [(registered, auth_push)])
        found |= {
            "takeover_ip": attacker,
            "takeover_high_user": pu([high])[0],
            "takeover_medium_user": pu([medium])[0],
            "takeover_deleted_user": pu([deleted])[0],
            "takeover_late_user": pu([late])[0],
            "takeover_before_user": pu([before])[0],
            "takeover_tap_user": pu([tap])[0],
        }
        # phone-only resets from a new IP; each user but the last has earlier events from their usual IP
        phone, phone_medium, usual, by_app, nobody = self.pick(5)
        phone.methods = by_app.methods = app
        phone_medium.methods = usual.methods = nobody.methods = ("mobilePhone", "officePhone")
        self.flow(phone, at(-6, 9, 40), phone.ip, gates=["mobile app notification"])
        for k, u in enumerate((phone_medium, usual, by_app)):
            self.change(u, at(-6, 10 + k, 15), u.ip)
        self.flow(phone, at(2, 23, 40), sim, gates=["mobile SMS"])
        self.flow(phone_medium, at(-2, 21, 5), sim, gates=["mobile voice call"])
        self.flow(usual, at(3, 19, 20), usual.ip, gates=["mobile SMS"])
        self.flow(by_app, at(4, 20, 45), sim, gates=["mobile app notification"])
        self.flow(nobody, at(5, 7, 55), sim, gates=["mobile SMS"])
        found |= {
            "phone_new_ip": sim,
            "phone_new_ip_user": pu([phone])[0],
            "phone_new_ip_medium_user": pu([phone_medium])[0],
            "phone_usual_ip_user": pu([usual])[0],
            "app_new_ip_user": pu([by_app])[0],
            "phone_no_history_user": pu([nobody])[0],
        }

    def _last_reset(self, u: _User, activities: tuple[str, ...]) -> int:
        """Time of the user's latest successful reset event among ``activities`` planted so far."""
        return max(
            t
            for t, r in self.events
            if r["activityDisplayName"] in activities
            and r["result"] == "success"
            and r["targetResources"][0]["id"] == u.id
        )

    def plant_correlations(self, found: dict[str, Any], *, spike: PlantedUser, banned: _User, helped: _User) -> None:
        """9. Risk detections around resets already planted: a detection the user fixed by SSPR, one the helpdesk
        fixed, and a spike account's reset followed by a detection from the reset's IP. Drawn from a random
        stream of their own and on reserved accounts, so every other case and the background stay as they were."""
        main, self.rng = self.rng, random.Random(f"{self.ns}/correlations")
        try:
            fixed = self._last_reset(banned, (SSPR_RESET,))
            change = (fixed, "remediated", "userPerformedSecuredPasswordReset")
            by_user = self.risk(
                banned, fixed - 3 * HOUR - 25 * MINUTE, "unfamiliarFeatures", "203.0.113.95", change=change
            )
            reset = self._last_reset(helped, (CORE_RESET,))
            change = (reset, "remediated", "adminGeneratedTemporaryPassword")
            by_admin = self.risk(
                helped, reset - 9 * HOUR - 40 * MINUTE, "anonymizedIPAddress", "203.0.113.96", change=change
            )
            (user,) = [u for u in self.users if u.id == spike.id]
            spiked = self._last_reset(user, (SSPR_RESET,))
            (ip,) = {
                r["initiatedBy"]["user"]["ipAddress"]
                for t, r in self.events
                if t == spiked and r["activityDisplayName"] == SSPR_RESET and r["targetResources"][0]["id"] == user.id
            }
            after = self.risk(user, spiked + 2 * HOUR + 10 * MINUTE, "unfamiliarFeatures", ip, level="medium")
        finally:
            self.rng = main
        found |= {
            "risk_reset_sspr_user": _pu([banned])[0],
            "risk_reset_sspr_detection_id": by_user.first["id"],
            "risk_reset_admin_user": _pu([helped])[0],
            "risk_reset_admin_detection_id": by_admin.first["id"],
            "reset_then_risk_user": spike,
            "reset_then_risk_ip": ip,
            "reset_then_risk_detection_id": after.first["id"],
        }


def _aware(moment: datetime, name: str) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), not {moment!r}")
    return _ticks(moment)


class DemoTenant:
    """The demo tenant "Northgate Engineering": ``users`` accounts and ``weeks`` weeks of history ending at ``end``
    (default: the most recent Monday 00:00 UTC), generated from ``seed`` on first use and cached."""

    def __init__(self, *, users: int = 2000, weeks: int = 26, seed: int = 7, end: datetime | None = None) -> None:
        for name, value, least in (("users", users, 50), ("weeks", weeks, 2)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"DemoTenant {name} must be a whole number of at least {least}, not {value!r}")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"DemoTenant seed must be an integer, not {seed!r}")
        if end is None:
            end = _monday(datetime.now(UTC))
        elif not isinstance(end, datetime) or end.tzinfo is None or end.utcoffset() is None:
            raise ValueError(f"DemoTenant end must be a timezone-aware datetime (UTC), not {end!r}")
        self.users, self.weeks, self.seed = users, weeks, seed
        self.end: datetime = end.astimezone(UTC)
        self.start: datetime = self.end - timedelta(weeks=weeks)
        self.domain: str = DOMAIN
        self.tenant_id: str = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"tenant.{DOMAIN}/seed/{seed}"))
        self._history: _History | None = None
        self._planted: Planted | None = None
        self._times: list[int] = []
        self._records: list[Record] = []
        self._registration: list[tuple[Record | None, Record | None]] = []

    def __repr__(self) -> str:
        return f"DemoTenant(users={self.users}, weeks={self.weeks}, seed={self.seed}, end={self.end.isoformat()})"

    def _data(self) -> _History:
        if self._history is None:
            history = _History(self.users, self.weeks, self.seed, self.end)
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
        t = _ticks(self.end) if as_of is None else _aware(as_of, "as_of")
        return [
            r.later if r.change is not None and r.change <= t and r.later else r.first
            for r in self._data().risks
            if r.arrival <= t
        ]

    def user_registration_details(self, as_of: datetime | None = None) -> list[Record]:
        """The userRegistrationDetails report as it was at ``as_of`` (default: ``end``)."""
        t = _ticks(self.end) if as_of is None else _aware(as_of, "as_of")
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
    def _reg_row(u: _User, registered: bool, t0: int) -> Record:
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
            "lastUpdatedDateTime": _iso(u.reg if registered and u.reg is not None and u.reg > t0 else t0),
        }

    # ------------------------------------------------------------------ directory configuration
    def _principal(self, u: _User | None) -> Record:
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
                    "startDateTime": _iso(_ticks(since)),
                    "endDateTime": _iso(_ticks(since + timedelta(days=365))),
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
            "lastModifiedDateTime": _iso(_ticks(self.start - timedelta(days=41, hours=-10))),
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
            {"isDefault": name == DOMAIN, "isInitial": name == INITIAL_DOMAIN, "name": name, "type": "Managed"}
            for name in (DOMAIN, INITIAL_DOMAIN)
        ]
        org = {"id": self.tenant_id, "displayName": DEMO_TENANT_NAME, "countryLetterCode": "GB", "tenantType": "AAD"}
        return [org | {"verifiedDomains": domains}]
