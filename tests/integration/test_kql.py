"""Every KQL text the kit can send is checked by Microsoft's own Kusto parser (`@kusto/language-service-next`, run
with node by tests/kusto/check.cjs) against the documented `AuditLogs` and `AADUserRiskEvents` schemas in
tests/kusto/schemas.json. The checker itself is shown to fail on each kind of mistake it is there to catch."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sspr_review.sources.log_analytics.queries import every_query

KUSTO = Path(__file__).parents[1] / "kusto"
CHECKER = KUSTO / "check.cjs"
PACKAGE = KUSTO / "node_modules" / "@kusto" / "language-service-next" / "package.json"
NODE = shutil.which("node")

# On a developer machine without node these tests skip, saying why; in CI (CI=true) they must run.
needs_node = pytest.mark.skipif(
    NODE is None and not os.environ.get("CI"),
    reason="node is not installed, so Microsoft's Kusto parser cannot check the KQL "
    "(apt-get install nodejs npm, then make kql; .ci/run and make test as root do this)",
)

Diagnostic = dict[str, Any]


def kql_diagnostics(queries: list[str]) -> list[list[Diagnostic]]:
    """Every diagnostic Kusto.Language reports for each query text, in order."""
    assert NODE is not None, "node is missing: .ci/run installs it (apt-get install nodejs npm)"
    assert PACKAGE.is_file(), f"{PACKAGE.parent.name} is not installed in {KUSTO}/node_modules: run `make kql`"
    done = subprocess.run(
        [NODE, str(CHECKER)], input=json.dumps(queries), capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, f"{CHECKER.name} failed ({done.returncode}): {done.stderr}"
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["index"] for r in results] == list(range(len(queries))), done.stdout
    return [r["diagnostics"] for r in results]


def errors(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    return [d for d in diagnostics if d["severity"] == "Error"]


def describe(text: str, diagnostics: list[Diagnostic]) -> str:
    """The query text with each diagnostic under it: `line:column severity code message («excerpt»)`."""
    found = "\n".join(
        f"  {d['line']}:{d['column']} {d['severity']} {d['code']} {d['message']} («{d['excerpt']}»)"
        for d in diagnostics
    )
    return f"{text}\n{found}"


# Queries in the shape the kit sends (time bounds as datetime() literals, filters pushed down, only the needed
# columns projected): a correct query must pass, or the checker would fail every real one.
GOOD = {
    "audit events of a window": """
AuditLogs
| where ActivityDateTime >= datetime(2026-11-23T00:00:00Z) and ActivityDateTime < datetime(2026-11-30T00:00:00Z)
| where LoggedByService in ("Self-service Password Management", "Core Directory", "Authentication Methods")
| where OperationName has_any ("reset", "password", "security info")
| project ActivityDateTime, Id, OperationName, ActivityDisplayName, Category, CorrelationId, Result,
    ResultReason, ResultDescription, LoggedByService, InitiatedBy, TargetResources, AdditionalDetails,
    UserPrincipalName = tostring(InitiatedBy.user.userPrincipalName), Target = tostring(TargetResources[0].id)
| order by ActivityDateTime asc
""",
    "risk detections re-read": """
let since = datetime(2026-11-23T00:00:00Z);
AADUserRiskEvents
| where LastUpdatedDateTime >= since and LastUpdatedDateTime < datetime(2026-11-30T00:00:00Z)
| project Id, RequestId, CorrelationId, RiskEventType, RiskLevel, RiskState, RiskDetail, Source, Activity,
    DetectionTimingType, TokenIssuerType, IpAddress, Location, ActivityDateTime, DetectedDateTime,
    LastUpdatedDateTime, UserId, UserDisplayName, UserPrincipalName, AdditionalInfo
""",
    "count by day, to split a window": """
AuditLogs
| where ActivityDateTime between (datetime(2026-06-01T00:00:00Z) .. datetime(2026-12-01T00:00:00Z))
| summarize Rows = count() by Day = bin(ActivityDateTime, 1d)
""",
    "probe": "AADUserRiskEvents | take 1",
}


# Each kind of mistake the check is there to catch, with the diagnostic Kusto.Language gives and where.
BAD = [
    pytest.param(
        "AuditLogs\n| where ActivityDateTime > ago(7d)\n| project Id,",
        "KS006",
        "Missing expression",
        (3, 14),
        id="syntax error",
    ),
    pytest.param(
        "AuditLogs | where TimeGenerated2 > ago(1d)",
        "KS142",
        "The name 'TimeGenerated2' does not refer to any known column, table, variable or function.",
        (1, 19),
        id="unknown column",
    ),
    pytest.param(
        "AADUserRiskEvents | project Id, ActivityDisplayName",
        "KS142",
        "The name 'ActivityDisplayName' does not refer to any known column, table, variable or function.",
        (1, 33),
        id="column of the other table",
    ),
    pytest.param(
        "AuditLog | take 1",
        "KS204",
        "The name 'AuditLog' does not refer to any known table, tabular variable or function.",
        (1, 1),
        id="unknown table",
    ),
    pytest.param(
        "AuditLogs | where ActivityDateTime > 5",
        "KS106",
        "The operator '>' is not defined for the operand types datetime and long.",
        (1, 36),
        id="type error",
    ),
]


@pytest.fixture(scope="module")
def checked() -> dict[str, list[Diagnostic]]:
    """The diagnostics of every sample text above, from one run of the checker (node takes seconds to start)."""
    texts = [*GOOD.values(), *(str(p.values[0]) for p in BAD)]
    return dict(zip(texts, kql_diagnostics(texts), strict=True))


@needs_node
@pytest.mark.parametrize("name", list(GOOD))
def test_checker_passes_a_correct_query(name: str, checked: dict[str, list[Diagnostic]]) -> None:
    assert checked[GOOD[name]] == [], describe(GOOD[name], checked[GOOD[name]])


@needs_node
@pytest.mark.parametrize(("text", "code", "message", "where"), BAD)
def test_checker_reports_the_mistake(
    text: str, code: str, message: str, where: tuple[int, int], checked: dict[str, list[Diagnostic]]
) -> None:
    diagnostics = checked[text]
    first = errors(diagnostics)[0] if errors(diagnostics) else None
    assert first is not None, f"no error reported:\n{describe(text, diagnostics)}"
    assert (first["code"], first["message"], (first["line"], first["column"])) == (code, message, where)


@needs_node
def test_every_query_the_kit_can_send_parses_clean() -> None:
    queries = every_query()
    assert queries, "every_query() returned no query text"
    assert all(isinstance(q, str) for q in queries), queries
    failing = [
        describe(text, errors(diagnostics))
        for text, diagnostics in zip(queries, kql_diagnostics(queries), strict=True)
        if errors(diagnostics)
    ]
    assert not failing, f"{len(failing)} of {len(queries)} KQL texts have errors:\n\n" + "\n\n".join(failing)


def test_the_parser_is_pinned_without_a_registry_address() -> None:
    """package-lock.json pins the version package.json names, with its integrity hash, and no registry URL (the
    repo names no registry host: npm ci fetches from whatever registry npm is configured with)."""
    wanted = json.loads((KUSTO / "package.json").read_text())["dependencies"]["@kusto/language-service-next"]
    lock = json.loads((KUSTO / "package-lock.json").read_text())
    locked = lock["packages"]["node_modules/@kusto/language-service-next"]
    assert (locked["version"], locked["integrity"][:7]) == (wanted, "sha512-")
    assert "resolved" not in json.dumps(lock), "regenerate it: npm install in tests/kusto (.npmrc omits registry URLs)"
