"""`sspr-review doctor` against the test Graph server and a local SMTP relay."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sspr_review.core.weeks import last_monday
from sspr_review.sources.demo.tenant import DemoTenant
from tests.support.graph_server import GraphData, GraphServer
from tests.support.smtp_relay import Inbox, relay

# each case runs `sspr-review doctor` in a subprocess against the servers (3 to 8 s)
pytestmark = pytest.mark.slow


def doctor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sspr_review.cli", "doctor", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_doctor_names_missing_permission_and_licence(tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    data = GraphData.from_demo(DemoTenant(users=200, weeks=2, end=last_monday("UTC")))
    inbox = Inbox()
    controller = relay(inbox, tls=tls_files, auth=True)
    try:
        with GraphServer(data, token="t0k", throttle=False) as server:
            env = {
                "SSPR_REVIEW_GRAPH_URL": server.url,
                "SSPR_REVIEW_ACCESS_TOKEN": "t0k",
                "SSPR_REVIEW_MAIL_TO": "secops@x.example",
                "SSPR_REVIEW_MAIL_SENDER": "sspr@x.example",
                "SSPR_REVIEW_MAIL_SMTP_HOST": "127.0.0.1",
                "SSPR_REVIEW_MAIL_SMTP_PORT": str(controller.port),
                "SSPR_REVIEW_MAIL_SMTP_CA_FILE": str(tls_files[0]),
                "SSPR_REVIEW_SMTP_USERNAME": "relay-user",
                "SSPR_REVIEW_SMTP_PASSWORD": "s3cret",
            }
            healthy = doctor(env)
            assert healthy.returncode == 0, healthy.stdout
            assert "[ok  ] role groups' members (groups): readable (GroupMember.Read.All)" in healthy.stdout
            assert "[ok  ] audit (directoryAudits)" in healthy.stdout and "logged in as relay-user" in healthy.stdout
            server.deny("/identityProtection/riskDetections")
            server.deny("/groups")
            server.deny(
                "/roleManagement/directory/roleEligibilityScheduleInstances",
                code="AadPremiumLicenseRequired",
                message="The tenant needs an AAD Premium 2 license.",
            )
            sick = doctor(env | {"SSPR_REVIEW_SMTP_PASSWORD": "wrong"})
    finally:
        controller.stop()
    out = sick.stdout
    assert sick.returncode == 1
    assert (
        "[FAIL] risk (riskDetections)" in out
        and "fix: add the application permission IdentityRiskEvent.Read.All" in out
    )
    assert "[FAIL] role groups' members (groups)" in out
    assert "fix: add the application permission GroupMember.Read.All" in out
    assert "[FAIL] PIM eligibility" in out and "Microsoft Entra ID P2 (Privileged Identity Management)" in out
    assert "[ok  ] audit (directoryAudits)" in out and "[ok  ] registration" in out
    assert "[FAIL] SMTP 127.0.0.1" in out and "login refused" in out
    assert inbox.messages == []  # doctor never sends


def test_doctor_without_credentials_says_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SSPR_REVIEW_", "AZURE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "sspr_review.cli", "doctor"],
        capture_output=True,
        text=True,
        env=env | {"SSPR_REVIEW_AUTH_MODE": "client_secret"},
        timeout=120,
    )
    assert done.returncode == 1
    assert "[FAIL] credential" in done.stdout and "tenant_id and client_id" in done.stdout
