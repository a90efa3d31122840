"""Thresholds and windows of the analyses, in one frozen object.

Every number a rule uses lives here, with its default; the configuration layer maps the ``[analysis]`` table of
the TOML file onto these fields by name. Construction validates the values (pydantic, from the
constraints in the field types), so a typo in the configuration fails before any analysis runs; the
configuration's ``[analysis]`` section is built from the same field types.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from pydantic import ConfigDict, Field
from pydantic.dataclasses import dataclass

from .reason_rules import ReasonRule, load_rules
from .weeks import zone

#: A whole number of at least 1; of at least 0.
Positive = Annotated[int, Field(ge=1)]
NonNegative = Annotated[int, Field(ge=0)]


@dataclass(frozen=True, config=ConfigDict(strict=True))
class AnalysisSettings:
    """Thresholds and windows of the review. All fields have documented defaults.

    >>> AnalysisSettings(spike_accounts=5).spike_window_minutes
    60
    """

    #: IANA time zone that defines the review week (Monday 00:00 local time).
    timezone: str = "UTC"
    #: ``reset_spike``: completed SSPR resets for at least this many *distinct* accounts ...
    spike_accounts: Positive = 10
    #: ... inside a sliding window of this many minutes (first and last reset at most this far apart).
    spike_window_minutes: Positive = 60
    #: ``reset_spike``: weeks of history the baseline of each hour of the week is taken from (the same hour in
    #: each of the weeks before). A window is a spike when it also exceeds that baseline's limit; with fewer weeks
    #: held complete the absolute rule alone applies (and the finding says so). 0: the absolute rule always.
    spike_baseline_weeks: NonNegative = 8
    #: ``reset_spike``: the baseline's limit lies this many robust spreads above its median (the spread: 1.4826 ×
    #: the median absolute deviation, at least √median and at least 1).
    spike_baseline_spread: Annotated[float, Field(gt=0)] = 3.0
    #: ``reset_spike``: this many accounts completing resets from one IP address new to them ...
    spike_burst_accounts: Positive = 6
    #: ... within this many minutes are a burst worth a finding even below ``spike_accounts``.
    spike_burst_minutes: Positive = 10
    #: ``blocked_user``: a risk detection for the user this many days before the block suggests an attack.
    blocked_risk_lookback_days: Positive = 14
    #: ``blocked_user``: the blocking IP also tried at least this many other accounts in the week.
    blocked_ip_other_accounts: Positive = 3
    #: Methods a user needs for SSPR (the tenant's policy; Graph cannot read it). Fewer = registration help.
    sspr_methods_required: Positive = 1
    #: Methods an administrator needs for SSPR (Microsoft's fixed two-gate administrator policy).
    admin_methods_required: Positive = 2
    #: ``leaked_credentials_remediated``: a reset or change this many days after the detection counts.
    leak_remediation_days: Positive = 7
    #: ``leaked_credentials_unremediated``: a detection becomes a finding after this many days without a fix.
    leak_grace_days: NonNegative = 3
    #: ``registration_gap``: SSPR-capable share of SSPR-enabled member users below this is a finding (0-1].
    registration_target: Annotated[float, Field(gt=0, le=1)] = 0.95
    #: Cost of one helpdesk password reset, for the "helpdesk cost avoided" metric.
    helpdesk_reset_cost: Annotated[float, Field(ge=0)] = 25.0
    #: Currency of ``helpdesk_reset_cost`` (ISO 4217 code, shown next to the amount).
    currency: str = "USD"
    #: ``helpdesk_reset``: a Temporary Access Pass issued this many hours before or after the reset counts.
    tap_match_hours: NonNegative = 24
    #: ``security_info_changed_after_reset``: a security-info change at most this many hours after a password
    #: reset (and not this soon after a Temporary Access Pass) is a chain.
    takeover_window_hours: Positive = 24
    #: ``phone_only_reset_new_ip``: an IP the user did not use in this many days before the reset is new.
    new_ip_lookback_days: Positive = 90
    #: Admin-reset audit events for the same user this close together are one reset (SSPR + Core Directory).
    admin_reset_merge_minutes: NonNegative = 5
    #: Correlation tables and the leaked-credentials trend: a reset or password change this many days after a
    #: risk detection counts as fixing it.
    remediation_days: Positive = 7
    #: Reset → risk table: detections this many hours after a reset count as following it.
    risk_after_reset_hours: Positive = 24
    #: Most user names listed in one finding (the count is always complete).
    max_users_listed: Positive = 200
    #: Most weeks in the trend table (the history is otherwise used in full).
    max_history_weeks: Positive = 520
    #: Your own resultReason rules: a CSV file with the columns of the packaged ``result_reasons.csv``, tried
    #: before it (your rules win). Empty: the packaged rules only. See :mod:`.reasons`.
    reason_rules: str = ""
    #: More findings than this of one kind and one severity in a week are shown as one entry with a table of the
    #: users (report, terminal summary, e-mail); findings.json keeps every finding.
    rollup_threshold: Positive = 10
    #: ``sspr_policy_changed``: the longest recommended interval before users reconfirm their methods (days); a
    #: change raising it above this (or to never) weakens SSPR, and a longer one is a ``configuration_gap``.
    sspr_reconfirm_max_days: Positive = 180
    #: ``sspr_policy_changed``, ``password_writeback_disabled``: a weakening change by an account that, in this
    #: many hours before it, had its password reset (by itself or an administrator), its security info changed or
    #: a risk detection is critical.
    policy_chain_hours: Positive = 24

    def __post_init__(self) -> None:
        zone(self.timezone)
        if self.reason_rules:
            load_rules(self.reason_rules)  # a malformed table fails here, naming file, line and column

    def rules(self) -> tuple[ReasonRule, ...]:
        """The reason rules in force: ``reason_rules`` (if set) before the packaged table."""
        return load_rules(self.reason_rules or None)

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dictionary (for findings.json and reports)."""
        return asdict(self)
