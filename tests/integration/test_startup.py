"""The command line's start-up: ``--help``, ``--version`` and argument errors answer before anything heavy loads.

Counted with ``python -X importtime`` (modules, not seconds: the machine's load must not decide a test). The
time itself is measured by ``benchmarks/bench_first_contact.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Libraries a question about the command line itself must not wait for: the data stack, the Graph and Azure
#: SDKs (and kiota under msgraph-sdk), the notebook machinery, and pydantic (the configuration, 0.2 s alone).
HEAVY = ("pandas", "numpy", "pyarrow", "azure", "msgraph", "kiota_", "plotly", "papermill", "nbconvert", "pydantic")
#: What an argument error may load besides: the source registry behind ``--source`` (the configuration's
#: pydantic models), never the data stack or an SDK.
HEAVY_FOR_ANY_ERROR = tuple(h for h in HEAVY if h != "pydantic")


def imported(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``sspr-review ARGS`` under ``-X importtime``; the process and the top-level packages it imported."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "sspr_review.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return done, {m for m in modules if not m.startswith("sspr_review")}


def heavy(modules: set[str], families: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0].startswith(families))


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--help"], 0),
        (["--version"], 0),
        (["fetch", "--help"], 0),
        (["run", "--help"], 0),
        (["init", "--help"], 0),
        (["fecth"], 2),  # a misspelt command
        (["fetch", "--bogus"], 2),  # an unknown option
        (["run", "--week-ending"], 2),  # an option without its value
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else str(v),
)
def test_help_version_and_usage_errors_load_nothing_heavy(args: list[str], code: int) -> None:
    done, modules = imported(*args)
    assert done.returncode == code, done.stderr[-2000:]
    assert not heavy(modules, HEAVY), f"sspr-review {' '.join(args)} imports {heavy(modules, HEAVY)}"


def test_an_unknown_source_is_an_argument_error_without_the_sdks() -> None:
    done, modules = imported("fetch", "--source", "graf")
    assert done.returncode == 2 and "'graf' is not one of" in done.stderr and "'demo'" in done.stderr
    assert not heavy(modules, HEAVY_FOR_ANY_ERROR), heavy(modules, HEAVY_FOR_ANY_ERROR)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kit chooses Arrow's pool on Linux only")
def test_arrow_allocates_from_jemalloc_unless_the_user_chose_a_pool() -> None:
    """Importing the kit before pandas makes Arrow's default pool jemalloc (it returns freed memory to the system);
    a pool the user chose stays."""
    import os

    code = "import sspr_review, pandas, pyarrow as pa; print(pa.default_memory_pool().backend_name)"
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    for chosen, expected in ((None, "jemalloc"), ("system", "system")):
        extra = {"ARROW_DEFAULT_MEMORY_POOL": chosen} if chosen else {}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**env, **extra}, check=True
        )
        assert done.stdout.strip() == expected
