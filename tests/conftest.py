"""Shared fixtures: a small demo store built once per test session through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "sspr_review.cli"]
SMALL_DEMO = "[demo]\nusers = 600\nweeks = 6\n"


@pytest.fixture(autouse=True)
def _isolated_state_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test (and the CLI processes it starts) keeps the shared Graph request record in its own folder,
    not in the user's state directory."""
    monkeypatch.setenv("SSPR_REVIEW_STATE_DIR", str(tmp_path_factory.mktemp("state")))


@pytest.fixture(scope="session")
def small_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "config.toml"
    path.write_text(SMALL_DEMO)
    return path


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory, small_config: Path) -> Path:
    """A store holding the small demo tenant, as `sspr-review demo` builds it."""
    store = tmp_path_factory.mktemp("demo-store")
    done = subprocess.run(
        [*CLI, "demo", "--config", str(small_config), "--store", str(store), "--no-progress"],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return store


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate and key for the test SMTP relay's STARTTLS."""
    from tests.support.smtp_relay import make_tls_files

    return make_tls_files(tmp_path_factory.mktemp("tls"))
