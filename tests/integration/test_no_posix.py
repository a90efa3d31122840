"""The kit on a system without POSIX-only modules (issue 22.5): Windows has no ``fcntl``, ``termios``, ``pwd``,
``grp`` or ``resource``. A Python where importing them fails imports the kit and runs ``run --source demo`` (the
demo history built under its lock, the review, the notebooks in their kernel, the report folder published)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# builds a small demo store and runs the report notebooks in a subprocess (about a minute)
pytestmark = pytest.mark.notebook

POSIX_ONLY = ("fcntl", "termios", "tty", "pty", "pwd", "grp", "resource", "syslog")

#: Runs the command line in a Python where the POSIX-only modules cannot be imported; prints which of the kit's
#: modules were loaded, and whether a POSIX-only module got in anyway.
BOOT = f"""
import importlib.abc, json, runpy, sys
BLOCKED = {POSIX_ONLY!r}
class NoPosix(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {{name!r}} (this test's Windows-like Python)")
        return None
for name in BLOCKED:
    sys.modules.pop(name, None)
sys.meta_path.insert(0, NoPosix())
import sspr_review
from sspr_review import open_workspace
sys.argv = ["sspr-review", *sys.argv[1:]]
try:
    runpy.run_module("sspr_review.cli", run_name="__main__")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED and sys.modules[m] is not None)
print("POSIX-ONLY-LOADED " + json.dumps(loaded))
sys.exit(code)
"""


def test_the_demo_run_needs_no_posix_only_module(tmp_path: Path, small_config: Path) -> None:
    out = tmp_path / "reports"
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "ignore::UserWarning",
            "-c",
            BOOT,
            "run",
            "--config",
            str(small_config),
            "--store",
            str(tmp_path / "store"),
            "--source",
            "demo",
            "--no-progress",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.rsplit("POSIX-ONLY-LOADED ", 1)[1])
    assert loaded == []
    (folder,) = out.iterdir()
    assert {"weekly-review.html", "adoption-trends.html", "findings.json"} <= {p.name for p in folder.iterdir()}
    findings = json.loads((folder / "findings.json").read_text())
    assert findings["tenant"]["name"] and findings["coverage"]["audit"]["complete"] is True
