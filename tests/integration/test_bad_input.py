"""Bad input through the real CLI: hostile Graph exports, out-of-range weeks, mistyped settings, relative paths.

Each case of issue 15 (items 5, 6, 9, 10) and issue 14 §4 (files source): nothing dropped without a word, no
traceback, the documented exit code, and the message names the file, record and field.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

CLI = [sys.executable, "-m", "sspr_review.cli"]
SSPR = "Self-service Password Management"
PASSWORD_RULES = "5cf42378-d67d-4f36-ba46-e8b86229381d"


def audit(i: int, when: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"a{i}",
        "activityDateTime": when,
        "activityDisplayName": "Reset password (self-service)",
        "loggedByService": SSPR,
        "result": "success",
        "initiatedBy": {"user": {"id": f"u{i}", "userPrincipalName": f"u{i}@x.example"}},
        "targetResources": [{"id": f"u{i}", "type": "User", "userPrincipalName": f"u{i}@x.example"}],
    } | extra


def risk(i: int, when: str) -> dict[str, Any]:
    return {
        "id": f"r{i}",
        "riskEventType": "leakedCredentials",
        "detectedDateTime": when,
        "lastUpdatedDateTime": when,
        "userPrincipalName": f"u{i}@x.example",
    }


def clean_export(folder: Path) -> Path:
    """A complete export: audit events Monday 2026-11-09 to Tuesday 2026-11-17, risk detections in October."""
    folder.mkdir(parents=True, exist_ok=True)
    days = [f"2026-11-{d:02d}T{h:02d}:00:00Z" for d, h in [(9, 0), (10, 9), (12, 11), (15, 8), (17, 6)]]
    audits = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs/directoryAudits",
        "value": [audit(i, when) for i, when in enumerate(days)],
    }
    (folder / "audits.json").write_text(json.dumps(audits))
    (folder / "risk.json").write_text(json.dumps({"value": [risk(i, f"2026-10-0{i + 1}T03:00:00Z") for i in range(5)]}))
    reg = [{"id": f"u{i}", "userPrincipalName": f"u{i}@x.example", "isSsprRegistered": True} for i in range(5)]
    (folder / "registration.json").write_text(json.dumps({"value": reg}))
    roles = [{"id": "ra1", "roleDefinitionId": "62e90394", "principalId": "u0", "principal": {"id": "u0"}}]
    (folder / "roles.json").write_text(json.dumps({"value": roles}))
    policy = {"id": "gs1", "templateId": PASSWORD_RULES, "values": [{"name": "BannedPasswordList", "value": ""}]}
    (folder / "groupSettings.json").write_text(json.dumps({"value": [policy]}))
    org = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#organization(id,displayName)",
        "value": [{"id": "0f3c5a3e-tenant", "displayName": "Contoso Pharma"}],
    }
    (folder / "organization.json").write_text(json.dumps(org))
    return folder


def cli(
    *args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )


def fetch(export: Path, store: Path) -> subprocess.CompletedProcess[str]:
    return cli("fetch", "--source", "files", "--files", export, "--store", store, "--no-progress")


def stored(store: Path, table: str) -> pd.DataFrame:
    files = sorted((store / "files" / table).glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files]) if files else pd.DataFrame({"id": []})


def rejects(store: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in sorted((store / "files" / "rejects").glob("*.jsonl")) for line in f.open()]


def no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr


# ----------------------------------------------------------------------------------- the files source
@pytest.mark.slow
def test_clean_export_lands_whole_and_reviews_the_week_it_covers(tmp_path: Path) -> None:
    """14 §4: the review week defaults to the last complete week the files cover, and says so; the tenant is
    named from the organization records (exported with $select=id,displayName). 15.5: risk detections outside
    the audit events' span are stored (each source's window comes from its own records)."""
    done = fetch(clean_export(tmp_path / "export"), tmp_path / "store")
    no_traceback(done)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(stored(tmp_path / "store", "risk")["id"]) == [f"r{i}" for i in range(5)]
    assert "risk          ok 2026-10-01 03:00 → 2026-10-05 03:00 UTC: 5 records, 5 new" in done.stdout
    assert len(stored(tmp_path / "store", "audit")) == 5
    assert "Week: the last complete week the files cover (audit records from 2026-11-09 00:00" in done.stdout
    assert "SSPR weekly review — Contoso Pharma — week ending Mon 2026-11-16" in done.stdout
    review = cli("review", "--source", "files", "--store", tmp_path / "store")
    assert review.returncode == 0 and "week ending Mon 2026-11-16" in review.stdout


@pytest.mark.slow
def test_a_short_export_reviews_the_week_it_falls_in_and_says_it_is_partial(tmp_path: Path) -> None:
    export = clean_export(tmp_path / "export")
    days = ["2026-11-10T09:00:00Z", "2026-11-12T10:00:00Z"]
    (export / "audits.json").write_text(json.dumps({"value": [audit(i, d) for i, d in enumerate(days)]}))
    done = fetch(export, tmp_path / "store")
    assert done.returncode == 0, done.stderr
    assert "the files cover no complete week" in done.stdout and "week ending Mon 2026-11-16" in done.stdout


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One fetch of an export holding every bad-input case of issue 15 beside good records."""
    base = tmp_path_factory.mktemp("hostile")
    export = clean_export(base / "export")
    good = [audit(i, f"2026-11-1{i}T10:00:00Z") for i in range(5)]
    empty = audit(20, "")  # empty activityDateTime
    far = audit(21, "9999-12-31T23:59:59.9999999Z")  # year 9999
    ancient = audit(22, "0001-01-01T00:00:00Z")
    copies = [audit(30, "2026-11-11T12:00:00Z", result=r) for r in ("success", "failure", "timeout")]
    same = [audit(31, "2026-11-11T13:00:00Z")] * 2  # identical copies: stored once, counted
    (export / "audits.json").write_text(json.dumps({"value": [*good, empty, far, ancient, *copies, *same]}))
    deep = json.dumps(audit(40, "2026-11-12T00:00:00Z"))[:-1] + ', "nested": ' + "[" * 2000 + "]" * 2000 + "}"
    neighbour = json.dumps(audit(41, "2026-11-12T01:00:00Z"))
    (export / "deep.json").write_text('{"value": [' + neighbour + ", " + deep + "]}")
    (export / "lines.jsonl").write_text(json.dumps(audit(42, "2026-11-12T02:00:00Z")) + "\n" + deep + "\n{broken\n")
    (export / "loop.json").symlink_to("loop.json")  # ELOOP
    (export / "utf16.json").write_bytes(json.dumps({"value": [audit(43, "2026-11-12T03:00:00Z")]}).encode("utf-16"))
    (export / "latin1.json").write_bytes(
        json.dumps([audit(44, "2026-11-12T04:00:00Z", x="é")], ensure_ascii=False).encode("latin-1")
    )
    surrogate = json.dumps(audit(45, "2026-11-12T05:00:00Z"))[:-1] + ', "activityDisplayName": "x\\ud800"}'
    (export / "surrogate.json").write_text("[" + surrogate + "]")
    store = base / "store"
    return fetch(export, store), store


def test_hostile_export_exits_4_and_the_readable_records_land(hostile: tuple[Any, Path]) -> None:
    done, store = hostile
    no_traceback(done)
    assert done.returncode == 4, done.stderr
    ids = set(stored(store, "audit")["id"])
    assert {f"a{i}" for i in range(5)} | {"a30", "a31", "a41", "a42", "a43"} == ids
    assert "records could not be read and were not stored" in done.stderr


def test_empty_and_out_of_range_dates_are_named(hostile: tuple[Any, Path]) -> None:
    done, _ = hostile
    assert "audits.json item 5 (id 'a20'): activityDateTime is missing or empty" in done.stderr
    assert "audits.json item 6 (id 'a21'): activityDateTime '9999-12-31T23:59:59.9999999Z' is not a readable" in (
        done.stderr
    )
    assert "(id 'a22'): activityDateTime '0001-01-01T00:00:00Z' is not a readable" in done.stderr


def test_deep_nesting_names_file_item_id_and_field_and_its_neighbours_load(hostile: tuple[Any, Path]) -> None:
    done, _ = hostile
    assert "deep.json item 1: nested 2001 levels deep (id 'a40', field nested)" in done.stderr
    assert "lines.jsonl line 2: nested 2001 levels deep (id 'a40', field nested)" in done.stderr
    assert "lines.jsonl line 3: not valid JSON" in done.stderr


def test_unreadable_files_and_text_are_named(hostile: tuple[Any, Path]) -> None:
    done, _ = hostile
    assert "loop.json: cannot be read (Too many levels of symbolic links)" in done.stderr
    assert "latin1.json: not UTF-8 text (byte" in done.stderr
    assert "surrogate.json item 0: field activityDisplayName holds text that is not valid Unicode" in done.stderr


def test_conflicting_duplicates_are_reported_with_the_copy_kept(hostile: tuple[Any, Path]) -> None:
    done, store = hostile
    assert "2 conflicting duplicates set aside" in done.stdout
    assert "id 'a30' is given 3 times with different content; kept the copy in" in done.stdout
    assert "audits.json item 10 (the last one given" in done.stdout
    assert "1 identical copies of records given more than once, stored once" in done.stdout
    audit_rows = stored(store, "audit")
    assert audit_rows.loc[audit_rows["id"] == "a30", "result"].tolist() == ["timeout"]


def test_every_record_given_is_stored_or_in_rejects(hostile: tuple[Any, Path]) -> None:
    _, store = hostile
    kept = rejects(store)
    reasons = {r["where"].rsplit("/", 1)[-1]: r["reason"] for r in kept}
    assert len(kept) == 11  # 3 dates, 2 deep, 1 broken line, loop, latin-1, surrogate, 2 conflicting copies
    assert reasons["audits.json item 8"].startswith("id 'a30' is given 3 times")
    assert json.loads(next(r["received"] for r in kept if "(id 'a21')" in r["where"]))["id"] == "a21"
    # 20 records in the files that could be opened and decoded (13 in audits.json, 2 in deep.json, 3 in
    # lines.jsonl, 1 each in utf16.json and surrogate.json): each is stored, rejected or an identical copy
    per_record = [r for r in kept if " item " in r["where"] or " line " in r["where"]]
    assert len(stored(store, "audit")) + len(per_record) + 1 == 20
    whole_files = sorted(r["where"].rsplit("/", 1)[-1] for r in kept if r not in per_record)
    assert whole_files == ["latin1.json", "loop.json"]


# ------------------------------------------------------------------------------------- week ending
@pytest.mark.slow
@pytest.mark.parametrize("week", ["9999-12-31", "0001-01-01"])
def test_week_ending_out_of_range_is_a_usage_error(tmp_path: Path, week: str) -> None:
    for command in (["review"], ["run", "--no-fetch", "--out", str(tmp_path / "reports")]):
        done = cli(*command, "--source", "demo", "--store", tmp_path / "store", "--week-ending", week)
        no_traceback(done)
        assert done.returncode == 2, done.stderr
        assert f"week_ending {week} is out of range: use a date between 1970-01-15 and 2261-12-31" in done.stderr
    assert not (tmp_path / "reports").exists()


# -------------------------------------------------------------------------------------- settings
@pytest.mark.slow
def test_boolean_for_a_number_is_a_config_error_but_env_text_parses(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[store]\naudit_overlap_hours = true\n")
    done = cli("status", "--config", config)
    no_traceback(done)
    assert done.returncode == 2
    assert "[store] audit_overlap_hours: expected a number, not the boolean true" in done.stderr
    config.write_text("[store]\naudit_overlap_hours = 6\n")
    ok = cli("status", "--config", config, env={"SSPR_REVIEW_STORE_RISK_OVERLAP_HOURS": "12"})
    assert ok.returncode == 0, ok.stderr
    bad_env = cli("status", "--config", config, env={"SSPR_REVIEW_MAIL_CHARTS": "maybe"})
    assert bad_env.returncode == 2 and "SSPR_REVIEW_MAIL_CHARTS='maybe' is not true or false" in bad_env.stderr


@pytest.mark.slow
def test_relative_paths_command_line_from_cwd_config_file_from_its_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.toml").write_text('[store]\npath = "filestore"\n')
    done = cli("status", "--config", "sub/c.toml", "--store", "mystore", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert Path(json.loads(done.stdout)["path"]).parent == tmp_path / "mystore"
    from_file = cli("status", "--config", "sub/c.toml", "--json", cwd=tmp_path)
    assert Path(json.loads(from_file.stdout)["path"]).parent == tmp_path / "sub" / "filestore"
    from_env = cli(
        "status", "--config", "sub/c.toml", "--json", cwd=tmp_path, env={"SSPR_REVIEW_STORE_PATH": "envstore"}
    )
    assert Path(json.loads(from_env.stdout)["path"]).parent == tmp_path / "envstore"


# --------------------------------------------------------------------------- the same from Microsoft Graph
@pytest.mark.slow
def test_graph_record_that_cannot_be_stored_is_named_and_the_others_land(tmp_path: Path) -> None:
    """Through the real msgraph-sdk against the Graph test server: an audit event carrying a lone surrogate (a
    \\ud800 escape in Graph's JSON, which Parquet cannot hold; it crashed the store's write) is listed with its
    id and field, exit 4; every other event of the window lands."""
    from sspr_review.core.weeks import last_monday
    from sspr_review.sources.demo.tenant import DemoTenant
    from tests.support.graph_server import GraphData, GraphServer

    data = GraphData.from_demo(DemoTenant(users=200, weeks=2, end=last_monday("UTC")))
    newest = max(r["activityDateTime"] for r in data.directory_audits)
    data.directory_audits.append(audit(900, newest, activityDisplayName="Reset password (self-service) \ud800"))
    with GraphServer(data, time_scale=0.02, token="t") as server:
        env = {
            "SSPR_REVIEW_GRAPH_URL": server.url,
            "SSPR_REVIEW_ACCESS_TOKEN": "t",
            "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": "0.02",
        }
        done = cli("fetch", "--store", tmp_path / "store", "--no-progress", env=env)
    no_traceback(done)
    assert done.returncode == 4, done.stdout[:2000] + done.stderr
    assert "audit record 'a900': field activityDisplayName holds text that is not valid Unicode" in done.stderr
    audit_rows = pd.concat(pd.read_parquet(f) for f in (tmp_path / "store" / "graph" / "audit").glob("*.parquet"))
    assert len(audit_rows) > 100 and "a900" not in set(audit_rows["id"])
