"""Reading the SSPR configuration changes out of the audit events: every value encoding, every setting and direction,
unknown names, unreadable values, saves that changed nothing (issue 23, point 1)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest

from sspr_review.analysis.policy_changes import parse_policy_changes
from sspr_review.analysis.sspr_settings import canonical, decode_value, setting
from tests.support.policy import audit_of, double, prop, update, writeback

T = "2024-03-05T10:00:00Z"


def changes_of(*records: dict[str, Any]) -> pd.DataFrame:
    return parse_policy_changes(audit_of(*records)).changes


@pytest.mark.parametrize(
    ("name", "raw", "text", "parsed"),
    [
        ("NumberOfRequiredContactMethodsForUsers", double("2"), "2", True),  # "\"2\"": public queries parse twice
        ("NumberOfRequiredContactMethodsForUsers", '"2"', "2", True),
        ("NumberOfRequiredContactMethodsForUsers", "2", "2", True),
        ("NumberOfRequiredContactMethodsForUsers", 2, "2", True),  # a JSON number, not text
        ("SelectedContactMethodsForUsers", '["Email","MobileSMS"]', "Email,MobileSMS", True),
        ("SelectedContactMethodsForUsers", double(["MobileSMS", "Email"]), "Email,MobileSMS", True),
        ("SelectedContactMethodsForUsers", "[email, mobilesms]", "Email,MobileSMS", True),
        ("SelectedContactMethodsForUsers", ["MobileAppCode", "Email"], "MobileAppCode,Email", True),
        ("SelectedContactMethodsForUsers", '"None"', "", True),  # the empty list is logged as None
        ("NotifyUsersOfReset", "True", "True", True),  # a bare word
        ("NotifyUsersOfReset", '"false"', "False", True),
        ("NotifyUsersOfReset", "true", "True", True),
        ("NotifyUsersOfReset", None, None, True),  # null
        ("NotifyUsersOfReset", "null", None, True),
        ("EnablementForUsers", '"all"', "All", True),
        ("EnforcedRegistrationEnablementForUsers", double("Yes"), "Yes", True),
        ("EnforcedRegistrationIntervalInDaysForUsers", double("180"), "180", True),
        ("CustomContactAdminLink", double("https://help.contoso.com/sspr"), "https://help.contoso.com/sspr", True),
        ("NumberOfRequiredContactMethodsForUsers", "[broken", None, False),
        ("NumberOfRequiredContactMethodsForUsers", '"seven"', None, False),
        ("CustomContactAdminLink", '{"url": "x"}', None, False),
        ("NotifyUsersOfReset", '"maybe"', None, False),
    ],
)
def test_a_logged_value_is_read_in_any_encoding(name: str, raw: Any, text: str | None, parsed: bool) -> None:
    decoded = decode_value(raw)
    got = canonical(setting(name).type, decoded) if decoded.parsed else (None, False)
    assert got == (text, parsed)


CASES = [
    # setting, old, new, direction, words in the phrase
    ("NumberOfRequiredContactMethodsForUsers", "2", "1", "weakens", "lowered from 2 to 1"),
    ("NumberOfRequiredContactMethodsForUsers", "1", "2", "strengthens", "raised from 1 to 2"),
    (
        "SelectedContactMethodsForUsers",
        ["MobileAppNotification", "Email"],
        ["MobileAppNotification", "Email", "SecurityQuestions"],
        "weakens",
        "security questions added",
    ),
    (
        "SelectedContactMethodsForUsers",
        ["MobileAppCode", "Email", "SecurityQuestions"],
        ["MobileAppCode", "Email"],
        "strengthens",
        "security questions removed",
    ),
    (
        "SelectedContactMethodsForUsers",
        ["MobileAppNotification", "MobileAppCode", "Email", "MobileSMS"],
        ["Email", "MobileSMS"],
        "weakens",
        "Authenticator code removed",
    ),
    (
        "SelectedContactMethodsForUsers",
        ["MobileAppNotification", "Email"],
        ["MobileAppNotification"],
        "neutral",
        "e-mail removed",
    ),
    (
        "SelectedContactMethodsForUsers",
        ["Email"],
        ["Email", "MobileAppCode"],
        "strengthens",
        "Authenticator code added",
    ),
    ("EnablementForUsers", "All", "Selected", "weakens", "narrowed from All to Selected"),
    ("EnablementForUsers", "Selected", "None", "weakens", "narrowed from Selected to None"),
    ("EnablementForUsers", "None", "All", "strengthens", "widened from None to All"),
    ("EnforcedRegistrationEnablementForUsers", "Yes", "No", "weakens", "turned off"),
    ("EnforcedRegistrationEnablementForUsers", "No", "Yes", "strengthens", "turned on"),
    ("EnforcedRegistrationIntervalInDaysForUsers", "180", "365", "weakens", "raised from 180 days to 365 days"),
    ("EnforcedRegistrationIntervalInDaysForUsers", "180", "0", "weakens", "set to never (was 180 days)"),
    ("EnforcedRegistrationIntervalInDaysForUsers", "365", "180", "strengthens", "lowered from 365 days to 180 days"),
    ("EnforcedRegistrationIntervalInDaysForUsers", "90", "180", "neutral", "raised from 90 days to 180 days"),
    ("NotifyUsersOfReset", "True", "False", "weakens", "turned off"),
    ("NotifyUsersOfReset", "False", "True", "strengthens", "turned on"),
    ("NotifyTenantAdminOfReset", "True", "False", "weakens", "turned off"),
    ("NotifyTenantAdminOfReset", "False", "True", "strengthens", "turned on"),
    ("CustomizeContactAdminLink", "False", "True", "neutral", "turned on"),
    ("CustomContactAdminLink", "https://a.example/help", "mailto:help@contoso.com", "neutral", "changed from"),
    ("EnableAccountUnlock", "True", "False", "neutral", "turned off"),
]


@pytest.mark.parametrize(("name", "old", "new", "direction", "words"), CASES)
def test_each_setting_and_direction(name: str, old: Any, new: Any, direction: str, words: str) -> None:
    (row,) = changes_of(update(T, prop(name, double(old), double(new)))).to_dict(orient="records")
    assert (row["setting"], row["direction"], bool(row["weakens"])) == (name, direction, direction == "weakens")
    assert words in row["phrase"]
    assert bool(row["known"]) and bool(row["parsed"])
    assert (row["old_raw"], row["new_raw"]) == (double(old), double(new))  # the raw values are kept
    if direction == "weakens":
        assert row["reasons"]


def test_who_when_and_from_where() -> None:
    (row,) = changes_of(update(T, prop("NotifyUsersOfReset", "True", "False"), by="mallory", ip="203.0.113.9")).to_dict(
        orient="records"
    )
    assert (row["changed_by"], row["changed_by_id"], row["ip"]) == ("mallory@contoso.com", "id-mallory", "203.0.113.9")
    assert row["time"] == pd.Timestamp(T)
    by_app = update(T, prop("NotifyUsersOfReset", "True", "False"))
    by_app["initiatedBy"] = {"user": None, "app": {"displayName": "Provisioning", "servicePrincipalId": "sp-1"}}
    (row,) = changes_of(by_app).to_dict(orient="records")
    assert row["changed_by"] == "Provisioning"


def test_one_row_per_changed_setting_and_a_save_that_changed_nothing_is_no_change() -> None:
    mixed = update(
        T,
        prop("NumberOfRequiredContactMethodsForUsers", double("2"), double("1")),
        prop("EnablementForUsers", double("All"), '"All"'),  # the same value, encoded differently
        prop("SelectedContactMethodsForUsers", '["Email","MobileAppCode"]', double(["MobileAppCode", "Email"])),
    )
    nothing = update("2024-03-06T09:00:00Z", prop("EnablementForUsers", '"All"', '"All"'), prop("X", "a", "a"))
    parsed = parse_policy_changes(audit_of(mixed, nothing))
    assert parsed.changes["setting"].tolist() == ["NumberOfRequiredContactMethodsForUsers"]
    saves = parsed.saves.set_index("event_id")
    assert (saves.at[mixed["id"], "changed"], saves.at[mixed["id"], "unchanged"]) == (1, 2)
    assert (saves.at[nothing["id"], "changed"], saves.at[nothing["id"], "unchanged"]) == (0, 2)
    counts = parsed.counts()
    assert (counts["events"], counts["changes"], counts["unchanged_saves"]) == (2, 1, 1)


def test_account_unlock_logged_null_means_unchanged() -> None:
    record = update(T, prop("EnableAccountUnlock", "True", "Null"), prop("NotifyUsersOfReset", "False", "True"))
    assert changes_of(record)["setting"].tolist() == ["NotifyUsersOfReset"]


def test_an_unknown_setting_is_kept_shown_and_counted() -> None:
    parsed = parse_policy_changes(audit_of(update(T, prop("PasskeyResetBeta", double("Off"), double("On")))))
    (row,) = parsed.changes.to_dict(orient="records")
    assert (row["setting"], row["known"], row["direction"]) == ("PasskeyResetBeta", False, "neutral")
    assert (row["old_shown"], row["new_shown"]) == ("Off", "On")
    assert parsed.counts()["unknown_settings"] == 1


def test_an_unreadable_value_is_kept_with_its_raw_text_and_counted() -> None:
    parsed = parse_policy_changes(audit_of(update(T, prop("NumberOfRequiredContactMethodsForUsers", '"2"', "{oops"))))
    (row,) = parsed.changes.to_dict(orient="records")
    assert not row["parsed"] and row["direction"] == "neutral"
    assert (row["new_raw"], row["new_shown"]) == ("{oops", "{oops")
    assert parsed.counts()["unparseable_values"] == 1


def test_writeback_events_are_changes_of_their_own_setting() -> None:
    rows = changes_of(writeback(T, enable=False), writeback("2024-03-06T10:00:00Z", enable=True))
    assert rows["setting"].tolist() == ["PasswordWriteback", "PasswordWriteback"]
    assert rows["new"].tolist() == ["Disabled", "Enabled"]
    assert rows["direction"].tolist() == ["weakens", "strengthens"]


def test_a_failed_update_and_other_activities_are_not_changes() -> None:
    failed = update(T, prop("NotifyUsersOfReset", "True", "False"), result="failure")
    other = update(T, prop("NotifyUsersOfReset", "True", "False"))
    other["activityDisplayName"] = "Reset password (self-service)"
    parsed = parse_policy_changes(audit_of(failed, other))
    assert parsed.changes.empty and parsed.saves.empty


def test_a_record_that_cannot_be_read_is_counted_not_dropped() -> None:
    frame = audit_of(update(T, prop("NotifyUsersOfReset", "True", "False")))
    frame["raw"] = pd.Series(["{not json"], dtype="string")
    parsed = parse_policy_changes(frame)
    assert parsed.changes.empty
    assert parsed.counts()["unreadable_events"] == 1


def test_targets_and_properties_of_odd_shapes_are_tolerated() -> None:
    record = update(T, prop("NotifyUsersOfReset", "True", "False"))
    record["targetResources"] = [
        "not an object",
        {"type": "Other", "modifiedProperties": "not a list"},
        {"type": "Other", "modifiedProperties": [None, 3, prop("NotifyTenantAdminOfReset", "True", "False")]},
        *record["targetResources"],
    ]
    rows = changes_of(record)
    assert sorted(rows["setting"]) == ["NotifyTenantAdminOfReset", "NotifyUsersOfReset"]


def test_the_raw_record_round_trips_through_json() -> None:
    """What the store keeps is the record as received: parsing it again gives the same changes."""
    record = update(T, prop("NumberOfRequiredContactMethodsForUsers", double("2"), double("1")))
    again = json.loads(json.dumps(record))
    assert changes_of(record)[["setting", "old", "new"]].equals(changes_of(again)[["setting", "old", "new"]])
