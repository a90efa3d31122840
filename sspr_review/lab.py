"""``sspr-review lab``: JupyterLab on private working copies of the notebooks.

The notebooks the kit ships stay clean (no outputs, no tenant data): JupyterLab opens a working folder that
git ignores and only the owner can read (mode 700), holding copies of them (mode 600). Running it again copies
in notebooks that are new or that the kit changed, and keeps every copy the analyst edited or ran: the same
bookkeeping as ``sspr-review notebooks`` (:mod:`sspr_review.report.copies`).

JupyterLab is started with a configuration file (``.sspr-lab/jupyter_lab_config.py`` in the working folder)
that sets the server's umask to 077, so every notebook, checkpoint and file it saves is owner-only; saving an
existing notebook keeps its mode 600.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .core.errors import ConfigError
from .core.files import private_dir, write_private_text
from .core.home import default_home
from .report.copies import Action, sync_copies
from .report.notebooks import notebook_files

CONFIG_DIR = ".sspr-lab"
#: Loaded by JupyterLab (``--config``): files the server writes are owner-only.
JUPYTER_CONFIG = '''"""Written by sspr-review lab: the notebooks hold user names and IP addresses, so everything
this server saves (notebooks, checkpoints, new files) is readable by its owner only."""
import os

os.umask(0o077)
c = get_config()  # noqa: F821
c.FileContentsManager.delete_to_trash = False
'''


def working_folder(env: dict[str, str] | None = None) -> Path:
    """The default working folder: ``lab/`` in the project root of a git checkout (git ignores it), else
    ``lab/`` in the user data folder of a pip install (see :func:`sspr_review.core.home.default_home`)."""
    return default_home(env) / "lab"


def notebook_sources() -> dict[str, Path]:
    """Notebook file name → the notebook the kit ships (:func:`sspr_review.report.notebooks.notebook_files`: the
    wheel's ``sspr_review/notebook_files`` or a checkout's ``notebooks/``, read with importlib.resources)."""
    return notebook_files()


def sync_working_copies(folder: Path) -> list[tuple[Path, Action]]:
    """Copy the kit's notebooks into ``folder`` (mode 700): (path, what happened) per notebook.

    Missing copies are copied in, unedited copies of a changed notebook are updated, copies the analyst edited
    or ran are kept. Every copy is mode 600."""
    private_dir(folder)
    os.chmod(folder, 0o700)
    return sync_copies(folder, notebook_sources(), edited="keep")


def jupyter_config(folder: Path) -> Path:
    """Write the JupyterLab configuration file ``lab`` passes (owner-only server files)."""
    config_dir = folder / CONFIG_DIR
    private_dir(config_dir)
    path = config_dir / "jupyter_lab_config.py"
    write_private_text(path, JUPYTER_CONFIG)
    return path


def lab_command(folder: Path, options: Sequence[str]) -> list[str]:
    """The JupyterLab command line: this interpreter's ``jupyter lab`` on ``folder`` with ``options`` as given."""
    return [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--config={jupyter_config(folder)}",
        f"--ServerApp.root_dir={folder}",
        *options,
    ]


def lab_environment() -> dict[str, str]:
    """The environment for JupyterLab: its kernels run "python", which must be this interpreter."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def check_jupyterlab() -> None:
    if importlib.util.find_spec("jupyterlab") is None:
        raise ConfigError(
            "JupyterLab is not installed in this environment: pip install 'sspr-review[lab]' (or make install)"
        )
