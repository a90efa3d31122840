"""Progress bars for long fetches: records, pages, throttle waits. Notebook-aware through ``tqdm.auto``."""

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


class Progress:
    """One bar per source. ``enabled=None`` shows bars on a terminal or in a notebook, not in pipes; a disabled
    bar is tqdm's own (``disable=True``: it counts nothing and draws nothing)."""

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty() or in_notebook()
        self.enabled = enabled
        self._bars: list[tqdm[Any]] = []

    def bar(self, name: str) -> tqdm[Any]:
        kind: type[tqdm[Any]] = tqdm
        if self.enabled:
            # tqdm.auto (the widget bar in a notebook) only for a bar that is shown: importing it in a kernel
            # without ipywidgets writes a warning into the output of the cell that fetches
            from tqdm.auto import tqdm as kind  # lazy: importing it warns in a kernel without ipywidgets
        bar = kind(
            desc=f"{name:<12}",
            unit=" records",
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
