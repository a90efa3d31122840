"""The SSPR audit opt-in trap (issue 22.2): Entra gathers SSPR's audit data only once someone has opened the SSPR
audit view. A tenant with SSPR-enabled users and no SSPR event in the look-back is unobserved, not quiet: the
coverage says so with the causes and the fix, the terminal and findings.json carry it, and doctor checks it."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from sspr_review.analysis import findings_json, findings_schema
from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.vocabulary import SSPR_SERVICE
from sspr_review.core.weeks import last_monday
from sspr_review.report.summary import review_lines
from sspr_review.sources.demo.tenant import DemoTenant
from tests.support.graph_server import GraphData, GraphServer

# doctor runs in a subprocess against the server (about 5 s each)
pytestmark = pytest.mark.slow
TOKEN = "t0k"


@pytest.fixture(scope="module")
def data() -> GraphData:
    return GraphData.from_demo(DemoTenant(users=300, weeks=3, end=last_monday("UTC")))


@pytest.fixture
def unobserved(data: GraphData) -> Iterator[GraphServer]:
    """The tenant's Graph before anyone opened the SSPR audit view: no event of SSPR's own service."""
    quiet = copy.deepcopy(data)
    quiet.directory_audits = [r for r in quiet.directory_audits if r.get("loggedByService") != SSPR_SERVICE]
    with GraphServer(quiet, token=TOKEN, throttle=False) as server:
        yield server


def env(server: GraphServer, store: Path) -> dict[str, str]:
    return {
        "SSPR_REVIEW_GRAPH_URL": server.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_STORE_PATH": str(store),
    }


def review_of(server: GraphServer, store: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Workspace, object]:
    for key, value in env(server, store).items():
        monkeypatch.setenv(key, value)
    ws = Workspace(config.load(env=env(server, store)), "graph")
    assert ws.fetch(progress=False).ok
    return ws, ws.review()


def doctor(server: GraphServer, store: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sspr_review.cli", "doctor"],
        capture_output=True,
        text=True,
        env={**os.environ, **env(server, store)},
        timeout=120,
    )


def test_no_sspr_event_while_users_are_enabled_is_unobserved_not_quiet(
    unobserved: GraphServer, data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    enabled = sum(1 for r in data.user_registration_details if r.get("isSsprEnabled"))
    assert enabled >= 50
    _, review = review_of(unobserved, tmp_path / "store", monkeypatch)
    audit = review.coverage["audit"]  # type: ignore[attr-defined]
    assert audit.complete and audit.suspect is not None and audit.state() == "suspect"
    assert f"{enabled:,} users are SSPR-enabled" in audit.suspect and "Password reset ▸ Audit logs" in audit.suspect
    lines = review_lines(review)  # type: ignore[arg-type]
    (line,) = [entry for entry in lines if entry.strip().startswith("audit")]
    assert "SUSPECT" in line and "unobserved, not quiet" in line
    doc = findings_json(review)  # type: ignore[arg-type]
    jsonschema.validate(doc, findings_schema())
    assert doc["coverage"]["audit"]["suspect"] == audit.suspect
    assert "activity names" in doc["coverage"]["audit"]["selection"]  # neither value returned an event
    verdict = doc["verdict"]  # the verdict (issue 21) never calls the week quiet, and says why first
    assert verdict["sentence"].startswith("Audit data probably not collected: this verdict is incomplete.")
    assert "Nothing needs you" not in verdict["sentence"] and verdict["quiet"] is False

    checked = doctor(unobserved, tmp_path / "store")
    assert checked.returncode == 1
    assert "[FAIL] SSPR audit events: no SSPR event in the last 30 days" in checked.stdout
    assert "users are SSPR-enabled" in checked.stdout and "Password reset ▸ Audit logs once" in checked.stdout


def test_a_tenant_with_sspr_events_is_not_suspect_and_doctor_names_the_value(
    data: GraphData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with GraphServer(copy.deepcopy(data), token=TOKEN, throttle=False) as server:
        server.logged_by_service = {SSPR_SERVICE: ("SSPR",)}
        _, review = review_of(server, tmp_path / "store", monkeypatch)
        checked = doctor(server, tmp_path / "store")
    audit = review.coverage["audit"]  # type: ignore[attr-defined]
    assert audit.suspect is None and audit.state() == "complete"
    assert checked.returncode == 0, checked.stdout
    (line,) = [entry for entry in checked.stdout.splitlines() if "SSPR audit events" in entry]
    assert line.startswith("[ok  ]") and "under loggedByService 'SSPR'" in line
    assert "the store's fetches: SSPR's events selected by loggedByService eq 'SSPR'" in line
