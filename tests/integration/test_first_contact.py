"""What a new user and a scheduled job see first (issue 25): a cron log without progress bars, the demo's one bar,
the messages without a configuration or a credential, ``init``, hints towards the demo, ``--week-ending``.

Every command runs as a real process, as a user or cron starts it: environment without the kit's variables, an
empty home folder where it matters.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "sspr_review.cli"]
REPO = Path(__file__).resolve().parents[2]


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A new user's environment: no SSPR_REVIEW_* or AZURE_* variables, ``home`` as HOME (nothing configured)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SSPR_REVIEW_", "AZURE_", "XDG_"))}
    home.mkdir(parents=True, exist_ok=True)
    return base | {"HOME": str(home)} | extra


def cli(*args: str, env: dict[str, str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


# ----------------------------------------------------------------------------------------------- progress bars
@pytest.fixture(scope="module")
def scheduled_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[bytes], Path]:
    """`sspr-review run --source demo` as cron starts it: stdout and stderr into a file, no terminal, no input."""
    root = tmp_path_factory.mktemp("cron")
    env = user_env(
        root / "home",
        SSPR_REVIEW_HOME=str(root / "home" / "sspr"),
        SSPR_REVIEW_DEMO_USERS="300",
        SSPR_REVIEW_DEMO_WEEKS="3",
    )
    with (root / "cron.log").open("wb") as log:
        done = subprocess.run(
            [*CLI, "run", "--source", "demo", "--out", "reports"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=root,
            timeout=900,
        )
    return done, root


@pytest.mark.notebook
def test_a_scheduled_runs_log_holds_no_progress_bars(
    scheduled_run: tuple[subprocess.CompletedProcess[bytes], Path],
) -> None:
    done, root = scheduled_run
    log = (root / "cron.log").read_bytes()
    assert done.returncode == 0, log[-3000:]
    assert b"\r" not in log and b"\x1b" not in log, log[:2000]
    text = log.decode()
    assert "Reports for the week ending" in text and "The store holds" in text


@pytest.mark.slow
def test_the_demo_draws_one_bar_that_names_the_week(tmp_path: Path) -> None:
    """On a terminal (--progress here: the test's pipe is none) the demo build shows one bar for its weeks."""
    done = cli(
        "demo", "--users", "50", "--weeks", "3", "--store", "store", "--progress", env=user_env(tmp_path), cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    drawn = [part for part in re.split(r"[\r\n]", done.stderr) if part.strip()]
    assert drawn and all(part.startswith("demo tenant") for part in drawn), drawn
    assert "3/3" in drawn[-1] and "weeks" in drawn[-1]
    named = sorted({date.fromisoformat(m.group(1)) for part in drawn if (m := re.search(r"week ending (\S+)\]", part))})
    assert len(named) == 3 and all(d.weekday() == 0 for d in named)
    assert [(b - a).days for a, b in itertools.pairwise(named)] == [7, 7]
    assert "The store holds 6 weeks complete" in done.stdout


# ------------------------------------------------------------------------------------ no configuration, no sign-in
#: The credentials azure-identity's DefaultAzureCredential tries: each named once at most, with its reason only
#: under --verbose.
CHAIN = ("EnvironmentCredential", "ManagedIdentityCredential", "AzureCliCredential")


@pytest.mark.slow
def test_a_fetch_with_no_configuration_says_what_was_looked_for_and_the_fix(tmp_path: Path) -> None:
    """A new user's first `sspr-review fetch`, in an empty home folder: one message, not the chain twice."""
    done = cli("fetch", env=user_env(tmp_path / "home"), cwd=tmp_path, timeout=120)
    err = done.stderr
    assert done.returncode == 5, err
    assert len(err.splitlines()) <= 8, err
    assert "no configuration file" in err and "SSPR_REVIEW_CONFIG" in err  # what was looked for, and where
    assert "DefaultAzureCredential" in err  # what failed
    assert "sspr-review init" in err and "--source demo" in err  # the fix
    assert all(err.count(name) <= 1 for name in CHAIN), err
    assert "Environment variables are not fully configured" not in err  # the reasons: --verbose
    verbose = cli("fetch", "--verbose", env=user_env(tmp_path / "home"), cwd=tmp_path, timeout=120)
    assert verbose.returncode == 5
    for reason in ("Environment variables are not fully configured", "ManagedIdentityCredential authentication"):
        assert verbose.stderr.count(reason) == 1, verbose.stderr  # the chain once, in full


@pytest.mark.slow
def test_doctor_with_no_configuration_names_init_and_the_demo(tmp_path: Path) -> None:
    done = cli("doctor", env=user_env(tmp_path / "home"), cwd=tmp_path, timeout=180)
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "[FAIL] token" in done.stdout and "no configuration file" in done.stdout
    assert "sspr-review init" in done.stdout and "--source demo" in done.stdout
    assert "check [auth] tenant_id, client_id" not in out  # beside the point without a configuration
    assert all(out.count(name) <= 1 for name in CHAIN), out
    assert len(out.splitlines()) <= 14, out


@pytest.mark.slow
def test_doctor_on_a_missing_file_names_init_with_that_path(tmp_path: Path) -> None:
    done = cli("doctor", "--config", "missing.toml", env=user_env(tmp_path / "home"), cwd=tmp_path, timeout=180)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[FAIL] configuration: missing.toml does not exist" in done.stdout
    assert "sspr-review init missing.toml" in done.stdout
    assert "correct the key named above" not in done.stdout  # there is no key: the file is missing


@pytest.mark.slow
def test_init_then_doctor_on_the_written_file(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home")
    client = "11111111-2222-3333-4444-555555555555"
    tenant = "0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"
    made = cli(
        "init",
        "my.toml",
        "--tenant-id",
        tenant,
        "--client-id",
        client,
        "--auth",
        "client_secret",
        env=env,
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert "AZURE_CLIENT_SECRET" in made.stdout and "sspr-review doctor --config my.toml" in made.stdout
    offline = cli("doctor", "--config", "my.toml", "--no-graph", env=env, cwd=tmp_path, timeout=180)
    assert offline.returncode == 0, offline.stdout
    assert f"[ok  ] configuration: {tmp_path / 'my.toml'}" in offline.stdout
    signed = cli("doctor", "--config", "my.toml", env=env, cwd=tmp_path, timeout=180)
    assert signed.returncode == 1
    assert "[FAIL] credential" in signed.stdout and "AZURE_CLIENT_SECRET, which is not set" in signed.stdout
    assert "sspr-review init" not in signed.stdout  # a configuration exists: the fix is in it


# ------------------------------------------------------------------------------------------- after `make demo`
def test_status_after_the_demo_points_to_it(demo_store: Path, tmp_path: Path) -> None:
    """`sspr-review status` looks at the graph store by default: empty, and the demo's is beside it."""
    done = cli("status", "--store", str(demo_store), env=user_env(tmp_path / "home"), cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "nothing yet" in done.stdout
    assert f"the demo tenant's store {demo_store / 'demo'} holds data: add --source demo" in done.stdout
    demo = cli("status", "--store", str(demo_store), "--source", "demo", env=user_env(tmp_path / "home"), cwd=tmp_path)
    assert demo.returncode == 0 and "--source demo" not in demo.stdout and "nothing yet" not in demo.stdout


@pytest.mark.slow
def test_reviewing_an_empty_store_is_no_data_not_five_data_gaps(demo_store: Path, tmp_path: Path) -> None:
    done = cli("review", "--store", str(demo_store), env=user_env(tmp_path / "home"), cwd=tmp_path, timeout=120)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "no data: the store" in done.stderr and "holds nothing yet" in done.stderr
    assert "sspr-review fetch" in done.stderr and "add --source demo" in done.stderr
    assert "critical" not in done.stdout.lower()  # no review of nothing


@pytest.mark.slow
@pytest.mark.parametrize(
    ("week", "words"),
    [
        ("2025-01-06", ["lies outside what the store holds", "audit records from", "the nearest weeks it holds end"]),
        ("2025-01-08", ["is a Wednesday", "a review week ends on a Monday"]),
        ("a Monday two weeks ahead", ["has not ended yet", "the latest week that has ended ends"]),
    ],
)
def test_a_questionable_week_is_refused_naming_the_weeks_that_would_do(
    demo_store: Path, tmp_path: Path, week: str, words: list[str]
) -> None:
    if not week[0].isdigit():
        week = f"{date.today() + timedelta(days=14 - date.today().weekday()):%Y-%m-%d}"
    args = ("review", "--source", "demo", "--store", str(demo_store), "--week-ending", week)
    done = cli(*args, env=user_env(tmp_path / "home"), cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert all(w in done.stderr for w in words), done.stderr
    assert "Findings" not in done.stdout


# --------------------------------------------------------------------------------------------------- the e-mail
#: Python with kaleido (the [mail] extra) not importable, as in an installation without the extra.
WITHOUT_KALEIDO = "import sys; sys.modules['kaleido'] = None; from sspr_review.cli import main; main()"


@pytest.mark.notebook
def test_the_readmes_email_dry_run_works_as_written(
    scheduled_run: tuple[subprocess.CompletedProcess[bytes], Path],
) -> None:
    """`sspr-review email reports/… --dry-run` with nothing configured: placeholders, said so (it failed on `to`,
    then on `sender`)."""
    from tests.unit.test_examples import commands

    done, root = scheduled_run
    assert done.returncode == 0
    (folder,) = (root / "reports").iterdir()
    readme = (REPO / "README.md").read_text()
    (written,) = [
        c
        for c in commands(readme)
        if c[0] == "email" and "--dry-run" in c and "--config" not in c and c[1].startswith("reports/")
    ]  # the quick start's command (a reference line elsewhere names FOLDER)
    args = [re.sub(r"^reports/\d{4}-\d\d-\d\d$", f"reports/{folder.name}", a) for a in written]
    sent = cli(*args, env=user_env(root / "home"), cwd=root, timeout=300)
    assert sent.returncode == 0, sent.stderr
    assert (folder / "weekly-review.eml").stat().st_size > 0
    assert "the dry run uses the placeholder sspr-review-recipients@example.invalid" in sent.stderr
    assert "SSPR_REVIEW_MAIL_TO" in sent.stderr and "SSPR_REVIEW_MAIL_SENDER" in sent.stderr


@pytest.mark.notebook
def test_without_the_mail_extra_the_email_says_how_to_install_it_once(
    scheduled_run: tuple[subprocess.CompletedProcess[bytes], Path],
) -> None:
    _, root = scheduled_run
    (folder,) = (root / "reports").iterdir()
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_KALEIDO, "email", str(folder), "--dry-run"],
        capture_output=True,
        text=True,
        env=user_env(root / "home"),
        cwd=root,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("pip install 'sspr-review[mail]'") == 1, done.stderr
    assert "ModuleNotFoundError" not in done.stderr and "chart rendering failed" not in done.stderr


@pytest.mark.slow
def test_doctor_checks_the_mail_extra_when_email_charts_are_configured(tmp_path: Path) -> None:
    env = user_env(tmp_path / "home", SSPR_REVIEW_MAIL_TO="secops@x.example", SSPR_REVIEW_MAIL_SENDER="s@x.example")
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_KALEIDO, "doctor", "--no-graph"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=180,
    )
    assert done.returncode == 1, done.stdout
    assert "[FAIL] kaleido ([mail] extra, e-mail charts): not installed" in done.stdout
    assert "fix: pip install 'sspr-review[mail]'" in done.stdout
    healthy = cli("doctor", "--no-graph", env=env, cwd=tmp_path, timeout=180)
    assert "[ok  ] kaleido ([mail] extra, e-mail charts): installed" in healthy.stdout


# ------------------------------------------------------------------------------------------- user_investigation
@pytest.mark.notebook
def test_user_investigation_runs_on_the_demo_with_its_default_user(demo_store: Path, small_config: Path) -> None:
    """ "Run All" on the demo with no parameter set: the user of one of its planted cases, said so."""
    import nbformat

    from sspr_review.report import notebooks

    work = demo_store.parent / "investigation"
    work.mkdir(exist_ok=True)
    params = {"config_path": str(small_config), "source": "demo", "store": str(demo_store)}
    executed = notebooks.execute(
        notebooks.notebooks_dir() / "user_investigation.ipynb", work / "out.ipynb", params, cwd=work
    )
    book = nbformat.read(executed, as_version=4)
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    shown = re.search(
        r"No user named \(parameter user is empty\): on the demo tenant this opens on ([\w.]+@northgate-eng\.example)",
        html,
    )
    assert shown, html[:2000]
    assert f"<h2>{shown.group(1)}</h2>" in html and "Set user to a UPN" in html
