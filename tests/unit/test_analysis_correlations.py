"""Correlation tables (risk → reset, reset → risk) and the leaked-credentials trend, on hand-built frames."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pandas as pd

from sspr_review.analysis import AnalysisSettings, ReviewInputs, prepare
from sspr_review.analysis.correlations import (
    RESET_TO_RISK_FIELDS,
    RISK_TO_RESET_FIELDS,
    correlate,
    correlations_json,
    leak_fix_trend,
    reset_to_risk,
    risk_outcomes,
    risk_to_reset,
    risk_type_words,
)
from sspr_review.analysis.review import build_review, findings_json, findings_schema
from tests.support.analysis import (
    BY_ADMIN,
    CHANGE,
    WINDOW,
    audit,
    completed_flow,
    coverage,
    ev,
    risk,
    risk_row,
    t,
)
from tests.unit.test_analysis_review import demo_review  # noqa: F401  (the fixture)

S = AnalysisSettings()


def _det(user: str, at: str | pd.Timestamp, kind: str = "unfamiliarFeatures", **kw: Any) -> dict[str, Any]:
    detail = kw.pop("detail", "none")
    ip = kw.pop("ip", None)
    row = risk_row(user, t(at) if isinstance(at, str) else at, kind=kind, **kw)
    row |= {"risk_detail": detail, "ip": ip}
    return row


def _row(table: pd.DataFrame, kind: str) -> dict[str, Any]:
    (found,) = table[table["risk_event_type"] == kind].to_dict("records")
    return found


def _outcome(outcomes: pd.DataFrame, user: str, kind: str) -> str:
    upn = user if "@" in user else f"{user}@contoso.com"
    (found,) = outcomes[(outcomes["user"].str.lower() == upn.lower()) & (outcomes["risk_event_type"] == kind)][
        "outcome"
    ].tolist()
    return str(found)


# ------------------------------------------------------------------------------------------- risk → reset


def test_a_reset_exactly_remediation_days_after_counts_and_one_second_later_does_not() -> None:
    tables = {
        "audit": audit(
            completed_flow(t("0d 1h") + pd.Timedelta(days=7), "exact"),
            completed_flow(t("0d 1h") + pd.Timedelta(days=7, seconds=1), "late"),
        ),
        "risk": risk(_det("exact", "0d 1h"), _det("late", "0d 1h")),
    }
    data = prepare(tables)
    as_of = WINDOW.end + pd.Timedelta(days=7)
    outcomes = risk_outcomes(data, WINDOW, S, as_of=as_of)
    assert _outcome(outcomes, "exact", "unfamiliarFeatures") == "reset_by_sspr"
    assert _outcome(outcomes, "late", "unfamiliarFeatures") == "still_at_risk"
    row = _row(risk_to_reset(data, WINDOW, S, as_of=as_of), "unfamiliarFeatures")
    assert (row["users"], row["reset_by_sspr"], row["still_at_risk"]) == (2, 1, 1)
    assert row["median_hours_to_fix"] == 7 * 24
    # a shorter remediation window leaves both at risk
    short = risk_to_reset(data, WINDOW, AnalysisSettings(remediation_days=6), as_of=as_of)
    assert _row(short, "unfamiliarFeatures")["reset_by_sspr"] == 0


def test_a_reset_before_the_detection_is_no_fix() -> None:
    tables = {"audit": audit(completed_flow(t("1d"), "early")), "risk": risk(_det("early", "1d 1s"))}
    row = _row(risk_to_reset(prepare(tables), WINDOW, S), "unfamiliarFeatures")
    assert (row["reset_by_sspr"], row["still_at_risk"], row["median_hours_to_fix"]) == (
        0,
        1,
        row["median_hours_to_fix"],
    )
    assert pd.isna(row["median_hours_to_fix"])


def test_a_user_with_two_detection_types_counts_in_both_rows() -> None:
    tables = {
        "audit": audit(ev(CHANGE, t("2d"), "both")),
        "risk": risk(_det("both", "1d", "anonymizedIPAddress"), _det("both", "1d 2h", "leakedCredentials")),
    }
    table = risk_to_reset(prepare(tables), WINDOW, S)
    assert sorted(table["risk_event_type"]) == ["anonymizedIPAddress", "leakedCredentials"]
    for kind, hours in (("anonymizedIPAddress", 24.0), ("leakedCredentials", 22.0)):
        row = _row(table, kind)
        assert (row["users"], row["changed_by_user"], row["reset_by_sspr"]) == (1, 1, 0)
        assert row["median_hours_to_fix"] == hours


def test_sspr_wins_over_a_change_and_an_admin_reset() -> None:
    tables = {
        "audit": audit(
            ev(CHANGE, t("1d"), "u"),
            completed_flow(t("2d"), "u"),
            ev(BY_ADMIN, t("1d 5h"), "a", initiator="helpdesk"),
        ),
        "risk": risk(_det("u", "0d 12h"), _det("a", "0d 12h")),
    }
    outcomes = risk_outcomes(prepare(tables), WINDOW, S)
    assert _outcome(outcomes, "u", "unfamiliarFeatures") == "reset_by_sspr"
    assert _outcome(outcomes, "a", "unfamiliarFeatures") == "reset_by_admin"
    row = _row(risk_to_reset(prepare(tables), WINDOW, S), "unfamiliarFeatures")
    assert (row["reset_by_sspr"], row["changed_by_user"], row["reset_by_admin"]) == (1, 0, 1)
    assert row["median_hours_to_fix"] == (36 + 17) / 2


def test_dismissed_and_remediated_detections() -> None:
    rows = [
        _det("dismissed", "1d", state="dismissed", detail="adminDismissedAllRiskForUser"),
        _det("mfa", "1d", state="remediated", detail="userPassedMFADrivenByRiskBasedPolicy"),
        _det("by_user", "1d", state="remediated", detail="userPerformedSecuredPasswordReset"),
        _det("none", "1d", state="none"),
    ]
    data = prepare({"audit": audit(), "risk": risk(*rows)})
    outcomes = risk_outcomes(data, WINDOW, S)
    assert _outcome(outcomes, "dismissed", "unfamiliarFeatures") == "dismissed_or_remediated"
    assert _outcome(outcomes, "mfa", "unfamiliarFeatures") == "dismissed_or_remediated"
    assert _outcome(outcomes, "by_user", "unfamiliarFeatures") == "other"  # the user's reset, not in the audit log
    assert _outcome(outcomes, "none", "unfamiliarFeatures") == "other"
    row = _row(risk_to_reset(data, WINDOW, S), "unfamiliarFeatures")
    assert (row["users"], row["dismissed_or_remediated"], row["still_at_risk"]) == (4, 2, 0)


def test_the_latest_state_of_a_users_detections_decides() -> None:
    first = _det("u", "1d", state="dismissed", detail="adminDismissedAllRiskForUser")
    second = _det("u", "2d")  # later, still at risk
    row = _row(risk_to_reset(prepare({"audit": audit(), "risk": risk(first, second)}), WINDOW, S), "unfamiliarFeatures")
    assert (row["detections"], row["users"], row["still_at_risk"], row["dismissed_or_remediated"]) == (2, 1, 1, 0)


def test_unknown_and_missing_types_get_rows_of_their_own() -> None:
    rows = [_det("x", "1d", "futureDetectionType"), _det("y", "1d", "futureDetectionType"), _det("z", "1d", "")]
    table = risk_to_reset(prepare({"audit": audit(), "risk": risk(*rows)}), WINDOW, S)
    assert table["risk_event_type"].tolist() == ["futureDetectionType", "(missing)"]
    assert _row(table, "futureDetectionType")["detections"] == 2
    assert risk_type_words("futureDetectionType") == "Future detection type (new type: futureDetectionType)"
    assert risk_type_words("unfamiliarFeatures") == "Unfamiliar sign-in properties"
    assert risk_type_words("(missing)") == "(no type given)"


def test_detections_outside_the_week_are_not_in_the_table() -> None:
    rows = [_det("before", "-1s"), _det("after", "7d")]
    assert risk_to_reset(prepare({"audit": audit(), "risk": risk(*rows)}), WINDOW, S).empty


# ------------------------------------------------------------------------------------------- reset → risk


def test_reset_to_risk_before_and_after_with_the_same_ip_flag() -> None:
    tables = {
        "audit": audit(
            completed_flow(t("3d"), "u", ip="203.0.113.9"),
            completed_flow(t("4d"), "v", ip="198.51.100.1"),
            completed_flow(t("5d"), "w"),
            ev(BY_ADMIN, t("2d"), "x", initiator="helpdesk", ip="192.0.2.10"),
        ),
        "risk": risk(
            _det("u", "-10d", "leakedCredentials"),  # within 14 days before
            _det("u", "-12d", "passwordSpray"),  # before the lookback (15 days before the reset)
            _det("u", "3d 2h", "unfamiliarFeatures", ip="203.0.113.9"),
            _det("u", "4d 1s", "anonymizedIPAddress", ip="203.0.113.9"),  # 24 h + 1 s after: not counted
            _det("v", "4d 24h", "unfamiliarFeatures", ip="203.0.113.50"),  # exactly 24 h after, another IP
            _det("w", "5d 1h", "unfamiliarFeatures", ip="203.0.113.9"),
        ),
    }
    table = reset_to_risk(prepare(tables), WINDOW, S)
    assert list(table.columns) == list(RESET_TO_RISK_FIELDS)
    by_user = {r["user"]: r for r in table.to_dict("records")}
    u, v, w, x = (by_user[f"{n}@contoso.com"] for n in "uvwx")
    assert (u["kind"], u["detections_before"], u["types_before"]) == ("self_service", 1, ["leakedCredentials"])
    assert (u["detections_after"], u["types_after"], u["same_ip_after"]) == (1, ["unfamiliarFeatures"], True)
    assert (v["detections_after"], v["same_ip_after"]) == (1, False)
    assert w["detections_after"] == 1 and pd.isna(w["same_ip_after"])  # the reset has no IP: unknown
    assert (x["kind"], x["initiator"], x["detections_before"], x["same_ip_after"]) == (
        "admin",
        "helpdesk@contoso.com",
        0,
        False,
    )
    assert table["time"].is_monotonic_increasing


def test_a_user_with_no_detections_has_a_row_with_none() -> None:
    table = reset_to_risk(prepare({"audit": audit(completed_flow(t("1d"), "calm")), "risk": risk()}), WINDOW, S)
    (row,) = table.to_dict("records")
    assert (row["detections_before"], row["types_before"], row["detections_after"], row["types_after"]) == (
        0,
        [],
        0,
        [],
    )


# ------------------------------------------------------------------------------------- together and JSON


def _tables() -> dict[str, pd.DataFrame]:
    return {
        "audit": audit(completed_flow(t("1d"), "u", ip="203.0.113.9"), completed_flow(t("-6d"), "p", ip="203.0.113.4")),
        "risk": risk(_det("u", "0d 2h", "leakedCredentials"), _det("p", t("-6d") + pd.Timedelta("3h"), ip="192.0.2.1")),
    }


def test_findings_json_holds_both_tables_with_exactly_those_fields() -> None:
    history = {"audit": WINDOW.previous_start, "risk": WINDOW.previous_start}
    review = build_review(ReviewInputs(_tables(), coverage(), WINDOW, history_start=history), S)
    doc = findings_json(review)
    jsonschema.validate(doc, findings_schema())
    corr = doc["correlations"]
    assert corr["reason"] is None and corr["previous"]["reason"] is None
    (row,) = corr["risk_to_reset"]
    assert tuple(row) == RISK_TO_RESET_FIELDS
    assert row == {
        "risk_event_type": "leakedCredentials",
        "detections": 1,
        "users": 1,
        "reset_by_sspr": 1,
        "changed_by_user": 0,
        "reset_by_admin": 0,
        "median_hours_to_fix": 22.0,
        "still_at_risk": 0,
        "dismissed_or_remediated": 0,
    }
    (reset,) = corr["reset_to_risk"]
    assert tuple(reset) == RESET_TO_RISK_FIELDS
    assert reset["time"] == "2024-03-05T00:00:00Z" and reset["types_before"] == ["leakedCredentials"]
    (before,) = corr["previous"]["reset_to_risk"]
    assert before["types_after"] == ["unfamiliarFeatures"] and before["same_ip_after"] is False
    assert corr["previous"]["risk_to_reset"][0]["still_at_risk"] == 1
    json.dumps(doc)


def test_a_week_without_risk_data_gives_null_tables_and_says_why() -> None:
    cov = coverage(missing={"risk": "403 Forbidden: IdentityRiskEvent.Read.All not granted"})
    tables = {"audit": _tables()["audit"]}
    review = build_review(ReviewInputs(tables, cov, WINDOW), S)
    doc = findings_json(review)
    jsonschema.validate(doc, findings_schema())
    corr = doc["correlations"]
    assert corr["risk_to_reset"] is None and corr["reset_to_risk"] is None
    assert corr["reason"] == "risk detections: 403 Forbidden: IdentityRiskEvent.Read.All not granted"
    assert corr["previous"]["risk_to_reset"] is None and "no risk detections" in corr["previous"]["reason"]


def test_the_previous_week_before_the_stored_history_is_null() -> None:
    data = prepare(_tables())
    history = {"audit": WINDOW.start, "risk": WINDOW.start}
    corr = correlate(data, coverage(), WINDOW, S, history_start=history)
    assert corr.risk_to_reset is not None and corr.previous_risk_to_reset is None
    assert corr.previous_reason is not None and "after the week started" in corr.previous_reason
    assert correlations_json(corr)["previous"]["reset_to_risk"] is None


# ------------------------------------------------------------------------------------------- leak trend


def test_leak_trend_share_and_median_per_week_with_gaps() -> None:
    tables = {
        "audit": audit(
            completed_flow(t("1d"), "a"),  # 24 h after
            ev(CHANGE, t("-5d"), "b"),  # previous week, 48 h after
            ev(BY_ADMIN, t("2d"), "c", initiator="helpdesk"),  # not by the user themselves
        ),
        "risk": risk(
            _det("a", "0d", "leakedCredentials"),
            _det("c", "1d", "leakedCredentials"),
            _det("b", "-7d", "leakedCredentials"),
            _det("d", "1d", "unfamiliarFeatures"),
        ),
    }
    data = prepare(tables)
    trend = leak_fix_trend(data, WINDOW, S, weeks=3)
    assert trend["leak_users"].tolist() == [0, 1, 2]
    assert trend["fixed_themselves"].tolist() == [0, 1, 1]
    assert trend["share"].tolist()[1:] == [1.0, 0.5] and trend["share"].isna().tolist() == [True, False, False]
    assert trend["median_hours"].tolist()[1:] == [48.0, 24.0]
    gaps = leak_fix_trend(data, WINDOW, S, weeks=3, covered=pd.Series([True, False, True]).to_numpy())
    assert gaps["share"].isna().tolist() == [True, True, False] and gaps["leak_users"].isna().tolist()[1]
    # the review week's point is the table's leaked-credentials row: fixed themselves / users
    row = _row(risk_to_reset(data, WINDOW, S), "leakedCredentials")
    assert (row["reset_by_sspr"] + row["changed_by_user"]) / row["users"] == trend["share"].iloc[-1]


# ------------------------------------------------------------------------------------------- demo tenant


def test_demo_tenant_numbers_match_what_it_planted(demo_review: tuple[Any, Any]) -> None:  # noqa: F811
    review, p = demo_review
    corr = review.correlations
    assert corr.reason is None and corr.previous_reason is None
    leaks = _row(corr.risk_to_reset, "leakedCredentials")
    # three fixed (two by SSPR, one by a password change), two open, one reset only before, one in its grace
    # days, one dismissed: all planted in the review week, the background's leaks are all older
    assert {k: leaks[k] for k in RISK_TO_RESET_FIELDS[1:] if k != "median_hours_to_fix"} == {
        "detections": 8,
        "users": 8,
        "reset_by_sspr": 2,
        "changed_by_user": 1,
        "reset_by_admin": 0,
        "still_at_risk": 4,
        "dismissed_or_remediated": 1,
    }
    assert 28 < leaks["median_hours_to_fix"] < 33  # fixed 28, 30 and 32 hours after their detections
    future = _row(corr.risk_to_reset, "futureDetectionType")  # a type the kit does not know
    assert (future["detections"], future["users"], future["still_at_risk"]) == (1, 1, 1)
    out = corr.outcomes
    assert _outcome(out, p.risk_reset_sspr_user.upn, "unfamiliarFeatures") == "reset_by_sspr"
    assert _outcome(out, p.risk_reset_admin_user.upn, "anonymizedIPAddress") == "reset_by_admin"
    assert _outcome(out, p.reset_then_risk_user.upn, "unfamiliarFeatures") == "still_at_risk"
    for user in p.leak_remediated_users[:2]:
        assert _outcome(out, user.upn, "leakedCredentials") == "reset_by_sspr"
    assert _outcome(out, p.leak_dismissed_user.upn, "leakedCredentials") == "dismissed_or_remediated"

    resets = corr.reset_to_risk
    rows = {u: r for u, r in zip(resets["user"].str.lower(), resets.to_dict("records"), strict=True)}
    after = rows[p.reset_then_risk_user.upn.lower()]
    assert (after["kind"], after["ip"], after["types_after"], after["same_ip_after"]) == (
        "self_service",
        p.reset_then_risk_ip,
        ["unfamiliarFeatures"],
        True,
    )
    assert rows[p.risk_reset_sspr_user.upn.lower()]["types_before"] == ["unfamiliarFeatures"]
    helped = rows[p.risk_reset_admin_user.upn.lower()]
    assert (helped["kind"], helped["types_before"], helped["same_ip_after"]) == (
        "admin",
        ["anonymizedIPAddress"],
        False,
    )
    for user in p.leak_remediated_users[:2]:
        assert "leakedCredentials" in rows[user.upn.lower()]["types_before"]
    spray = _row(corr.previous_risk_to_reset, "passwordSpray")  # the blocked user's spray, the week before
    assert spray["still_at_risk"] >= 1
