import json
import os
import subprocess
import sys
from pathlib import Path

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
