"""Shared fixtures: a small demo store built once per test session through the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "sspr_review.cli"]
SMALL_DEMO = "[demo]\nusers = 600\nweeks = 6\n"
TESTS = Path(__file__).parent
KINDS = ("unit", "integration")  # the folders, and the marker each gives its tests
SLOW_KINDS = ("slow", "notebook", "browser", "install")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test ``unit`` or ``integration`` from its folder. A test module elsewhere, or a unit test marked as
    one of the slow kinds, is an error naming it: ``make test-fast`` selects by these marks."""
    for item in items:
        parts = item.path.relative_to(TESTS).parts if item.path.is_relative_to(TESTS) else ()
        kind = parts[0] if len(parts) > 1 else ""
        if kind not in KINDS:
            raise pytest.UsageError(
                f"{item.nodeid}: a test module belongs in tests/unit/ (pure code, each test well under a second) or "
                "tests/integration/ (servers, the CLI, notebooks, the browser, the install)"
            )
        slow = [m.name for m in item.iter_markers() if m.name in SLOW_KINDS]
        if kind == "unit" and slow:
            raise pytest.UsageError(f"{item.nodeid} is marked {', '.join(slow)}: it belongs in tests/integration/")
        item.add_marker(kind)


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
