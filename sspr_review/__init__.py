"""sspr-review: weekly review of Microsoft Entra ID self-service password reset (SSPR).

The public API is small and imported lazily, so ``import sspr_review`` stays fast:

- :func:`open_workspace` — open a configuration and a source (graph, demo, files or log-analytics); fetch; read
  tables; review a week.
- :class:`Workspace` — what :func:`open_workspace` returns.
- :mod:`sspr_review.core.schema` — the normalised tables' columns and dtypes.
- :mod:`sspr_review.core.errors` — the exception tree.
- :mod:`sspr_review.report` — ``report.open_review`` and the sections the notebooks show.

How the package is laid out, its layers and what each may import: ``docs/architecture.md``.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

#: Arrow's memory pool in a process that imports the kit before pandas (``sspr-review`` and the kernels and
#: JupyterLab it starts, which inherit the variable): jemalloc, which hands freed memory back to the system, where
#: pyarrow's default, mimalloc, keeps it (the review's peak at 100,000 users: 470 MB instead of 580 MB). Arrow reads
#: the variable once, when it first allocates, which importing pandas does; a value already set wins. On Linux only,
#: where pyarrow's wheels have jemalloc (elsewhere Arrow would warn that the pool is unsupported).
ARROW_POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
if sys.platform.startswith("linux"):
    os.environ.setdefault(ARROW_POOL_VARIABLE, "jemalloc")

if TYPE_CHECKING:
    from .app.workspace import Workspace, open_workspace

__all__ = ["Workspace", "open_workspace"]

_LAZY = {"Workspace": "app.workspace", "open_workspace": "app.workspace"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'sspr_review' has no attribute {name!r}")
