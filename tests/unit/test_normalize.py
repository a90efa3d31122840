import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from sspr_review.core import schema
from sspr_review.ingest import normalize

AUDIT = {
    "id": "a1",
    "category": "UserManagement",
    "correlationId": "c1",
    "activityDateTime": "2026-11-16T10:41:03.1234567Z",
    "activityDisplayName": "Self-service password reset flow activity progress",
    "loggedByService": "Self-service Password Management",
    "operationType": "Update",
    "result": "success",
    "resultReason": "User started the mobile SMS verification option",
    "initiatedBy": {
        "user": {"id": "u1", "displayName": "Ann", "userPrincipalName": "ann@x.example", "ipAddress": "203.0.113.5"},
        "app": None,
    },
    "targetResources": [{"id": "u1", "displayName": "Ann", "type": "User", "userPrincipalName": "ann@x.example"}],
    "additionalDetails": [{"key": "OnPremisesAgent", "value": "None"}],
}


def test_audit_columns_types_and_raw() -> None:
    frame, report = normalize.audit([AUDIT])
    assert list(frame.columns) == [*schema.AUDIT, "raw"]
    row = frame.iloc[0]
    assert row["activity_time"] == pd.Timestamp("2026-11-16T10:41:03.1234567Z")  # 100 ns precision kept
    assert str(frame["activity_time"].dtype) == "datetime64[ns, UTC]"
    assert row["user_upn"] == "ann@x.example" and row["ip"] == "203.0.113.5"
    assert row["on_premises_agent"] == "None"
    assert json.loads(row["raw"]) == AUDIT
    assert report.records == 1 and not report.lines()


def test_admin_reset_subject_is_target_not_initiator() -> None:
    rec = AUDIT | {
        "activityDisplayName": "Reset user password",
        "loggedByService": "Core Directory",
        "initiatedBy": {"user": {"id": "h1", "userPrincipalName": "helpdesk@x.example"}},
    }
    row = normalize.audit([rec])[0].iloc[0]
    assert row["initiator_upn"] == "helpdesk@x.example"
    assert row["user_upn"] == "ann@x.example"


def test_unknown_and_malformed_records_are_kept_and_counted() -> None:
    weird = {
        "activityDisplayName": "Something new",
        "result": "unknownFutureValue",
        "activityDateTime": "not a date",
        "initiatedBy": {"user": None, "app": {"displayName": "Graph app", "servicePrincipalId": "sp1"}},
        "targetResources": "oops",
        "futureProperty": {"x": 1},
    }
    dated = weird | {"activityDateTime": "2026-11-16T08:00:00Z"}
    frame, report = normalize.audit([AUDIT, dated, weird, "not an object", None])
    assert len(frame) == 2
    assert report.records == 5
    # Not objects, and an event that cannot be placed in time: listed with the reason, kept in rejects/
    assert [r.text for r in report.rejected[:2]] == ['"not an object"', "null"]
    assert all("not a JSON object" in r.reason for r in report.rejected[:2])
    assert "activityDateTime 'not a date' is not a readable date and time" in report.rejected[2].reason
    assert json.loads(report.rejected[2].text)["futureProperty"] == {"x": 1}
    assert report.unknown_activities == {"Something new": 2}
    assert report.unknown_values == {"result=unknownFutureValue": 2}
    assert report.missing_id == 2 and report.bad_timestamps == 0
    row = frame.iloc[1]
    assert row["initiator_type"] == "app" and row["initiator_name"] == "Graph app"
    assert not row["known_activity"] and not pd.isna(row["activity_time"])
    assert row["id"].startswith("sha1:")
    assert json.loads(row["raw"])["futureProperty"] == {"x": 1}
    assert len(report.lines()) == 4


def test_empty_input_gives_typed_empty_frame() -> None:
    frame, report = normalize.audit([])
    assert frame.empty and report.records == 0
    assert str(frame["activity_time"].dtype) == "datetime64[ns, UTC]"


def test_risk_enums_and_additional_info() -> None:
    rec = {
        "id": "r1",
        "riskEventType": "futureDetectionType",
        "riskLevel": "unknownFutureValue",
        "riskState": "atRisk",
        "detectedDateTime": "2026-11-10T08:00:00Z",
        "lastUpdatedDateTime": "2026-11-10T09:00:00Z",
        "additionalInfo": '[{"Key":"userAgent","Value":"x"}]',
        "location": {"city": "Leeds", "countryOrRegion": "GB"},
        "userPrincipalName": "ann@x.example",
    }
    frame, report = normalize.risk([rec, rec | {"id": "r2", "additionalInfo": "{broken"}])
    assert not frame["known_enums"].iloc[0]
    assert report.unknown_values == {"riskEventType=futureDetectionType": 2, "riskLevel=unknownFutureValue": 2}
    assert json.loads(frame["additional_info"].iloc[0]) == [{"Key": "userAgent", "Value": "x"}]
    assert frame["additional_info"].iloc[1] == "{broken"
    assert frame["country"].iloc[0] == "GB"


def test_registration_flags_stay_missing_not_false() -> None:
    recs = [
        {
            "id": "u1",
            "userPrincipalName": "a@x",
            "isSsprRegistered": True,
            "methodsRegistered": ["mobilePhone", "email"],
        },
        {"id": "u2", "userPrincipalName": "b@x"},
    ]
    frame, _ = normalize.registration(recs, datetime(2026, 11, 23, 15, 0, tzinfo=UTC))
    assert frame["snapshot_date"].iloc[0] == pd.Timestamp("2026-11-23", tz="UTC")
    assert frame["methods_registered"].iloc[0] == "email,mobilePhone"
    assert frame["method_count"].tolist() == [2, 0]
    assert bool(frame["is_sspr_registered"].iloc[0]) and pd.isna(frame["is_sspr_registered"].iloc[1])


def test_privileged_group_members_and_eligibility() -> None:
    day = datetime(2026, 11, 23, tzinfo=UTC)
    defs = [{"id": "ga", "displayName": "Global Administrator", "templateId": "ga"}]
    assignments = [
        {
            "roleDefinitionId": "ga",
            "principalId": "u1",
            "principal": {"@odata.type": "#microsoft.graph.user", "id": "u1", "userPrincipalName": "a@x"},
        },
        {
            "roleDefinitionId": "ga",
            "principalId": "g1",
            "principal": {"@odata.type": "#microsoft.graph.group", "id": "g1", "displayName": "Tier0"},
        },
    ]
    eligible = [{"roleDefinitionId": "ga", "principalId": "u3", "memberType": "Direct"}]
    members = {"g1": [{"id": "u2", "userPrincipalName": "b@x", "displayName": "B"}]}
    users = pd.DataFrame({"user_id": ["u3"], "user_upn": ["c@x"], "user_name": ["C"]})
    frame = normalize.privileged(defs, assignments, eligible, members, day, users=users)
    by_upn = frame.set_index("user_upn")
    assert by_upn.loc["b@x", "via_group_name"] == "Tier0" and by_upn.loc["b@x", "principal_type"] == "user"
    assert by_upn.loc["c@x", "assignment"] == "eligible" and by_upn.loc["c@x", "role_name"] == "Global Administrator"
    assert set(frame["principal_type"]) == {"user", "group"}


def test_records_that_cannot_be_stored_are_rejected_with_the_reason_not_crashes() -> None:
    """The Graph path's safety net: lone surrogates, nesting past the stack, and times nanosecond timestamps
    cannot hold (year 1 and 9999, whichever unit pandas picks) are rejected one by one; the rest are kept."""
    deep: Any = "x"
    for _ in range(5000):
        deep = [deep]
    records = [
        AUDIT,
        AUDIT | {"id": "s1", "activityDisplayName": "bad \ud800 text"},
        AUDIT | {"id": "d1", "deep": deep},
        AUDIT | {"id": "y1", "activityDateTime": "0001-01-01T00:00:00Z"},
        AUDIT | {"id": "y9", "activityDateTime": "9999-12-31T23:59:59Z"},
    ]
    frame, report = normalize.audit(records)
    assert frame["id"].tolist() == [AUDIT["id"]]
    reasons = {r.where: r.reason for r in report.rejected}
    assert "field activityDisplayName holds text that is not valid Unicode" in reasons["audit record 's1'"]
    assert "nested too deep" in reasons["audit record 'd1'"]
    assert "'0001-01-01T00:00:00Z' is not a readable date and time" in reasons["audit record 'y1'"]
    assert "years 1678 to 2261" in reasons["audit record 'y9'"]
    only_year_one, _ = normalize.risk([{"id": "r", "detectedDateTime": "0001-01-01T00:00:00Z"}])
    assert only_year_one.empty
