"""Thresholds and windows of the analyses, in one frozen object.

Every number a rule uses lives here, with its default; the configuration layer maps the ``[analysis]`` table of
the TOML file onto these fields by name. Construction validates the values, so a typo in the configuration fails
before any analysis runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .reasons import ReasonRule, load_rules
from .window import zone


@dataclass(frozen=True)
class AnalysisSettings:
    """Thresholds and windows of the review. All fields have documented defaults.

    >>> AnalysisSettings(spike_accounts=5).spike_window_minutes
    60
    """

    #: IANA time zone that defines the review week (Monday 00:00 local time).
    timezone: str = "UTC"
    #: ``reset_spike``: completed SSPR resets for at least this many *distinct* accounts ...
    spike_accounts: int = 10
    #: ... inside a sliding window of this many minutes (first and last reset at most this far apart).
    spike_window_minutes: int = 60
    #: ``blocked_user``: a risk detection for the user this many days before the block suggests an attack.
    blocked_risk_lookback_days: int = 14
    #: ``blocked_user``: the blocking IP also tried at least this many other accounts in the week.
    blocked_ip_other_accounts: int = 3
    #: Methods a user needs for SSPR (the tenant's policy; Graph cannot read it). Fewer = registration help.
    sspr_methods_required: int = 1
    #: Methods an administrator needs for SSPR (Microsoft's fixed two-gate administrator policy).
    admin_methods_required: int = 2
    #: ``leaked_credentials_remediated``: a reset or change this many days after the detection counts.
    leak_remediation_days: int = 7
    #: ``leaked_credentials_unremediated``: a detection becomes a finding after this many days without a fix.
    leak_grace_days: int = 3
    #: ``registration_gap``: SSPR-capable share of SSPR-enabled member users below this is a finding (0-1].
    registration_target: float = 0.95
    #: Cost of one helpdesk password reset, for the "helpdesk cost avoided" metric.
    helpdesk_reset_cost: float = 25.0
    #: Currency of ``helpdesk_reset_cost`` (ISO 4217 code, shown next to the amount).
    currency: str = "USD"
    #: ``helpdesk_reset``: a Temporary Access Pass issued this many hours before or after the reset counts.
    tap_match_hours: int = 24
    #: ``security_info_changed_after_reset``: a security-info change at most this many hours after a password
    #: reset (and not this soon after a Temporary Access Pass) is a chain.
    takeover_window_hours: int = 24
    #: ``phone_only_reset_new_ip``: an IP the user did not use in this many days before the reset is new.
    new_ip_lookback_days: int = 90
    #: Admin-reset audit events for the same user this close together are one reset (SSPR + Core Directory).
    admin_reset_merge_minutes: int = 5
    #: Correlation tables and the leaked-credentials trend: a reset or password change this many days after a
    #: risk detection counts as fixing it.
    remediation_days: int = 7
    #: Reset → risk table: detections this many hours after a reset count as following it.
    risk_after_reset_hours: int = 24
    #: Most user names listed in one finding (the count is always complete).
    max_users_listed: int = 200
    #: Most weeks in the trend table (the history is otherwise used in full).
    max_history_weeks: int = 520
    #: Your own resultReason rules: a CSV file with the columns of the packaged ``result_reasons.csv``, tried
    #: before it (your rules win). Empty: the packaged rules only. See :mod:`.reasons`.
    reason_rules: str = ""
    #: More findings than this of one kind and one severity in a week are shown as one entry with a table of the
    #: users (report, terminal summary, e-mail); findings.json keeps every finding.
    rollup_threshold: int = 10

    def __post_init__(self) -> None:
        positive = {
            "spike_accounts": self.spike_accounts,
            "spike_window_minutes": self.spike_window_minutes,
            "blocked_risk_lookback_days": self.blocked_risk_lookback_days,
            "blocked_ip_other_accounts": self.blocked_ip_other_accounts,
            "sspr_methods_required": self.sspr_methods_required,
            "admin_methods_required": self.admin_methods_required,
            "leak_remediation_days": self.leak_remediation_days,
            "takeover_window_hours": self.takeover_window_hours,
            "new_ip_lookback_days": self.new_ip_lookback_days,
            "max_users_listed": self.max_users_listed,
            "remediation_days": self.remediation_days,
            "risk_after_reset_hours": self.risk_after_reset_hours,
            "max_history_weeks": self.max_history_weeks,
            "rollup_threshold": self.rollup_threshold,
        }
        for name, value in positive.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"analysis setting {name} must be a whole number of at least 1, not {value!r}")
        non_negative = {
            "leak_grace_days": self.leak_grace_days,
            "tap_match_hours": self.tap_match_hours,
            "admin_reset_merge_minutes": self.admin_reset_merge_minutes,
        }
        for name, value in non_negative.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"analysis setting {name} must be a whole number of at least 0, not {value!r}")
        if not 0 < self.registration_target <= 1:
            raise ValueError(
                f"analysis setting registration_target must be a share in (0, 1], not {self.registration_target!r}"
            )
        if self.helpdesk_reset_cost < 0:
            raise ValueError(f"analysis setting helpdesk_reset_cost must not be negative: {self.helpdesk_reset_cost}")
        zone(self.timezone)
        if self.reason_rules:
            load_rules(self.reason_rules)  # a malformed table fails here, naming file, line and column

    def rules(self) -> tuple[ReasonRule, ...]:
        """The reason rules in force: ``reason_rules`` (if set) before the packaged table."""
        return load_rules(self.reason_rules or None)

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dictionary (for findings.json and reports)."""
        return asdict(self)
