"""The demo tenant's fixed facts: its names and domains, the activity and reason texts it writes, methods,
roles, IP ranges (documentation ranges only: RFC 5737, RFC 3849), the weekly rhythm, and Graph's timestamp form
(ticks of 100 ns since 1970, written with seven fractional digits)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ...core.timefmt import ticks_iso
from ...core.vocabulary import SSPR_SERVICE

__all__ = [
    "ADMIN_GROUP",
    "ADMIN_METHODS",
    "ADMIN_RESET",
    "AUTH_METHODS",
    "AUTH_METHOD_STATES",
    "BLOCKED",
    "BLOCK_REASON",
    "CONFIG_FAILURE",
    "CORE",
    "CORE_RESET",
    "DAY",
    "DAY_WEIGHTS",
    "DEMO_TENANT_NAME",
    "DEVICE",
    "DOMAIN",
    "EPOCH",
    "FIRST",
    "FLOW_ENDINGS",
    "HOME_IPS",
    "HOSTILE_NAME",
    "HOUR",
    "HOURS",
    "HOUR_CUM",
    "HOUR_WEIGHTS",
    "INITIAL_DOMAIN",
    "LAST",
    "METHODS",
    "METHOD_SETS",
    "MFA_METHODS",
    "MINUTE",
    "OFFICE_IPS",
    "ONBOARDING_APP",
    "PARTNERS",
    "PASSWORD_RULES",
    "PLACES",
    "PROGRESS",
    "RISK_TYPES",
    "ROLES",
    "ROLE_LAYOUT",
    "SECOND",
    "SPIKE_IPS",
    "SSPR",
    "SSPR_CHANGE",
    "SSPR_RESET",
    "TAP_REASON",
    "UNKNOWN_ACTIVITY",
    "UNKNOWN_REASON",
    "UNLOCK",
    "USER_AGENTS",
    "WEEK",
    "WRITEBACK_PROBLEM",
    "WRITEBACK_UNREACHABLE",
    "Record",
    "as_datetime",
    "as_ticks",
    "domains",
    "graph_time",
]

DEMO_TENANT_NAME: Final = "Northgate Engineering"
DOMAIN: Final = "northgate-eng.example"
INITIAL_DOMAIN: Final = "northgateeng.onmicrosoft.example"


def domains(name: str) -> tuple[str, str]:
    """A demo tenant's default and initial domain: Northgate's own, else made from ``name`` (``[demo] name`` of a
    second demo tenant): "Harbour Freight" → ``harbour-freight.example``, ``harbourfreight.onmicrosoft.example``."""
    if name == DEMO_TENANT_NAME:
        return DOMAIN, INITIAL_DOMAIN
    slug = "-".join(re.findall(r"[a-z0-9]+", name.lower())) or "demo"
    return f"{slug}.example", f"{slug.replace('-', '')}.onmicrosoft.example"


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
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def as_ticks(moment: datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86400 + delta.seconds) * SECOND + delta.microseconds * 10


def as_datetime(ticks: int) -> datetime:
    return EPOCH + timedelta(microseconds=ticks // 10)


#: Graph's timestamp form of ticks: ``2026-11-16T10:41:03.1234567Z``.
graph_time = ticks_iso
