"""A review saved for the notebooks of one run (one review per run): ``sspr-review run`` computes the week's
:class:`~sspr_review.analysis.Review` once, saves it in the run's folder (:func:`save_review`) and hands its path
to the notebooks as the ``saved_review`` parameter; they load it (:func:`load_review`) and only display it.
findings.json, charts.json and the e-mail come from the same object. A notebook opened without one (JupyterLab,
or the executed notebook run again: ``run`` removes the file once the notebooks ran and blanks the parameter)
computes the review through :meth:`~.workspace.Workspace.review`, the one function for results.

The format (version :data:`VERSION`): a Python pickle (protocol 5) of a dict ``{"format": FORMAT, "version":
VERSION, "kit": <the kit's version>, "week_ending": "YYYY-MM-DD", "review": Review}``. It holds the week's
personal data (user names, IP addresses: the prepared tables the review was computed from) and no secret (no
credential is part of a review), and is written owner-only. Unpickling runs code, so a saved review is only read
from a file the current user owns that nobody else can write, and only by the kit version that wrote it.
"""

from __future__ import annotations

import os
import pickle
import stat
from pathlib import Path
from typing import Any, Final

from ..analysis import Review
from ..core.errors import ParameterError
from ..core.files import atomic_write
from .aggregates import kit_version

__all__ = ["FORMAT", "SAVED_REVIEW", "VERSION", "load_review", "save_review"]

#: The file name of the saved review in a run's folder.
SAVED_REVIEW: Final = ".review.pickle"
FORMAT: Final = "sspr-review saved review"
VERSION: Final = 1


def save_review(review: Review, folder: Path) -> Path:
    """Save ``review`` as ``folder``/:data:`SAVED_REVIEW` (owner-only, atomically); its path."""
    path = Path(folder) / SAVED_REVIEW
    document = {
        "format": FORMAT,
        "version": VERSION,
        "kit": kit_version(),
        "week_ending": review.window.week_ending.isoformat(),
        "review": review,
    }

    def write(tmp: Path) -> None:
        with tmp.open("wb") as out:
            pickle.dump(document, out, protocol=5)

    # not durable: the file lives while the run's notebooks execute (run removes it after), and a crash leaves no
    # run to resume; an fsync of its 150 MB (100,000 users) cost a third of a second
    atomic_write(path, write, durable=False)
    return path


def load_review(path: str | Path, *, week_ending: str = "") -> Review:
    """The review saved at ``path`` (by :func:`save_review`, of ``week_ending`` when given).
    :class:`~sspr_review.core.errors.ParameterError` when the file is missing, not the current user's alone, of
    another format, kit version or week."""
    path = Path(path)
    what = f"parameter saved_review = {str(path)!r}"
    fix = "leave it empty to compute the review"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise ParameterError(f"{what}: {exc.strerror or exc}; {fix}") from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
        if not mine or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or not stat.S_ISREG(info.st_mode):
            raise ParameterError(f"{what}: not a file only you can write, so it is not read; {fix}")
        try:
            document: Any = pickle.load(file)
        except Exception:  # any unreadable file is the same parameter error
            document = None
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
        raise ParameterError(f"{what}: not a review saved by sspr-review run (format {VERSION}); {fix}")
    if document.get("kit") != kit_version():
        raise ParameterError(f"{what}: saved by sspr-review {document.get('kit')}, not {kit_version()}; {fix}")
    if week_ending and document.get("week_ending") != week_ending:
        raise ParameterError(f"{what}: the review of the week ending {document.get('week_ending')}, not {week_ending}")
    review = document.get("review")
    if not isinstance(review, Review):
        raise ParameterError(f"{what}: not a review saved by sspr-review run; {fix}")
    return review
