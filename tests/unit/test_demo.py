"""The demo tenant: deterministic Graph-shaped records with every planted case present in the raw JSON."""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sspr_review.core.vocabulary import POLICY_ACTIVITIES
from sspr_review.ingest import normalize
from sspr_review.sources.demo.tenant import DEMO_TENANT_NAME, DemoTenant, Planted, PlantedUser

END = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday
SSPR = "Self-service Password Management"
RESET = "Reset password (self-service)"
PROGRESS = "Self-service password reset flow activity progress"
BLOCKED = "Blocked from self-service password reset"
GA_ROLE = "62e90394-69f5-4237-9190-012177145e10"
HELPDESK_ROLE = "729827e3-9c14-49f7-bb1b-9608f156bbb8"
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z")
Record = dict[str, Any]


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return DemoTenant(users=300, weeks=5, end=END)


@pytest.fixture(scope="module")
def audits(tenant: DemoTenant) -> list[Record]:
    return tenant.directory_audits()


@pytest.fixture(scope="module")
def planted(tenant: DemoTenant) -> Planted:
    return tenant.planted


@pytest.fixture(scope="module")
def big() -> DemoTenant:
    return DemoTenant(end=END)  # default size: 2,000 users, 26 weeks


def when(text: str) -> datetime:
    return datetime.fromisoformat(text[:26] + "+00:00")


def upn(record: Record) -> str:
    return str(record["targetResources"][0]["userPrincipalName"])


def of(records: Iterable[Record], activity: str, result: str | None = "success") -> list[Record]:
    return [r for r in records if r["activityDisplayName"] == activity and (result is None or r["result"] == result)]


def in_week(records: Iterable[Record], planted: Planted) -> list[Record]:
    return [r for r in records if planted.review_start <= when(r["activityDateTime"]) < planted.review_end]


def max_distinct(resets: list[Record], minutes: int = 60) -> int:
    """Most distinct accounts with a reset inside any window of ``minutes``."""
    rows = sorted((when(r["activityDateTime"]), upn(r)) for r in resets)
    best = 0
    for i, (start, _) in enumerate(rows):
        best = max(best, len({u for t, u in rows[i:] if t - start <= timedelta(minutes=minutes)}))
    return best


def everything(t: DemoTenant) -> str:
    groups = {t.planted.admin_group_id: t.group_members(t.planted.admin_group_id)}
    parts = [
        t.directory_audits(),
        t.risk_detections(),
        t.user_registration_details(),
        t.role_definitions(),
        t.role_assignments(),
        t.role_eligibility_schedule_instances(),
        groups,
        t.group_settings(),
        t.authentication_methods_policy(),
        t.organization(),
    ]
    return json.dumps(parts, sort_keys=True)


# ------------------------------------------------------------------------------------------- the interface


def test_same_arguments_give_identical_records(tenant: DemoTenant) -> None:
    again = DemoTenant(users=300, weeks=5, end=END)
    assert everything(again) == everything(tenant)
    assert again.planted == tenant.planted and again.tenant_id == tenant.tenant_id
    other = DemoTenant(users=300, weeks=5, end=END, seed=8)
    assert other.tenant_id != tenant.tenant_id
    assert everything(other) != everything(tenant)


def test_attributes_and_default_end() -> None:
    t = DemoTenant(users=50, weeks=2)
    assert t.end.tzinfo is not None and t.end.utcoffset() == timedelta(0)
    assert (t.end.weekday(), t.end.hour, t.end.minute, t.end.second) == (0, 0, 0, 0)
    assert timedelta(0) <= datetime.now(UTC) - t.end < timedelta(days=7)
    assert t.start == t.end - timedelta(weeks=2)
    assert t.domain == "northgate-eng.example"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", t.tenant_id)
    assert t.directory_audits() and len(t.user_registration_details()) == 50


@pytest.mark.parametrize(
    "kwargs",
    [
        {"users": 49},
        {"weeks": 1},
        {"users": True},
        {"users": "200"},
        {"seed": "7"},
        {"end": datetime(2026, 11, 16)},
        {"end": "2026-11-16"},
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="DemoTenant"):
        DemoTenant(**kwargs)


def test_naive_query_times_are_refused(tenant: DemoTenant) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        tenant.directory_audits(datetime(2026, 11, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        tenant.risk_detections(datetime(2026, 11, 1))


def test_window_filtering_is_inclusive_and_sorted(tenant: DemoTenant, audits: list[Record]) -> None:
    times = [r["activityDateTime"] for r in audits]
    assert times == sorted(times)
    assert all(tenant.start <= when(t) <= tenant.end for t in times)
    a, b = len(times) // 4, len(times) // 2
    lo, hi = when(times[a]), when(times[b]) + timedelta(microseconds=1)  # Graph has 100 ns, datetime 1 µs
    window = tenant.directory_audits(lo, hi)
    assert window == [r for r in audits if lo <= when(r["activityDateTime"]) < hi]
    assert window[0] is audits[a] and window[-1]["activityDateTime"] == times[b]
    assert tenant.directory_audits(start=hi) == audits[b + 1 :]
    assert tenant.directory_audits(end=lo - timedelta(microseconds=1)) == audits[:a]
    window.clear()  # callers get new lists
    assert len(tenant.directory_audits(lo, hi)) > 0


def test_directory_audits_have_graph_shape(audits: list[Record]) -> None:
    keys = [
        "id",
        "category",
        "correlationId",
        "result",
        "resultReason",
        "activityDisplayName",
        "activityDateTime",
        "loggedByService",
        "operationType",
        "initiatedBy",
        "targetResources",
        "additionalDetails",
    ]
    ids = [r["id"] for r in audits]
    assert len(set(ids)) == len(ids)
    for r in audits:
        assert list(r)[: len(keys)] == keys
        assert TIME.fullmatch(r["activityDateTime"])
        assert r["loggedByService"] in (SSPR, "Authentication Methods", "Core Directory")
        assert set(r["initiatedBy"]) == {"user", "app"}
        user = r["initiatedBy"]["user"]
        if user is not None:
            assert set(user) == {"id", "displayName", "userPrincipalName", "ipAddress"}
        for target in r["targetResources"]:
            assert set(target) == {"id", "displayName", "type", "userPrincipalName", "modifiedProperties"}
            if r["activityDisplayName"].lower() in POLICY_ACTIVITIES:  # the SSPR configuration's changes (issue 23)
                assert target["type"] in ("Policy", "Directory") and target["userPrincipalName"] is None
                assert all(set(p) == {"displayName", "oldValue", "newValue"} for p in target["modifiedProperties"])
            else:
                assert target["type"] == "User" and target["modifiedProperties"] == []
        assert all(set(d) == {"key", "value"} for d in r["additionalDetails"])


def test_ips_are_documentation_ranges(tenant: DemoTenant, audits: list[Record]) -> None:
    allowed = [ipaddress.ip_network(n) for n in ("203.0.113.0/24", "198.51.100.0/24", "192.0.2.0/24", "2001:db8::/32")]
    ips = {r["initiatedBy"]["user"]["ipAddress"] for r in audits if r["initiatedBy"]["user"]}
    ips |= {r["ipAddress"] for r in tenant.risk_detections() if r["ipAddress"]}
    assert all(any(ipaddress.ip_address(ip) in net for net in allowed) for ip in ips)
    assert any(":" in ip for ip in ips)  # a few IPv6 addresses


def test_completed_flows_have_both_completion_events(audits: list[Record]) -> None:
    flows: dict[str, list[Record]] = {}
    for r in audits:
        if r["activityDisplayName"] in (PROGRESS, RESET):
            flows.setdefault(r["correlationId"], []).append(r)
    completed = [f for f in flows.values() if of(f, RESET)]
    assert len(completed) > 50
    for flow in completed:
        reasons = [r["resultReason"] for r in flow if r["activityDisplayName"] == PROGRESS]
        assert reasons[:2] == ["User submitted their user ID", "User was presented with verification options"]
        assert "User successfully reset password" in reasons and "User submitted a new password" in reasons
        assert len({upn(r) for r in flow}) == 1


def test_hostile_display_name(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    hostile = planted.hostile_user
    assert hostile.display_name.startswith("Robert <img src=x onerror=alert(1)>")
    assert "<script>alert('xss')</script>'); DROP TABLE--" in hostile.display_name
    assert hostile.upn == "robert.tables@northgate-eng.example"
    rows = [r for r in tenant.user_registration_details() if r["id"] == hostile.id]
    assert rows[0]["userDisplayName"] == hostile.display_name
    assert any(t["displayName"] == hostile.display_name for r in audits for t in r["targetResources"])


# ------------------------------------------------------------------------------------------- planted cases


def test_reset_spike_straddles_an_hour(audits: list[Record], planted: Planted) -> None:
    week = of(in_week(audits, planted), RESET)
    spike = {u.upn for u in planted.spike_users}
    assert len(spike) == 14
    mine = [r for r in week if upn(r) in spike]
    first, last = min(when(r["activityDateTime"]) for r in mine), max(when(r["activityDateTime"]) for r in mine)
    assert {upn(r) for r in mine} == spike and last - first <= timedelta(minutes=45)
    assert (first, last) == (planted.spike_start, planted.spike_end)
    ips = {r["initiatedBy"]["user"]["ipAddress"] for r in mine}
    assert ips == set(planted.spike_ips) and len(ips) == 3
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("203.0.113.0/24") for ip in ips)
    per_hour = Counter(when(r["activityDateTime"]).replace(minute=0, second=0, microsecond=0) for r in week)
    distinct = {
        h: {upn(r) for r in week if when(r["activityDateTime"]).replace(minute=0, second=0, microsecond=0) == h}
        for h in per_hour
    }
    assert max(len(users) for users in distinct.values()) < 10
    assert max_distinct(week) >= 14


def test_burst_and_near_miss_are_not_spikes(audits: list[Record], planted: Planted, tenant: DemoTenant) -> None:
    week = of(in_week(audits, planted), RESET)
    burst = [r for r in week if upn(r) == planted.burst_user.upn]
    times = sorted(when(r["activityDateTime"]) for r in burst)
    assert len(times) == planted.burst_resets == 12 and times[-1] - times[0] <= timedelta(hours=1)
    near = {u.upn for u in planted.near_miss_users}
    start = planted.near_miss_start
    assert len(near) == 9 and start < planted.review_start
    hour = [r for r in of(audits, RESET) if start <= when(r["activityDateTime"]) <= start + timedelta(hours=1)]
    assert {upn(r) for r in hour} == near
    earlier = of(tenant.directory_audits(tenant.start, planted.review_start - timedelta(microseconds=1)), RESET)
    assert max_distinct(earlier) == 9  # the near miss is the busiest hour before the review week


def detections(tenant: DemoTenant, user: PlantedUser, as_of: datetime | None = None) -> list[Record]:
    return [r for r in tenant.risk_detections(as_of) if r["userId"] == user.id]


def fixes_after(audits: list[Record], user: PlantedUser, moment: datetime) -> list[datetime]:
    """Times of the user's successful SSPR resets and self-service changes after ``moment``."""
    done = of(audits, RESET) + of(audits, "Change password (self-service)")
    return sorted(
        when(r["activityDateTime"]) for r in done if upn(r) == user.upn and when(r["activityDateTime"]) > moment
    )


def test_leaked_credentials(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    end, grace = tenant.end, timedelta(days=3)
    details = {"userPerformedSecuredPasswordReset", "userPerformedSecuredPasswordChange"}
    for user in planted.leak_remediated_users:
        (leak,) = [r for r in detections(tenant, user) if r["riskEventType"] == "leakedCredentials"]
        detected = when(leak["detectedDateTime"])
        fix = fixes_after(audits, user, detected)[0]
        assert timedelta(days=1) <= fix - detected <= timedelta(days=2)
        assert (leak["riskState"], leak["riskDetail"] in details) == ("remediated", True)
        assert when(leak["lastUpdatedDateTime"]) == fix
        assert (leak["activity"], leak["ipAddress"], leak["detectionTimingType"]) == ("user", None, "offline")
    for user in (*planted.leak_unremediated_users, planted.leak_reset_before_user):
        (leak,) = detections(tenant, user)
        detected = when(leak["detectedDateTime"])
        assert (leak["riskState"], leak["riskDetail"]) == ("atRisk", "none") and detected < end - grace
        assert fixes_after(audits, user, detected) == []
    assert planted.leak_previous_week_user in planted.leak_unremediated_users
    (old,) = detections(tenant, planted.leak_previous_week_user)
    assert when(old["detectedDateTime"]) < planted.review_start - grace
    reset_before = fixes_after(audits, planted.leak_reset_before_user, tenant.start)
    assert reset_before and reset_before[-1] < when(
        detections(tenant, planted.leak_reset_before_user)[0]["detectedDateTime"]
    )
    (fresh,) = detections(tenant, planted.leak_grace_user)
    assert end - grace < when(fresh["detectedDateTime"]) < end and fresh["riskState"] == "atRisk"
    (gone,) = detections(tenant, planted.leak_dismissed_user)
    assert (gone["riskState"], gone["riskDetail"]) == ("dismissed", "adminDismissedAllRiskForUser")
    ids = {r["id"] for r in tenant.risk_detections()}
    assert len(planted.leak_detection_ids) == 9 and all(i in ids for _, i in planted.leak_detection_ids)


def test_risk_detections_change_with_as_of(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    user = planted.leak_remediated_users[0]
    (leak,) = detections(tenant, user)
    detected, fix = when(leak["detectedDateTime"]), when(leak["lastUpdatedDateTime"])
    assert detections(tenant, user, detected + timedelta(minutes=30)) == []  # leaks arrive 2-24 h late
    (early,) = detections(tenant, user, fix - timedelta(seconds=1))
    assert (early["riskState"], early["riskDetail"]) == ("atRisk", "none")
    assert timedelta(hours=2) <= when(early["lastUpdatedDateTime"]) - detected <= timedelta(hours=24)
    (later,) = detections(tenant, user, fix + timedelta(microseconds=1))  # Graph keeps 100 ns, datetime 1 µs
    assert later["riskState"] == "remediated" and later["id"] == early["id"]
    counts = [len(tenant.risk_detections(tenant.start + timedelta(weeks=k))) for k in range(6)]
    assert counts == sorted(counts) and counts[-1] > counts[0]
    keys = {
        "id",
        "requestId",
        "correlationId",
        "riskEventType",
        "riskState",
        "riskLevel",
        "riskDetail",
        "source",
        "detectionTimingType",
        "activity",
        "tokenIssuerType",
        "ipAddress",
        "location",
        "activityDateTime",
        "detectedDateTime",
        "lastUpdatedDateTime",
        "userId",
        "userDisplayName",
        "userPrincipalName",
        "additionalInfo",
    }
    risks = tenant.risk_detections()
    assert len({r["id"] for r in risks}) == len(risks)
    for r in risks:
        assert set(r) == keys and r["source"] == "IdentityProtection" and r["tokenIssuerType"] == "AzureAD"
        assert isinstance(json.loads(r["additionalInfo"]), list)
        assert all(TIME.fullmatch(r[k]) for k in ("activityDateTime", "detectedDateTime", "lastUpdatedDateTime"))
        if r["riskEventType"] != "leakedCredentials":
            assert set(r["location"]) == {"city", "state", "countryOrRegion", "geoCoordinates"}
    assert {"unfamiliarFeatures", "leakedCredentials", "passwordSpray"} <= {r["riskEventType"] for r in risks}


def test_blocked_users(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    week = in_week(audits, planted)
    blocks = of(week, BLOCKED)
    assert all(r["resultReason"] for r in blocks)
    blocked = {upn(r) for r in blocks}
    cases = [*planted.blocked_unregistered_users, planted.blocked_risk_user, planted.blocked_ip_users[0]]
    assert blocked == {u.upn for u in [*cases, planted.blocked_voice_user]}
    rows = {r["id"]: r for r in tenant.user_registration_details()}
    for user in planted.blocked_unregistered_users:
        row = rows[user.id]
        assert not row["isSsprRegistered"] and not row["isSsprCapable"] and len(row["methodsRegistered"]) <= 1
        assert any("insufficient authentication methods" in r["resultReason"] for r in week if upn(r) == user.upn)
    (block,) = [r for r in blocks if upn(r) == planted.blocked_risk_user.upn]
    spray = [r for r in detections(tenant, planted.blocked_risk_user) if r["id"] == planted.blocked_risk_detection_id]
    gap = when(block["activityDateTime"]) - when(spray[0]["detectedDateTime"])
    assert spray[0]["riskEventType"] in ("passwordSpray", "unfamiliarFeatures") and timedelta(0) < gap < timedelta(
        days=10
    )
    from_ip = [
        r for r in week if r["initiatedBy"]["user"] and r["initiatedBy"]["user"]["ipAddress"] == planted.blocked_ip
    ]
    assert {upn(r) for r in from_ip} == {u.upn for u in planted.blocked_ip_users} and len(planted.blocked_ip_users) == 4
    assert {upn(r) for r in of(from_ip, BLOCKED)} == {planted.blocked_ip_users[0].upn}
    voice = planted.blocked_voice_user
    assert rows[voice.id]["isSsprRegistered"]
    assert not {"mobilePhone", "officePhone"} & set(rows[voice.id]["methodsRegistered"])
    reasons = [r["resultReason"] for r in week if upn(r) == voice.upn]
    assert "User started the mobile voice call verification option" in reasons
    assert "User completed the mobile voice call verification option" not in reasons


def test_administrator_resets(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    week = in_week(audits, planted)
    ga = planted.admin_self_reset_user
    direct = {(a["principalId"], a["roleDefinitionId"]) for a in tenant.role_assignments()}
    assert (ga.id, GA_ROLE) in direct and ga in planted.global_admins
    (reset,) = [r for r in of(week, RESET) if upn(r) == ga.upn]
    flow = [r for r in week if r["correlationId"] == reset["correlationId"]]
    gates = [r for r in flow if r["resultReason"].startswith("User completed the ")]
    assert len(gates) == 2 and any(r["resultReason"] == "User successfully reset password" for r in flow)
    member, by = planted.admin_group_reset_user, planted.admin_group_reset_by
    assert member in planted.admin_group_members and all(p != member.id for p, _ in direct)
    assert member.id in {m["id"] for m in tenant.group_members(planted.admin_group_id)}
    (core,) = [r for r in of(week, "Reset user password") if upn(r) == member.upn]
    assert core["loggedByService"] == "Core Directory" and core["initiatedBy"]["user"]["id"] == by.id
    assert (by.id, HELPDESK_ROLE) in direct


def test_helpdesk_resets(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    week = in_week(audits, planted)
    admin = of(week, "Reset password (by admin)") + of(week, "Reset user password")
    targets = {upn(r) for r in admin} - {planted.admin_group_reset_user.upn}
    assert targets == {u.upn for u in planted.helpdesk_reset_users} and len(targets) == 5
    assert planted.hostile_user in planted.helpdesk_reset_users
    helpdesk = {u.id for u in planted.helpdesk_admins}
    assert 2 <= len(helpdesk) <= 3 and all(r["initiatedBy"]["user"]["id"] in helpdesk for r in admin)
    assert {r["loggedByService"] for r in admin} == {SSPR, "Core Directory"}
    for r in of(week, "Reset password (by admin)"):
        assert r["additionalDetails"][0]["key"] == "OnPremisesAgent"
    taps = [r for r in of(week, "Admin registered security info") if "temporary access pass" in r["resultReason"]]
    assert {upn(r) for r in taps} == {u.upn for u in planted.helpdesk_tap_users}
    for tap in taps:
        same_day = [
            r for r in admin if upn(r) == upn(tap) and r["activityDateTime"][:10] == tap["activityDateTime"][:10]
        ]
        assert same_day
    previous = tenant.directory_audits(planted.review_start - timedelta(days=7), planted.review_start)
    again = planted.helpdesk_previous_week_user
    assert again in planted.helpdesk_reset_users
    assert any(upn(r) == again.upn for r in of(previous, "Reset user password"))


def test_writeback_failures_and_banned_passwords(audits: list[Record], planted: Planted) -> None:
    week = in_week(audits, planted)
    failed = of(week, RESET, "failure")
    writeback = [r for r in failed if r["resultReason"].startswith("OnPremises")]
    assert Counter(r["resultReason"] for r in writeback) == {
        "OnPremisesConnectivityError": 3,
        "OnPremisesAdminActionRequired": 1,
    }
    assert {upn(r) for r in writeback} == {u.upn for u in planted.writeback_users}
    for r in writeback:
        if r["resultReason"] == "OnPremisesConnectivityError":
            flow = [x["resultReason"] for x in week if x["correlationId"] == r["correlationId"]]
            assert any(x.startswith("We could not reach your on-premises password reset service") for x in flow)
    earlier = [r for r in of(audits, RESET, "failure") if when(r["activityDateTime"]) < planted.review_start]
    assert {upn(r) for r in earlier if r["resultReason"].startswith("OnPremises")} == {
        u.upn for u in planted.writeback_earlier_users
    }
    fuzzy = ("PasswordDoesnotComplyFuzzyPolicy", "FuzzyPolicyViolationInvalidPassword")
    banned = [r for r in week if r["result"] == "failure" and r["resultReason"] in fuzzy]
    assert len(banned) == 5 and {upn(r) for r in banned} == {u.upn for u in planted.banned_users}
    assert {r["activityDisplayName"] for r in banned} == {RESET, "Change password (self-service)"}


def test_unknown_values(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    week = {r["id"]: r for r in in_week(audits, planted)}
    notices = [week[i] for i in planted.unknown_activity_ids]
    assert len(notices) == 2 and {r["activityDisplayName"] for r in notices} == {planted.unknown_activity}
    assert all(r["loggedByService"] == SSPR for r in notices)
    assert week[planted.unknown_result_id]["result"] == "unknownFutureValue"
    assert week[planted.unknown_reason_id]["resultReason"] == planted.unknown_reason
    assert "deviceInfo" in week[planted.extra_property_id]
    app = week[planted.app_initiated_id]["initiatedBy"]
    assert app["user"] is None and set(app["app"]) == {
        "appId",
        "displayName",
        "servicePrincipalId",
        "servicePrincipalName",
    }
    (odd,) = [r for r in tenant.risk_detections() if r["id"] == planted.unknown_risk_id]
    assert (odd["riskEventType"], odd["riskLevel"]) == ("futureDetectionType", "unknownFutureValue")
    # the kit reads them without losing anything
    frame, report = normalize.audit(list(week.values()))
    assert report.unknown_activities == {planted.unknown_activity: 2}
    assert report.unknown_values == {"result=unknownFutureValue": 1}
    risk, _ = normalize.risk(tenant.risk_detections())
    assert not risk.set_index("id").loc[planted.unknown_risk_id, "known_enums"]
    assert frame["user_upn"].notna().all()


# ------------------------------------------------------------------------------ registration, roles, rhythm


def coverage(rows: list[Record]) -> float:
    members = [r for r in rows if r["userType"] == "member"]
    return sum(bool(r["isSsprRegistered"]) for r in members) / len(members)


def test_registration_coverage_rises(big: DemoTenant) -> None:
    weekly = [coverage(big.user_registration_details(big.start + timedelta(weeks=k))) for k in range(27)]
    assert weekly == sorted(weekly)
    assert 0.55 <= weekly[0] <= 0.67 and 0.88 <= weekly[-1] <= 0.96
    rows = big.user_registration_details()
    guests = [r for r in rows if r["userType"] == "guest"]
    assert 0.03 <= len(guests) / len(rows) <= 0.07
    assert sum(r["isSsprRegistered"] for r in guests) / len(guests) < 0.2
    assert all(r["isSsprEnabled"] == (r["userType"] == "member") for r in rows)
    assert all(r["isSsprCapable"] == (r["isSsprRegistered"] and r["isSsprEnabled"]) for r in rows)
    methods = {m for r in rows for m in r["methodsRegistered"]}
    assert {"email", "mobilePhone", "microsoftAuthenticatorPush", "fido2", "windowsHelloForBusiness"} <= methods
    assert all(TIME.fullmatch(r["lastUpdatedDateTime"]) for r in rows)
    assert len({r["userPrincipalName"] for r in rows}) == len(rows) == 2000
    members = [r["userPrincipalName"] for r in rows if r["userType"] == "member"]
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\d*@northgate-eng\.example", u) for u in members)
    # registrations during the history come with their audit events
    registered = of(big.directory_audits(), "User registered for self-service password reset")
    assert len(registered) > 300
    assert {
        r["activityDisplayName"] for r in big.directory_audits() if r["loggedByService"] == "Authentication Methods"
    } >= {
        "User registered security info",
        "User registered all required security info",
        "User started security info registration",
    }


def test_roles_and_admin_flags(tenant: DemoTenant, planted: Planted) -> None:
    definitions = tenant.role_definitions()
    assert all(d["id"] == d["templateId"] and d["isBuiltIn"] for d in definitions)
    names = {d["displayName"] for d in definitions}
    assert {
        "Global Administrator",
        "Privileged Role Administrator",
        "User Administrator",
        "Helpdesk Administrator",
        "Authentication Administrator",
        "Security Administrator",
    } <= names
    active, eligible = tenant.role_assignments(), tenant.role_eligibility_schedule_instances()
    users = {a["principalId"] for a in active if a["principal"]["@odata.type"] == "#microsoft.graph.user"}
    (group,) = [a for a in active if a["principal"]["@odata.type"] == "#microsoft.graph.group"]
    assert group["principal"] == {
        "@odata.type": "#microsoft.graph.group",
        "id": planted.admin_group_id,
        "displayName": "Tier0 Security Operators",
    }
    members = tenant.group_members(planted.admin_group_id)
    assert 2 <= len(members) <= 3 and tenant.group_members("no-such-group") == []
    assert all(m["@odata.type"] == "#microsoft.graph.user" and m["userPrincipalName"] for m in members)
    assert 2 <= len(eligible) <= 3 and all(e["memberType"] == "Direct" for e in eligible)
    assert all(e["principal"]["id"] == e["principalId"] and TIME.fullmatch(e["startDateTime"]) for e in eligible)
    assert all(when(e["startDateTime"]) < tenant.start < tenant.end < when(e["endDateTime"]) for e in eligible)
    assert {e["principalId"] for e in eligible} == {u.id for u in planted.eligible_admins}
    admins = users | {m["id"] for m in members} | {e["principalId"] for e in eligible}
    assert 12 <= len(admins) <= 20
    assert len({a["id"] for a in [*active, *eligible]}) == len(active) + len(eligible)
    rows = tenant.user_registration_details()
    assert {r["id"] for r in rows if r["isAdmin"]} == admins


def test_directory_configuration(tenant: DemoTenant) -> None:
    (settings,) = [s for s in tenant.group_settings() if s["templateId"] == "5cf42378-d67d-4f36-ba46-e8b86229381d"]
    values = {v["name"]: v["value"] for v in settings["values"]}
    assert settings["displayName"] == "Password Rule Settings"
    assert {
        "BannedPasswordList",
        "EnableBannedPasswordCheck",
        "LockoutThreshold",
        "LockoutDurationInSeconds",
        "EnableBannedPasswordCheckOnPremises",
        "BannedPasswordCheckOnPremisesMode",
    } <= set(values)
    policy = tenant.authentication_methods_policy()
    configs = policy["authenticationMethodConfigurations"]
    assert policy["id"] == "authenticationMethodsPolicy"
    assert all(
        c["@odata.type"].startswith("#microsoft.graph.") and c["state"] in ("enabled", "disabled") for c in configs
    )
    assert {c["id"] for c in configs} >= {"Fido2", "MicrosoftAuthenticator", "Sms", "TemporaryAccessPass", "Email"}
    (org,) = tenant.organization()
    assert org["id"] == tenant.tenant_id and org["displayName"] == DEMO_TENANT_NAME
    assert org["onPremisesSyncEnabled"] is True  # a hybrid tenant: writeback matters
    assert tenant.authorization_policy()["allowedToUseSSPR"] is True
    assert [d["name"] for d in org["verifiedDomains"] if d["isDefault"]] == [tenant.domain]
    assert all({"name", "isDefault", "isInitial"} <= set(d) for d in org["verifiedDomains"])


def test_weekly_rhythm(big: DemoTenant) -> None:
    audits = big.directory_audits()
    done = of(audits, RESET) + of(audits, "Change password (self-service)")
    days = Counter(when(r["activityDateTime"]).weekday() for r in done)
    assert min(days[0], days[1]) > max(days[2], days[3], days[4]) > 3 * max(days[5], days[6])
    hours = Counter(when(r["activityDateTime"]).hour for r in done)
    assert sum(hours[h] for h in range(7, 19)) / len(done) > 0.8
    per_week = len({(upn(r), (when(r["activityDateTime"]) - big.start).days // 7) for r in done}) / 26 / 2000
    assert 0.05 <= per_week <= 0.1
    before = [r for r in audits if when(r["activityDateTime"]) < big.end - timedelta(weeks=1)]
    counts = Counter(r["activityDisplayName"] for r in before)
    for activity, least in (
        ("Unlock user account (self-service)", 10),
        (BLOCKED, 25),
        ("Reset password (by admin)", 25),
    ):
        assert counts[activity] >= least, activity
    assert max_distinct(of(before, RESET)) < 10  # the normal rhythm never looks like a spike
    big_planted = big.planted
    assert len(big_planted.spike_users) == 14 and big_planted.review_end == big.end


@pytest.mark.parametrize(("users", "weeks"), [(200, 4), (50, 2)])
def test_small_tenants(users: int, weeks: int) -> None:
    t = DemoTenant(users=users, weeks=weeks, end=END)
    p = t.planted
    audits = t.directory_audits()
    week = of(in_week(audits, p), RESET)
    assert {u.upn for u in p.spike_users} <= {upn(r) for r in week}
    assert len(t.user_registration_details()) == users
    assert all(t.start <= when(r["activityDateTime"]) <= t.end for r in audits)
    assert len({r["id"] for r in audits}) == len(audits)
    if users >= 200:  # enough accounts for every case to have its own
        planted_users = [*p.spike_users, *p.near_miss_users, *p.leak_remediated_users, *p.banned_users]
        assert len({u.id for u in planted_users}) == len(planted_users)


def _of_user(records: Iterable[Record], user: PlantedUser) -> list[Record]:
    return [r for r in records if upn(r) == user.upn]


def test_takeover_cases(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    """Security info changed after a reset: the cases and their near misses, in the review and previous week."""
    am = "Authentication Methods"

    def resets(user: PlantedUser) -> list[datetime]:
        own = _of_user(of(audits, RESET) + of(audits, "Reset password (by admin)"), user)
        own = own or _of_user(of(audits, "Reset user password"), user)  # a scripted helpdesk reset
        return sorted(when(r["activityDateTime"]) for r in own)

    def changes(user: PlantedUser) -> list[Record]:
        own = [r for r in _of_user(audits, user) if r["loggedByService"] == am]
        return [r for r in own if r["activityDisplayName"] != "User started security info registration"]

    start, previous = planted.review_start, planted.review_start - timedelta(days=7)
    (reset,) = resets(planted.takeover_high_user)
    sitting = changes(planted.takeover_high_user)
    assert len(sitting) == 3 and len({r["correlationId"] for r in sitting}) == 1
    assert all(r["initiatedBy"]["user"]["ipAddress"] == planted.takeover_ip for r in sitting)
    assert start <= reset < when(sitting[0]["activityDateTime"]) <= reset + timedelta(hours=1)
    for user, activity in (
        (planted.takeover_medium_user, "User updated security info"),
        (planted.takeover_deleted_user, "User deleted security info"),
    ):
        (reset,) = resets(user)
        (done,) = changes(user)
        assert previous <= reset < start and done["activityDisplayName"] == activity
        assert timedelta(0) < when(done["activityDateTime"]) - reset <= timedelta(hours=24)
    (reset,) = resets(planted.takeover_late_user)
    (late,) = changes(planted.takeover_late_user)
    assert when(late["activityDateTime"]) - reset == timedelta(hours=25)
    (reset,) = resets(planted.takeover_before_user)
    (early,) = changes(planted.takeover_before_user)
    assert when(early["activityDateTime"]) < reset
    (reset,) = resets(planted.takeover_tap_user)
    tap, registered = changes(planted.takeover_tap_user)
    assert "temporary access pass" in tap["resultReason"] and previous <= reset < start
    assert reset < when(tap["activityDateTime"]) < when(registered["activityDateTime"]) <= reset + timedelta(hours=2)


def test_phone_only_cases(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    """Phone-only resets from a new IP and their near misses: gates, IPs and earlier history in the records."""
    completed = [r for r in of(audits, PROGRESS) if "completed the" in r["resultReason"]]
    reset_ips = {(upn(r), r["initiatedBy"]["user"]["ipAddress"]) for r in of(audits, RESET)}

    def gates(user: PlantedUser, after: datetime) -> set[str]:
        return {r["resultReason"] for r in _of_user(completed, user) if when(r["activityDateTime"]) >= after}

    week, previous = planted.review_start, planted.review_start - timedelta(days=7)
    sim = planted.phone_new_ip
    assert gates(planted.phone_new_ip_user, week) == {"User completed the mobile SMS verification option"}
    assert gates(planted.phone_new_ip_medium_user, previous) == {
        "User completed the mobile voice call verification option"
    }
    assert gates(planted.app_new_ip_user, week) == {"User completed the mobile app notification verification option"}
    for user in (planted.phone_new_ip_user, planted.phone_new_ip_medium_user, planted.app_new_ip_user):
        assert (user.upn, sim) in reset_ips
    history = [r for r in audits if r["initiatedBy"]["user"] and when(r["activityDateTime"]) < previous + timedelta(3)]
    for user in (planted.phone_new_ip_user, planted.phone_new_ip_medium_user, planted.phone_usual_ip_user):
        ips = {r["initiatedBy"]["user"]["ipAddress"] for r in _of_user(history, user)}
        assert ips and sim not in ips
    usual = {r["initiatedBy"]["user"]["ipAddress"] for r in _of_user(audits, planted.phone_usual_ip_user)}
    assert len(usual) == 1
    nobody = _of_user(audits, planted.phone_no_history_user)
    assert nobody and all(when(r["activityDateTime"]) >= week for r in nobody)


def test_risk_detections_around_resets(tenant: DemoTenant, audits: list[Record], planted: Planted) -> None:
    by_id = {r["id"]: r for r in tenant.risk_detections()}
    fixed = by_id[planted.risk_reset_sspr_detection_id]
    (reset,) = [
        r
        for r in of(audits, RESET)
        if upn(r) == planted.risk_reset_sspr_user.upn and when(r["activityDateTime"]) > when(fixed["detectedDateTime"])
    ][:1]
    assert (fixed["riskEventType"], fixed["riskState"], fixed["riskDetail"]) == (
        "unfamiliarFeatures",
        "remediated",
        "userPerformedSecuredPasswordReset",
    )
    assert when(reset["activityDateTime"]) - when(fixed["detectedDateTime"]) < timedelta(hours=4)
    helped = by_id[planted.risk_reset_admin_detection_id]
    assert (helped["riskEventType"], helped["riskDetail"]) == ("anonymizedIPAddress", "adminGeneratedTemporaryPassword")
    assert planted.risk_reset_admin_user in planted.helpdesk_reset_users
    after = by_id[planted.reset_then_risk_detection_id]
    assert planted.reset_then_risk_user in planted.spike_users and after["riskState"] == "atRisk"
    assert after["ipAddress"] == planted.reset_then_risk_ip in planted.spike_ips
    (spiked,) = [r for r in of(audits, RESET) if upn(r) == planted.reset_then_risk_user.upn]
    assert timedelta(0) < when(after["detectedDateTime"]) - when(spiked["activityDateTime"]) < timedelta(hours=24)
    assert spiked["initiatedBy"]["user"]["ipAddress"] == planted.reset_then_risk_ip
