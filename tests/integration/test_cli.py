import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sspr_review.cli import main


def test_help_explains_each_command() -> None:
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0 and "demo" in top.output and "fetch" in top.output and "status" in top.output
    fetch = runner.invoke(main, ["fetch", "--help"])
    assert "SSPR_REVIEW_GRAPH_URL" in fetch.output and "--store" in fetch.output and "--config" in fetch.output
    assert "no data" in fetch.output
    assert "--users" in runner.invoke(main, ["demo", "--help"]).output


def test_bad_config_exits_2_with_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[review]\ntimezone = "Mars/Olympus"\n')
    done = subprocess.run(
        [sys.executable, "-m", "sspr_review.cli", "status", "--config", str(cfg)],
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    assert done.returncode == 2
    assert "[review] timezone" in done.stderr and "Mars/Olympus" in done.stderr


def test_status_of_an_empty_store(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["status", "--store", str(tmp_path), "--json"])
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert info["sources"]["audit"]["intervals"] == [] and info["files"]["audit"] == 0
    text = CliRunner().invoke(main, ["status", "--store", str(tmp_path)]).output
    assert "audit         nothing yet" in text


def test_graph_fetch_without_credentials_exits_5(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSPR_REVIEW_", "AZURE_"))}
    env["SSPR_REVIEW_AUTH_MODE"] = "token"
    done = subprocess.run(
        [sys.executable, "-m", "sspr_review.cli", "fetch", "--store", str(tmp_path), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 5 and "SSPR_REVIEW_ACCESS_TOKEN" in done.stderr


def _tsv(output: str) -> list[list[str]]:
    return [line.split("\t") for line in output.splitlines()]


def test_reasons_classifies_stdin_as_a_tsv() -> None:
    text = "User started the mobile app\nUser verified with a passkey\n\nEvil\treason\x1b[31m\u202e\r\nSuccess\n"
    result = CliRunner().invoke(main, ["reasons"], input=text)
    assert result.exit_code == 0, result.output
    rows = _tsv(result.stdout)
    assert rows[0] == ["string", "stage", "method", "outcome", "rule"]
    assert all(len(row) == 5 for row in rows)  # the tab and escape in the tenant text did not break the table
    assert rows[1] == [
        "User started the mobile app",
        "gate_started",
        "app_notification",
        "in_progress",
        "user started the (result_reasons.csv:11) + mobile app (result_reasons.csv:60)",
    ]
    assert rows[2] == ["User verified with a passkey", "", "", "", ""]
    assert rows[3][0] == "Evil\\treason\\x1b[31m\\u202e"
    assert rows[4][3] == "unlocked" and rows[4][4].startswith("re:^success")
    assert len(rows) == 5
    assert "4 texts, 2 unrecognised" in result.stderr


def test_reasons_tests_a_rules_file_before_the_review(tmp_path: Path) -> None:
    rules = tmp_path / "my_rules.csv"
    rules.write_text("pattern,stage,method,end_state,note\nwith a passkey,gate_verified,app_code,in_progress,ours\n")
    runner = CliRunner()
    result = runner.invoke(main, ["reasons", "--reason-rules", str(rules)], input="User verified with a passkey\n")
    assert _tsv(result.stdout)[1] == [
        "User verified with a passkey",
        "gate_verified",
        "app_code",
        "in_progress",
        "with a passkey (my_rules.csv:2)",
    ]
    config = tmp_path / "config.toml"  # the same through [analysis] reason_rules, relative to the config file
    config.write_text('[analysis]\nreason_rules = "my_rules.csv"\n')
    by_config = runner.invoke(main, ["reasons", "--config", str(config)], input="User verified with a passkey\n")
    assert by_config.stdout == result.stdout
    rules.write_text("pattern,stage,method,end_state\nwith a passkey,verified,,\n")
    bad = runner.invoke(main, ["reasons", "--reason-rules", str(rules)], input="x\n")
    assert bad.exit_code == 2
    assert "my_rules.csv line 2, column stage: 'verified' is not a known stage" in bad.stderr


def test_reasons_from_the_store(demo_store: Path, small_config: Path) -> None:
    args = ["reasons", "--from-store", "--source", "demo", "--config", str(small_config), "--store", str(demo_store)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = {row[0]: row for row in _tsv(result.stdout)[1:]}
    assert rows["User completed the passkey verification option"][1:] == ["gate_verified", "", "in_progress", ""]
    assert rows["OnPremisesConnectivityError"][3] == "failed_writeback"
    assert "User has been blocked after more than 5 attempts in 24 hours" not in rows  # the review never classifies it
    empty = CliRunner().invoke(main, ["reasons", "--from-store", "--store", str(demo_store / "none")])
    assert empty.exit_code == 3 and "no data" in empty.stderr


@pytest.mark.slow
def test_review_started_beside_a_demo_build_waits_for_it_instead_of_reporting_no_data(tmp_path: Path) -> None:
    """Two processes at once on a fresh machine: `fetch --source demo` builds the demo store while
    `review --source demo` starts; the review must see the finished store, never "NO DATA"."""
    env = {
        **os.environ,
        "SSPR_REVIEW_HOME": str(tmp_path / "home"),
        "SSPR_REVIEW_STATE_DIR": str(tmp_path / "state"),
        "SSPR_REVIEW_DEMO_USERS": "400",
        "SSPR_REVIEW_DEMO_WEEKS": "4",
    }
    cli = [sys.executable, "-m", "sspr_review.cli"]
    building = subprocess.Popen(
        [*cli, "demo", "--no-progress"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out = tmp_path / "findings.json"
        reviewed = subprocess.run(
            [*cli, "review", "--source", "demo", "--json", str(out)],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    finally:
        building.communicate(timeout=300)
    assert building.returncode == 0
    assert reviewed.returncode == 0, reviewed.stderr
    assert "NO DATA" not in reviewed.stdout, reviewed.stdout
    coverage = json.loads(out.read_text())["coverage"]
    assert all(c["complete"] for c in coverage.values()), coverage


def test_notebooks_updates_unchanged_copies_and_refuses_edited_ones_unless_forced(tmp_path: Path) -> None:
    import hashlib

    folder = tmp_path / "nb"
    runner = CliRunner()

    def copy(*extra: str) -> tuple[int, dict[str, str], str]:
        done = runner.invoke(main, ["notebooks", str(folder), *extra])
        actions = {Path(line.split()[-1]).name: line.rsplit(None, 1)[0].strip() for line in done.stdout.splitlines()}
        return done.exit_code, actions, done.stderr

    code, actions, _ = copy()
    assert code == 0 and set(actions.values()) == {"copied"} and len(actions) == 3
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all((folder / name).stat().st_mode & 0o777 == 0o600 for name in actions)
    weekly, trends = folder / "weekly_review.ipynb", folder / "adoption_trends.ipynb"
    shipped = weekly.read_bytes()

    # an older copy the kit wrote (so recorded) and nobody changed since: updated
    older = shipped.replace(b"SSPR weekly review", b"SSPR weekly review, last release")
    weekly.write_bytes(older)
    record_path = folder / ".sspr-review-notebooks.json"
    record = json.loads(record_path.read_text())
    record[weekly.name] = hashlib.sha256(older).hexdigest()
    record_path.write_text(json.dumps(record))
    code, actions, _ = copy()
    assert code == 0 and actions[weekly.name] == "updated" and actions[trends.name] == "up to date"
    assert weekly.read_bytes() == shipped

    # a copy the analyst edited: nothing at all is copied (not even a missing one), exit 2 naming it
    edited = shipped.replace(b"SSPR weekly review", b"My weekly review")
    weekly.write_bytes(edited)
    trends.unlink()
    code, _, stderr = copy()
    assert code == 2 and str(weekly) in stderr and "--force" in stderr
    assert weekly.read_bytes() == edited and not trends.exists()
    code, actions, _ = copy("--force")
    assert code == 0 and actions[weekly.name] == "overwritten" and actions[trends.name] == "copied"
    assert weekly.read_bytes() == shipped
