"""`sspr-review run`: every artefact, findings.json against its schema with the planted cases, exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from sspr_review.analysis import findings_schema

# `sspr-review run` executes the report notebooks
pytestmark = pytest.mark.notebook
CLI = [sys.executable, "-m", "sspr_review.cli"]


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "run", "--no-progress", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **env},
        timeout=600,
    )


#: A misspelt variable (SSPR_REVIEW_GRAPH_MAX_RETRIES meant) set for the demo run: warned about once, never in a report.
TYPO = "SSPR_REVIEW_GRAPH_MAXRETRIES"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    root = tmp_path_factory.mktemp("run")
    (root / "config.toml").write_text("[demo]\nusers = 600\nweeks = 6\n")
    done = run_cli("--source", "demo", "--config", "config.toml", "--out", "reports", cwd=root, **{TYPO: "3"})
    return done, root


def test_an_unknown_variable_is_warned_about_once_on_stderr_and_not_in_the_reports(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, root = demo_run
    assert done.returncode == 0, done.stderr
    warning = f"sspr-review: the environment variable {TYPO} is not a setting and is ignored; did you mean "
    assert done.stderr.count(warning) == 1 and "SSPR_REVIEW_GRAPH_MAX_RETRIES?" in done.stderr
    (folder,) = (root / "reports").iterdir()
    assert not [p.name for p in folder.iterdir() if TYPO in p.read_text()]


def test_run_writes_every_artefact_owner_only(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    done, root = demo_run
    assert done.returncode == 0, done.stderr
    (folder,) = (root / "reports").iterdir()
    names = {p.name for p in folder.iterdir()}
    assert names == {
        "weekly-review.html",
        "adoption-trends.html",
        "weekly_review.ipynb",
        "adoption_trends.ipynb",
        "findings.json",
        "charts.json",
    }
    assert folder.stat().st_mode & 0o077 == 0
    assert all(p.stat().st_mode & 0o077 == 0 for p in folder.iterdir())
    assert str(folder / "weekly-review.html") in done.stdout
    html = (folder / "weekly-review.html").read_text()
    assert "report.open_review" not in html  # code hidden
    assert len(re.findall(r"plotly\.js v\d", html)) == 1  # plotly.js embedded once


def test_executed_notebooks_keep_their_figures_without_plotly_js(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    """The week's folder holds plotly.js once per HTML report, not again in each executed notebook."""
    import nbformat

    done, root = demo_run
    assert done.returncode == 0, done.stderr
    (folder,) = (root / "reports").iterdir()
    for stem in ("weekly_review", "adoption_trends"):
        path = folder / f"{stem}.ipynb"
        text = path.read_text()
        assert not re.search(r"plotly\.js v\d", text) and path.stat().st_size < 1_000_000, stem
        book = nbformat.read(path, as_version=4)
        nbformat.validate(book)
        outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"]
        figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
        assert len(figures) >= 3 and all(f["data"]["application/vnd.plotly.v1+json"]["data"] for f in figures)
        # the parameters name the report folder, not the temporary folder the run built it in
        injected = next(c for c in book.cells if "injected-parameters" in c.metadata.get("tags", []))
        assert ".partial-" not in injected.source and ".partial-" not in json.dumps(book.metadata)
        # they displayed the review the run saved (removed since): run again, they compute it
        assert 'saved_review = ""' in injected.source and "review.pickle" not in json.dumps(book.metadata)
    doc = nbformat.read(folder / "weekly_review.ipynb", as_version=4)
    assert "findings_json" not in "".join(c.source for c in doc.cells)  # the run writes findings.json, not it
    # JupyterLab draws that mimetype through plotly's own lab extension (installed with plotly)
    extension = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "jupyterlab-plotly" / "package.json"
    assert json.loads(extension.read_text())["jupyterlab"]["mimeExtension"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 12_000_000  # was about 20 MB


def test_findings_json_validates_and_holds_the_planted_cases(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    _, root = demo_run
    (folder,) = (root / "reports").iterdir()
    doc = json.loads((folder / "findings.json").read_text())
    jsonschema.validate(doc, findings_schema())
    assert doc["window"]["week_ending"] == folder.name
    kinds: dict[str, list[dict]] = {}
    for finding in doc["findings"]:
        kinds.setdefault(finding["kind"], []).append(finding)
    (spike,) = kinds["reset_spike"]
    assert len(spike["users"]) == 14 and spike["severity"] == "high"
    assert {f["evidence"]["assessment"] for f in kinds["blocked_user"]} == {
        "needs_registration_help",
        "possible_attack",
    }
    assert len(kinds["leaked_credentials_unremediated"]) >= 4 and kinds["leaked_credentials_remediated"]
    assert len(kinds["admin_password_reset"]) == 2
    assert kinds["helpdesk_reset"] and kinds["writeback_failure"]
    assert any(f["evidence"]["tap_issued"] for f in kinds["helpdesk_reset"])
    severities = [f["severity"] for f in doc["findings"]]
    order = ["critical", "high", "medium", "low", "info"]
    assert severities == sorted(severities, key=order.index)
    assert all(c["complete"] for c in doc["coverage"].values())


def test_findings_and_charts_json_come_from_the_review_not_from_a_notebook(
    demo_run: tuple[subprocess.CompletedProcess[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One code path (sspr_review.report.outputs) builds findings.json for `run` and `review --json`, and
    charts.json for the e-mail; the weekly notebook only displays."""
    import nbformat
    from plotly.utils import PlotlyJSONEncoder

    from sspr_review.app.workspace import open_workspace
    from sspr_review.report import outputs

    _, root = demo_run
    (folder,) = (root / "reports").iterdir()
    book = nbformat.read(folder / "weekly_review.ipynb", as_version=4)
    assert "findings_json" not in "".join(c.source for c in book.cells)
    reviewed = subprocess.run(
        [
            *CLI,
            "review",
            "--source",
            "demo",
            "--config",
            "config.toml",
            "--week-ending",
            folder.name,
            "--json",
            "r.json",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=600,
    )
    assert reviewed.returncode == 0, reviewed.stderr
    ran, alone = (json.loads(p.read_text()) for p in (folder / "findings.json", root / "r.json"))
    assert ran.pop("generated_at") and alone.pop("generated_at")
    assert ran == alone
    monkeypatch.chdir(root)
    review = open_workspace("config.toml", source="demo").review(folder.name)
    want = json.loads(json.dumps(outputs.charts_document(review), cls=PlotlyJSONEncoder))
    assert json.loads((folder / "charts.json").read_text()) == want
    assert list(want) == [*outputs.EMAIL_CHARTS, "registration"]


def test_fail_on_and_notebook_failure_exit_codes(demo_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    _, root = demo_run
    store = ["--config", "config.toml", "--out", "reports2", "--no-fetch", "--source", "demo"]
    high = run_cli(*store, "--fail-on", "high", cwd=root)
    assert high.returncode == 7 and "findings at or above high" in high.stderr
    # store files that cannot be read make the weekly notebook fail: exit 6, the reason on stderr. The run's review
    # quarantines them; the notebook then finds the week outside what the store holds. The two newest months are
    # damaged, so that this holds whatever the day: the reviewed week (at most two months) is then never covered,
    # while older months are (with none covered at all, the notebook shows "no data" and succeeds).
    for part in sorted((root / "store" / "demo" / "audit").glob("*.parquet"))[-2:]:
        part.write_bytes(b"not parquet")
    broken = run_cli(*store, cwd=root)
    assert broken.returncode == 6 and "report notebook failed: weekly_review.ipynb failed in cell" in broken.stderr
    # the failing notebook is kept beside, never inside, a report folder
    (failed,) = (root / "reports2").glob("*.failed")
    assert str(failed / "weekly_review.ipynb") in broken.stderr and (failed / "weekly_review.ipynb").stat().st_size
    week = failed.name.removesuffix(".failed")
    assert sorted(p.name for p in (root / "reports2").iterdir()) == [week, failed.name]  # the earlier one intact
    assert (root / "reports2" / week / "weekly-review.html").stat().st_size


def test_missing_source_still_reports_and_exits_3(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    audit = {
        "id": "a1",
        "activityDateTime": "2026-11-17T10:00:00Z",
        "activityDisplayName": "Reset password (self-service)",
        "loggedByService": "Self-service Password Management",
        "result": "success",
    }
    (export / "audit.json").write_text(json.dumps({"value": [audit]}))
    done = run_cli(
        "--source",
        "files",
        "--files",
        str(export),
        "--week-ending",
        "2026-11-23",
        "--store",
        "store",
        "--out",
        "reports",
        cwd=tmp_path,
    )
    assert done.returncode == 3, done.stderr
    assert "no data from: risk, registration, roles, policy" in done.stderr
    doc = json.loads((tmp_path / "reports" / "2026-11-23" / "findings.json").read_text())
    gaps = {f["evidence"]["source"] for f in doc["findings"] if f["kind"] == "data_gap"}
    assert {"risk", "registration"} <= gaps
    assert doc["metrics"]["registration_coverage"]["value"] is None  # no data, not zero
    html = (tmp_path / "reports" / "2026-11-23" / "weekly-review.html").read_text()
    assert "Data missing for this week" in html


def test_weekly_report_shows_both_takeover_kinds_with_their_evidence(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    import html as html_lib
    from datetime import UTC, datetime

    from sspr_review.sources.demo.tenant import DemoTenant

    _, root = demo_run
    (folder,) = (root / "reports").iterdir()
    planted = DemoTenant(users=600, weeks=6, end=datetime.fromisoformat(folder.name).replace(tzinfo=UTC)).planted
    page = html_lib.unescape((folder / "weekly-review.html").read_text())
    section = page[
        page.index('<h2 id="Account-takeover-signals"') : page.index('<h2 id="Administrator-password-resets"')
    ]
    doc = json.loads((folder / "findings.json").read_text())
    chain = next(
        f
        for f in doc["findings"]
        if f["kind"] == "security_info_changed_after_reset" and planted.takeover_high_user.upn in f["users"]
    )
    phone = next(
        f
        for f in doc["findings"]
        if f["kind"] == "phone_only_reset_new_ip" and planted.phone_new_ip_user.upn in f["users"]
    )
    assert chain["severity"] == phone["severity"] == "high"
    # evidence in the report: the users, the change's IP and activity, the new and earlier IPs, the gates
    assert planted.takeover_high_user.upn in section and planted.phone_new_ip_user.upn in section
    assert f"User changed default security info (Authenticator app) from {planted.takeover_ip}" in section
    assert "IP not used by the reset" in section and "verified by SMS" in section
    assert planted.phone_new_ip in section and phone["evidence"]["earlier_ips"][0]["ip"] in section
    assert "other phone-only resets" in section and "could not be judged" in section
    assert doc["not_judged"]["phone_only_reset_new_ip"]["resets"] >= 2
    # and in "needs attention"
    start = page.index('<h2 id="Needs-attention"')
    attention = page[start : page.index("<h2 ", start + 1)]
    assert chain["title"] in attention and phone["title"] in attention


def test_weekly_report_shows_risk_detections_and_resets(
    demo_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    from datetime import UTC, datetime

    from sspr_review.core.weeks import last_monday
    from sspr_review.sources.demo.tenant import DemoTenant

    _, root = demo_run
    (folder,) = (root / "reports").iterdir()
    planted = DemoTenant(users=600, weeks=6, end=last_monday("UTC", datetime.now(UTC))).planted
    assert planted.review_end.date().isoformat() == folder.name
    html = (folder / "weekly-review.html").read_text()
    start, end = '<h2 id="Risk-detections-and-password-resets"', '<h2 id="Administrator-password-resets"'
    section = html[html.index(start) : html.index(end)]  # the section, not its line in the contents
    # types in words, unknown types named as new, times in the review's time zone, the same-IP flag visible
    for text in ("Leaked credentials", "Unfamiliar sign-in properties", "Anonymous IP address"):
        assert text in section
    assert "Future detection type (new type: futureDetectionType)" in section
    assert "reset (UTC)" in section and "YES: same IP as the reset" in section
    flagged = section[section.index(planted.reset_then_risk_user.upn) :]
    assert flagged.index("YES: same IP as the reset") < flagged.index("</tr>")
    # tenant strings escaped: the hostile display name (reset by the helpdesk this week) is text, not markup
    assert "Robert &lt;img src=x onerror=alert(1)&gt;" in section and "<img src=x" not in section
    doc = json.loads((folder / "findings.json").read_text())
    rows = {r["user"].lower(): r for r in doc["correlations"]["reset_to_risk"]}
    assert rows[planted.reset_then_risk_user.upn.lower()]["same_ip_after"] is True
    leaks = [r for r in doc["correlations"]["risk_to_reset"] if r["risk_event_type"] == "leakedCredentials"]
    assert [(r["reset_by_sspr"], r["changed_by_user"], r["still_at_risk"]) for r in leaks] == [(2, 1, 4)]
    trends = (folder / "adoption-trends.html").read_text()
    assert "Leaked credentials fixed by the user within 7 days" in trends
