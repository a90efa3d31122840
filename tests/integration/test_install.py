"""The kit as a pip or pipx user gets it: the wheel and the sdist, each installed into a fresh virtual environment.

Marked ``install`` (about 3 minutes): ``pytest -m "not install"`` skips it explicitly. No network: the
dependencies come from a wheelhouse repacked from this environment (tests/support/wheelhouse.py), and pip runs with
``--no-index``, so what the package declares is all the new environment gets.
"""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support import wheelhouse

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.install, pytest.mark.timeout(1800)]
#: Packages for developers only: a user's environment must not have them.
DEV_ONLY = {"pytest", "nbval", "jupyterlab", "kaleido", "ruff", "mypy", "aiosmtpd"}


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pip of this environment acting on ``python``'s environment (as pipx does: the venv has no pip)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")} | {"PIP_CONFIG_FILE": os.devnull}
    return subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )


def _user_env(venv: Path, home: Path) -> dict[str, str]:
    """A user's environment: the venv's bin on PATH, no repository on the path, Jupyter folders of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "JUPYTER", "VIRTUAL_ENV", "SSPR_"))}
    return env | {
        "PATH": os.pathsep.join([str(venv / "bin"), "/usr/bin", "/bin"]),
        "JUPYTER_DATA_DIR": str(home / "jupyter-data"),
        "JUPYTER_CONFIG_DIR": str(home / "jupyter-config"),
        "JUPYTER_RUNTIME_DIR": str(home / "jupyter-runtime"),
        # a small demo tenant keeps the test fast; the command is the README's own
        "SSPR_REVIEW_DEMO_USERS": "600",
        "SSPR_REVIEW_DEMO_WEEKS": "6",
    }


def _cli(venv: Path, home: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "sspr-review"), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_user_env(venv, home),
        timeout=900,
    )


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from it, as `python -m build` makes them."""
    out = tmp_path_factory.mktemp("dist")
    # as on a developer's machine: bytecode on (PYTHONDONTWRITEBYTECODE makes setuptools say it skips compiling)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (out.parent / f"{out.name}.log").write_text(done.stdout + done.stderr)
    return out


def test_the_build_warns_about_nothing(dist: Path) -> None:
    """setuptools has nothing to warn about: every data file is declared as package data (issue 25: three
    "Package would be ignored" banners and a MANIFEST.in line matching nothing made a fine wheel look broken)."""
    log = (dist.parent / f"{dist.name}.log").read_text()
    warnings = [line for line in log.splitlines() if "warn" in line.lower() or "would be ignored" in line]
    assert not warnings, "\n".join(warnings)
    assert "no directories found" not in log and "no previously-included" not in log
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = archive.read("sspr_review/data/config.example.toml")
    assert packaged == (REPO / "config.example.toml").read_bytes()  # the one text, built into the wheel


@pytest.fixture(scope="module")
def wheels(dist: Path) -> Path:
    """Wheels of the core dependencies (and setuptools, to build the sdist), repacked from this environment."""
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        requires = email.message_from_bytes(archive.read(meta)).get_all("Requires-Dist") or []
    core = [r for r in requires if "extra ==" not in r]
    build_requires = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    return wheelhouse.build([*core, *build_requires], Path(sys.prefix) / "test-wheelhouse")


def _install(artifact: Path, wheels: Path, root: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    done = _pip(
        venv / "bin" / "python", "install", "--no-index", "--find-links", str(wheels), "--no-compile", str(artifact)
    )
    return venv, done


@pytest.fixture(scope="module")
def installed(
    dist: Path, wheels: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[Path, Path, subprocess.CompletedProcess[str]]]]:
    """kind (wheel, sdist) → (venv, home, result of `sspr-review run --source demo` in an unrelated folder)."""
    artifacts = {"wheel": next(dist.glob("*.whl")), "sdist": next(dist.glob("*.tar.gz"))}

    def one(kind: str) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
        root = tmp_path_factory.mktemp(kind)
        venv, done = _install(artifacts[kind], wheels, root)
        assert done.returncode == 0, f"{kind}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
        home = root / "home"
        work = home / "elsewhere"
        work.mkdir(parents=True)
        return venv, home, _cli(venv, home, work, "run", "--source", "demo", "--no-progress")

    with ThreadPoolExecutor(2) as pool:
        results = dict(zip(artifacts, pool.map(one, artifacts), strict=True))
    yield results


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_installed_kit_runs_the_demo_from_an_unrelated_folder(
    kind: str, installed: dict[str, tuple[Path, Path, subprocess.CompletedProcess[str]]]
) -> None:
    venv, home, done = installed[kind]
    assert done.returncode == 0, done.stderr[-4000:]
    assert "Traceback" not in done.stderr
    assert "without encryption" not in done.stdout + done.stderr  # quiet scheduled runs
    (folder,) = (home / "elsewhere" / "reports").iterdir()
    for name in ("weekly-review.html", "adoption-trends.html", "findings.json"):
        assert (folder / name).stat().st_size > 0, name
        assert str((folder / name).resolve()) in done.stdout
    assert json.loads((folder / "findings.json").read_text())["tenant"]["name"] == "Northgate Engineering"
    listed = _pip(venv / "bin" / "python", "list", "--format", "json")
    names = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "sspr-review" in names and not names & DEV_ONLY, names & DEV_ONLY
    # the packaged notebooks are the repository's, byte for byte, and a pip user can copy them out
    copied = _cli(venv, home, home, "notebooks", "nb")
    assert copied.returncode == 0, copied.stderr
    for source in (REPO / "notebooks").glob("*.ipynb"):
        assert (home / "nb" / source.name).read_bytes() == source.read_bytes()


def test_init_writes_the_packaged_configuration_and_doctor_reads_it(
    installed: dict[str, tuple[Path, Path, subprocess.CompletedProcess[str]]],
) -> None:
    """A pip user has no config.example.toml: `init` writes it from the wheel, `doctor` checks the result."""
    venv, home, _ = installed["wheel"]
    work = home / "first-steps"
    work.mkdir()
    tenant, client = "0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f", "11111111-2222-3333-4444-555555555555"
    done = _cli(venv, home, work, "init", "--tenant-id", tenant, "--client-id", client, "--auth", "client_secret")
    assert done.returncode == 0, done.stderr
    written = (work / "config.toml").read_text()
    assert f'tenant_id = "{tenant}"' in written and 'mode = "client_secret"' in written
    assert len(written.splitlines()) == len((REPO / "config.example.toml").read_text().splitlines())
    again = _cli(venv, home, work, "init")
    assert again.returncode == 2 and "already exists" in again.stderr
    checked = _cli(venv, home, work, "doctor", "--config", "config.toml", "--no-graph")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"[ok  ] configuration: {work / 'config.toml'}" in checked.stdout
    signed = _cli(venv, home, work, "doctor", "--config", "config.toml")
    assert signed.returncode == 1 and "AZURE_CLIENT_SECRET" in signed.stdout, signed.stdout
    assert "Traceback" not in signed.stdout + signed.stderr


def test_a_broken_installation_is_an_error_with_exit_6_and_doctor_names_it(
    installed: dict[str, tuple[Path, Path, subprocess.CompletedProcess[str]]],
) -> None:
    venv, home, first = installed["wheel"]
    assert first.returncode == 0, first.stderr[-4000:]
    work = home / "elsewhere"
    healthy = _cli(venv, home, work, "doctor", "--no-graph")
    assert healthy.returncode == 0, healthy.stdout
    for name in ("report notebooks", "report template", "Python kernel"):
        assert f"[ok  ] {name}:" in healthy.stdout
    (package,) = venv.glob("lib/python*/site-packages/sspr_review")
    run = ["run", "--source", "demo", "--no-fetch", "--no-progress"]
    for broken, words in [
        (package / "report" / "templates" / "sspr_report", "report template"),
        (package / "notebook_files", "report notebook"),
    ]:
        saved = broken.with_name(broken.name + ".saved")
        broken.rename(saved)
        try:
            failed = _cli(venv, home, work, *run)
            assert failed.returncode == 6, failed.stderr
            assert words in failed.stderr and "missing" in failed.stderr and "Traceback" not in failed.stderr
            sick = _cli(venv, home, work, "doctor", "--no-graph")
            assert sick.returncode == 1 and f"[FAIL] {words}" in sick.stdout, sick.stdout
        finally:
            saved.rename(broken)
    assert _pip(venv / "bin" / "python", "uninstall", "--yes", "ipykernel").returncode == 0
    no_kernel = _cli(venv, home, work, *run)
    assert no_kernel.returncode == 6, no_kernel.stderr
    assert "kernel" in no_kernel.stderr and "Traceback" not in no_kernel.stderr
    sick = _cli(venv, home, work, "doctor", "--no-graph")
    assert sick.returncode == 1 and "[FAIL] Python kernel" in sick.stdout, sick.stdout
    shutil.rmtree(venv)


def test_every_python_package_is_listed_for_the_wheel() -> None:
    """[tool.setuptools] packages is explicit (the notebooks are mapped in): a new subpackage must be added."""
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "sspr_review").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert found <= listed, found - listed
