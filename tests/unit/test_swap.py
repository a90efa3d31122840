"""Publishing the report folder on any system (issue 22.5): an atomic exchange where the system has one, two renames
elsewhere, and leftovers of a run that died told from a run still going by its lock, not by a process id."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sspr_review.core import swap


def _folder(path: Path, text: str) -> Path:
    path.mkdir()
    (path / "weekly-review.html").write_text(text)
    return path


@pytest.mark.parametrize("atomic", [True, False], ids=["exchange", "two renames"])
def test_publish_replaces_the_previous_folder_and_leaves_nothing_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, atomic: bool
) -> None:
    if not atomic:
        monkeypatch.setattr(swap, "exchange", lambda a, b: False)  # Windows, or a file system refusing the swap
    final = _folder(tmp_path / "2024-03-11", "old")
    token = swap.new_token()
    with swap.holding(tmp_path, token):
        new = _folder(swap.partial_folder(tmp_path, "2024-03-11", token), "new")
        swap.publish(new, final, token)
    assert (final / "weekly-review.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2024-03-11"]  # the lock file went with the run


def test_publish_without_a_previous_folder(tmp_path: Path) -> None:
    token = swap.new_token()
    new = _folder(swap.partial_folder(tmp_path, "w", token), "new")
    swap.publish(new, tmp_path / "w", token)
    assert (tmp_path / "w" / "weekly-review.html").read_text() == "new" and not new.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux's")
def test_the_exchange_swaps_on_linux(tmp_path: Path) -> None:
    a, b = _folder(tmp_path / "a", "A"), _folder(tmp_path / "b", "B")
    assert swap.exchange(a, b)
    assert (a / "weekly-review.html").read_text() == "B" and (b / "weekly-review.html").read_text() == "A"


def test_no_exchange_where_the_system_has_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = _folder(tmp_path / "a", "A"), _folder(tmp_path / "b", "B")
    monkeypatch.setattr(swap.sys, "platform", "win32")
    assert not swap.exchange(a, b)
    assert (a / "weekly-review.html").read_text() == "A"  # nothing changed


def test_leftovers_of_a_dead_run_go_and_those_of_a_live_run_stay(tmp_path: Path) -> None:
    final = _folder(tmp_path / "w", "current")
    dead_partial = _folder(swap.partial_folder(tmp_path, "w", "dead1"), "half")
    live = swap.new_token()
    with swap.holding(tmp_path, live):
        live_partial = _folder(swap.partial_folder(tmp_path, "w", live), "building")
        swap.remove_leftovers(tmp_path)
        assert live_partial.exists()  # its run holds its lock
        assert not dead_partial.exists()
    assert (final / "weekly-review.html").read_text() == "current"


def test_a_previous_folder_set_aside_by_a_dead_run_is_put_back(tmp_path: Path) -> None:
    """A run killed between the two renames of the fallback left the previous folder aside and none in place."""
    aside = _folder(tmp_path / f".w{swap.PREVIOUS}dead2", "previous")
    swap.remove_leftovers(tmp_path)
    assert not aside.exists()
    assert (tmp_path / "w" / "weekly-review.html").read_text() == "previous"
