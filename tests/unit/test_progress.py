"""Fetch progress bars: tqdm's own, drawn on a terminal or in a notebook, and tqdm's disabled bar otherwise."""

from __future__ import annotations

import sys

import ipykernel.kernelspec  # noqa: F401  (jupyter_client's kernel lookup imports it, as `sspr-review run` does)
import IPython
import pytest

from sspr_review.ingest.progress import Progress
from sspr_review.sources.base import FetchStats


def test_enabled_bar_counts_records_and_shows_requests(capsys: pytest.CaptureFixture[str]) -> None:
    bars = Progress(enabled=True)
    bar = bars.bar("audit")
    Progress.update(bar, 1500, FetchStats(requests=3, pages=2, throttled=1, waited=0.3))
    assert bar.n == 1500
    bars.finish()
    err = capsys.readouterr().err
    assert "audit" in err and "1500 records" in err and "2 pages, 3 requests, 1×429, waited 0.3s" in err


def test_disabled_bar_is_tqdms_and_draws_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    bars = Progress(enabled=False)
    bar = bars.bar("risk")
    Progress.update(bar, 10, FetchStats(requests=1, pages=1))
    bars.finish()
    assert bar.disable and capsys.readouterr().err == ""


def test_ipykernel_imported_outside_a_kernel_draws_no_bars(capsys: pytest.CaptureFixture[str]) -> None:
    """``sspr-review run`` imports ipykernel (jupyter_client's kernel lookup) before it fetches: no bars in a pipe."""
    assert "ipykernel" in sys.modules and not sys.stderr.isatty()
    bars = Progress()
    Progress.update(bars.bar("audit"), 10, None)
    bars.finish()
    assert not bars.enabled and capsys.readouterr().err == ""


def test_bars_are_shown_inside_a_running_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())  # the kernel's shell
    assert Progress().enabled
