"""The one label table: every enumerated value a reader may see (signals, causes, risk states and details,
detection types, methods, stages, outcomes, booleans, coverage states, kinds of data, finding kinds), in words,
and every metric's label with the direction that is good for it.

A report, the e-mail, the terminal summary and findings.json show :func:`label` of a value, never the value:
``label("risk_state", "atRisk")`` is "at risk". A value the table does not know (a new one Microsoft adds) is
shown split into words by :func:`humanise` and kept, never dropped. The browser test of the weekly report checks
that no identifier-like key of this table (:func:`identifiers`) appears as visible text.

Each metric declares once, in :data:`METRICS`, its label and whether a higher value is better, worse or neither:
the report's tiles colour a change good, bad or neutral from it (a rise in blocked users is bad, a fall in members
not SSPR-capable good, a change in resets neither).

>>> label("risk_state", "atRisk"), label("writeback_cause", "agent_unreachable"), label("boolean", True)
('at risk', 'the on-premises agent was unreachable', 'yes')
>>> label("risk_state", "somethingNew"), humanise("failed_methods_never_registered")
('something new', 'failed methods never registered')
>>> METRICS["blocked_users"].better, METRICS["users_not_registered"].better, METRICS["sspr_resets"].better
('lower', 'lower', 'neither')
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

#: Which way a metric is good: a higher value, a lower one, or neither (a change is only news).
Better = Literal["higher", "lower", "neither"]


@dataclass(frozen=True)
class MetricLabel:
    """A metric's words: its ``label`` (as the tiles, the e-mail, the terminal and findings.json show it) and
    ``better``, the direction that is good for it."""

    label: str
    better: Better


#: The verification methods of an SSPR flow (``core.reason_rules.METHODS``), in words.
_METHODS: Final = {
    "email": "e-mail",
    "sms": "SMS",
    "voice": "voice call",
    "office_phone": "office phone",
    "app_notification": "Authenticator notification",
    "app_code": "Authenticator code",
    "security_questions": "security questions",
}


def _method_metrics() -> dict[str, MetricLabel]:
    out = {}
    for method, words in _METHODS.items():
        out[f"method_{method}_tried"] = MetricLabel(f"Flows trying {words}", "neither")
        out[f"method_{method}_failed"] = MetricLabel(f"Flows failing {words}", "lower")
        out[f"method_{method}_failure_rate"] = MetricLabel(f"Failure rate of {words}", "lower")
    return out


#: Every metric's label and good direction (``analysis.metrics.METRIC_SPECS`` names them all; a test keeps the
#: two in step).
METRICS: Final[Mapping[str, MetricLabel]] = {
    "sspr_resets": MetricLabel("Self-service resets", "neither"),
    "flows_started": MetricLabel("SSPR flows started", "neither"),
    "flow_success_rate": MetricLabel("Flow success rate", "higher"),
    "blocked_users": MetricLabel("Users blocked from SSPR", "lower"),
    "account_unlocks": MetricLabel("Accounts unlocked by self-service", "neither"),
    "password_changes": MetricLabel("Self-service password changes", "neither"),
    "banned_password_rejections": MetricLabel("Banned-password rejections", "neither"),
    "writeback_failures": MetricLabel("Password-writeback failures", "lower"),
    "unrecognised_reasons": MetricLabel("Unrecognised SSPR step texts", "lower"),
    "helpdesk_resets": MetricLabel("Helpdesk resets", "lower"),
    "taps_issued": MetricLabel("Temporary Access Passes", "neither"),
    "self_service_share": MetricLabel("Self-service share", "higher"),
    "helpdesk_cost_avoided": MetricLabel("Helpdesk cost avoided", "higher"),
    "registration_coverage": MetricLabel("Registration coverage", "higher"),
    "users_not_registered": MetricLabel("Members not SSPR-capable", "lower"),
    "sspr_enabled_members": MetricLabel("SSPR-enabled members", "neither"),
    "admin_registration_coverage": MetricLabel("Administrators' registration coverage", "higher"),
    "admins_not_capable": MetricLabel("Administrators not SSPR-capable", "lower"),
    **_method_metrics(),
}

#: Finding kinds as noun phrases: (one, with its article; many, after a number). "A reset spike and 4 leaked
#: passwords not changed need you this week"; a roll-up is "117 leaked passwords not changed".
FINDING_NOUNS: Final[Mapping[str, tuple[str, str]]] = {
    "data_gap": ("a data gap", "data gaps"),
    "reset_spike": ("a password-reset spike", "password-reset spikes"),
    "blocked_user": ("a user blocked from SSPR", "users blocked from SSPR"),
    "leaked_credentials_unremediated": ("a leaked password not changed", "leaked passwords not changed"),
    "security_info_changed_after_reset": (
        "a security-info change right after a reset",
        "security-info changes right after a reset",
    ),
    "phone_only_reset_new_ip": ("a phone-only reset from a new IP address", "phone-only resets from a new IP address"),
    "sspr_policy_changed": ("a change to the SSPR configuration", "changes to the SSPR configuration"),
    "password_writeback_disabled": ("a disabling of password writeback", "disablings of password writeback"),
    "admin_password_reset": ("an administrator password reset", "administrator password resets"),
    "helpdesk_reset": ("a helpdesk password reset", "helpdesk password resets"),
    "writeback_failure": ("a password-writeback failure cause", "password-writeback failure causes"),
    "registration_gap": ("a registration gap", "registration gaps"),
    "configuration_gap": (
        "an SSPR configuration below the recommendation",
        "SSPR configurations below the recommendation",
    ),
    "leaked_credentials_remediated": (
        "a leaked password changed by its user",
        "leaked passwords changed by their users",
    ),
}

#: Detection types of Identity Protection, as the portal names them.
RISK_TYPES: Final[Mapping[str, str]] = {
    "adminConfirmedUserCompromised": "Admin confirmed user compromised",
    "anomalousToken": "Anomalous token",
    "anomalousUserActivity": "Anomalous user activity",
    "anonymizedIPAddress": "Anonymous IP address",
    "attackerinTheMiddle": "Attacker in the middle",
    "generic": "Additional risk detected",
    "impossibleTravel": "Impossible travel",
    "investigationsThreatIntelligence": "Microsoft Entra threat intelligence",
    "leakedCredentials": "Leaked credentials",
    "maliciousIPAddress": "Malicious IP address",
    "mcasFinSuspiciousFileAccess": "Suspicious file access (Defender for Cloud Apps)",
    "mcasImpossibleTravel": "Impossible travel (Defender for Cloud Apps)",
    "mcasSuspiciousInboxManipulationRules": "Suspicious inbox manipulation rules",
    "nationStateIP": "Nation-state IP address",
    "newCountry": "New country",
    "passwordSpray": "Password spray",
    "riskyIPAddress": "Activity from anonymous IP address",
    "suspiciousAPITraffic": "Suspicious API traffic",
    "suspiciousBrowser": "Suspicious browser",
    "suspiciousInboxForwarding": "Suspicious inbox forwarding",
    "suspiciousSendingPatterns": "Suspicious sending patterns",
    "tokenIssuerAnomaly": "Token issuer anomaly",
    "unfamiliarFeatures": "Unfamiliar sign-in properties",
    "unlikelyTravel": "Atypical travel",
    "userReportedSuspiciousActivity": "User reported suspicious activity",
}

#: Every enumerated value a reader may see, by what it is.
LABELS: Final[Mapping[str, Mapping[str, str]]] = {
    "boolean": {"True": "yes", "False": "no", "true": "yes", "false": "no"},
    "assessment": {
        "possible_attack": "possible attack",
        "attack_not_ruled_out": "attack not ruled out",
        "needs_registration_help": "needs registration help",
    },
    "blocked_signal": {
        "ip_used_for_other_accounts": "the blocking IP address tried other accounts",
        "recent_risk_detections": "a risk detection shortly before",
        "failed_methods_never_registered": "failed a method the user never registered",
        "no_registration_row": "not in the registration report",
        "not_sspr_registered": "not registered for SSPR",
        "not_sspr_capable": "not SSPR-capable",
        "too_few_methods": "too few methods registered",
        "configuration_failures": "SSPR not set up for the user",
    },
    "writeback_cause": {
        "writeback_disabled": "password writeback is off for these users",
        "agent_unreachable": "the on-premises agent was unreachable",
        "ad_refused": "Active Directory refused the change",
        "cloud_update_failed": "the on-premises password changed but the cloud update failed",
        "cloud_password_rejected": "the cloud refused the password Active Directory took",
        "other": "another on-premises error",
    },
    "risk_state": {
        "none": "none",
        "atRisk": "at risk",
        "confirmedCompromised": "confirmed compromised",
        "confirmedSafe": "confirmed safe",
        "dismissed": "dismissed",
        "remediated": "remediated",
        "unknownFutureValue": "unknown (a new state)",
    },
    "risk_detail": {
        "none": "none",
        "adminGeneratedTemporaryPassword": "an administrator set a temporary password",
        "userPerformedSecuredPasswordChange": "the user changed their password",
        "userPerformedSecuredPasswordReset": "the user reset their password",
        "adminConfirmedSigninSafe": "an administrator confirmed the sign-in safe",
        "aiConfirmedSigninSafe": "Microsoft confirmed the sign-in safe",
        "userPassedMFADrivenByRiskBasedPolicy": "the user passed MFA (risk-based policy)",
        "adminDismissedAllRiskForUser": "an administrator dismissed the user's risk",
        "adminConfirmedSigninCompromised": "an administrator confirmed the sign-in compromised",
        "adminConfirmedUserCompromised": "an administrator confirmed the user compromised",
        "userChangedPasswordOnPremises": "the user changed their password on-premises",
        "adminDismissedRiskForSignIn": "an administrator dismissed the sign-in's risk",
        "adminConfirmedAccountSafe": "an administrator confirmed the account safe",
        "m365DAdminDismissedDetection": "dismissed in Microsoft Defender",
        "hidden": "hidden",
        "unknownFutureValue": "unknown (a new detail)",
    },
    "risk_type": RISK_TYPES,
    "method": _METHODS,
    "registered_method": {
        "email": "e-mail",
        "mobilePhone": "mobile phone",
        "alternateMobilePhone": "alternate mobile phone",
        "officePhone": "office phone",
        "microsoftAuthenticatorPush": "Authenticator notification",
        "softwareOneTimePasscode": "Authenticator or other code app",
        "hardwareOneTimePasscode": "hardware code token",
        "microsoftAuthenticatorPasswordless": "Authenticator passwordless sign-in",
        "windowsHelloForBusiness": "Windows Hello for Business",
        "fido2SecurityKey": "FIDO2 security key",
        "fido2": "FIDO2 security key",
        "passKeyDeviceBound": "passkey (device-bound)",
        "passKeyDeviceBoundAuthenticator": "passkey in Authenticator",
        "passKeyDeviceBoundWindowsHello": "passkey in Windows Hello",
        "temporaryAccessPass": "Temporary Access Pass",
        "securityQuestion": "security questions",
        "macOsSecureEnclaveKey": "macOS platform credential",
    },
    "policy_method": {
        "Fido2": "Passkeys (FIDO2)",
        "MicrosoftAuthenticator": "Microsoft Authenticator",
        "Sms": "SMS",
        "Voice": "Voice call",
        "Email": "E-mail one-time passcode",
        "TemporaryAccessPass": "Temporary Access Pass",
        "SoftwareOath": "Third-party software OATH tokens",
        "HardwareOath": "Hardware OATH tokens",
        "X509Certificate": "Certificate-based authentication",
        "QRCodePin": "QR code",
    },
    "stage": {
        "started": "started",
        "gate_started": "started a method",
        "gate_verified": "verified a method",
        "all_gates_verified": "all methods verified",
        "new_password_submitted": "new password submitted",
        "completed": "completed",
    },
    "end_state": {
        "completed": "completed",
        "unlocked": "unlocked the account",
        "abandoned": "abandoned",
        "cancelled": "cancelled",
        "contacted_admin": "contacted an administrator",
        "throttled": "throttled",
        "failed_configuration": "failed: SSPR not set up for the user",
        "failed_writeback": "failed: on-premises writeback",
        "cloud_password_rejected": "failed: the cloud refused the password Active Directory took",
        "banned_password": "new password banned",
        "failed_password_policy": "new password broke the policy",
        "failed_system": "failed: an error on Microsoft's side",
        "in_progress": "in progress",
    },
    "reset_type": {
        "sspr": "self-service reset",
        "self_service": "self-service reset",
        "admin": "administrator reset",
    },
    "remediation": {"sspr_reset": "reset by SSPR", "password_change": "changed their password"},
    "coverage_state": {
        "complete": "complete",
        "partial": "partial",
        "approximate": "approximate",
        "suspect": "probably not collected",
        "no data": "missing",
    },
    "data_kind": {
        "audit": "audit",
        "risk": "risk detection",
        "registration": "registration",
        "roles": "role",
        "policy": "policy",
    },
    "finding_kind": {kind: plural for kind, (_, plural) in FINDING_NOUNS.items()},
    "metric": {name: metric.label for name, metric in METRICS.items()},
}

_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_IDENTIFIER: Final = re.compile(r"[A-Za-z0-9]_[A-Za-z0-9]|[a-z0-9][A-Z]")


def humanise(value: object) -> str:
    """An identifier the table does not know, split into lower-case words: ``somethingNew`` → "something new",
    ``failed_methods_never_registered`` → "failed methods never registered"."""
    text = str(value).strip()
    spaced = _CAMEL.sub(" ", text.replace("_", " "))
    return " ".join(w if w.isupper() and len(w) > 1 else w.lower() for w in spaced.split())


def label(group: str, value: object) -> str:
    """``value`` (of what ``group`` names: a key of :data:`LABELS`) in words; "" for ``None``; a value the table
    does not know split into words (:func:`humanise`)."""
    if value is None:
        return ""
    key = str(value)
    table = LABELS.get(group, {})
    found = table.get(key)
    if found is None:
        lowered = {k.lower(): v for k, v in table.items()}
        found = lowered.get(key.lower())
    return found if found is not None else humanise(key)


def metric_label(name: str) -> str:
    """A metric's label (:data:`METRICS`); an unknown metric's name in words."""
    metric = METRICS.get(name)
    return metric.label if metric is not None else humanise(name).capitalize()


def is_identifier(text: str) -> bool:
    """True for text shaped like an identifier (one token in ``snake_case``, ``camelCase`` or ``PascalCase`` of
    two words or more), which a reader should see in words instead.

    >>> [is_identifier(t) for t in ("atRisk", "agent_unreachable", "TemporaryAccessPass", "Fido2", "no data")]
    [True, True, True, False, False]
    """
    return not any(c.isspace() for c in text) and bool(_IDENTIFIER.search(text))


def identifiers() -> frozenset[str]:
    """The table's keys that are shaped like identifiers (and the booleans' ``True``/``False``): none of them may
    appear as visible text in a report."""
    keys = {key for table in LABELS.values() for key in table if is_identifier(key)}
    return frozenset(keys | {"True", "False"})
