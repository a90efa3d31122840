"""What the demo tenant planted: :class:`Planted` describes every case of the last review week (and the near
misses around it) so that tests and demos can assert on them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Planted", "PlantedUser"]


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
    # 10. SSPR configuration changes (see policy_plants.py), in the review week
    policy_admin: PlantedUser  # methods 2 → 1 with security questions added, admin notification off, writeback off
    policy_other_admin: PlantedUser  # a benign change (the helpdesk link) and a save that changed nothing
    policy_weakening_id: str  # the "Update SSPR Settings" record of the methods change
    policy_admin_notify_id: str  # NotifyTenantAdminOfReset True → False
    policy_writeback_id: str  # "Disable password writeback for directory"
    policy_benign_id: str  # CustomContactAdminLink changed
    policy_unchanged_id: str  # a save whose every value stayed the same
