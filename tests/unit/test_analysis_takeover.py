"""The account-takeover kinds on small hand-built tables: security_info_changed_after_reset and
phone_only_reset_new_ip, their boundaries, severities, evidence, and what happens without data."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pandas as pd
import pytest

from sspr_review.analysis import (
    AnalysisSettings,
    ReviewInputs,
    build_review,
    evaluate,
    findings_json,
    findings_schema,
    prepare,
)
from sspr_review.analysis.prepare import for_window
from sspr_review.analysis.takeover import (
    find_phone_only_resets_new_ip,
    find_security_info_changes_after_reset,
    phone_only_unjudged,
)
from tests.support.analysis import (
    ADMIN_REGISTERED,
    BY_ADMIN,
    CHANGE,
    TAP_REASON,
    WINDOW,
    audit,
    coverage,
    ev,
    reg_row,
    registration,
    step,
    t,
)

S = AnalysisSettings()
AM = "Authentication Methods"
REGISTERED = "User registered security info"
HOME, ELSEWHERE = "198.51.100.7", "203.0.113.50"


def flow(time: pd.Timestamp, user: str, gates: tuple[str, ...] = ("mobile SMS",), ip: str | None = HOME) -> list[Any]:
    """A completed SSPR flow verified by ``gates``, completing at ``time``."""
    corr = f"c-{user}-{time.value}"
    rows = [step(time - pd.Timedelta("5min"), user, "User submitted their user ID", corr, ip)]
    for k, gate in enumerate(gates):
        at = time - pd.Timedelta(minutes=4 - k)
        rows.append(step(at, user, f"User started the {gate} verification option", corr, ip))
        rows.append(step(at + pd.Timedelta("20s"), user, f"User completed the {gate} verification option", corr, ip))
    rows.append(step(time, user, "User successfully reset password", corr, ip))
    rows.append(ev("Reset password (self-service)", time, user, corr=corr, ip=ip))
    return rows


def change(time: pd.Timestamp, user: str = "u1", activity: str = REGISTERED, ip: str | None = HOME, **kw: Any) -> Any:
    kw.setdefault("reason", "User registered Authenticator App with Notification")
    return ev(activity, time, user, ip=ip, service=AM, **kw)


def helpdesk_reset(time: pd.Timestamp, user: str = "u1") -> Any:
    return ev(BY_ADMIN, time, user, initiator="helpdesk", ip="192.0.2.10")


def chains(*rows: Any, settings: AnalysisSettings = S) -> list[Any]:
    return find_security_info_changes_after_reset(prepare({"audit": audit(*rows)}), WINDOW, settings)


# ---------------------------------------------------------------------------- security_info_changed_after_reset


def test_a_change_from_another_ip_after_an_sspr_reset_is_high_with_its_evidence() -> None:
    reset = t("1d 20h")
    (found,) = chains(flow(reset, "u1"), change(reset + pd.Timedelta("40min"), ip=ELSEWHERE))
    assert found.kind == "security_info_changed_after_reset" and found.severity == "high"
    assert found.users == ("u1@contoso.com",)
    ev_ = found.evidence
    assert ev_["reset"]["type"] == "self_service" and ev_["reset"]["ips"] == [HOME]
    assert ev_["reset"]["methods_verified"] == ["sms"] and ev_["reset"]["time"] == "2024-03-05T20:00:00Z"
    (c,) = ev_["changes"]
    assert c["activity"] == REGISTERED and c["ip"] == ELSEWHERE and c["ip_used_by_reset"] is False
    assert c["method"] == "Authenticator app (notification)"
    assert ev_["minutes_to_first_change"] == 40.0 and ev_["ips_not_used_by_reset"] == [ELSEWHERE]
    assert "Temporary Access Pass" in found.action and "revoke" in found.action
    json.dumps(ev_)


def test_a_change_from_the_reset_ip_is_medium_and_a_deletion_is_high() -> None:
    reset = t("2d 9h")
    (same,) = chains(flow(reset, "u1"), change(reset + pd.Timedelta("2h")))
    assert same.severity == "medium" and same.evidence["ip_compared"] is True
    (v6,) = chains(flow(reset, "u1", ip="2001:DB8::7"), change(reset + pd.Timedelta("2h"), ip="2001:db8::7"))
    assert v6.severity == "medium"
    (deleted,) = chains(
        flow(reset, "u1"), change(reset + pd.Timedelta("2h"), activity="User deleted security info", reason="x")
    )
    assert deleted.severity == "high" and deleted.evidence["method_deleted"] is True


@pytest.mark.parametrize(("after", "expected"), [("24h", 1), ("24h 1s", 0), ("23h 59min", 1)])
def test_the_window_is_24_hours_inclusive(after: str, expected: int) -> None:
    reset = t("1d 8h")
    assert len(chains(flow(reset, "u1"), change(reset + pd.Timedelta(after)))) == expected


def test_the_window_follows_the_setting() -> None:
    reset = t("1d 8h")
    rows = (flow(reset, "u1"), change(reset + pd.Timedelta("3h")))
    assert len(chains(*rows, settings=AnalysisSettings(takeover_window_hours=2))) == 0
    assert len(chains(*rows, settings=AnalysisSettings(takeover_window_hours=3))) == 1


def test_a_change_before_the_reset_is_not_a_chain() -> None:
    reset = t("3d 12h")
    assert chains(change(reset - pd.Timedelta("2h")), flow(reset, "u1")) == []


def test_other_users_changes_do_not_chain() -> None:
    reset = t("3d 12h")
    assert chains(flow(reset, "u1"), change(reset + pd.Timedelta("1h"), user="u2")) == []


def test_an_unknown_authentication_methods_activity_that_says_changed_counts() -> None:
    reset = t("2d 9h")
    odd = "Admin changed default security info"
    (found,) = chains(flow(reset, "u1"), change(reset + pd.Timedelta("1h"), activity=odd, reason=""))
    assert found.evidence["changes"][0]["activity"] == odd
    # the same name from another service, and an unknown name that says nothing was changed, do not
    other_service = ev(odd, reset + pd.Timedelta("1h"), "u1", ip=HOME)
    viewed = change(reset + pd.Timedelta("1h"), activity="User viewed security info")
    started = change(reset + pd.Timedelta("1h"), activity="User started security info registration")
    assert chains(flow(reset, "u1"), other_service, viewed, started) == []


def test_duplicate_events_of_one_sitting_are_one_chain() -> None:
    reset = t("4d 7h")
    first = change(reset + pd.Timedelta("30min"), corr="sit")
    again = dict(first, id="dup-of-" + first["id"])  # the same event logged twice
    same_record = dict(first)  # the same record stored twice
    code = change(reset + pd.Timedelta("31min"), corr="sit", reason="User registered Authenticator App with Code")
    (found,) = chains(flow(reset, "u1"), first, again, same_record, code)
    assert found.evidence["changes_count"] == 2
    assert [c["method"] for c in found.evidence["changes"]] == [
        "Authenticator app (notification)",
        "Authenticator app (code)",
    ]


def test_each_change_belongs_to_the_latest_reset_before_it() -> None:
    one, two = t("1d 10h"), t("1d 12h")
    found = chains(
        flow(one, "u1"), change(one + pd.Timedelta("10min")), flow(two, "u1"), change(two + pd.Timedelta("10min"))
    )
    assert len(found) == 2 and len({f.fingerprint for f in found}) == 2
    assert all(f.evidence["changes_count"] == 1 for f in found)
    # two resets, one change: one finding, about the later reset
    (only,) = chains(flow(one, "u1"), flow(two, "u1"), change(two + pd.Timedelta("10min")))
    assert only.evidence["reset"]["time"] == "2024-03-05T12:00:00Z"


def test_a_helpdesk_reset_then_a_registration_is_high_unless_a_tap_was_issued() -> None:
    reset = t("2d 10h")
    (found,) = chains(helpdesk_reset(reset), change(reset + pd.Timedelta("1h")))
    assert found.severity == "high"  # the user's IP is not one the reset (the helpdesk) used
    assert found.evidence["reset"]["type"] == "admin"
    assert found.evidence["reset"]["initiator"] == "helpdesk@contoso.com"
    assert found.evidence["reset"]["methods_verified"] is None
    tap = ev(ADMIN_REGISTERED, reset + pd.Timedelta("10min"), "u1", initiator="helpdesk", reason=TAP_REASON, service=AM)
    assert chains(helpdesk_reset(reset), tap, change(reset + pd.Timedelta("1h"))) == []
    # the TAP event itself is no change either
    assert chains(helpdesk_reset(reset), tap) == []
    # a non-TAP "Admin registered security info" is one
    phone = ev(ADMIN_REGISTERED, reset + pd.Timedelta("10min"), "u1", initiator="helpdesk", reason="phone", service=AM)
    assert len(chains(helpdesk_reset(reset), phone)) == 1


def test_a_tap_more_than_the_window_before_the_change_does_not_excuse_it() -> None:
    tap_at, reset = t("1d 8h"), t("2d 10h")
    tap = ev(ADMIN_REGISTERED, tap_at, "u1", initiator="helpdesk", reason=TAP_REASON, service=AM)
    assert len(chains(tap, flow(reset, "u1"), change(reset + pd.Timedelta("1h")))) == 1


def test_missing_ips_are_not_compared_and_keep_the_severity_they_could_raise() -> None:
    reset = t("2d 10h")
    (no_change_ip,) = chains(flow(reset, "u1"), change(reset + pd.Timedelta("1h"), ip=None))
    assert no_change_ip.severity == "high" and no_change_ip.evidence["ip_compared"] is False
    assert no_change_ip.evidence["changes"][0]["ip_used_by_reset"] is None
    assert "an IP address is missing" in no_change_ip.title
    (no_reset_ip,) = chains(flow(reset, "u1", ip=None), change(reset + pd.Timedelta("1h"), ip=ELSEWHERE))
    assert no_reset_ip.severity == "high" and no_reset_ip.evidence["changes_without_ip_comparison"] == 1
    # one change compared and from the reset's IP, one without an IP: still not ruled out
    (mixed,) = chains(
        flow(reset, "u1"), change(reset + pd.Timedelta("1h")), change(reset + pd.Timedelta("2h"), ip=None)
    )
    assert mixed.severity == "high" and mixed.evidence["changes_without_ip_comparison"] == 1


def test_a_chain_is_reported_in_the_week_of_its_first_change() -> None:
    late_sunday = t("-2h")
    (found,) = chains(flow(late_sunday, "u1"), change(late_sunday + pd.Timedelta("3h")))
    assert found.start is not None and found.start < WINDOW.start
    end = pd.Timestamp(WINDOW.end)
    assert chains(flow(end - pd.Timedelta("1h"), "u1"), change(end + pd.Timedelta("1h"))) == []
    # a chain whose first change was last week was last week's finding, even if it goes on into this week
    started = (
        flow(late_sunday, "u1"),
        change(late_sunday + pd.Timedelta("1h")),
        change(late_sunday + pd.Timedelta("3h")),
    )
    assert chains(*started) == []


def test_a_failed_change_is_not_a_change() -> None:
    reset = t("2d 10h")
    assert chains(flow(reset, "u1"), change(reset + pd.Timedelta("1h"), result="failure")) == []


# ------------------------------------------------------------------------------------------- phone_only_reset_new_ip


def phone(*rows: Any, reg: pd.DataFrame | None = None, settings: AnalysisSettings = S) -> list[Any]:
    tables = {"audit": audit(*rows)}
    if reg is not None:
        tables["registration"] = reg
    return find_phone_only_resets_new_ip(prepare(tables), WINDOW, settings)


def earlier(offset: str, ip: str | None = HOME, user: str = "u1") -> Any:
    return ev(CHANGE, t(offset), user, ip=ip)


def test_a_phone_only_reset_from_a_new_ip_is_medium_without_other_methods() -> None:
    reg = registration(reg_row("u1", "2024-03-01", methods="mobilePhone"))
    (found,) = phone(earlier("-10d"), flow(t("2d 23h"), "u1", ip=ELSEWHERE), reg=reg)
    assert found.kind == "phone_only_reset_new_ip" and found.severity == "medium"
    ev_ = found.evidence
    assert ev_["gates"] == ["sms"] and ev_["new_ips"] == [ELSEWHERE]
    assert ev_["earlier_ips"] == [{"ip": HOME, "last_seen": "2024-02-23T00:00:00Z"}]
    assert ev_["methods_registered"] == ["mobilePhone"] and ev_["not_evaluated"] == []
    assert "other than that phone" in found.action and "mobile operator" in found.action
    assert "verified only by SMS from a new IP address (203.0.113.50)" in found.title


def test_without_registration_data_the_finding_stays_high_and_says_why() -> None:
    (found,) = phone(earlier("-10d"), flow(t("2d 23h"), "u1", ip=ELSEWHERE))
    assert found.severity == "high" and "registration data missing" in found.title
    assert found.evidence["not_evaluated"] == ["registration"] and found.evidence["methods_registered"] is None
    assert "registered methods" in found.action


def test_high_when_the_user_registered_or_used_a_non_phone_method() -> None:
    rows = (earlier("-10d"), flow(t("2d 23h"), "u1", ip=ELSEWHERE))
    reg = registration(reg_row("u1", "2024-03-01", methods="microsoftAuthenticatorPush,mobilePhone"))
    (registered,) = phone(*rows, reg=reg)
    assert registered.severity == "high"
    assert registered.evidence["non_phone_methods_registered"] == ["microsoftAuthenticatorPush"]
    assert registered.evidence["registration_snapshot"] == "2024-03-01T00:00:00Z"
    phones_only = registration(reg_row("u1", "2024-03-01", methods="mobilePhone,officePhone"))
    assert phone(*rows, reg=phones_only)[0].severity == "medium"
    (used,) = phone(flow(t("-20d"), "u1", ("mobile app notification",)), flow(t("2d 23h"), "u1", ip=ELSEWHERE))
    assert used.severity == "high" and used.evidence["non_phone_methods_used_before"] == ["app_notification"]


def test_the_registration_snapshot_named_is_the_one_the_lookup_read() -> None:
    """A week that chose its registration snapshot (the one nearest its end) reads every account there; the finding
    names that snapshot, not the latest one before the reset."""
    reg = registration(
        reg_row("u1", "2024-03-01", methods="mobilePhone"),
        reg_row("u1", "2024-03-11", methods="microsoftAuthenticatorPush,mobilePhone"),
    )
    cov = coverage()
    cov["registration"] = replace(cov["registration"], snapshot=datetime(2024, 3, 11, tzinfo=UTC))
    data = for_window(
        prepare({"audit": audit(earlier("-10d"), flow(t("2d 23h"), "u1", ip=ELSEWHERE)), "registration": reg}), cov
    )
    (found,) = find_phone_only_resets_new_ip(data, WINDOW, S)
    assert found.evidence["non_phone_methods_registered"] == ["microsoftAuthenticatorPush"]
    assert found.evidence["registration_snapshot"] == "2024-03-11T00:00:00Z"
    # without a chosen snapshot, the one in force at the reset
    (found,) = find_phone_only_resets_new_ip(prepare({"audit": data.audit, "registration": reg}), WINDOW, S)
    assert found.evidence["registration_snapshot"] == "2024-03-01T00:00:00Z"


@pytest.mark.parametrize("gates", [("mobile voice call",), ("office voice call",), ("mobile SMS", "mobile voice call")])
def test_every_phone_gate_counts(gates: tuple[str, ...]) -> None:
    assert len(phone(earlier("-3d"), flow(t("1d"), "u1", gates, ip=ELSEWHERE))) == 1


@pytest.mark.parametrize("gates", [("mobile app notification",), ("mobile SMS", "mobile app code"), ("email",)])
def test_a_reset_with_a_non_phone_gate_is_not_phone_only(gates: tuple[str, ...]) -> None:
    assert phone(earlier("-3d"), flow(t("1d"), "u1", gates, ip=ELSEWHERE)) == []


def test_the_usual_ip_is_no_finding_case_insensitively() -> None:
    v6 = "2001:DB8::1"
    assert phone(earlier("-3d", ip=v6), flow(t("1d"), "u1", ip=v6.lower())) == []


def test_no_history_means_no_finding_and_the_reset_is_counted_as_not_judged() -> None:
    rows = (flow(t("1d"), "u1", ip=ELSEWHERE), earlier("-3d", ip=None), earlier("-3d", user="u2"))
    data = prepare({"audit": audit(*rows)})
    assert find_phone_only_resets_new_ip(data, WINDOW, S) == []
    assert phone_only_unjudged(data, WINDOW, S) == {"resets": 1, "users": 1}


def test_a_reset_without_an_ip_is_not_judged() -> None:
    data = prepare({"audit": audit(earlier("-3d"), flow(t("1d"), "u1", ip=None))})
    assert find_phone_only_resets_new_ip(data, WINDOW, S) == []
    assert phone_only_unjudged(data, WINDOW, S) == {"resets": 1, "users": 1}


@pytest.mark.parametrize(("before", "judged"), [("89d", True), ("91d", False)])
def test_history_counts_only_within_the_lookback(before: str, judged: bool) -> None:
    reset = t("1d")
    rows = (ev(CHANGE, reset - pd.Timedelta(before), "u1", ip=HOME), flow(reset, "u1", ip=ELSEWHERE))
    assert len(phone(*rows)) == int(judged)
    assert len(phone(*rows, settings=AnalysisSettings(new_ip_lookback_days=100))) == 1


def test_earlier_ips_are_the_five_most_recent_with_last_seen() -> None:
    history = [earlier(f"-{d}d", ip=f"198.51.100.{d}") for d in range(1, 8)]
    (found,) = phone(*history, earlier("-9d", ip="198.51.100.1"), flow(t("1d"), "u1", ip=ELSEWHERE))
    ips = found.evidence["earlier_ips"]
    assert [i["ip"] for i in ips] == [f"198.51.100.{d}" for d in range(1, 6)]
    assert ips[0]["last_seen"] == "2024-03-03T00:00:00Z" and found.evidence["earlier_ips_count"] == 7


def test_events_initiated_by_someone_else_are_not_the_users_history() -> None:
    by_admin = ev(BY_ADMIN, t("-3d"), "u1", initiator="helpdesk", ip=HOME)
    assert phone(by_admin, flow(t("1d"), "u1", ip=HOME)) == []
    assert phone_only_unjudged(prepare({"audit": audit(by_admin, flow(t("1d"), "u1", ip=HOME))}), WINDOW, S) == {
        "resets": 1,
        "users": 1,
    }


# -------------------------------------------------------------------------------- registry, data gaps, JSON


def test_both_kinds_are_not_evaluated_without_audit_data() -> None:
    data = prepare({"audit": audit(flow(t("1d"), "u1"))}, coverage=coverage(missing={"audit": "403"}))
    _, skipped = evaluate(data, WINDOW, S)
    assert {"security_info_changed_after_reset", "phone_only_reset_new_ip"} <= set(skipped)
    review = build_review(
        ReviewInputs({"audit": audit(flow(t("1d"), "u1"))}, coverage(missing={"audit": "403"}), WINDOW), S
    )
    (gap,) = [f for f in review.findings if f.kind == "data_gap" and f.evidence["source"] == "audit"]
    assert "phone_only_reset_new_ip" in gap.evidence["not_evaluated"]
    assert review.not_judged == {}


def test_findings_json_holds_both_kinds_and_the_not_judged_count() -> None:
    reset = t("1d 20h")
    rows = (
        flow(reset, "u1"),
        change(reset + pd.Timedelta("40min"), ip=ELSEWHERE),
        earlier("-10d", user="u2"),
        flow(t("2d"), "u2", ip=ELSEWHERE),
    )
    review = build_review(ReviewInputs({"audit": audit(*rows)}, coverage(), WINDOW), S)
    doc = findings_json(review, generated_at=pd.Timestamp("2024-03-11T07:00:00Z").to_pydatetime())
    jsonschema.validate(doc, findings_schema())
    kinds = {f["kind"]: f for f in doc["findings"]}
    assert kinds["security_info_changed_after_reset"]["severity"] == "high"
    assert kinds["phone_only_reset_new_ip"]["users"] == ["u2@contoso.com"]
    assert doc["not_judged"] == {"phone_only_reset_new_ip": {"resets": 1, "users": 1}}  # u1: no earlier IP
    assert doc["settings"]["takeover_window_hours"] == 24 and doc["settings"]["new_ip_lookback_days"] == 90
    from sspr_review.report.summary import review_lines

    assert "Phone-only resets not judged (no earlier IP for the user in 90 days): 1" in review_lines(review)


@pytest.mark.parametrize("name", ["takeover_window_hours", "new_ip_lookback_days"])
def test_settings_must_be_positive(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        AnalysisSettings(**{name: 0})


def test_what_depends_on_the_tables_alone_is_built_once_for_every_window() -> None:
    from sspr_review.analysis.accounts import every_reset

    data = prepare({"audit": audit(flow(t("1d"), "u1"), flow(t("-3d"), "u2"))})
    calls: list[int] = []

    def resets(d: Any) -> Any:
        calls.append(1)
        return every_reset(d)

    cov = coverage()
    cov["registration"] = replace(cov["registration"], snapshot=datetime(2024, 3, 11, tzinfo=UTC))
    week = for_window(data, cov)
    assert week is not data  # another window's data: what it derives (ReviewData.derived) starts empty
    first = data.shared(resets)
    assert week.shared(resets) is first and len(calls) == 1  # the other window reads what the first built
    other = replace(data, audit=data.audit.copy())
    assert other.shared(resets) is not first and len(calls) == 2  # other tables: built again
    assert len(first[0]) == 2  # both resets, of either week


def test_an_ip_history_within_an_earlier_answer_is_its_rows_of_them() -> None:
    from sspr_review.analysis.history import History
    from sspr_review.analysis.ip_history import ip_history

    rows = [flow(t(f"{d}d"), user, ip=f"198.51.100.{d}") for d in range(-6, 6) for user in ("u1", "u2", "u3")]
    tables = prepare({"audit": audit(*[row for r in rows for row in r])})
    since = int(t("-2d").value)
    kept = pd.DataFrame(  # the history's rows before since: lower-cased accounts, as the summaries keep them
        {
            "user_id": pd.array([None, None, None], dtype="string"),
            "user_upn": pd.array(["u1@contoso.com", "u2@contoso.com", "u9@contoso.com"], dtype="string"),
            "ip": pd.array(["192.0.2.1", "192.0.2.2", "192.0.2.9"], dtype="string"),
            "time": [int(t("-40d").value), int(t("-20d").value), int(t("-30d").value)],
        }
    )
    data = replace(tables, history=History(since=since, ips=kept))
    everyone = {"u1@contoso.com", "u2@contoso.com", "u3@contoso.com"}
    wide = ip_history(data, set(), everyone, int(t("-60d").value), int(t("6d").value))
    assert len(wide) and set(wide["ip"]) >= {"192.0.2.1", "192.0.2.2"}  # tables and history both
    for upns, begin, end in (({"u1@contoso.com"}, "-50d", "3d"), ({"u2@contoso.com", "u3@contoso.com"}, "-1d", "2d")):
        answer = ip_history(data, set(), upns, int(t(begin).value), int(t(end).value))
        fresh = replace(data)  # another window's data: nothing kept, computed from the tables and the history
        expected = ip_history(fresh, set(), upns, int(t(begin).value), int(t(end).value))
        pd.testing.assert_frame_equal(answer, expected)
        assert len(answer) and set(answer["user_upn"].str.lower()) <= upns
