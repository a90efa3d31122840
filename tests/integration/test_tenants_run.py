"""``sspr-review run --tenants`` (issue 26): every tenant's reports through the real notebooks, one failing tenant
that stops no other, the portfolio agreeing with each tenant's own review, the e-mails, the page in Chromium."""

from __future__ import annotations

import email
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import jsonschema
import pytest

from sspr_review.core.vocabulary import SEVERITIES
from sspr_review.report.portfolio import schema

CLI = [sys.executable, "-m", "sspr_review.cli"]
pytestmark = [pytest.mark.slow, pytest.mark.notebook]  # two tenants' notebooks (1 to 3 min)

TENANTS = """
[portfolio]
title = "Test MSP"
to = ["soc@msp.example"]

[defaults.demo]
users = 200
weeks = 3

[defaults.mail]
sender = "sspr@msp.example"
charts = false

[[tenants]]
name = "northgate"
source = "demo"
config = "northgate.toml"

[[tenants]]
name = "harbour"
source = "demo"
config = "harbour.toml"

[[tenants]]
name = "litware"
source = "files"
files = "exports/litware"
"""


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("msp")
    (folder / "tenants.toml").write_text(TENANTS)
    (folder / "northgate.toml").write_text('[mail]\nto = ["it@northgate.example"]\n')
    (folder / "harbour.toml").write_text('[demo]\nname = "Harbour <b>Freight</b>"\nseed = 11\n')
    done = subprocess.run(
        [*CLI, "run", "--tenants", "tenants.toml", "--parallel", "3", "--email", "--dry-run", "--fail-on", "high"],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ},
        timeout=900,
    )
    return folder, done


def test_one_failing_tenant_stops_no_other_and_the_exit_code_says_so(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, done = ran
    assert done.returncode == 9, done.stderr  # not 7: a failed tenant comes first
    assert "── litware (files): failed: " in done.stdout and "exports/litware' does not exist" in done.stdout
    for name in ("northgate", "harbour"):
        assert f"── {name} (demo): ok" in done.stdout
        (week,) = (folder / "reports" / name).iterdir()
        assert (week / "weekly-review.html").is_file() and (week / "adoption-trends.html").is_file()
    for path in (folder / "reports", folder / "reports" / "northgate", folder / "store" / "harbour"):
        assert path.stat().st_mode & 0o077 == 0, path


def test_the_portfolio_counts_what_each_tenants_own_review_found(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, done = ran
    (week,) = (folder / "reports" / "portfolio").iterdir()
    doc = json.loads((week / "portfolio.json").read_text())
    jsonschema.validate(doc, schema())
    assert doc["tenants"][0]["name"] == "litware"  # failed: the most urgent
    assert doc["counts"] == {"tenants": 3, "attention": 3, "ok": 2, "partial": 0, "failed": 1}
    blocks = dict(re.findall(r"── (\w+) \(demo\): ok in \d+ s\n((?:   .*\n)+)", done.stdout))
    for row in doc["tenants"][1:]:
        own = json.loads((folder / "reports" / row["name"] / row["week_ending"] / "findings.json").read_text())
        counted = Counter(f["severity"] for f in own["findings"])
        assert row["findings"] == {s: counted.get(s, 0) for s in row["findings"]}
        assert row["new"] == sum(f["status"] == "new" for f in own["findings"])
        assert row["numbers"]["sspr_resets"] == own["metrics"]["sspr_resets"]["value"]
        assert row["tenant_id"] == own["tenant"]["id"] and row["display_name"] == own["tenant"]["name"]
        printed = re.search(r"Findings this week: (.*)\.", blocks[row["name"]])
        assert printed and printed.group(1) == " · ".join(f"{counted.get(s, 0):,} {s}" for s in SEVERITIES)
        assert (week / row["report"]).resolve() == (
            folder / "reports" / row["name"] / row["week_ending"] / "weekly-review.html"
        ).resolve()
    assert doc["tenants"][1]["tenant_id"] != doc["tenants"][2]["tenant_id"]


def test_the_portfolio_goes_to_the_provider_and_each_report_to_its_tenant(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, done = ran
    (week,) = (folder / "reports" / "portfolio").iterdir()
    message = email.message_from_bytes((week / "portfolio.eml").read_bytes())
    assert message["To"] == "soc@msp.example" and message["Subject"].startswith("Test MSP, week ending ")
    assert "3 of 3 tenants need attention" in message["Subject"]
    body = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert "Harbour &lt;b&gt;Freight&lt;/b&gt;" in body and "<b>Freight</b>" not in body
    (northgate,) = (folder / "reports" / "northgate").iterdir()
    mail = email.message_from_bytes((northgate / "weekly-review.eml").read_bytes())
    assert mail["To"] == "it@northgate.example"
    assert not list((folder / "reports" / "harbour").rglob("*.eml"))
    assert "harbour: not e-mailed ([mail] to is empty in its configuration)" in done.stderr
    assert "litware: no report to e-mail" in done.stderr

    again = subprocess.run(
        [*CLI, "email", "--tenants", "tenants.toml", "--dry-run"], capture_output=True, text=True, cwd=folder
    )
    assert again.returncode == 0, again.stderr
    assert f"Portfolio e-mail saved to {week.resolve()}/portfolio.eml" in again.stdout


@pytest.mark.browser
def test_the_portfolio_page_in_chromium_is_offline_and_escaped(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    from tests.integration.test_browser import CHROMIUM, dump_dom

    if CHROMIUM is None and not os.environ.get("CI"):
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    folder, _ = ran
    (week,) = (folder / "reports" / "portfolio").iterdir()
    dom = dump_dom(week / "portfolio.html")
    assert dom.count("<tr>") == 4  # the header and three tenants
    assert "Harbour &lt;b&gt;Freight&lt;/b&gt;" in dom and "<b>Freight</b>" not in dom
    assert "<script" not in dom
