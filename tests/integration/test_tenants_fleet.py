"""Many tenants, one command (issue 26): ``fetch``, ``status``, ``review`` and ``doctor`` with ``--tenants``, each
tenant in its own process with its own configuration and store, against the test Graph server serving every
tenant by its token; one tenant failing stops no other, and the exit code says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from sspr_review.core.weeks import last_monday
from sspr_review.report.portfolio import schema
from sspr_review.sources.demo.tenant import DemoTenant
from tests.support.graph_server import GraphData, GraphServer, mint_token

CLI = [sys.executable, "-m", "sspr_review.cli"]
SCALE = 0.02
pytestmark = pytest.mark.slow  # several CLI processes per case (about 30 s)


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env={**os.environ, **env}, cwd=cwd, timeout=600
    )
    return done


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, DemoTenant], dict[str, str]]:
    """A tenants file of three Graph tenants behind one test server (northgate, harbour: good tokens; lagoon: the
    token of another tenant) and one files tenant whose exports folder is missing."""
    end = last_monday("UTC")
    demo = {
        "northgate": DemoTenant(users=120, weeks=2, end=end),
        "harbour": DemoTenant(users=80, weeks=2, end=end, seed=11, name="Harbour Freight"),
        "lagoon": DemoTenant(users=60, weeks=2, end=end, seed=12, name="Lagoon Labs"),
    }
    tokens = {name: mint_token(t.tenant_id) for name, t in demo.items()}
    env = {f"TOKEN_{name.upper()}": tokens[name] for name in demo} | {"TOKEN_LAGOON": tokens["northgate"]}
    folder = tmp_path_factory.mktemp("fleet")
    rows = []
    for name, tenant in demo.items():
        (folder / f"{name}.toml").write_text(f'[auth]\ntoken_env = "TOKEN_{name.upper()}"\n')
        rows.append(f'[[tenants]]\nname = "{name}"\ntenant_id = "{tenant.tenant_id}"\nconfig = "{name}.toml"\n')
    rows.append('[[tenants]]\nname = "litware"\nsource = "files"\nfiles = "exports/litware"\n')
    text = f'[portfolio]\ntitle = "Test MSP"\n[defaults.graph]\nthrottle_time_scale = {SCALE}\n' + "\n".join(rows)
    (folder / "tenants.toml").write_text(text)
    return folder, demo, env | {"TOKENS": json.dumps(tokens)}


def test_one_tenant_failing_stops_no_other(fleet: tuple[Path, dict[str, DemoTenant], dict[str, str]]) -> None:
    folder, demo, env = fleet
    tokens = json.loads(env["TOKENS"])
    data = {tokens[name]: GraphData.from_demo(tenant) for name, tenant in demo.items()}
    with GraphServer(GraphData(), tenants=data, time_scale=SCALE) as server:
        env = env | {"SSPR_REVIEW_GRAPH_URL": server.url}
        fetched = cli("fetch", "--tenants", "tenants.toml", "--parallel", "4", env=env, cwd=folder)
        assert fetched.returncode == 9, fetched.stderr
        out = fetched.stdout
        assert "── northgate (graph): ok" in out and "── harbour (graph): ok" in out
        assert "── lagoon (graph): failed (exit 5)" in out and "── litware (files): failed (exit 2)" in out
        assert f"issued for tenant {demo['northgate'].tenant_id}, not for [auth] tenant_id" in fetched.stderr
        assert "exports/litware' does not exist" in fetched.stderr
        summary = out.split("fetch for 4 tenants:")[1]
        assert summary.index("northgate") < summary.index("harbour") < summary.index("lagoon")  # the file's order
        assert "2 ok, 2 not" in summary
        assert server.throttled == {"reports": 0, "identityProtection": 0}  # each tenant in its own budget
        # each tenant's own store, named after it, holding its own tenant only
        for name in ("northgate", "harbour"):
            (tenant_folder,) = (folder / "store" / name).iterdir()
            assert tenant_folder.name == demo[name].tenant_id
            assert json.loads((tenant_folder / "tenant.json").read_text())["id"] == demo[name].tenant_id
            assert (folder / "store" / name).stat().st_mode & 0o077 == 0
        assert not list((folder / "store" / "lagoon").rglob("*.parquet"))

        doctor = cli("doctor", "--tenants", "tenants.toml", env=env, cwd=folder)
        assert doctor.returncode == 1
        assert "── lagoon (graph): failed (exit 1)" in doctor.stdout and "── harbour (graph): ok" in doctor.stdout

    status = cli("status", "--tenants", "tenants.toml", env=env, cwd=folder)
    assert status.returncode == 0, status.stderr
    assert "Tenant Harbour Freight" in status.stdout and "Tenant Lagoon Labs" not in status.stdout

    # an empty store has no week to review, as without --tenants (exit 3, saying so): those tenants fail, named
    review = cli("review", "--tenants", "tenants.toml", "--json", "portfolio.json", env=env, cwd=folder)
    assert review.returncode == 9, review.stderr
    doc = json.loads((folder / "portfolio.json").read_text())
    jsonschema.validate(doc, schema())
    rows = {row["name"]: row for row in doc["tenants"]}
    assert (rows["northgate"]["display_name"], rows["northgate"]["status"]) == ("Northgate Engineering", "ok")
    assert (rows["harbour"]["display_name"], rows["harbour"]["status"]) == ("Harbour Freight", "ok")
    for name in ("lagoon", "litware"):
        assert rows[name]["status"] == "failed" and "holds nothing yet" in rows[name]["reason"]
        assert rows[name]["findings"] is None  # nothing is known of their week
    assert doc["counts"] == {"tenants": 4, "attention": 4, "ok": 2, "partial": 0, "failed": 2}
    assert "Test MSP, week ending" in review.stdout


def test_the_tenants_file_is_checked_before_anything_runs(tmp_path: Path) -> None:
    (tmp_path / "tenants.toml").write_text('[[tenants]]\nname = "con"\nsource = "demo"\n')
    done = cli("fetch", "--tenants", "tenants.toml", env={}, cwd=tmp_path)
    assert done.returncode == 2 and "the name 'con' is a device name Windows reserves" in done.stderr
    (tmp_path / "tenants.toml").write_text('[[tenants]]\nname = "a"\nsource = "grpah"\n')
    done = cli("fetch", "--tenants", "tenants.toml", env={}, cwd=tmp_path)
    assert done.returncode == 2 and "tenant 'a': unknown source 'grpah'; choose one of graph, demo" in done.stderr
    done = cli("fetch", "--tenants", "tenants.toml", "--source", "demo", env={}, cwd=tmp_path)
    assert done.returncode == 2 and "--source does not go with --tenants" in done.stderr
    done = cli("run", "--notebook-jobs", "3", env={}, cwd=tmp_path)
    assert done.returncode == 2 and "--notebook-jobs only applies with --tenants" in done.stderr
    (tmp_path / "tenants.toml").write_text('[[tenants]]\nname = "a"\n')  # graph, and no tenant id
    done = cli("fetch", "--tenants", "tenants.toml", env={}, cwd=tmp_path)
    assert done.returncode == 9 and "add tenant_id (the tenant's Directory ID, a GUID) to its row" in done.stderr
