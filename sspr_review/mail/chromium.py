"""The one lookup of what draws the e-mail's chart images: kaleido (the ``[mail]`` extra) and the local Chromium it
draws through.

Used by :func:`sspr_review.mail.message.render_charts` (to draw) and ``sspr-review doctor`` (to say whether it
can): ``BROWSER_PATH`` (kaleido's own variable) first, then ``chromium`` and ``chromium-browser`` on ``PATH``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Callable, Mapping
from typing import Any

#: What to do when no browser is found.
INSTALL_HINT = "apt-get install chromium (or set BROWSER_PATH to a Chrome/Chromium binary)"
_NAMES = ("chromium", "chromium-browser")
#: What to do when kaleido is missing: it comes with the [mail] extra.
KALEIDO_HINT = f"pip install 'sspr-review[mail]' (into {sys.prefix}): kaleido draws the chart images"


def has_kaleido(find_spec: Callable[[str], Any] | None = None) -> bool:
    """Whether kaleido (the ``[mail]`` extra) can be imported, without importing it (it starts slowly)."""
    return (find_spec or importlib.util.find_spec)("kaleido") is not None


def find_chromium(env: Mapping[str, str] | None = None, which: Callable[[str], str | None] | None = None) -> str | None:
    """The browser binary kaleido should use, or ``None`` when there is none."""
    env = os.environ if env is None else env
    which = shutil.which if which is None else which  # looked up per call, so a patched shutil.which counts
    if env.get("BROWSER_PATH"):
        return env["BROWSER_PATH"]
    return next((found for name in _NAMES if (found := which(name))), None)
