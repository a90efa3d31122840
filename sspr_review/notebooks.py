"""Executing the report notebooks with papermill and exporting them to standalone HTML with nbconvert.

The HTML has no code cells, and every chart is drawn offline: plotly.js is embedded once per report by
plotly's ``notebook`` renderer, and the report template (``templates/sspr_report``) drops the CDN scripts
the JupyterLab template would load (require.js, MathJax, mermaid, the widget manager).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import SsprReviewError

TEMPLATES = Path(__file__).parent / "templates"
#: Notebook file stem → report file name stem.
REPORTS = {
    "weekly_review": "weekly-review",
    "adoption_trends": "adoption-trends",
    "user_investigation": "user-investigation",
}
KERNEL = "python3"


class NotebookFailed(SsprReviewError):
    """A notebook raised while executing; the executed copy shows the failing cell."""

    def __init__(self, message: str, *, notebook: Path) -> None:
        super().__init__(message)
        self.notebook = notebook


def notebooks_dir() -> Path:
    """The project's ``notebooks/`` folder (next to the package in a clone of the repository)."""
    return Path(__file__).resolve().parent.parent / "notebooks"


def private_file(path: Path) -> None:
    """Make ``path`` readable by its owner only: reports hold user names and IP addresses."""
    os.chmod(path, 0o600)


def execute(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str = KERNEL,
    cwd: Path | None = None,
) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (owner-only). Raises :class:`NotebookFailed`.

    Parameters are written into the executed notebook: never pass secrets.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    output.touch(mode=0o600)
    # The kernelspec runs "python": make that this interpreter (a scheduler's PATH may not have the venv).
    path = os.environ.get("PATH", "")
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), path])
    try:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters=dict(parameters),
            kernel_name=kernel_name,
            progress_bar=False,
            cwd=str(cwd or notebook.parent),
            log_output=False,
        )
    except PapermillExecutionError as exc:
        private_file(output)
        raise NotebookFailed(
            f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
            f"(the executed notebook {output} shows the failing cell)",
            notebook=output,
        ) from None
    finally:
        os.environ["PATH"] = path
    private_file(output)
    return output


def export_html(executed: Path, html: Path) -> Path:
    """Export an executed notebook to standalone HTML without code (owner-only)."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    exporter = HTMLExporter(
        template_name="sspr_report",
        extra_template_basedirs=[str(TEMPLATES)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    # Cells tagged "report-hide" (the notebook's own instructions) are for JupyterLab, not the report.
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"report-hide"}), enabled=True)
    body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    html.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(html, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
    private_file(html)
    return html
