"""The kit's shared vocabulary, in one place: severities, kinds of data, activity names, KPIs.

The analyses, ingestion, the report and the e-mail all read their words from here, so that a name is spelt,
ordered and labelled the same way everywhere; the labels themselves (what a reader sees) are in
:mod:`sspr_review.core.labels`, the one label table.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from .labels import METRICS

# ------------------------------------------------------------------------------------------- findings
#: Finding severities, most severe first (the order of every list, count and badge).
SEVERITIES: Final = ("critical", "high", "medium", "low", "info")

# ------------------------------------------------------------------------------------------- data kinds
#: Kinds read as events over time (a fetch reads a window of them; the store holds intervals).
TimedKind = Literal["audit", "risk"]
#: Kinds read as snapshots (the state at a moment) rather than as events over time.
SnapshotKind = Literal["registration", "roles", "policy"]
#: The kinds of data a review reads; each has its own coverage ("no data" is said per kind). Not to be confused
#: with a source (graph, demo, files, log-analytics: see :mod:`sspr_review.sources`), which provides them.
DataKind = Literal[TimedKind, SnapshotKind]

TIMED_KINDS: Final[tuple[TimedKind, ...]] = get_args(TimedKind)
SNAPSHOT_KINDS: Final[tuple[SnapshotKind, ...]] = get_args(SnapshotKind)
DATA_KINDS: Final[tuple[DataKind, ...]] = get_args(DataKind)

# ------------------------------------------------------------------------------------------------ policy
#: ``templateId`` of the directory setting holding the password protection rules (groupSettings).
PASSWORD_RULE_TEMPLATE: Final = "5cf42378-d67d-4f36-ba46-e8b86229381d"

# ---------------------------------------------------------------------------------------- audit events
#: ``loggedByService`` of SSPR's own audit events.
SSPR_SERVICE: Final = "Self-service Password Management"
#: The other value public scripts filter Graph with for SSPR's events (:mod:`sspr_review.sources.graph.sspr_service`).
SSPR_SERVICE_SHORT: Final = "SSPR"
#: SSPR's own activities, as Microsoft lists them for the service (the fetch's fallback filter, the opt-in check).
SSPR_ACTIVITY_NAMES: Final = (
    "Blocked from self-service password reset",
    "Change password (self-service)",
    "Reset password (by admin)",
    "Reset password (self-service)",
    "Security info saved for self-service password reset",
    "Self-service password reset flow activity progress",
    "Unlock user account (self-service)",
    "User registered for self-service password reset",
    "Enable password writeback for directory",
    "Disable password writeback for directory",
    "Self-service password reset policy changes",
)

SSPR_RESET: Final = "reset password (self-service)"
SSPR_PROGRESS: Final = "self-service password reset flow activity progress"
SSPR_CHANGE: Final = "change password (self-service)"
SSPR_UNLOCK: Final = "unlock user account (self-service)"
SSPR_BLOCKED: Final = "blocked from self-service password reset"
ADMIN_RESET: Final = "reset password (by admin)"
DIRECTORY_RESETS: Final = frozenset({"reset user password", "reset password"})
#: Any other activity whose name starts with this is treated like a directory reset.
RESET_PREFIX: Final = "reset password"
TAP_ACTIVITY: Final = "admin registered security info"
#: Substring of the resultReason of a Temporary Access Pass registration (case-insensitive).
TAP_REASON: Final = "temporary access pass"
#: Initiators whose UPN starts with this are the hybrid writeback's sync account, not a person.
SYNC_ACCOUNT_PREFIX: Final = "sync_"
#: ``result`` value of a successful event (lower case).
SUCCESS: Final = "success"
#: A change of the SSPR policy, one ``modifiedProperties`` entry per setting (see ``analysis/policy_changes.py``).
SSPR_POLICY_UPDATE: Final = "update sspr settings"
WRITEBACK_ENABLE: Final = "enable password writeback for directory"
WRITEBACK_DISABLE: Final = "disable password writeback for directory"
#: The activities that change the SSPR configuration (lower case).
POLICY_ACTIVITIES: Final = frozenset({SSPR_POLICY_UPDATE, WRITEBACK_ENABLE, WRITEBACK_DISABLE})

#: Activities that are known but carry no metric of their own.
OTHER_KNOWN: Final = frozenset(
    {
        "security info saved for self-service password reset",
        "user registered for self-service password reset",
        "enable password writeback for directory",
        "disable password writeback for directory",
        "update sspr settings",
        "self-service password reset policy changes",
        "user registered security info",
        "user registered all required security info",
        "user started security info registration",
        "user deleted security info",
        "user changed default security info",
        "user updated security info",
        "admin registered security info",
        "admin deleted security info",
        "admin updated security info",
        "change user password",
    }
)

#: Every activity name the analyses know (lower case).
KNOWN_ACTIVITIES: Final = frozenset(
    {SSPR_RESET, SSPR_PROGRESS, SSPR_CHANGE, SSPR_UNLOCK, SSPR_BLOCKED, ADMIN_RESET} | DIRECTORY_RESETS | OTHER_KNOWN
)

# -------------------------------------------------------------------------------------------------- KPIs
#: The headline metrics of the terminal summary, the report's tiles and the e-mail, in order, with their labels
#: (from the label table, :data:`sspr_review.core.labels.METRICS`).
KPIS: Final = tuple(
    (name, METRICS[name].label)
    for name in (
        "sspr_resets",
        "flows_started",
        "flow_success_rate",
        "blocked_users",
        "helpdesk_resets",
        "taps_issued",
        "self_service_share",
        "registration_coverage",
        "users_not_registered",
    )
)
