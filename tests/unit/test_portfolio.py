"""The portfolio's rows (issue 26): one function from a tenant's findings.json and its run, sorted by urgency."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from sspr_review.report import portfolio
from sspr_review.report.portfolio import Outcome, tenant_row

WEEK = "2024-03-11"
COMPLETE = {"complete": True, "reason": None, "missing": []}


def finding(kind: str, severity: str, title: str, status: str | None = "new", **evidence: Any) -> dict[str, Any]:
    return {"kind": kind, "severity": severity, "title": title, "status": status, "evidence": evidence}


def findings_doc(*items: dict[str, Any], **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "tenant": {"id": "11111111-1111-1111-1111-111111111111", "name": "Contoso Ltd"},
        "window": {"week_ending": WEEK},
        "coverage": {kind: dict(COMPLETE) for kind in ("audit", "risk", "registration", "roles", "policy")},
        "metrics": {
            "sspr_resets": {"value": 11, "previous": 9, "unit": "count", "source": "audit"},
            "blocked_users": {"value": 2, "previous": 0, "unit": "count", "source": "audit"},
            "registration_coverage": {"value": 0.667, "previous": None, "unit": "ratio", "source": "registration"},
        },
        "findings": list(items),
        "not_evaluated": [],
    }
    doc.update(extra)
    return doc


def test_a_row_counts_what_the_tenants_own_findings_json_holds() -> None:
    items = [
        finding("reset_spike", "high", "12 accounts reset from one IP", "new"),
        finding("leaked_credentials_unremediated", "high", "alice's leaked password is not reset", "continuing"),
        finding("leaked_credentials_unremediated", "high", "bob's leaked password is not reset", "new"),
        finding("helpdesk_reset", "medium", "carol's password was reset by the helpdesk", "continuing"),
        finding("leaked_credentials_remediated", "info", "dan reset his leaked password", "new"),
    ]
    doc = findings_doc(*items)
    row = tenant_row(Outcome("contoso", "graph", 0), doc, "../../contoso/2024-03-11/weekly-review.html")
    assert row["status"] == "ok" and row["reason"] is None
    assert row["findings"] == {"critical": 0, "high": 3, "medium": 1, "low": 0, "info": 1}
    assert row["findings"] == {s: Counter(f["severity"] for f in items)[s] for s in row["findings"]}
    assert row["new"] == 3
    assert (row["headline"], row["headline_from"]) == ("12 accounts reset from one IP", "finding")
    assert row["numbers"] == {
        "sspr_resets": 11,
        "blocked_users": 2,
        "registration_coverage": 0.667,
        "leaked_unremediated": 2,
        "weakening_policy_changes": 0,  # the kind is evaluated (issue 23) and none of this week's findings
    }
    assert (row["display_name"], row["week_ending"], row["report"]) == (
        "Contoso Ltd",
        WEEK,
        "../../contoso/2024-03-11/weekly-review.html",
    )


def test_the_verdicts_sentence_is_the_headline_when_findings_json_has_one() -> None:
    doc = findings_doc(finding("reset_spike", "high", "a spike"), verdict={"sentence": "Act today: a reset spike."})
    assert portfolio.headline(doc) == ("Act today: a reset spike.", "verdict")
    assert portfolio.headline(findings_doc()) == ("No findings this week.", "none")


def test_unknown_is_not_zero() -> None:
    doc = findings_doc(not_evaluated=["leaked_credentials_unremediated"])
    doc["metrics"]["blocked_users"]["value"] = None
    row = tenant_row(Outcome("a", "graph", 0), doc)
    assert row["numbers"]["leaked_unremediated"] is None and row["numbers"]["blocked_users"] is None
    assert tenant_row(Outcome("a", "graph", 0), findings_doc(finding("x", "low", "t", None)))["new"] is None


def test_weakening_policy_changes_are_counted_where_the_kind_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portfolio, "KINDS", (*portfolio.KINDS, portfolio.POLICY_CHANGED))
    doc = findings_doc(
        # the evidence as the policy branch documents it (docs/findings-json.md, issue 23): weakens, direction
        finding(portfolio.POLICY_CHANGED, "high", "SSPR turned off", weakens=True, direction="weakens"),
        finding(portfolio.POLICY_CHANGED, "critical", "one method after a reset", weakens=True, direction="weakens"),
        finding(portfolio.POLICY_CHANGED, "low", "a second method required", weakens=False, direction="strengthens"),
        finding(portfolio.POLICY_CHANGED, "low", "the helpdesk link changed", weakens=False, direction="neutral"),
    )
    assert portfolio.key_numbers(doc)["weakening_policy_changes"] == 2
    assert portfolio.key_numbers(findings_doc())["weakening_policy_changes"] == 0
    assert (
        portfolio.key_numbers(findings_doc(not_evaluated=[portfolio.POLICY_CHANGED]))["weakening_policy_changes"]
        is None
    )


def test_partial_and_failed_rows_say_why() -> None:
    doc = findings_doc(finding("data_gap", "critical", "risk data missing", "new"))
    doc["coverage"]["risk"] = {
        "complete": False,
        "reason": "403: IdentityRiskEvent.Read.All not granted",
        "missing": [],
    }
    partial = tenant_row(Outcome("a", "graph", 3, "no data from: risk (see the reasons above)"), doc)
    assert partial["status"] == "partial"
    assert partial["reason"] == (
        "no data from: risk (see the reasons above); no data or incomplete: risk (403: IdentityRiskEvent.Read.All "
        "not granted)"
    )
    failed = tenant_row(Outcome("b", "graph", 5, "authentication failed: the token was issued for tenant X"), None)
    assert (failed["status"], failed["reason"], failed["headline_from"]) == (
        "failed",
        "authentication failed: the token was issued for tenant X",
        "failure",
    )
    assert failed["findings"] is None and failed["numbers"] is None and failed["report"] is None
    assert tenant_row(Outcome("c", "demo", None), None)["reason"] == "not run"


def test_rows_are_sorted_by_urgency_failed_first() -> None:
    high = findings_doc(finding("reset_spike", "high", "spike"))
    old_high = findings_doc(
        finding("reset_spike", "high", "s", "continuing"), finding("blocked_user", "high", "b", "continuing")
    )
    critical = findings_doc(finding("data_gap", "critical", "gap", "continuing"))
    new_high = findings_doc(finding("reset_spike", "high", "s", "continuing"), finding("blocked_user", "high", "b"))
    quiet = findings_doc(finding("registration_gap", "low", "coverage 80%"))
    rows = [
        tenant_row(Outcome("quiet", "demo", 0), quiet),
        tenant_row(Outcome("high", "demo", 0), high),
        tenant_row(Outcome("alpha", "demo", 0), old_high),
        tenant_row(Outcome("zulu", "demo", 0), new_high),
        tenant_row(Outcome("critical", "demo", 0), critical),
        tenant_row(Outcome("broken", "graph", 5, "authentication failed"), None),
    ]
    doc = portfolio.document(rows, week=WEEK, title="MSP", generated_at=datetime(2024, 3, 11, 7, tzinfo=UTC))
    assert [r["name"] for r in doc["tenants"]] == ["broken", "critical", "zulu", "alpha", "high", "quiet"]
    assert doc["counts"] == {"tenants": 6, "attention": 5, "ok": 5, "partial": 0, "failed": 1}
    jsonschema.validate(doc, portfolio.schema())
    assert portfolio.portfolio_week(rows, "2024-03-04") == WEEK
    assert portfolio.portfolio_week([rows[-1]], "2024-03-04") == "2024-03-04"


def test_the_page_is_offline_owner_only_and_escapes_tenant_text(tmp_path: Path) -> None:
    hostile = "<script>alert(1)</script>"
    doc = findings_doc(finding("blocked_user", "high", f"{hostile} was blocked"))
    doc["tenant"]["name"] = "Robert <img src=x onerror=alert(1)>"
    rows = [
        tenant_row(Outcome("contoso", "graph", 0), doc, portfolio.report_link("contoso", WEEK)),
        tenant_row(Outcome("fabrikam", "graph", 2, f"tenant 'fabrikam': {hostile}"), None),
    ]
    folder = portfolio.write(
        portfolio.document(rows, week=WEEK, title="Blue & Co <MSP>", generated_at=datetime.now(UTC)), tmp_path
    )
    assert folder == tmp_path / "portfolio" / WEEK
    page = (folder / "portfolio.html").read_text()
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; was blocked" in page and "Blue &amp; Co &lt;MSP&gt;" in page
    assert "Robert &lt;img src=x onerror=alert(1)&gt;" in page
    assert "href='../../contoso/2024-03-11/weekly-review.html'" in page
    assert not re.search(r"(src|href)=['\"]https?://", page) and "Content-Security-Policy" in page
    assert "sspr-status-failed" in page and ">67%<" in page  # registration coverage, as the reports show ratios
    style = page[page.index("<style>") : page.index("</style>")]  # the stylesheet as written, not escaped
    assert "font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI'" in style and "&#39;" not in style
    for path in (folder, folder / "portfolio.json", folder / "portfolio.html"):
        assert path.stat().st_mode & 0o077 == 0, path
    assert portfolio.load(folder)["tenants"][0]["name"] == "fabrikam"
