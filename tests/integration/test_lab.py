"""The analyst's JupyterLab: store path resolution, the demo store built atomically while another process waits,
parameters checked up front, user lookup, working copies, and the look every section carries."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from sspr_review import lab
from sspr_review.app.notebook import Context, check_parameters, find_user
from sspr_review.app.workspace import Workspace, open_workspace
from sspr_review.core import config
from sspr_review.core.errors import ParameterError
from sspr_review.report import notebooks, style
from sspr_review.report import sections as report

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------------------------ store paths
def test_a_relative_store_path_is_taken_from_the_config_file_whatever_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "config.toml").write_text('[store]\npath = "history"\n')
    elsewhere = tmp_path / "notebooks"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # a kernel started in another folder
    ws = open_workspace(Path("..") / "conf" / "config.toml", source="demo")
    assert ws.store.root == folder / "history"


def test_the_default_store_is_in_the_project_root_not_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(config.HOME_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # e.g. notebooks/ or a lab working folder
    assert config.default_home() == ROOT  # a git checkout: where make demo puts it
    assert config.load(None).store_path() == ROOT / "store"
    monkeypatch.setenv(config.HOME_ENV, str(tmp_path / "home"))
    assert open_workspace(source="demo").store.root == tmp_path / "home" / "store"


def test_a_pip_install_keeps_the_default_store_in_the_user_data_folder(tmp_path: Path) -> None:
    # default_home looks at where the package is: import a copy of it from outside any checkout.
    site = tmp_path / "site"
    shutil.copytree(ROOT / "sspr_review", site / "sspr_review", ignore=shutil.ignore_patterns("__pycache__"))
    code = "import sys; from sspr_review.core import config; print(config.default_home({'XDG_DATA_HOME': sys.argv[1]}))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "data")],
        capture_output=True,
        text=True,
        cwd=site,
        env={**os.environ, "PYTHONPATH": str(site)},
        check=True,
    )
    assert Path(done.stdout.strip()) == tmp_path / "data" / "sspr-review"


def test_a_store_given_on_the_command_line_is_taken_from_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_workspace(source="demo", store="store").store.root == tmp_path / "store"


# ------------------------------------------------------------------------------ the demo store, concurrently
BUILDER = """
import sys, time
from pathlib import Path
from sspr_review.core import config
from sspr_review.app import fetching
from sspr_review.app.workspace import Workspace
ws = Workspace(config.load(sys.argv[1], store__path=sys.argv[2]), "demo")
go, fetch, weeks = Path(sys.argv[3]), fetching.fetch, []
def paused_fetch(*args, **kwargs):  # the test's hand-shake: pause after the first week until the reader is waiting
    result = fetch(*args, **kwargs)
    weeks.append(result)
    if len(weeks) == 1:
        print("first week stored", flush=True)
        while not go.exists():
            time.sleep(0.02)
    return result
fetching.fetch = paused_fetch
ws.build_demo_history(progress=False)
print("built", len(weeks), flush=True)
"""
READER = """
import sys
from sspr_review.core import config
from sspr_review.app.workspace import Workspace
ws = Workspace(config.load(sys.argv[1], store__path=sys.argv[2]), "demo")
built = ws.ensure_store()
review = ws.review()
missing = sorted(n for n, c in review.coverage.items() if not c.complete)
gaps = sorted(f.kind for f in review.findings if f.kind == "data_gap")
print("RESULT", built, ",".join(missing) or "-", ",".join(gaps) or "-", flush=True)
"""


@pytest.mark.slow
def test_a_reader_waits_for_the_demo_store_another_process_is_building(small_config: Path, tmp_path: Path) -> None:
    store, go = tmp_path / "store", tmp_path / "go"
    builder = subprocess.Popen(
        [sys.executable, "-c", BUILDER, str(small_config), str(store), str(go)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader = None
    try:
        assert builder.stdout is not None
        assert builder.stdout.readline() == "first week stored\n", builder.communicate()
        # Half-built: part of the history is on disk, but nothing at the store's own path.
        assert any(store.glob(".building-demo-*/demo/audit/*.parquet"))
        assert not (store / "demo").exists()
        reader = subprocess.Popen(
            [sys.executable, "-c", READER, str(small_config), str(store)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert reader.stdout is not None
        waiting = reader.stdout.readline()
        assert re.match(r"Waiting for pid \d+, which is building the demo store in .*/store/demo", waiting), (
            waiting + reader.communicate()[1]
        )
    finally:
        go.touch()
        built, err = builder.communicate(timeout=600)
        out, reader_err = reader.communicate(timeout=600) if reader else ("", "")
    assert builder.returncode == 0, err
    assert reader is not None and reader.returncode == 0, reader_err
    assert built.startswith("built ")
    # The reader did not build, and saw every source complete: no data gaps, no "fix the audit source".
    assert out.strip().splitlines()[-1] == "RESULT False - -"
    assert not list(store.glob(".building-*")) and not list(store.glob(".old-*"))
    assert (store / "demo").stat().st_mode & 0o077 == 0


@pytest.mark.slow
def test_rebuilding_the_demo_store_replaces_it_whole(small_config: Path, tmp_path: Path) -> None:
    ws = Workspace(config.load(small_config, store__path=str(tmp_path / "store")), "demo")
    assert ws.ensure_store() is True
    first = json.loads((ws.store.path / "coverage.json").read_text())["sources"]["audit"]["intervals"]
    assert ws.ensure_store() is False  # there: nothing rebuilt
    ws.build_demo_history(progress=False)
    assert json.loads((ws.store.path / "coverage.json").read_text())["sources"]["audit"]["intervals"] == first
    assert sorted(p.name for p in ws.store.root.iterdir() if not p.name.startswith(".demo-build")) == ["demo"]


# ------------------------------------------------------------------------------------------ parameters
@pytest.mark.parametrize(
    ("week_ending", "weeks", "message"),
    [
        ("not-a-date", None, "parameter week_ending 'not-a-date' is not a date: use ISO format"),
        ("2026-13-45", None, "parameter week_ending '2026-13-45'"),
        ("", 0, "parameter weeks = 0"),
    ],
)
def test_bad_parameters_are_named(week_ending: str, weeks: int | None, message: str) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        check_parameters(week_ending=week_ending, weeks=weeks)


def test_an_unknown_source_is_named_before_anything_is_opened() -> None:
    with pytest.raises(ParameterError, match="parameter source = 'graf': choose one of graph, demo, files"):
        report.open_review(source="graf")


def _code_outputs(path: Path) -> list[list[dict[str, object]]]:
    book = nbformat.read(path, as_version=4)
    cells = [c for c in book.cells if c.cell_type == "code"]
    return [list(c.outputs) for c in cells if "parameters" not in c.metadata.get("tags", [])]


@pytest.mark.notebook
@pytest.mark.parametrize(
    ("stem", "params", "message"),
    [
        # empty is the demo's default (its planted case); for the other sources it is a missing parameter
        (
            "user_investigation",
            {"user": "", "source": "files"},
            "ParameterError: parameter user is empty: set it to a UPN",
        ),
        (
            "weekly_review",
            {"week_ending": "not-a-date"},
            "ParameterError: parameter week_ending 'not-a-date' is not a date",
        ),
    ],
)
def test_a_bad_parameter_stops_the_notebook_with_one_message_first(
    stem: str, params: dict[str, str], message: str, demo_store: Path, small_config: Path, tmp_path: Path
) -> None:
    out = tmp_path / f"{stem}.ipynb"
    with pytest.raises(notebooks.NotebookFailed, match="ParameterError"):
        notebooks.execute(
            notebooks.notebooks_dir() / f"{stem}.ipynb",
            out,
            {"config_path": str(small_config), "store": str(demo_store), **params},
            cwd=tmp_path,
        )
    outputs = [o for o in _code_outputs(out) if o]  # cells that printed something
    first = outputs[0]
    assert len(first) == 1 and first[0]["output_type"] == "error"
    assert first[0]["traceback"] == [first[0]["traceback"][0]]  # one line, no traceback
    assert str(first[0]["traceback"][0]).startswith(message)
    assert len(outputs) == 1  # no later section printed an (empty) result
    text = json.dumps(outputs)
    assert "No SSPR or password events" not in text and "No risk detections" not in text


@pytest.fixture(scope="module")
def ctx(demo_store: Path, small_config: Path) -> Context:
    return report.open_review(str(small_config), "demo", "", str(demo_store), compare=False)


def test_user_by_upn_or_display_name_fragment(ctx: Context) -> None:
    assert find_user(ctx, "ROBERT.TABLES@northgate-eng.example") == "robert.tables@northgate-eng.example"
    reg = ctx.registration
    name = str(reg.loc[reg["user_upn"] != "robert.tables@northgate-eng.example", "user_name"].iloc[0])
    assert find_user(ctx, name).lower() in set(reg["user_upn"].str.lower())
    with pytest.raises(ParameterError, match=r"parameter user = 'rob' matches \d+ users: .*<.*@.*>.*one of"):
        find_user(ctx, "rob")
    with pytest.raises(ParameterError, match="no user's UPN or display name contains it"):
        find_user(ctx, "nobody-like-this")


def test_context_has_a_short_repr_and_the_week_s_frames(ctx: Context) -> None:
    text = repr(ctx)
    assert len(text) < 400 and "Northgate Engineering" in text and "report.explore(ctx)" in text
    w = ctx.review.window
    assert ctx.audit["activity_time"].between(w.start, w.end, inclusive="left").all() and len(ctx.audit)
    assert len(ctx.flows) and ctx.registration["user_upn"].is_unique
    html = report.explore(ctx).data
    for expression in ("ctx.flows", "ctx.audit", "ctx.risk", "ctx.registration", 'ctx.ws.read("audit", start, end)'):
        assert unescape(html).count(expression) == 1, expression


def test_every_notebook_ends_with_a_dig_further_section() -> None:
    for path in sorted(notebooks.notebooks_dir().glob("*.ipynb")):
        book = nbformat.read(path, as_version=4)
        sources = [c.source for c in book.cells]
        start = next(i for i, s in enumerate(sources) if s.startswith("## Dig further"))
        assert "report.explore(ctx)" in sources[start + 1], path.name
        assert all("report-hide" in c.metadata.get("tags", []) for c in book.cells[start:]), path.name


# ------------------------------------------------------------------------------------------- the look
def test_every_rule_of_the_stylesheet_is_scoped_to_the_kit() -> None:
    rules = [r.strip() for r in style.CSS.replace("}", "}\n").splitlines() if r.strip()]
    selectors = [s.strip() for r in rules for s in r.split("{")[0].split(",")]
    assert selectors and all(s.startswith(".sspr-out") for s in selectors), selectors
    assert "!important" not in style.CSS


def test_each_section_carries_the_style(ctx: Context) -> None:
    for section in (report.coverage_banner, report.needs_attention, report.kpi_tiles, report.trend_table):
        html = section(ctx).data
        assert html.startswith("<div class='sspr-out'><style>") and style.CSS in html, section.__name__


def test_numbers_and_times_are_formatted_once(ctx: Context) -> None:
    table = report.trend_table(ctx).data
    assert not re.search(r"<td[^>]*>\d+\.0</td>", table)  # 1,625 not 1625.0
    counts = pd.to_numeric(ctx.review.weekly["sspr_resets"], errors="coerce").dropna()
    assert f"{int(counts.iloc[-1]):,}" in table
    frame = pd.DataFrame(
        {
            "when": pd.to_datetime(["2026-11-23T08:30:00Z"]),
            "day": pd.to_datetime(["2026-11-23T00:00:00Z"]),
            "n": [1625.0],
            "share": [0.5],
            "who": ["a@b"],
        }
    )
    shown = report.display_frame(frame, "Europe/Berlin")
    assert shown.iloc[0].tolist() == ["Mon 23 Nov 2026 09:30", "Mon 23 Nov 2026 01:00", "1,625", "0.50", "a@b"]
    html = report.table(frame, "", "Europe/Berlin")
    assert "<td class='sspr-num'>1,625</td>" in html and "<td>a@b</td>" in html
    assert not re.search(r"\b1\d{18}\b", html)  # no nanosecond integers


def test_an_older_copy_s_write_findings_cell_writes_nothing_and_says_to_drop_it(ctx: Context, tmp_path: Path) -> None:
    """Copies of weekly_review from before findings.json was built by one code path end with
    ``report.write_findings(ctx, findings_json)``: the cell must not fail the copy, nor write data."""
    target = tmp_path / "findings.json"
    shown = report.write_findings(ctx, str(target)).data
    assert not target.exists()
    assert "no longer needed" in shown and "sspr-review notebooks --force" in shown


def test_sections_markup_lives_in_autoescaped_templates(ctx: Context) -> None:
    """One place escapes tenant text: the Jinja2 templates, autoescape on (tables included); no section module
    writes HTML in Python strings."""
    import ast

    from sspr_review.report.sections import render

    assert render.ENV.autoescape is True
    hostile = "<img src=x onerror=alert(1)>"
    cell = render.table(pd.DataFrame({"who": [hostile], "n": [2]}), "")
    assert "&lt;img src=x onerror=alert(1)&gt;" in cell and "<img" not in cell
    header = render.markup("header.html.j2", tenant=hostile, week_ending="", timezone="UTC", start="", end="")
    assert "<h1>SSPR weekly review — &lt;img src=x" in header
    assert str(render.markup("note.html.j2", text="a < b")) == "<p><i>a &lt; b</i></p>"
    package = Path(render.__file__).parent
    for module in sorted(package.glob("*.py")):
        if module.name == "context.py":  # plotly's MathJax tag, matched by a regular expression
            continue
        tree = ast.parse(module.read_text())
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef) and n.body and isinstance(n.body[0], ast.Expr)
        }
        markup = [
            n.value
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant)
            and isinstance(n.value, str)
            and id(n) not in docstrings
            and re.search(r"<[a-z/]", n.value)
        ]
        assert not markup, (module.name, markup)


# --------------------------------------------------------------------------------------- working copies
def test_working_copies_are_private_and_edits_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    for path in notebooks.notebooks_dir().glob("*.ipynb"):
        (shipped / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(lab, "notebook_sources", lambda: {p.name: p for p in sorted(shipped.glob("*.ipynb"))})
    folder = tmp_path / "work"
    done = lab.sync_working_copies(folder)
    assert {a for _, a in done} == {"copied"} and len(done) == 3
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p, _ in done)
    edited = folder / "weekly_review.ipynb"
    edited.write_text(edited.read_text().replace("SSPR weekly review", "My weekly review"))
    (folder / "adoption_trends.ipynb").unlink()
    (shipped / "user_investigation.ipynb").write_text(
        (shipped / "user_investigation.ipynb").read_text().replace("SSPR user", "SSPR one user")
    )
    again = dict((p.name, a) for p, a in lab.sync_working_copies(folder))
    assert again == {
        "weekly_review.ipynb": "kept (edited)",
        "adoption_trends.ipynb": "copied",
        "user_investigation.ipynb": "updated",
    }
    assert "My weekly review" in edited.read_text()
    assert "SSPR one user" in (folder / "user_investigation.ipynb").read_text()


def test_lab_passes_jupyterlab_options_through_and_makes_the_server_owner_only(tmp_path: Path) -> None:
    command = lab.lab_command(tmp_path, ["--no-browser", "--port", "8899", "--IdentityProvider.token=abc"])
    assert command[-4:] == ["--no-browser", "--port", "8899", "--IdentityProvider.token=abc"]
    assert f"--ServerApp.root_dir={tmp_path}" in command
    config_file = Path(next(c for c in command if c.startswith("--config=")).removeprefix("--config="))
    assert "os.umask(0o077)" in config_file.read_text() and config_file.stat().st_mode & 0o077 == 0
    assert "/lab/" in (ROOT / ".gitignore").read_text().splitlines()
    assert lab.working_folder({config.HOME_ENV: str(tmp_path)}) == tmp_path / "lab"
