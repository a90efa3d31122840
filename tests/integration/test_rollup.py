"""What a reviewer reads in two minutes: many findings of one kind as one entry, and the metrics findings.json adds."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest

from sspr_review import mail
from sspr_review.analysis import Review, findings_json, findings_schema
from sspr_review.app.notebook import Context
from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.report import sections as report
from sspr_review.report.rollup import Rollup, roll_up
from sspr_review.report.summary import review_lines

E = datetime(2026, 11, 23, 5, tzinfo=UTC)  # Monday 00:00 America/New_York
HOSTILE = "<script>alert('x')</script>\x1b[2J"


def workspace(store: Path, **env: str) -> Workspace:
    cfg = config.load(
        env={"SSPR_REVIEW_STORE_PATH": str(store), "SSPR_REVIEW_REVIEW_TIMEZONE": "America/New_York", **env},
        demo__users=600,
        demo__weeks=6,
    )
    return Workspace(cfg, "demo", demo_end=E, clock=lambda: E + timedelta(hours=33))


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store")
    assert workspace(path).fetch(progress=False).ok
    return path


@pytest.fixture(scope="module")
def rolled(store: Path) -> tuple[Workspace, Review]:
    """The week reviewed with a roll-up threshold of 3, one helpdesk finding carrying hostile tenant text."""
    ws = workspace(store, SSPR_REVIEW_ANALYSIS_ROLLUP_THRESHOLD="3")
    review = ws.review()
    findings = list(review.findings)
    i = next(i for i, f in enumerate(findings) if f.kind == "helpdesk_reset")
    findings[i] = dataclasses.replace(findings[i], users=(f"evil{HOSTILE}@x.example",))
    return ws, dataclasses.replace(review, findings=tuple(findings))


def test_metrics_carry_writeback_failures_and_unrecognised_reasons(store: Path) -> None:
    ws = workspace(store)
    review = ws.review()
    before = ws.review(review.window.shift(1).end)
    # one per failed SSPR flow, however many causes its events name (a finding per cause counts it in each)
    attempts = int((review.flows["end_state"] == "failed_writeback").sum())
    by_cause = sum(f.evidence["attempts"] for f in review.findings if f.kind == "writeback_failure")
    assert 0 < attempts <= by_cause and review.metrics["writeback_failures"].value == attempts
    unrecognised = int(review.unrecognised_reasons["events"].sum())
    assert unrecognised > 0 and review.metrics["unrecognised_reasons"].value == unrecognised
    for name in ("writeback_failures", "unrecognised_reasons"):
        assert review.metrics[name].previous == before.metrics[name].value is not None
    doc = findings_json(review)
    jsonschema.validate(doc, findings_schema())
    assert doc["metrics"]["writeback_failures"] == {
        "value": attempts,
        "previous": before.metrics["writeback_failures"].value,
        "unit": "count",
        "source": "audit",
        "label": "Password-writeback failures",
        "better": "lower",
    }
    assert doc["metrics"]["unrecognised_reasons"]["value"] == unrecognised


def test_roll_up_groups_by_kind_and_severity_above_the_threshold() -> None:
    items = [("a", "high", 1), ("a", "high", 2), ("b", "high", 3), ("a", "low", 4), ("a", "high", 5)]
    out = roll_up(items, 2, lambda i: i[0], lambda i: i[1])
    assert out[0] == Rollup("a", "high", (items[0], items[1], items[4]))
    assert out[1:] == [items[2], items[3]]
    assert roll_up(items, 3, lambda i: i[0], lambda i: i[1]) == items


def test_terminal_report_and_mail_show_many_findings_of_a_kind_as_one_entry(
    rolled: tuple[Workspace, Review], tmp_path: Path
) -> None:
    ws, review = rolled
    helpdesk = [f for f in review.findings if f.kind == "helpdesk_reset"]
    leaked = [f for f in review.findings if f.kind == "leaked_credentials_unremediated"]
    blocked_high = [f for f in review.findings if f.kind == "blocked_user" and f.severity == "high"]
    assert len(helpdesk) > 3 and len(leaked) > 3 and len(blocked_high) <= 3

    text = "\n".join(review_lines(review))
    assert f"MEDIUM   {len(helpdesk)} helpdesk password resets [" in text
    assert f"HIGH     {len(leaked)} leaked passwords not changed [" in text
    assert not any(f.title in text for f in helpdesk[1:] + leaked)  # no entry of their own
    assert all(f.title in text for f in blocked_high)  # three: below the threshold, listed one by one
    for f in leaked:  # a table of the users, each marked new or continuing
        assert any(f.users[0] in line and line.rstrip().endswith(review.status(f) or "") for line in text.splitlines())
    assert "\x1b" not in text and "evil<script>alert('x')</script>?[2J@x.example" in text

    html = str(report.needs_attention(Context(ws, review)).data)
    assert html.count("<tr><td><span class='sspr-sev sspr-medium'>") == 1 + sum(
        1 for f in review.findings if f.severity == "medium" and f.kind != "helpdesk_reset"
    )
    assert f"{len(helpdesk)} helpdesk password resets" in html and "<script>alert" not in html
    assert "evil&lt;script&gt;alert(" in html and "<script>" not in html
    assert all(f.users[0] in html for f in leaked)

    doc = findings_json(review)  # findings.json keeps every finding with its own fingerprint
    assert len(doc["findings"]) == len(review.findings) == len({f["fingerprint"] for f in doc["findings"]})
    settings = config.MailSettings(
        to=["secops@northgate-eng.example"], sender="sspr@northgate-eng.example", charts=False, attach_html=False
    )
    message = mail.compose(mail.ReportFolder(tmp_path, doc, {}), settings).message
    body = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    plain = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"[MEDIUM] {len(helpdesk)} helpdesk password resets (" in plain
    assert sum(1 for line in plain.splitlines() if line.startswith("[MEDIUM]")) == 1 + sum(
        1 for f in review.findings if f.severity == "medium" and f.kind != "helpdesk_reset"
    )
    assert all(f.users[0] in plain for f in leaked)
    assert "<script>alert" not in body and "evil&lt;script&gt;" in body
