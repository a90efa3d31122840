"""The one lookup of the local Chromium that kaleido draws the e-mail's chart images through.

Used by :func:`sspr_review.mail.message.render_charts` (to draw) and ``sspr-review doctor`` (to say whether it
can): ``BROWSER_PATH`` (kaleido's own variable) first, then ``chromium`` and ``chromium-browser`` on ``PATH``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping

#: What to do when no browser is found.
INSTALL_HINT = "apt-get install chromium (or set BROWSER_PATH to a Chrome/Chromium binary)"
_NAMES = ("chromium", "chromium-browser")


def find_chromium(env: Mapping[str, str] | None = None, which: Callable[[str], str | None] | None = None) -> str | None:
    """The browser binary kaleido should use, or ``None`` when there is none."""
    env = os.environ if env is None else env
    which = shutil.which if which is None else which  # looked up per call, so a patched shutil.which counts
    if env.get("BROWSER_PATH"):
        return env["BROWSER_PATH"]
    return next((found for name in _NAMES if (found := which(name))), None)
