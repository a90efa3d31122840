"""The lean weekly registration fetch (``[registration] mode``): the real msgraph-sdk over HTTP against
tests/support/graph_server/, the same demo tenant fetched week by week in full and in lean mode, and the reviews
compared."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pandas as pd
import pytest

from sspr_review.analysis import Review
from sspr_review.analysis.review import findings_json, findings_schema
from sspr_review.app.notebook import Context
from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.errors import ConfigError
from sspr_review.core.weeks import last_monday
from sspr_review.ingest.fetch import FetchResult
from sspr_review.ingest.store.lean_summary import read_summary
from sspr_review.report.sections import coverage_banner, user_profile
from sspr_review.report.summary import review_lines
from sspr_review.sources.demo.tenant import DemoTenant
from sspr_review.sources.graph.endpoints import LEAN_FILTERS
from tests.support.graph_server import GraphData, GraphServer

SCALE = 0.02
TOKEN = "test-token"
END = last_monday("UTC")
#: The weekly runs: Monday 06:00 after each of the last two weeks.
RUNS = (END - timedelta(days=7) + timedelta(hours=6), END + timedelta(hours=6))


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    return DemoTenant(users=2000, weeks=5, end=END)


@dataclass
class Fetched:
    workspace: Workspace
    server: GraphServer
    results: list[FetchResult]
    review: Review


def _config(server: GraphServer, store: Path, **registration: object) -> config.Config:
    env = {
        "SSPR_REVIEW_GRAPH_URL": server.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(SCALE),
        "SSPR_REVIEW_STORE_PATH": str(store),
        **{f"SSPR_REVIEW_REGISTRATION_{k.upper()}": str(v) for k, v in registration.items()},
    }
    return config.load(env=env)


def weekly_runs(
    tenant: DemoTenant,
    store: Path,
    monkeypatch: pytest.MonkeyPatch,
    runs: tuple[datetime, ...] = RUNS,
    deny: str | None = None,
    **registration: object,
) -> Iterator[Fetched]:
    """Fetch ``tenant`` through Graph once per run (the server showing it as it was then), then review."""
    monkeypatch.setenv("SSPR_REVIEW_ACCESS_TOKEN", TOKEN)
    with GraphServer(GraphData(), time_scale=SCALE, token=TOKEN) as server:
        if deny:
            server.deny(deny)
        cfg = _config(server, store, **registration)
        results = []
        ws = None
        for moment in runs:
            server.data = GraphData.from_demo(tenant, moment)
            ws = Workspace(cfg, "graph", clock=lambda m=moment: m)
            results.append(ws.fetch(progress=False))
        assert ws is not None
        yield Fetched(ws, server, results, ws.review())


@pytest.fixture(scope="module")
def both(tenant: DemoTenant, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Fetched]:
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        for mode in ("full", "lean"):
            store = tmp_path_factory.mktemp(mode) / "store"
            for fetched in weekly_runs(tenant, store, mp, mode=mode):
                out[mode] = fetched
    return out


def _comparable(review: Review) -> dict[str, Any]:
    doc = findings_json(review, generated_at=END)
    assert doc["coverage"]["registration"].pop("mode") in ("full", "lean")
    return doc


@pytest.mark.slow
def test_lean_and_full_snapshots_give_the_same_review(both: dict[str, Fetched]) -> None:
    full, lean = both["full"], both["lean"]
    for fetched in (full, lean):
        assert all(r.ok for r in fetched.results), [r.lines() for r in fetched.results]
    assert full.review.coverage["registration"].mode == "full"
    assert lean.review.coverage["registration"].mode == "lean"
    assert lean.review.coverage["registration"].whole
    # the same findings (with their evidence and fingerprints), metrics, correlations and coverage
    assert _comparable(lean.review) == _comparable(full.review)
    assert {k: (m.value, m.previous) for k, m in lean.review.metrics.items()} == {
        k: (m.value, m.previous) for k, m in full.review.metrics.items()
    }
    pd.testing.assert_frame_equal(lean.review.weekly, full.review.weekly)  # the trend, registration included
    # not trivially: the lean store holds far fewer rows, and the rules needed rows it had to look up
    full_rows = full.workspace.read("registration")
    lean_rows = lean.workspace.read("registration")
    assert len(lean_rows) < len(full_rows) / 4
    kinds = {f.kind for f in full.review.findings}
    assert {"blocked_user", "registration_gap", "phone_only_reset_new_ip"} <= kinds
    summary = read_summary(lean.workspace.store.path, RUNS[-1])
    assert summary is not None and summary["looked_up"]["ids"] > 0
    assert {"usersRegisteredByFeature", "usersRegisteredByMethod"} <= set(summary)


@pytest.mark.slow
def test_lean_coverage_is_shown_where_coverage_is(both: dict[str, Fetched]) -> None:
    lean = both["lean"]
    lines = "\n".join(review_lines(lean.review))
    assert "lean snapshot of" in lines
    doc = findings_json(lean.review)
    jsonschema.Draft202012Validator(findings_schema()).validate(doc)
    assert doc["coverage"]["registration"]["mode"] == "lean"
    assert doc["coverage"]["audit"]["mode"] is None
    assert findings_json(both["full"].review)["coverage"]["registration"]["mode"] == "full"
    assert any("lean snapshot" in line for line in lean.results[-1].lines())
    banner = coverage_banner(Context(lean.workspace, lean.review)).data
    assert "lean snapshot of" in banner
    profile = user_profile(Context(lean.workspace, lean.review), "nobody@example.invalid").data
    assert "snapshot is lean" in profile


@pytest.mark.slow
def test_lean_requests_are_filtered_counted_and_looked_up(both: dict[str, Fetched]) -> None:
    server = both["lean"].server
    details = [r for r in server.requests if r.path.endswith("/userRegistrationDetails")]
    filters = [r.query.get("$filter", "") for r in details]
    assert all(filters), "a lean fetch never reads the whole report"
    assert sum(f in LEAN_FILTERS.values() for f in filters) == len(LEAN_FILTERS) * len(RUNS)
    lookups = [f for f in filters if f not in LEAN_FILTERS.values()]
    assert lookups and all(f.startswith(("id eq '", "userPrincipalName eq '")) for f in lookups)
    for function in ("usersRegisteredByFeature()", "usersRegisteredByMethod()"):
        assert server.count(function, 200) == len(RUNS)
    assert all(r.status == 200 for r in server.requests)


@pytest.mark.slow
def test_lean_snapshot_used_for_a_week_it_did_not_look_up_is_partial(both: dict[str, Fetched]) -> None:
    ws = both["lean"].workspace
    week = ws.window(END - timedelta(days=21))
    cov = ws.coverage(week.start, week.end)["registration"]
    assert cov.mode == "lean" and cov.approximate
    assert any("looked up other users only for the weeks it was fetched for" in m for m in cov.missing)


@pytest.mark.slow
def test_refused_counts_fall_back_to_the_whole_report(
    tenant: DemoTenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for fetched in weekly_runs(
        tenant, tmp_path / "store", monkeypatch, runs=RUNS[-1:], deny="usersRegisteredByFeature()", mode="lean"
    ):
        result = fetched.results[0]
        assert result.outcomes["registration"].ok
        assert result.outcomes["registration"].records == 2000
        assert any("read the whole report" in n and "AuditLog.Read.All" in n for n in result.lines())
        assert fetched.review.coverage["registration"].mode == "full"


@pytest.mark.slow
def test_auto_mode_lean_above_the_size_and_full_every_month(
    tenant: DemoTenant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = (RUNS[0] - timedelta(days=7), *RUNS)
    for fetched in weekly_runs(
        tenant, tmp_path / "store", monkeypatch, runs=runs, mode="auto", lean_above_users=1000, full_every_days=14
    ):
        store = fetched.workspace.store
        modes = ["lean" if read_summary(store.path, m) else "full" for m in store.snapshot_moments("registration")]
        # first run: no full snapshot yet; then 2,000 users > 1,000: lean; then the full one is 14 days old
        assert modes == ["full", "lean", "full"]
        notes = [n for r in fetched.results for n in r.lines() if n.startswith("registration:")]
        assert len(notes) == 1 and "auto: 2,000 users, above lean_above_users = 1,000" in notes[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[registration]\nmode = "slim"\n', "[registration] mode"),
        ("[registration]\nlean_above_users = -1\n", "[registration] lean_above_users"),
        ("[registration]\nfull_every_days = 0\n", "[registration] full_every_days"),
        ('[registration]\nfull_every_days = "30"\n', "[registration] full_every_days"),
    ],
)
def test_registration_settings_are_validated(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        config.load(path, env={})
    assert expected in str(caught.value) and "SSPR_REVIEW_REGISTRATION_" in str(caught.value)


def test_registration_defaults() -> None:
    settings = config.load(env={}).registration
    assert (settings.mode, settings.lean_above_users, settings.full_every_days) == ("auto", 50_000, 30)


def _get(server: GraphServer, path: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(server.url + path, headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_server_counts_in_graphs_shape(tenant: DemoTenant) -> None:
    data = GraphData.from_demo(tenant)
    rows = data.user_registration_details
    with GraphServer(data, throttle=False, token=TOKEN) as server:
        status, feature = _get(server, "/reports/authenticationMethods/usersRegisteredByFeature()")
        assert status == 200 and feature["totalUserCount"] == len(rows)
        assert feature["@odata.context"].endswith("$metadata#microsoft.graph.userRegistrationFeatureSummary")
        counts = {c["feature"]: c["userCount"] for c in feature["userRegistrationFeatureCounts"]}
        assert counts["ssprCapable"] == sum(r["isSsprCapable"] for r in rows)
        assert set(counts) == {"ssprRegistered", "ssprEnabled", "ssprCapable", "passwordlessCapable", "mfaCapable"}
        status, method = _get(
            server,
            "/reports/authenticationMethods/usersRegisteredByMethod(includedUserTypes='all',includedUserRoles='admin')",
        )
        assert status == 200 and method["userRoles"] == "admin"
        assert method["totalUserCount"] == sum(r["isAdmin"] for r in rows)
        assert all(set(c) == {"authenticationMethod", "userCount"} for c in method["userRegistrationMethodCounts"])
        # Graph accepts no includedUserTypes but 'all'
        status, error = _get(
            server,
            "/reports/authenticationMethods/usersRegisteredByFeature(includedUserTypes='member',includedUserRoles='all')",
        )
        assert status == 400 and "Valid parameters are all" in error["error"]["message"]
        # $filter on userRegistrationDetails: only the documented properties
        status, error = _get(
            server,
            "/reports/authenticationMethods/userRegistrationDetails?$filter=lastUpdatedDateTime%20ge%202024-01-01",
        )
        assert status == 400 and "lastUpdatedDateTime" in error["error"]["message"]
        status, page = _get(
            server,
            "/reports/authenticationMethods/userRegistrationDetails?$filter=isSsprCapable%20eq%20false%20and%20"
            "userType%20eq%20%27member%27",
        )
        assert status == 200
        assert {r["id"] for r in page["value"]} == {
            r["id"] for r in rows if not r["isSsprCapable"] and r["userType"] == "member"
        }
