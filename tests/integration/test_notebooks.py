"""The notebooks, executed by papermill against the demo tenant, then checked by nbval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from sspr_review.core.errors import NotebookFailed
from sspr_review.report import notebooks

# executes the report notebooks with papermill and nbval
pytestmark = pytest.mark.notebook
NOTEBOOKS = sorted(notebooks.notebooks_dir().glob("*.ipynb"))


def test_notebooks_are_committed_without_outputs_and_have_parameters() -> None:
    assert {p.stem for p in NOTEBOOKS} == set(notebooks.REPORTS)
    for path in NOTEBOOKS:
        book = nbformat.read(path, as_version=4)
        code = [c for c in book.cells if c.cell_type == "code"]
        # The safety net for the tracked notebooks: no outputs, execution counts or run metadata are committed
        # (work in JupyterLab on the private copies of sspr-review lab).
        assert all(not c.outputs and c.execution_count is None for c in code), path.name
        assert "papermill" not in book.metadata and "widgets" not in book.metadata, path.name
        assert not any("papermill" in c.metadata or "execution" in c.metadata for c in book.cells), path.name
        params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, path.name
        # no secrets as parameters, and the notebooks stay thin: no functions or classes in cells
        assert not any(w in params[0].source.lower() for w in ("secret", "password", "token")), path.name
        assert not any(line.startswith(("def ", "class ")) for c in code for line in c.source.splitlines())


def run_nbval(executed: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-q",
            "-o",
            "addopts=",
            "-W",
            "ignore",
            str(executed),
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ},
        timeout=300,
    )


@pytest.mark.parametrize("stem", sorted(notebooks.REPORTS))
def test_notebook_executes_with_papermill_and_passes_nbval(
    stem: str, demo_store: Path, small_config: Path, tmp_path: Path
) -> None:
    params = {"config_path": str(small_config), "source": "demo", "store": str(demo_store)}
    if stem == "user_investigation":
        params["user"] = "robert.tables@northgate-eng.example"
    executed = notebooks.execute(
        notebooks.notebooks_dir() / f"{stem}.ipynb", tmp_path / f"{stem}.ipynb", params, cwd=tmp_path
    )
    book = nbformat.read(executed, as_version=4)
    outputs = [o for c in book.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    if stem == "weekly_review":
        assert "Needs attention" in "".join(c.source for c in book.cells)
        assert "spike" in html and "Northgate Engineering" in html
        # the SSPR configuration: the planted changes first, a weakening one badged, then the posture
        assert "Changes this week" in html and "Methods required to reset" in html and ">weakens<" in html
        assert "Against the recommended configuration" in html and "Temporary Access Pass method" in html
        # the notebook only displays: findings.json and charts.json come from sspr_review.report.outputs
        assert not list(tmp_path.glob("*.json")) and "write_findings" not in "".join(c.source for c in book.cells)
        # the hostile display name is escaped in the tables, never markup
        assert "Robert &lt;img src=x onerror=alert(1)&gt;" in html and "<img src=x" not in html
    if stem == "user_investigation":
        assert "robert.tables@northgate-eng.example" in html and "Reset" in html
        # the user's rows of the correlation tables: reset by the helpdesk this week, no detections around it
        assert "Password resets and the detections around them" in html and "administrator reset" in html
        assert "No change of the SSPR configuration by robert.tables@northgate-eng.example" in html
    figures = [o for o in outputs if "application/vnd.plotly.v1+json" in o.get("data", {})]
    assert figures if stem != "user_investigation" else True
    result = run_nbval(executed, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout


def test_default_parameters_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ "Run All" with no configuration, from any folder: the demo store is built on first use in the default
    home (the project root of a checkout; here $SSPR_REVIEW_HOME), never in the kernel's working folder."""
    from sspr_review.core.config import HOME_ENV

    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    executed = notebooks.execute(
        notebooks.notebooks_dir() / "user_investigation.ipynb",
        work / "out.ipynb",
        {"user": "robert.tables"},  # a UPN fragment is enough
        cwd=work,
    )
    book = nbformat.read(executed, as_version=4)
    text = json.dumps([o for c in book.cells if c.cell_type == "code" for o in c.outputs])
    assert "robert.tables@northgate-eng.example" in text and '"output_type": "error"' not in text
    assert (tmp_path / "home" / "store" / "demo" / "coverage.json").exists()
    assert not (work / "store").exists()


def test_a_failing_notebook_names_the_cell(tmp_path: Path, demo_store: Path) -> None:
    with pytest.raises(
        NotebookFailed, match=r"weekly_review.ipynb failed in cell \d+: ParameterError: parameter week_ending"
    ):
        notebooks.execute(
            notebooks.notebooks_dir() / "weekly_review.ipynb",
            tmp_path / "out.ipynb",
            {"store": str(demo_store), "week_ending": "not-a-date"},
            cwd=tmp_path,
        )
    assert (tmp_path / "out.ipynb").stat().st_mode & 0o077 == 0


def test_a_runs_processes_skip_the_slow_optional_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """jsonschema's optional rfc3987-syntax (a second of import) and papermill's Azure Blob Storage paths are
    skipped by a run's process and its kernels; notebooks still validate, execute and export without them."""
    book = nbformat.v4.new_notebook()
    book.cells = [
        nbformat.v4.new_code_cell("import sys, nbformat\nprint(repr(sys.modules.get('rfc3987_syntax', 'absent')))"),
        # the kernel inherits the kit's choice of Arrow's pool (sspr_review/__init__.py)
        nbformat.v4.new_code_cell("import pandas, pyarrow\nprint(pyarrow.default_memory_pool().backend_name)"),
    ]
    # a profile's own start-up lines still run in the kernels of a run
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text('c.IPKernelApp.exec_lines = ["PROFILE_LINE = 42"]\n')
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    book.cells.append(nbformat.v4.new_code_cell("print(PROFILE_LINE)"))
    source = tmp_path / "probe.ipynb"
    nbformat.write(book, source)
    executed = notebooks.execute(source, tmp_path / "out.ipynb", {}, cwd=tmp_path)
    cells = nbformat.read(executed, as_version=4).cells
    assert [o.get("text") for o in cells[0].outputs] == ["None\n"]
    if sys.platform.startswith("linux"):
        assert [o.get("text") for o in cells[1].outputs] == ["jemalloc\n"]
    assert [o.get("text") for o in cells[2].outputs] == ["42\n"]
    probe = (
        "import pathlib, sys\n"
        "from sspr_review.report import notebooks\n"
        "notebooks.load_toolchain()\n"
        "import nbformat\n"
        f"nbformat.validate(nbformat.read({str(executed)!r}, as_version=4))\n"
        "import papermill\n"
        f"notebooks.export_html(pathlib.Path({str(executed)!r}), pathlib.Path({str(tmp_path / 'out.html')!r}))\n"
        "print(repr(sys.modules['rfc3987_syntax']), 'jsonschema' in sys.modules, 'azure.storage.blob' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.split() == ["None", "True", "False"]
    assert "None" in (tmp_path / "out.html").read_text(encoding="utf-8")
