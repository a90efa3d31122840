"""Executing the report notebooks with papermill and exporting them to standalone HTML with nbconvert.

The notebooks are kept once, in the repository's ``notebooks/`` folder; the wheel carries them inside the
package as ``sspr_review/notebook_files/`` (``pyproject.toml`` maps the folder), beside the nbconvert report
template ``sspr_review/report/templates/sspr_report``. Both are found with :mod:`importlib.resources`; in a git
checkout (an editable install) the notebooks are read from ``notebooks/`` itself.

The HTML has no code cells, and every chart is drawn offline: plotly.js is embedded once per report by
plotly's ``notebook`` renderer, and the report template drops the CDN scripts the JupyterLab template would
load (require.js, MathJax, mermaid, the widget manager). The executed notebooks keep their outputs but not
plotly.js (:func:`slim`): JupyterLab draws the figures from their plotly JSON.

Kernels talk to papermill over IPC sockets in a private temporary folder, not TCP on localhost.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Collection, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final

from ..core.errors import NotebookFailed, ToolchainMissing
from ..core.files import write_private_text
from .copies import Action, sync_copies

#: Where the notebooks sit inside the installed package (the wheel maps the top-level notebooks/ here).
PACKAGED_NOTEBOOKS = "notebook_files"
TEMPLATE = "sspr_report"
REINSTALL = "reinstall the kit (pip install --force-reinstall sspr-review, or make install in a git checkout)"
#: Notebook file stem → report file name stem.
REPORTS = {
    "weekly_review": "weekly-review",
    "adoption_trends": "adoption-trends",
    "user_investigation": "user-investigation",
}
KERNEL = "python3"


def _package_root() -> Path:
    root = importlib.resources.files("sspr_review")
    return Path(str(root))


def notebooks_dir() -> Path:
    """The folder holding the packaged notebooks: ``sspr_review/notebook_files`` of an installed wheel, or
    ``notebooks/`` of a git checkout. Raises :class:`ToolchainMissing` when neither is there."""
    packaged = _package_root() / PACKAGED_NOTEBOOKS
    if packaged.is_dir():
        return packaged
    checkout = _package_root().parent / "notebooks"
    if checkout.is_dir() and (checkout.parent / "pyproject.toml").is_file():
        return checkout
    raise ToolchainMissing(f"the report notebooks are missing: {packaged} does not exist; {REINSTALL}")


def packaged_notebooks() -> dict[str, Path]:
    """Notebook stem → path of each notebook the kit ships (weekly_review, adoption_trends, user_investigation).

    Raises :class:`ToolchainMissing` naming the first one that is missing."""
    folder = notebooks_dir()
    found = {stem: folder / f"{stem}.ipynb" for stem in REPORTS}
    for path in found.values():
        if not path.is_file():
            raise ToolchainMissing(f"the report notebook {path} is missing; {REINSTALL}")
    return found


def notebook_files() -> dict[str, Path]:
    """File name → path of each packaged notebook (:func:`packaged_notebooks`), as copies of them are named."""
    return {path.name: path for path in packaged_notebooks().values()}


def notebook(stem: str) -> Path:
    """The packaged notebook ``stem`` (e.g. ``weekly_review``)."""
    return packaged_notebooks()[stem]


def template_dir() -> Path:
    """The folder holding the nbconvert report template ``sspr_report``. Raises :class:`ToolchainMissing`."""
    folder = Path(__file__).parent / "templates"
    if not (folder / TEMPLATE / "index.html.j2").is_file():
        raise ToolchainMissing(f"the report template {folder / TEMPLATE}/index.html.j2 is missing; {REINSTALL}")
    return folder


def _kernel_path() -> str:
    """PATH for the kernel: the kernelspec runs "python", which must be this interpreter (a scheduler's PATH
    may not have the virtual environment)."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def kernel_python(kernel_name: str = KERNEL) -> str:
    """The interpreter the kernel ``kernel_name`` runs, checked to have ipykernel. Raises :class:`ToolchainMissing`."""
    from jupyter_client.kernelspec import (  # lazy: jupyter_client loads zmq; --help imports this module
        KernelSpecManager,
        NoSuchKernel,
    )

    fix = f"install ipykernel into {sys.prefix} ({REINSTALL})"
    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise ToolchainMissing(f"no Jupyter kernel named {kernel_name!r} is installed; {fix}") from None
    program = spec.argv[0] if spec.argv else ""
    python = shutil.which(program, path=_kernel_path()) if program else None
    if python is None:
        raise ToolchainMissing(f"the {kernel_name!r} kernel runs {program!r}, which is not on PATH; {fix}")
    if Path(python).resolve() == Path(sys.executable).resolve():
        has_ipykernel = importlib.util.find_spec("ipykernel") is not None
    else:
        probe = [python, "-c", "import importlib.util, sys; sys.exit(importlib.util.find_spec('ipykernel') is None)"]
        has_ipykernel = subprocess.run(probe, capture_output=True, timeout=60).returncode == 0
    if not has_ipykernel:
        raise ToolchainMissing(f"the {kernel_name!r} kernel's Python {python} has no ipykernel; {fix}")
    return python


def preflight(stems: tuple[str, ...] = tuple(REPORTS), kernel_name: str = KERNEL) -> None:
    """Check that the notebooks ``stems``, the report template and a Python kernel are there."""
    for stem in stems:
        notebook(stem)
    template_dir()
    kernel_python(kernel_name)


def kernel_env(hide_env: Collection[str] = ()) -> dict[str, str]:
    """The environment a kernel starts with: this process's, without the variables ``hide_env``, with a PATH that
    finds this interpreter first (:func:`_kernel_path`). Built from ``os.environ`` without changing it, so
    notebooks executing at once in threads never see each other's changes."""
    hidden = set(hide_env)
    env = {name: value for name, value in os.environ.copy().items() if name not in hidden}
    env["PATH"] = _kernel_path()
    return env


@contextlib.contextmanager
def _ipc_kernels(env: Mapping[str, str], cwd: Path) -> Iterator[type]:
    """A kernel manager class whose kernels listen on IPC sockets in a private temporary folder, and start with
    the environment ``env`` in the folder ``cwd`` (given to the kernel's process: no change of this process's
    environment or working folder, which threads share).

    Over TCP every kernel start prints "Kernel is running over TCP without encryption" (ipykernel 7), and any
    local user could reach the ports; IPC sockets in a 0700 folder are reachable by the owner only."""
    from jupyter_client.manager import (
        AsyncKernelManager,  # lazy: jupyter_client loads zmq; --help imports this module
    )

    folder = Path(tempfile.mkdtemp(prefix="sspr-kernel-"))  # mkdtemp: owner-only; one per execution
    launch = {"env": dict(env), "cwd": str(cwd)}

    class IPCKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(transport="ipc", ip=str(folder / "kernel"), **kwargs)

        # the async manager's start_kernel is a coroutine where the sync base's returns None; jupyter_client
        # declares it with the same ignore. A restart starts the kernel again with these arguments.
        async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
            kw["extra_arguments"] = [*kw.get("extra_arguments", ()), _KERNEL_SKIPS]
            await super().start_kernel(**kw, **launch)

    try:
        yield IPCKernelManager
    finally:
        shutil.rmtree(folder, ignore_errors=True)


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
    hide_env: Collection[str] = (),
) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (owner-only). Raises :class:`NotebookFailed`.

    Parameters are written into the executed notebook: never pass secrets. The kernel does not see the
    environment variables ``hide_env``. Safe to call from several threads at once: it changes neither the
    environment nor the working folder of this process (the kernel gets its own, :func:`kernel_env`).
    """
    skip_slow_imports()
    import papermill  # lazy: papermill takes over a second to import, and --help must not wait for it
    from jupyter_client.kernelspec import NoSuchKernel  # lazy: with papermill, only a run needs it
    from papermill.exceptions import PapermillExecutionError  # lazy: papermill takes over a second to import

    if not notebook.is_file():
        raise ToolchainMissing(f"the notebook {notebook} is missing; {REINSTALL}")
    output.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    output.touch(mode=0o600)
    try:
        # no cwd for papermill: it would os.chdir the whole process; the kernel manager starts the kernel there
        with _ipc_kernels(kernel_env(hide_env), cwd or Path.cwd()) as manager:
            papermill.execute_notebook(
                str(notebook),
                str(output),
                parameters=dict(parameters),
                kernel_name=kernel_name,
                progress_bar=False,
                log_output=False,
                # saved once, when the last cell ran (or failed): after every cell, nbformat validated and wrote
                # the whole notebook, plotly.js included, twice per cell (4 s of this process at 100,000 users)
                request_save_on_cell_execute=False,
                kernel_manager_class=manager,
                # every output is in: the kernel has nothing left worth a graceful exit (0.7 s of freeing memory)
                shutdown_kernel="immediate",
            )
    except NoSuchKernel:
        raise ToolchainMissing(
            f"no Jupyter kernel named {kernel_name!r} is installed; install ipykernel into {sys.prefix}"
        ) from None
    except PapermillExecutionError as exc:
        private_file(output)
        raise NotebookFailed(
            f"{notebook.name} failed in cell {exc.exec_count}: {exc.ename}: {exc.evalue} "
            f"(the executed notebook {output} shows the failing cell)",
            notebook=output,
        ) from None
    private_file(output)
    return output


#: Optional imports the processes of a run (this one and the kernels it starts; not a notebook's own kernel in
#: JupyterLab) skip: modules libraries import whenever they are installed, for features a run never uses.
SKIPPED_IMPORTS: Final = (
    # jsonschema's "iri" format check. JupyterLab brings it (jupyter-events asks for jsonschema's format-nongpl
    # extra); its import compiles 38 grammars, a second of CPU. nbformat validates notebooks without format checks.
    "rfc3987_syntax",
    # papermill's abs:// paths (Azure Blob Storage), which load azure-storage-blob and azure-identity: a quarter of
    # a second. A run's notebooks are local files.
    "papermill.abs",
)
#: The same in a kernel: IPython runs this code as the kernel starts, before the notebook's first cell
#: (``code_to_run``, the kernel's ``-c``: a profile's ``exec_lines`` still run).
_KERNEL_SKIPS = f"--IPKernelApp.code_to_run=from {__name__} import skip_slow_imports; skip_slow_imports()"


def skip_slow_imports() -> None:
    """Skip :data:`SKIPPED_IMPORTS` in this process, those not imported already (then they cost nothing more): an
    import of one fails, which the libraries that ask for them take as "not installed"."""
    for name in SKIPPED_IMPORTS:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "import fails", by design


def load_toolchain() -> None:
    """Import papermill, nbconvert and jupyter_client up front: notebooks about to execute in threads then never
    import them at the same time (the first import of a package from two threads is where trouble hides)."""
    skip_slow_imports()
    import jupyter_client.manager  # noqa: F401  # lazy: jupyter_client loads zmq; --help imports this module
    import nbconvert  # noqa: F401  # lazy: nbconvert takes over a second to import; only a run exports
    import nbformat  # noqa: F401  # lazy: nbformat loads jsonschema (about a second); only a run needs it
    import papermill  # noqa: F401  # lazy: papermill takes over a second to import; only a run executes


#: The HTML reports' page titles (what a browser tab and a bookmark show), by notebook.
TITLES = {
    "weekly_review": "SSPR weekly review — {tenant} — week ending {week}",
    "adoption_trends": "SSPR adoption trends — {tenant} — up to the week ending {week}",
    "user_investigation": "SSPR user investigation — {tenant} — week ending {week}",
}


def page_title(stem: str, tenant: str, week_ending: date) -> str:
    """The page title of report ``stem``: "SSPR weekly review — Northgate Engineering — week ending 30 November
    2026" (tenant text is escaped where the template prints it)."""
    week = f"{week_ending.day} {week_ending:%B %Y}"
    return TITLES[stem].format(tenant=tenant or "your tenant", week=week)


def export_html(executed: Path, html: Path, *, title: str | None = None) -> Path:
    """Export an executed notebook to standalone HTML without code (owner-only), with ``title`` as its page title
    (without one, nbconvert's: the notebook's name)."""
    import nbformat  # lazy: nbformat loads jsonschema (about a second); only a run needs it
    from nbconvert import HTMLExporter  # lazy: nbconvert takes over a second to import; only a run exports
    from nbconvert.preprocessors import TagRemovePreprocessor  # lazy: nbconvert takes over a second to import

    exporter = HTMLExporter(
        template_name=TEMPLATE,
        extra_template_basedirs=[str(template_dir())],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    # Cells tagged "report-hide" (the notebook's own instructions) are for JupyterLab, not the report.
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"report-hide"}), enabled=True)
    book = nbformat.read(executed, as_version=4)
    if title:
        book.metadata["title"] = title  # the lab template's <title>, escaped there
    body, _ = exporter.from_notebook_node(book)
    html.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(html, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(body)
    private_file(html)
    return html


#: plotly.js as plotly's notebook renderer embeds it (its licence header carries the version).
_PLOTLY_JS = re.compile(r"\* plotly\.js v\d")
PLOTLY_JSON = "application/vnd.plotly.v1+json"


def slim(executed: Path, *, replace: Mapping[str, str] | None = None) -> Path:
    """Rewrite an executed notebook without plotly.js (owner-only, atomically).

    A figure output keeps its plotly JSON (JupyterLab draws it) and loses its HTML twin; the output that only
    loads plotly.js goes. ``replace`` maps strings in the injected parameters and papermill's metadata (the
    temporary folder ``run`` builds in → the report folder)."""
    import nbformat  # lazy: nbformat loads jsonschema (about a second); only a run needs it

    book = nbformat.read(executed, as_version=4)
    for cell in book.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            data = output.get("data", {})
            if PLOTLY_JSON in data:
                data.pop("text/html", None)
            elif _PLOTLY_JS.search(str(data.get("text/html", ""))):
                continue
            kept.append(output)
        cell.outputs = kept
        if replace and "injected-parameters" in cell.metadata.get("tags", []):
            for old, new in replace.items():
                cell.source = cell.source.replace(old, new)
    papermill_meta = book.metadata.get("papermill", {})
    if replace and papermill_meta:
        for key in ("output_path",):
            if isinstance(papermill_meta.get(key), str):
                for old, new in replace.items():
                    papermill_meta[key] = papermill_meta[key].replace(old, new)
        params = papermill_meta.get("parameters", {})
        for key, value in list(params.items()):
            if isinstance(value, str):
                for old, new in replace.items():
                    value = value.replace(old, new)
                params[key] = value
    write_private_text(executed, nbformat.writes(book))
    return executed


def copy_notebooks(folder: Path, *, force: bool = False) -> list[tuple[Path, Action]]:
    """Copy the packaged notebooks into ``folder`` (``sspr-review notebooks``): (path, what happened) for each.

    Copies you did not change are updated; one you edited is refused (:class:`CopyRefused` names it and nothing is
    written) unless ``force`` overwrites it. The bookkeeping is :func:`sspr_review.report.copies.sync_copies`."""
    return sync_copies(folder, notebook_files(), edited="overwrite" if force else "refuse")
