"""Where the kit keeps its files when no configuration says: the default store's folder (``$SSPR_REVIEW_HOME``,
a git checkout's root, or the user data folder). Re-exported by :mod:`sspr_review.core.config`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

#: Environment variable naming the folder for the default store when no config file is used.
HOME_ENV = "SSPR_REVIEW_HOME"


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """Where the default ``store`` lives without a config file (the demo): ``$SSPR_REVIEW_HOME`` when set,
    else the project root of a git checkout (where ``make demo`` puts it), else the user data folder
    (``$XDG_DATA_HOME/sspr-review``, by default ``~/.local/share/sspr-review``) for a pip install."""
    env = os.environ if env is None else env
    if env.get(HOME_ENV):
        return Path(env[HOME_ENV]).expanduser().resolve()
    root = Path(__file__).resolve().parents[2]  # sspr_review/core/home.py → the checkout
    project = root / "pyproject.toml"
    if project.is_file() and 'name = "sspr-review"' in project.read_text(encoding="utf-8"):
        return root
    data = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser()
    return data / "sspr-review"
