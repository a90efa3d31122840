"""Partial sources on hand-built frames: privilege from any signal, verdicts that say what evidence is missing,
and figures only for weeks the store holds complete (issue 14 §3, issue 15 items 1-3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from sspr_review.analysis import (
    AnalysisSettings,
    ReviewInputs,
    find_admin_password_resets,
    find_blocked_users,
    find_helpdesk_resets,
    prepare,
    weekly_metrics,
)
from sspr_review.analysis.privileged import privileged_lookup
from sspr_review.core import schema
from sspr_review.core.coverage import Coverage
from sspr_review.ingest.store.history import Store
from tests.support.analysis import (
    BLOCKED,
    BY_ADMIN,
    WINDOW,
    audit,
    completed_flow,
    coverage,
    ev,
    priv_row,
    privileged,
    reg_row,
    registration,
    step,
    t,
    upn,
)

S = AnalysisSettings()
PIM_GAP = "PIM-eligible administrators are not included: missing licence Microsoft Entra ID P2"


def _partial_roles(*parts: str) -> dict[str, Coverage]:
    cov = coverage()
    cov["roles"] = replace(cov["roles"], missing=parts)
    return cov


def _lookup(tables: dict[str, pd.DataFrame], cov: dict[str, Coverage], *users: str) -> pd.DataFrame:
    data = prepare(tables, coverage=cov)
    upns = pd.Series([upn(u) for u in users], dtype="string")
    times = np.full(len(users), pd.Timestamp(t("2d")).value, dtype=np.int64)
    return privileged_lookup(data, times, pd.Series([None] * len(users), dtype="string"), upns)


# ---------------------------------------------------------------------------------------- privileged union


def _role_tables() -> dict[str, pd.DataFrame]:
    return {
        "audit": schema.empty("audit"),
        "privileged": privileged(priv_row("direct", snapshot="2024-03-01")),
        "registration": registration(
            reg_row("direct", "2024-03-01", admin=True),
            reg_row("flagged", "2024-03-01", admin=True),  # isAdmin, but not in the role data
            reg_row("plain", "2024-03-01"),
        ),
    }


def test_an_accounts_roles_assignments_and_groups_are_each_joined_once_sorted() -> None:
    tables = _role_tables()
    tables["privileged"] = privileged(
        priv_row("direct", "User Administrator", snapshot="2024-03-01", assignment="eligible"),
        priv_row("direct", "Global Administrator", snapshot="2024-03-01", group="Tier0"),
        priv_row("direct", "User Administrator", snapshot="2024-03-01", group="Admins"),
        priv_row("direct", "Helpdesk Administrator", snapshot="2024-02-20"),  # an older snapshot: not in force
        priv_row("other", "Global Reader", snapshot="2024-03-01"),
    )
    found = _lookup(tables, coverage(), "direct", "other", "plain")
    assert found["roles"].tolist()[0] == "Global Administrator; User Administrator"
    assert found["assignments"].tolist()[0] == "active; eligible"
    assert found["groups"].tolist()[0] == "Admins; Tier0"
    assert found["roles"].tolist()[1] == "Global Reader" and pd.isna(found["groups"].tolist()[1]) is False
    assert found["groups"].tolist()[1] == "" and pd.isna(found["roles"].tolist()[2])
    assert found["privileged"].tolist() == [True, True, False]


def test_privileged_when_any_signal_says_so_and_the_mismatch_is_marked() -> None:
    found = _lookup(_role_tables(), coverage(), "direct", "flagged", "plain")
    assert found["privileged"].tolist() == [True, True, False]
    assert found["basis"].tolist() == ["roles", "registration", "roles"]
    assert found["mismatch"].tolist() == [False, True, False]
    assert found["assignments"].tolist()[1] == "isAdmin"
    assert found["gaps"].isna().all()  # the role data is whole: "not privileged" is certain


def test_partial_role_data_is_used_and_its_gaps_are_named() -> None:
    found = _lookup(_role_tables(), _partial_roles(PIM_GAP), "direct", "flagged", "plain")
    assert found["privileged"].tolist() == [True, True, False]
    assert found["gaps"].tolist() == [PIM_GAP] * 3


def test_without_role_data_is_admin_decides_and_without_either_privilege_is_unknown() -> None:
    no_roles = coverage(missing={"roles": "RoleManagement.Read.Directory missing"})
    found = _lookup(_role_tables(), no_roles, "direct", "flagged", "plain")
    assert found["privileged"].tolist() == [True, True, False]
    assert found["basis"].tolist() == ["registration"] * 3
    assert not found["mismatch"].any()
    assert found["gaps"].tolist() == ["RoleManagement.Read.Directory missing"] * 3
    neither = coverage(missing={"roles": "denied", "registration": "denied"})
    unknown = _lookup(_role_tables(), neither, "direct", "plain")
    assert unknown["privileged"].isna().all()


def test_admin_reset_of_an_account_only_flagged_is_admin_says_so() -> None:
    tables = _role_tables() | {"audit": audit(ev(BY_ADMIN, t("2d"), "flagged", initiator="helpdesk"))}
    data = prepare(tables, coverage=_partial_roles("members of role group g-1 are not included: 403"))
    (finding,) = find_admin_password_resets(data, WINDOW, S)
    assert finding.severity == "high"
    assert finding.evidence["not_in_role_data"] is True and finding.evidence["privilege_basis"] == "registration"
    assert "not in the role data" in finding.title
    assert "members of role group g-1 are not included" in finding.action
    assert find_helpdesk_resets(data, WINDOW, S) == []


# ------------------------------------------------------------------------------------ verdicts and evidence


def _blocked(**tables: pd.DataFrame) -> dict[str, pd.DataFrame]:
    rows = [
        step(t("3d"), "victim", "User started the mobile SMS verification option", "v1", "198.51.100.9"),
        ev(BLOCKED, t("3d 1h"), "victim", ip="198.51.100.9"),
    ]
    return {
        "audit": audit(rows),
        "risk": schema.empty("risk"),
        "registration": registration(reg_row("victim", "2024-03-01", methods="email,mobilePhone")),
        "privileged": schema.empty("privileged"),
    } | tables


def test_blocked_user_without_risk_data_is_not_ruled_out_an_attack() -> None:
    data = prepare(_blocked(), coverage=coverage(missing={"risk": "IdentityRiskEvent.Read.All missing"}))
    (f,) = find_blocked_users(data, WINDOW, S)
    assert f.severity == "high"
    assert f.evidence["assessment"] == "attack_not_ruled_out"
    assert f.title.endswith("— risk data missing, attack not ruled out")
    assert "IdentityRiskEvent.Read.All missing" in f.action and "known channel" in f.action
    assert f.evidence["missing_signals"] == {"risk": ["IdentityRiskEvent.Read.All missing"]}
    both = prepare(_blocked(), coverage=coverage(missing={"risk": "denied", "registration": "no snapshot"}))
    assert "risk and registration data missing" in find_blocked_users(both, WINDOW, S)[0].title


def test_blocked_user_with_every_signal_available_still_needs_help() -> None:
    (f,) = find_blocked_users(prepare(_blocked(), coverage=coverage()), WINDOW, S)
    assert f.severity == "low" and f.evidence["assessment"] == "needs_registration_help"
    assert "missing_signals" not in f.evidence


def test_helpdesk_reset_without_role_data_does_not_rule_out_an_administrator() -> None:
    tables = {
        "audit": audit(ev(BY_ADMIN, t("2d"), "alice", initiator="helpdesk")),
        "registration": registration(reg_row("alice", "2024-03-01")),
        "privileged": schema.empty("privileged"),
    }
    missing = prepare(tables, coverage=coverage(missing={"roles": "RoleManagement.Read.Directory missing"}))
    (f,) = find_helpdesk_resets(missing, WINDOW, S)
    assert f.severity == "high" and f.evidence["privileged"] is None
    assert "role data missing, administrator not ruled out" in f.title
    assert "RoleManagement.Read.Directory missing" in f.action
    partial = prepare(tables, coverage=_partial_roles(PIM_GAP))
    (g,) = find_helpdesk_resets(partial, WINDOW, S)
    assert g.severity == "high" and "role data incomplete" in g.title and g.evidence["role_data_gaps"] == [PIM_GAP]
    whole = prepare(tables, coverage=coverage())
    (h,) = find_helpdesk_resets(whole, WINDOW, S)
    assert h.severity == "medium" and h.evidence["privileged"] is False and "not ruled out" not in h.title


# ------------------------------------------------------------------------------ figures only for held weeks


def _four_weeks_of_resets() -> pd.DataFrame:
    rows = []
    for week in range(4):
        for k in range(3):
            rows += completed_flow(t(f"{-7 * week + 1}d {k}h"), f"w{week}u{k}")
    return audit(rows)


def test_weeks_the_store_does_not_hold_complete_are_no_data_whatever_rows_it_has() -> None:
    data = prepare({"audit": _four_weeks_of_resets()}, coverage=coverage())
    start = WINDOW.start
    held = [(start - timedelta(days=28), start - timedelta(days=14)), (start - timedelta(days=7), WINDOW.end)]
    weekly = weekly_metrics(data, WINDOW, S, covered={"audit": held}, weeks=4)
    assert weekly["sspr_resets"].tolist() == [3, pd.NA, 3, 3]  # the week before last is not held: a gap
    nothing = weekly_metrics(data, WINDOW, S, covered={"audit": []}, weeks=4)
    assert nothing["sspr_resets"].iloc[:-1].isna().all()  # rows landed, but no interval: no figures
    assert nothing["sspr_resets"].iloc[-1] == 3  # the review week follows its own coverage


# -------------------------------------------------------------------------------------- store coverage


def test_store_keeps_what_a_snapshot_could_not_read(tmp_path: Path) -> None:
    store = Store(tmp_path, "t")
    # the week [03-04, 03-11) uses the snapshot nearest its end (03-05), the next week the one of 03-19
    first, second = (
        datetime.fromisoformat("2024-03-05T06:00:00+00:00"),
        datetime.fromisoformat("2024-03-19T06:00:00+00:00"),
    )
    with store.writing():
        for day in (first, second):
            store.write_snapshot("privileged", schema.empty("privileged"), day)
        store.record_snapshot("roles", first, [PIM_GAP])
        store.record_snapshot("roles", second)
    partial = store.coverage("roles", WINDOW.start, WINDOW.end)
    assert partial.complete and partial.missing == (PIM_GAP,) and not partial.whole
    later = store.coverage("roles", WINDOW.end, WINDOW.end + timedelta(days=7))
    assert later.missing == () and later.whole
    with store.writing():
        store.record_snapshot("roles", first)  # the same day fetched again, this time whole
    assert store.coverage("roles", WINDOW.start, WINDOW.end).missing == ()


def test_the_review_notes_accounts_flagged_is_admin_that_the_role_data_does_not_list() -> None:
    from sspr_review.analysis import build_review, findings_json

    review = build_review(ReviewInputs(_role_tables(), coverage(), WINDOW), S)
    (note,) = review.notes
    assert note.startswith("1 accounts the registration report flags as administrators are not in the role data")
    assert "flagged@contoso.com" in note and "direct@" not in note and "check their role assignments" in note
    assert findings_json(review)["notes"] == [note]
    partial = build_review(ReviewInputs(_role_tables(), _partial_roles(PIM_GAP), WINDOW), S)
    assert PIM_GAP in partial.notes[0]
    assert findings_json(partial)["coverage"]["roles"] == {
        "from": "2024-03-04T00:00:00Z",
        "to": "2024-03-11T00:00:00Z",
        "complete": False,
        "reason": None,
        "missing": [PIM_GAP],
        "approximate": False,
        "snapshot": None,
        "snapshot_offset_days": None,
        "mode": None,
        "notes": [],
        "selection": None,
        "suspect": None,
    }


def test_registration_gap_with_incomplete_role_data_does_not_rule_out_administrators() -> None:
    from sspr_review.analysis import find_registration_gaps

    rows = [reg_row(f"u{i}", capable=i < 5) for i in range(10)]
    low = find_registration_gaps(prepare({"registration": registration(*rows)}, coverage=coverage()), WINDOW, S)
    assert low[0].severity == "low" and low[0].evidence["role_data_gaps"] == []
    data = prepare({"registration": registration(*rows)}, coverage=_partial_roles(PIM_GAP))
    (f,) = find_registration_gaps(data, WINDOW, S)
    assert f.severity == "medium" and "administrators not ruled out" in f.title
    assert f.evidence["role_data_gaps"] == [PIM_GAP]
