"""A damaged history store (issue 27, reproductions 1, 4 and 5): every damaged file is found, moved to the store's
``quarantine/`` with a note, shown as "no data" naming the file (exit 4, no traceback), and the next fetch re-reads
what the source still holds and says what could not be recovered.

A clean store is fetched once from the Graph test server (the real msgraph-sdk over HTTP); each test damages a copy
of it on disk, then drives the real CLI.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sspr_review.sources.demo.tenant import DemoTenant
from tests.support.graph_server import GraphData, GraphServer

# each case runs the CLI against the Graph test server (a fetch and a review: 3 to 8 s)
pytestmark = pytest.mark.slow
SCALE = 0.02
TOKEN = "test-token"
CLI = [sys.executable, "-m", "sspr_review.cli"]


@pytest.fixture(scope="module")
def tenant() -> DemoTenant:
    # history up to the start of the current hour: the fetch's snapshots fall within the review week
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return DemoTenant(users=400, weeks=3, end=end)


@pytest.fixture(scope="module")
def server(tenant: DemoTenant) -> Iterator[GraphServer]:
    with GraphServer(copy.deepcopy(GraphData.from_demo(tenant)), time_scale=SCALE, token=TOKEN) as srv:
        yield srv


def _env(server: GraphServer, store: Path, **extra: str) -> dict[str, str]:
    return {
        "SSPR_REVIEW_GRAPH_URL": server.url,
        "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
        "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(SCALE),
        "SSPR_REVIEW_STORE_PATH": str(store),
        **extra,
    }


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def clean_store(server: GraphServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("clean") / "store"
    done = _cli(_env(server, store), "fetch", "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr
    return store


@pytest.fixture
def store(clean_store: Path, tmp_path: Path) -> Path:
    copied = tmp_path / "store"
    shutil.copytree(clean_store, copied)
    return copied


def _week(tenant: DemoTenant) -> str:
    return f"{tenant.end:%Y-%m-%dT%H:%M}"


def _tenant_dir(store: Path) -> Path:
    return store / "graph"


def _month_of_week(tenant: DemoTenant) -> str:
    return f"{tenant.end - timedelta(days=3):%Y-%m}"


def _newest_snapshot(store: Path, folder: str, suffix: str = ".parquet") -> Path:
    return sorted(p for p in (_tenant_dir(store) / folder).glob(f"*{suffix}") if ".lean" not in p.name)[-1]


def _rows(store: Path, table: str) -> pd.DataFrame:
    files = sorted((_tenant_dir(store) / table).glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files]) if files else pd.DataFrame({"id": []})


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    text = done.stdout + done.stderr
    assert "Traceback" not in text and "unhandled exception" not in text, text[-3000:]


def _notes(store: Path) -> list[dict[str, Any]]:
    folder = _tenant_dir(store) / "quarantine"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.note.json"))] if folder.exists() else []


def _coverage_line(stdout: str, kind: str) -> str:
    """The summary's coverage line of ``kind``; every kind complete is one line for all (issue 21)."""
    lines = stdout.splitlines()
    complete = [line for line in lines if line.startswith("Data: complete for the week")]
    return complete[0] if complete else next(line for line in lines if line.strip().startswith(f"{kind} "))


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle] ^= 0xFF
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------------------- a damaged month of audit events


def test_truncated_month_is_quarantined_shown_as_no_data_and_the_next_fetch_recovers_it(
    server: GraphServer, tenant: DemoTenant, store: Path
) -> None:
    env = _env(server, store)
    month = _tenant_dir(store) / "audit" / f"{_month_of_week(tenant)}.parquet"
    held = set(pd.read_parquet(month)["id"])
    _truncate(month)
    reviewed = _cli(env, "review", "--week-ending", _week(tenant))
    _no_traceback(reviewed)
    assert reviewed.returncode == 4, reviewed.stdout[-2000:] + reviewed.stderr
    name = f"audit/{month.name}"
    assert name in reviewed.stderr and "quarantine" in reviewed.stderr, reviewed.stderr
    line = _coverage_line(reviewed.stdout, "audit")
    assert ("NO DATA" in line or "PARTIAL" in line) and name in line, line
    assert not month.exists()
    (note,) = _notes(store)
    assert note["file"] == name and note["rows"] == len(held) and note["kind"] == "audit"
    assert "bytes where the kit wrote" in note["why"] and "cut short" in note["why"], note
    assert (_tenant_dir(store) / "quarantine" / note["moved_to"]).exists()
    # the next fetch re-reads what Graph still holds (all of it here) and says so
    fetched = _cli(env, "fetch", "--no-progress")
    _no_traceback(fetched)
    assert fetched.returncode == 0, fetched.stdout[-2000:] + fetched.stderr
    assert held <= set(_rows(store, "audit")["id"])
    assert f"{name}" in fetched.stdout and "recovered" in fetched.stdout, fetched.stdout
    again = _cli(env, "review", "--week-ending", _week(tenant))
    assert again.returncode == 0, again.stderr
    assert "complete" in _coverage_line(again.stdout, "audit")


def test_what_the_source_no_longer_holds_is_named_with_its_records_and_interval(
    server: GraphServer, tenant: DemoTenant, store: Path
) -> None:
    """The source keeps only 2 days now (a Free tenant's shorter retention, or weeks later): the fetch re-reads
    those and names the records and the interval it could not recover; the review shows that interval as no data
    naming the file."""
    env = _env(server, store)
    month = _tenant_dir(store) / "audit" / f"{_month_of_week(tenant)}.parquet"
    month.write_bytes(b"")  # a zero-byte month file
    fetched = _cli({**env, "SSPR_REVIEW_GRAPH_AUDIT_LOOKBACK_DAYS": "2"}, "fetch", "--no-progress")
    _no_traceback(fetched)
    assert fetched.returncode == 4, fetched.stdout[-2000:] + fetched.stderr
    assert f"audit/{month.name}" in fetched.stderr and "could not be recovered" in fetched.stderr
    assert "records" in fetched.stderr and " → " in fetched.stderr
    reviewed = _cli(env, "review", "--week-ending", _week(tenant))
    _no_traceback(reviewed)
    assert reviewed.returncode == 4
    line = _coverage_line(reviewed.stdout, "audit")
    assert "PARTIAL" in line or "NO DATA" in line
    assert f"audit/{month.name}" in line


def test_junk_file_named_like_a_month_is_quarantined(server: GraphServer, tenant: DemoTenant, store: Path) -> None:
    env = _env(server, store)
    junk = _tenant_dir(store) / "audit" / "2025-09.parquet"
    junk.write_bytes(b"PAR1 this is not a Parquet file at all")
    reviewed = _cli(env, "review", "--week-ending", _week(tenant))
    _no_traceback(reviewed)
    assert reviewed.returncode == 4, reviewed.stderr
    assert "audit/2025-09.parquet" in reviewed.stderr
    assert not junk.exists() and [n["file"] for n in _notes(store)] == ["audit/2025-09.parquet"]
    assert _cli(env, "review", "--week-ending", _week(tenant)).returncode == 0


# ------------------------------------------------------------------------------- risk: appended garbage, a flip


@pytest.mark.parametrize("damage", ["append", "flip"])
def test_damaged_risk_file_is_found_by_fetch_and_rebuilt(
    server: GraphServer, tenant: DemoTenant, store: Path, damage: str
) -> None:
    env = _env(server, store)
    risk = max((_tenant_dir(store) / "risk").glob("*.parquet"), key=lambda p: p.stat().st_size)
    held = set(pd.read_parquet(risk)["id"])
    if damage == "append":
        with risk.open("ab") as fh:
            fh.write(b"garbage" * 100)
    else:
        _flip(risk)
    fetched = _cli(env, "fetch", "--no-progress")
    _no_traceback(fetched)
    assert f"risk/{risk.name}" in fetched.stdout + fetched.stderr
    assert [n["file"] for n in _notes(store)] == [f"risk/{risk.name}"]
    # Graph re-reads detections by lastUpdatedDateTime: those updated in the last 30 days come back
    assert len(held & set(_rows(store, "risk")["id"])) > 0
    reviewed = _cli(env, "review", "--week-ending", _week(tenant))
    _no_traceback(reviewed)


# ------------------------------------------------------------------------------------ snapshots and small files


def test_corrupted_registration_snapshot_is_named_and_not_used(
    server: GraphServer, tenant: DemoTenant, store: Path
) -> None:
    env = _env(server, store)
    snapshot = _newest_snapshot(store, "registration")
    _flip(snapshot)
    reviewed = _cli(env, "review", "--week-ending", _week(tenant))
    _no_traceback(reviewed)
    assert reviewed.returncode == 4, reviewed.stderr
    assert f"registration/{snapshot.name}" in reviewed.stderr
    line = _coverage_line(reviewed.stdout, "registration")
    assert "complete" not in line and f"registration/{snapshot.name}" in line, line
    fetched = _cli(env, "fetch", "--no-progress")  # takes a new snapshot
    _no_traceback(fetched)
    assert fetched.returncode == 0, fetched.stderr
    assert _cli(env, "review", "--week-ending", _week(tenant)).returncode in (0, 4)


def test_garbage_policy_snapshot_is_not_complete(server: GraphServer, tenant: DemoTenant, store: Path) -> None:
    env = _env(server, store)
    policy = _newest_snapshot(store, "policy", ".json")
    policy.write_text("{not json")
    reviewed = _cli(env, "review", "--week-ending", _week(tenant))
    _no_traceback(reviewed)
    assert reviewed.returncode == 4, reviewed.stderr
    line = _coverage_line(reviewed.stdout, "policy")
    assert "complete" not in line and f"policy/{policy.name}" in line, line
    from sspr_review.app.workspace import Workspace
    from sspr_review.core import config

    ws = Workspace(config.load(env=env), "graph")
    assert ws.store.read_policy() is None or ws.store.read_policy()[0] < datetime.fromisoformat(policy.stem).replace(
        tzinfo=UTC
    )


def test_garbage_tenant_json_is_named_not_a_traceback(server: GraphServer, tenant: DemoTenant, store: Path) -> None:
    env = _env(server, store)
    (_tenant_dir(store) / "tenant.json").write_bytes(b"\x00\xff garbage")
    reviewed = _cli(env, "review", "--week-ending", _week(tenant))
    _no_traceback(reviewed)
    assert reviewed.returncode == 4, reviewed.stderr
    assert "tenant.json" in reviewed.stderr
    fetched = _cli(env, "fetch", "--no-progress")
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads((_tenant_dir(store) / "tenant.json").read_text())["name"]


def test_garbage_coverage_json_is_rebuilt_from_the_files_by_fetch(
    server: GraphServer, tenant: DemoTenant, store: Path
) -> None:
    env = _env(server, store)
    (_tenant_dir(store) / "coverage.json").write_text("][ not json")
    fetched = _cli(env, "fetch", "--no-progress")
    _no_traceback(fetched)
    assert fetched.returncode == 0, fetched.stdout[-2000:] + fetched.stderr
    assert "coverage.json" in fetched.stdout
    coverage = json.loads((_tenant_dir(store) / "coverage.json").read_text())
    assert coverage["sources"]["audit"]["intervals"]
    reviewed = _cli(env, "review", "--week-ending", _week(tenant))
    assert reviewed.returncode == 0, reviewed.stderr
    assert "complete" in _coverage_line(reviewed.stdout, "audit")


# ------------------------------------------------------------------------------------ store verify / store repair


def test_store_verify_names_every_damaged_file_and_repair_rebuilds(
    server: GraphServer, tenant: DemoTenant, store: Path
) -> None:
    env = _env(server, store)
    clean = _cli(env, "store", "verify")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "0 damaged" in clean.stdout
    month = _tenant_dir(store) / "audit" / f"{_month_of_week(tenant)}.parquet"
    snapshot = _newest_snapshot(store, "privileged")
    _flip(month)
    snapshot.write_bytes(b"")
    verified = _cli(env, "store", "verify")
    _no_traceback(verified)
    assert verified.returncode == 4
    assert f"audit/{month.name}" in verified.stdout and f"privileged/{snapshot.name}" in verified.stdout
    assert month.exists(), "verify only checks"
    repaired = _cli(env, "store", "repair", "--no-progress")
    _no_traceback(repaired)
    assert repaired.returncode == 0, repaired.stdout[-3000:] + repaired.stderr
    assert sorted(n["file"] for n in _notes(store)) == sorted([f"audit/{month.name}", f"privileged/{snapshot.name}"])
    assert _cli(env, "store", "verify").returncode == 0
    assert _cli(env, "review", "--week-ending", _week(tenant)).returncode == 0
