"""`sspr-review lab` in a real JupyterLab, driven by a real headless Chromium through selenium and Debian's
chromedriver: the working copy of weekly_review runs, draws, looks like the report, saves privately, and the
tracked notebooks stay clean."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import free_port
from tests.support.browser import NEEDS_BROWSER
from tests.support.browser import driver as chromium

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, NEEDS_BROWSER]


class Lab:
    def __init__(self, process: subprocess.Popen[str], url: str, token: str, folder: Path, log: list[str]) -> None:
        self.process, self.url, self.token, self.folder, self.log = process, url, token, folder, log


@pytest.fixture
def jupyterlab(demo_store: Path, tmp_path: Path) -> Iterator[Lab]:
    port, token = free_port(), secrets.token_hex(16)
    folder = tmp_path / "work"
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Render every cell (no windowing), so every chart is in the page to count.
    (settings / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    env = {
        **os.environ,
        # the session's small demo store, through the environment the configuration reads
        "SSPR_REVIEW_STORE_PATH": str(demo_store),
        "SSPR_REVIEW_DEMO_USERS": "600",
        "SSPR_REVIEW_DEMO_WEEKS": "6",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sspr_review.cli",
            "lab",
            "--folder",
            str(folder),
            "--no-browser",
            "--port",
            str(port),
            f"--IdentityProvider.token={token}",
            "--ServerApp.ip=127.0.0.1",
            "--LabApp.expose_app_in_browser=True",
            f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
            f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
            *(["--allow-root"] if os.geteuid() == 0 else []),  # CI containers run as root
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    log: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            if f"127.0.0.1:{port}/lab" in line:
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        assert ready.wait(180) and process.poll() is None, "".join(log)
        yield Lab(process, f"http://127.0.0.1:{port}", token, folder, log)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:  # pragma: no cover
            process.kill()


RUN_STATE = """
const cells = [...document.querySelectorAll('.jp-CodeCell')];
const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
const status = window.jupyterapp && window.jupyterapp.shell.currentWidget
  && window.jupyterapp.shell.currentWidget.sessionContext
  && window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus;
return {prompts: prompts, status: status};
"""


@pytest.mark.timeout(900)
def test_weekly_review_in_jupyterlab_runs_draws_looks_like_the_report_and_stays_private(jupyterlab: Lab) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    lab = jupyterlab
    assert f"Working folder: {lab.folder}" in "".join(lab.log)
    copy = lab.folder / "weekly_review.ipynb"
    assert lab.folder.stat().st_mode & 0o777 == 0o700 and copy.stat().st_mode & 0o777 == 0o600
    with urllib.request.urlopen(f"{lab.url}/api/status?token={lab.token}", timeout=30) as answer:
        assert answer.status == 200

    with tempfile.TemporaryDirectory() as profile:
        driver = chromium(profile, 1400, 2000, offline=False)  # JupyterLab at 127.0.0.1
        try:
            driver.set_script_timeout(60)
            driver.get(f"{lab.url}/lab/tree/weekly_review.ipynb?token={lab.token}")
            wait = WebDriverWait(driver, 240, poll_frequency=0.5)
            wait.until(lambda d: d.execute_script(RUN_STATE)["status"] == "idle")
            driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            wait = WebDriverWait(driver, 600, poll_frequency=1)

            def finished(d: Any) -> bool:
                state = d.execute_script(RUN_STATE)
                prompts = [p for p in state["prompts"] if p.strip()]
                return (
                    bool(prompts)
                    and all(p.strip() not in ("[*]:", "[ ]:") for p in state["prompts"])
                    and (state["status"] == "idle")
                )

            wait.until(finished)
            charts = driver.execute_script(
                "return [...document.querySelectorAll('.js-plotly-plot')]"
                ".filter(p => p.querySelector('.main-svg') && p.getBoundingClientRect().height > 100).length"
            )
            assert charts == 4
            tiles = driver.execute_script(
                """
                const box = document.querySelector('.sspr-out .sspr-tiles');
                const tiles = [...box.querySelectorAll('.sspr-tile')].map(t => t.getBoundingClientRect());
                const top = tiles[0].top;
                return {display: getComputedStyle(box).display, count: tiles.length,
                        firstRow: tiles.filter(r => Math.abs(r.top - top) < 2).length,
                        width: tiles[0].width};
                """
            )
            assert tiles["display"] == "flex" and tiles["count"] >= 6, tiles
            assert tiles["firstRow"] >= 3 and tiles["width"] < 400, tiles  # tiles side by side, not a column
            look = driver.execute_script(
                """
                const banner = document.querySelector('.sspr-out .sspr-banner');
                const badge = document.querySelector('.sspr-out .sspr-sev');
                const cell = document.querySelector('.sspr-out table.sspr td');
                return {banner: getComputedStyle(banner).backgroundColor,
                        border: getComputedStyle(banner).borderTopStyle,
                        badge: getComputedStyle(badge).backgroundColor, badgeColour: getComputedStyle(badge).color,
                        align: getComputedStyle(cell).textAlign,
                        jupyterAlign: getComputedStyle(document.querySelector('.jp-Toolbar')).textAlign};
                """
            )
            assert look["banner"] in ("rgb(231, 245, 234)", "rgb(253, 236, 234)"), look  # ok green or bad red
            assert look["border"] == "solid" and look["badgeColour"] == "rgb(255, 255, 255)", look
            assert look["badge"] != "rgba(0, 0, 0, 0)" and look["align"] == "left", look
            before = copy.stat().st_mtime_ns
            driver.execute_script("window.jupyterapp.commands.execute('docmanager:save')")
            WebDriverWait(driver, 60, poll_frequency=0.5).until(lambda d: copy.stat().st_mtime_ns != before)
        finally:
            driver.quit()

    deadline = time.monotonic() + 30
    while '"output_type"' not in copy.read_text() and time.monotonic() < deadline:  # pragma: no cover
        time.sleep(0.2)
    saved = json.loads(copy.read_text())
    outputs = [o for c in saved["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert outputs and not [o for o in outputs if o["output_type"] == "error"]
    assert copy.stat().st_mode & 0o777 == 0o600
    for checkpoint in (lab.folder / ".ipynb_checkpoints").glob("*"):
        assert checkpoint.stat().st_mode & 0o077 == 0, checkpoint
    status = subprocess.run(
        ["git", "status", "--porcelain", "--", "notebooks", "store", "lab"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert status.stdout == ""  # the tracked notebooks are untouched, nothing new to commit
