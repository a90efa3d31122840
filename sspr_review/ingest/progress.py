"""Progress bars for long fetches: records, pages, throttle waits. Notebook-aware through ``tqdm.auto``.

Bars are drawn only where someone watches: on a terminal (standard error is a TTY) or in a running Jupyter kernel,
never into a pipe or a file (a scheduled run's log), whatever the process has imported (``sspr-review run`` imports
ipykernel to find the notebooks' kernel, without being one). ``--progress``/``--no-progress`` decide otherwise.
"""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm

from ..sources.base import FetchStats


def in_notebook() -> bool:
    """True inside a running Jupyter kernel. Not merely when ipykernel was imported: ``sspr-review run`` imports it
    through jupyter_client when it looks the kernel up, and its fetch must not draw bars into a pipe or a log."""
    ipython = sys.modules.get("IPython")
    return "ipykernel" in sys.modules and ipython is not None and ipython.get_ipython() is not None


def watched() -> bool:
    """Whether progress is shown by default: standard error is a terminal, or this is a running kernel."""
    stderr = sys.stderr
    return bool(stderr is not None and stderr.isatty()) or in_notebook()


class Progress:
    """Bars that show together. ``enabled=None`` shows them when :func:`watched`; a disabled bar is tqdm's own
    (``disable=True``: it counts nothing and draws nothing)."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = watched() if enabled is None else enabled
        self._bars: list[tqdm[Any]] = []

    def bar(self, name: str, *, total: int | None = None, unit: str = " records") -> tqdm[Any]:
        kind: type[tqdm[Any]] = tqdm
        if self.enabled:
            # tqdm.auto (the widget bar in a notebook) only for a bar that is shown: importing it in a kernel
            # without ipywidgets writes a warning into the output of the cell that fetches
            from tqdm.auto import tqdm as kind  # lazy: importing it warns in a kernel without ipywidgets
        bar = kind(
            desc=f"{name:<12}",
            total=total,
            unit=unit,
            position=len(self._bars),
            leave=True,
            dynamic_ncols=True,
            disable=not self.enabled,
        )
        self._bars.append(bar)
        return bar

    @staticmethod
    def update(bar: tqdm[Any], records: int, stats: FetchStats | None) -> None:
        """Count ``records`` more and show pages, requests, 429s and throttle waits so far."""
        bar.update(records)
        if stats is not None and not bar.disable:
            bar.set_postfix_str(
                f"{stats.pages} pages, {stats.requests} requests, {stats.throttled}×429, waited {stats.waited:.1f}s",
                refresh=False,
            )

    def finish(self) -> None:
        for bar in self._bars:
            bar.close()
        self._bars.clear()
