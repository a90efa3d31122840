"""Every failure of the machine is a sentence (issue 27, reproduction 3): each command against a full disk, a
read-only folder, a missing folder and a path that is a file, for the store, the out folder, the state folder and
the lab folder. No traceback, the path named with the fix, the documented exit code, nothing half-written.

A full disk is a small tmpfs mounted by the test, and a read-only folder a read-only tmpfs, when the tests run as
root (as CI does); otherwise the read-only folder is a folder without write permission and the full-disk cases are
skipped, saying so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "sspr_review.cli"]
ROOT = os.geteuid() == 0
FAILURES = ("full", "read-only", "missing", "file")


def _mount(target: Path, *options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(target)], check=False)
    return done.returncode == 0


@contextlib.contextmanager
def broken(base: Path, failure: str, seed: Path | None = None) -> Iterator[Path]:
    """A folder path showing ``failure``; ``seed`` (a folder) is copied in first where the failure allows."""
    path = base / f"{failure}-{uuid.uuid4().hex[:6]}"
    mounted = False
    try:
        if failure == "file":
            path.write_text("not a folder")
        elif failure == "missing":
            path = path / "not" / "there"
        elif failure == "read-only":
            if seed is not None:
                shutil.copytree(seed, path)
            else:
                path.mkdir()
            if ROOT:
                mounted = (
                    subprocess.run(["mount", "--bind", "-o", "ro", str(path), str(path)], check=False).returncode == 0
                )
                mounted = (
                    mounted
                    and subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], check=False).returncode == 0
                )
                if not mounted:
                    pytest.skip("cannot mount a read-only bind mount here")
            else:
                for folder in [path, *[p for p in path.rglob("*") if p.is_dir()]]:
                    folder.chmod(0o500)
        elif failure == "full":
            room = sum(p.stat().st_size for p in seed.rglob("*") if p.is_file()) if seed is not None else 0
            if not ROOT or not _mount(path, f"size={room * 2 + (512 << 10)}"):
                pytest.skip("a full disk needs a small tmpfs, which only root can mount (CI runs as root)")
            mounted = True
            if seed is not None:
                for item in seed.iterdir():
                    dest = path / item.name
                    with contextlib.suppress(OSError):
                        (shutil.copytree if item.is_dir() else shutil.copy2)(item, dest)
            with contextlib.suppress(OSError), (path / ".filler").open("wb") as fh:
                while True:
                    fh.write(b"\0" * 4096)
                    fh.flush()
        yield path
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)
        if failure == "read-only" and not ROOT and path.exists():
            for folder in [path, *[p for p in path.rglob("*") if p.is_dir()]]:
                folder.chmod(0o700)


def _cli(*args: str | Path, env: dict[str, str] | None = None, timeout: int = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def _sentence(done: subprocess.CompletedProcess[str], path: Path, codes: tuple[int, ...] = (4,)) -> None:
    text = done.stdout + done.stderr
    assert "Traceback" not in text, text[-3000:]
    assert done.returncode in codes, (done.returncode, text[-3000:])
    if done.returncode:
        assert str(path) in done.stderr or str(path.parent) in done.stderr, done.stderr[-2000:]
        assert "sspr-review: " in done.stderr or "Error: " in done.stderr  # the kit's sentence, or click's (usage)


def _no_leftovers(folder: Path) -> None:
    if folder.is_dir():
        left = [p for p in folder.rglob("*") if p.name.startswith(".tmp-") or ".partial-" in p.name]
        assert left == [], left


# ----------------------------------------------------------------------------------------------- the store


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize(
    "command",
    [
        ("review", "--source", "demo"),
        ("status", "--source", "demo"),
        ("store", "verify", "--source", "demo"),
        ("store", "repair", "--source", "demo", "--no-fetch"),
        ("fetch", "--source", "demo", "--no-progress"),
        ("run", "--source", "demo", "--no-fetch", "--no-progress"),
    ],
    ids=lambda c: "-".join(c[:2]) if isinstance(c, tuple) else c,
)
def test_store_folder(
    demo_store: Path, small_config: Path, tmp_path: Path, command: tuple[str, ...], failure: str
) -> None:
    with broken(tmp_path, failure, seed=demo_store) as store:
        extra = ("--out", tmp_path / "reports") if command[0] == "run" else ()
        done = _cli(*command, "--config", small_config, "--store", store, *extra)
        if failure == "missing" and command[0] in ("review", "run"):
            codes: tuple[int, ...] = (0,)  # the demo store is built there
        elif failure == "missing":
            codes = (0, 3)
        elif failure in ("read-only", "full") and command[0] in ("review", "status", "run"):
            codes = (0,)  # reading a sound store needs no writing
        elif failure in ("read-only", "full") and command[:2] == ("store", "verify"):
            codes = (0,)
        elif failure == "full" and command[:2] == ("store", "repair"):
            codes = (0, 4)  # a sound store needs no writing to repair (0); the store's lock may not fit (4)
        elif failure == "file":
            codes = (2, 4)  # --store refuses a file (usage error, 2)
        else:
            codes = (4,)
        _sentence(done, store, codes)
        if failure == "full":
            _no_leftovers(store)


def test_store_path_from_the_environment_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    done = _cli("status", env={"SSPR_REVIEW_STORE_PATH": str(tmp_path / "afile")})
    _sentence(done, tmp_path / "afile")
    assert "is a file, not a folder" in done.stderr


# ------------------------------------------------------------------------------------------- the out folder


@pytest.mark.parametrize("failure", FAILURES)
def test_out_folder_of_run(demo_store: Path, small_config: Path, tmp_path: Path, failure: str) -> None:
    if failure == "full":
        pytest.skip("covered by test_out_folder_full_after_the_notebooks (slow: the notebooks run first)")
    with broken(tmp_path, failure) as out:
        done = _cli(
            "run", "--source", "demo", "--no-fetch", "--config", small_config, "--store", demo_store, "--out", out
        )
        codes = (0,) if failure == "missing" else (2, 4)
        _sentence(done, out, codes)


@pytest.mark.notebook
def test_out_folder_full_after_the_notebooks(demo_store: Path, small_config: Path, tmp_path: Path) -> None:
    with broken(tmp_path, "full") as out:
        done = _cli(
            "run",
            "--source",
            "demo",
            "--no-fetch",
            "--config",
            small_config,
            "--store",
            demo_store,
            "--out",
            out,
            timeout=600,
        )
        _sentence(done, out)
        assert "full" in done.stderr
        assert [p.name for p in out.iterdir() if p.name != ".filler"] == []  # nothing half-written


@pytest.mark.parametrize("failure", ("read-only", "file", "full"))
def test_review_json_email_and_notebooks_into_a_bad_folder(
    demo_store: Path, small_config: Path, tmp_path: Path, failure: str
) -> None:
    with broken(tmp_path, failure) as folder:
        target = folder / "findings.json"
        done = _cli("review", "--source", "demo", "--config", small_config, "--store", demo_store, "--json", target)
        _sentence(done, folder)
        copied = _cli("notebooks", folder)
        _sentence(copied, folder, (2, 4))


@pytest.mark.parametrize("failure", ("read-only", "full"))
def test_email_dry_run_into_a_bad_report_folder(tmp_path: Path, failure: str) -> None:
    report = tmp_path / "report"
    report.mkdir()
    (report / "findings.json").write_text(json.dumps({"schema_version": "0"}))
    with broken(tmp_path, failure, seed=report) as folder:
        mail = {"SSPR_REVIEW_MAIL_TO": "a@example.com", "SSPR_REVIEW_MAIL_SENDER": "b@example.com"}
        done = _cli("email", folder, "--dry-run", env=mail)
        _sentence(done, folder, (4, 8))


# ----------------------------------------------------------------------------------- the state folder, the lab


@pytest.mark.parametrize("failure", FAILURES)
def test_state_folder_is_a_warning_not_a_failure(
    demo_store: Path, small_config: Path, tmp_path: Path, failure: str
) -> None:
    """The state folder holds only the Graph request record: a fetch that cannot use it warns and goes on."""
    from sspr_review.core.weeks import last_monday
    from sspr_review.sources.demo.tenant import DemoTenant
    from tests.support.graph_server import GraphData, GraphServer

    data = GraphData.from_demo(DemoTenant(users=100, weeks=2, end=last_monday("UTC")))
    with broken(tmp_path, failure) as state, GraphServer(data, time_scale=0.02, token="t") as server:
        env = {
            "SSPR_REVIEW_GRAPH_URL": server.url,
            "SSPR_REVIEW_ACCESS_TOKEN": "t",
            "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": "0.02",
            "SSPR_REVIEW_STATE_DIR": str(state),
        }
        done = _cli("fetch", "--store", tmp_path / "store", "--no-progress", env=env)
        _sentence(done, state, (0,))
        if failure != "missing":
            assert "cannot use the shared Graph request record" in done.stderr and str(state) in done.stderr


@pytest.mark.parametrize("failure", ("read-only", "file", "full"))
def test_lab_folder(tmp_path: Path, failure: str) -> None:
    with broken(tmp_path, failure) as folder:
        done = _cli("lab", "--folder", folder, "--no-browser", timeout=60)
        _sentence(done, folder, (2, 4))
