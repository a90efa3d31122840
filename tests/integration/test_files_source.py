"""The files source: a folder of Graph JSON as saved from Graph Explorer or `az rest`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.errors import InputError
from sspr_review.sources.files import FilesSource
from tests.support.exports import write_export


def workspace(tmp_path: Path, export: Path) -> Workspace:
    return Workspace(config.load(env={"SSPR_REVIEW_STORE_PATH": str(tmp_path / "store")}), "files", files=export)


def test_files_land_in_the_store_like_graph_data(tmp_path: Path) -> None:
    write_export(tmp_path / "export")
    ws = workspace(tmp_path, tmp_path / "export")
    result = ws.fetch(progress=False)
    assert result.outcomes["audit"].ok and result.outcomes["risk"].ok and result.outcomes["registration"].ok
    stored = ws.read("audit")
    assert sorted(stored["id"]) == [f"a{i}" for i in range(8)]  # overlapping files, no duplicates
    assert ws.read("risk")["risk_event_type"].tolist() == ["leakedCredentials"]
    assert ws.store.tenant_info()["name"] == "Contoso"
    # coverage is the span of the records, not an invented 30 days
    (interval,) = ws.store.intervals("audit")
    assert interval.start.day == 10 and interval.end.day == 17


def test_a_kind_missing_from_the_files_is_no_data_not_zero(tmp_path: Path) -> None:
    write_export(tmp_path / "export", registration=False)
    ws = workspace(tmp_path, tmp_path / "export")
    result = ws.fetch(progress=False)
    reg = result.outcomes["registration"]
    assert not reg.ok and "no userRegistrationDetails records" in reg.reason
    assert not result.outcomes["roles"].ok  # no registration to fall back on either
    assert ws.read("registration").empty and ws.store.snapshots("registration") == []


def test_unrecognised_record_is_listed_with_its_file_and_the_others_load(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    write_export(folder)
    (folder / "signins.json").write_text(json.dumps({"value": [{"id": "s1", "appDisplayName": "Teams"}]}))
    source = FilesSource(folder)
    (rejected,) = source.set_aside().unreadable
    assert rejected.where.endswith("signins.json item 0") and "not a record the kit reads" in rejected.reason
    assert source.count("audit") == 8


def test_broken_json_names_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "bad.json").write_text("{not json")
    (rejected,) = FilesSource(folder).set_aside().unreadable
    assert rejected.where.endswith("bad.json") and rejected.reason.startswith("not valid JSON")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"holds no \.json"):
        FilesSource(tmp_path / "empty")


@pytest.mark.slow
def test_cli_files_source_exit_codes(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    write_export(folder)
    env = {**os.environ, "SSPR_REVIEW_STORE_PATH": str(tmp_path / "store")}
    cmd = [
        sys.executable,
        "-m",
        "sspr_review.cli",
        "fetch",
        "--source",
        "files",
        "--files",
        str(folder),
        "--no-progress",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3  # no policy in the export: named, not silent
    assert (
        "policy        NO DATA" in done.stdout
        and "no groupSetting, authenticationMethodsPolicy or authorizationPolicy" in done.stdout
    )
    assert "isAdmin flag instead of role assignments" in done.stdout  # roles fell back, and says so
    (folder / "bad.json").write_text("[1, 2")
    broken = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert broken.returncode == 4 and "bad.json" in broken.stderr
