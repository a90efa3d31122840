"""The analysis layer: pure, vectorised functions over the normalised tables of :mod:`sspr_review.core.schema`.

It imports only :mod:`sspr_review.core`: the thresholds are :class:`~sspr_review.core.settings.AnalysisSettings`.
Typical use::

    window = review_window(None, "Europe/Berlin")
    review = build_review(ReviewInputs(tables, coverage, window), AnalysisSettings(timezone="Europe/Berlin"))
    document = findings_json(review)

Modules: :mod:`.window` (the review week), :mod:`.activities` (which audit events are what), :mod:`.reasons`
(classifying resultReason texts with the rule table of :mod:`sspr_review.core.reason_rules`), :mod:`.flows`
(SSPR flows), :mod:`.prepare` (derived tables), :mod:`.metrics` (weekly metrics and trend), :mod:`.model` (the
finding, its kinds, fingerprints and JSON form), :mod:`.accounts` (account matching and the week's resets, shared
by the rules), the rules by family (:mod:`.rules_spikes` with :mod:`.sliding`, :mod:`.spike_baseline` and
:mod:`.spike_signals`, :mod:`.rules_resets`, :mod:`.rules_blocked`, :mod:`.rules_leaked`,
:mod:`.rules_writeback`, :mod:`.rules_registration`, :mod:`.takeover`), :mod:`.registry` (every rule and the
kinds of data it needs, running them, data gaps), :mod:`.compare` (week-over-week: new, continuing, resolved),
:mod:`.correlations` (risk detections against password resets, both ways), :mod:`.inputs` (what one review is
built from), :mod:`.review` (one review and its findings.json), :mod:`.verdict` (what needs the reviewer this week) and
:mod:`.lookups` (the accounts the rules look
up, for a lean registration snapshot).
"""

from ..core.settings import AnalysisSettings
from ..core.vocabulary import KNOWN_ACTIVITIES
from .activities import activity_kind
from .compare import Comparison, compare
from .correlations import Correlations, correlate, reset_to_risk, risk_outcomes, risk_to_reset
from .flows import Flows, classify_events, completed_resets, flows, unrecognised_reasons
from .inputs import ReviewInputs, holds_data, prepare_inputs
from .metrics import METRIC_SPECS, Metric, MetricSpec, weekly_metrics, window_metrics
from .model import KINDS, SEVERITIES, Finding, Rule, finding_from_dict, finding_to_dict, fingerprint, sort_findings
from .prepare import ReviewData, prepare
from .privileged import privileged_lookup
from .reasons import END_STATES, METHODS, STAGES, ReasonRule, classify_reasons, reason_rules
from .registry import RULES, data_gaps, evaluate
from .review import SCHEMA_VERSION, Review, build_review, findings_json, findings_schema, verdict_of
from .rules_blocked import find_blocked_users
from .rules_leaked import find_leaked_credentials_remediated, find_leaked_credentials_unremediated
from .rules_registration import find_registration_gaps
from .rules_resets import find_admin_password_resets, find_helpdesk_resets
from .rules_spikes import find_reset_spikes
from .rules_writeback import find_writeback_failures
from .spike_baseline import spike_hours
from .takeover import find_phone_only_resets_new_ip, find_security_info_changes_after_reset, phone_only_unjudged
from .verdict import Verdict, judge
from .window import ReviewWindow, review_window

__all__ = [
    "END_STATES",
    "KINDS",
    "KNOWN_ACTIVITIES",
    "METHODS",
    "METRIC_SPECS",
    "RULES",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "STAGES",
    "AnalysisSettings",
    "Comparison",
    "Correlations",
    "Finding",
    "Flows",
    "Metric",
    "MetricSpec",
    "ReasonRule",
    "Review",
    "ReviewData",
    "ReviewInputs",
    "ReviewWindow",
    "Rule",
    "Verdict",
    "activity_kind",
    "build_review",
    "classify_events",
    "classify_reasons",
    "compare",
    "completed_resets",
    "correlate",
    "data_gaps",
    "evaluate",
    "find_admin_password_resets",
    "find_blocked_users",
    "find_helpdesk_resets",
    "find_leaked_credentials_remediated",
    "find_leaked_credentials_unremediated",
    "find_phone_only_resets_new_ip",
    "find_registration_gaps",
    "find_reset_spikes",
    "find_security_info_changes_after_reset",
    "find_writeback_failures",
    "finding_from_dict",
    "finding_to_dict",
    "findings_json",
    "findings_schema",
    "fingerprint",
    "flows",
    "holds_data",
    "judge",
    "phone_only_unjudged",
    "prepare",
    "prepare_inputs",
    "privileged_lookup",
    "reason_rules",
    "reset_to_risk",
    "review_window",
    "risk_outcomes",
    "risk_to_reset",
    "sort_findings",
    "spike_hours",
    "unrecognised_reasons",
    "verdict_of",
    "weekly_metrics",
    "window_metrics",
]
