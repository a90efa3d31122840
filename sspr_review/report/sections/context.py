"""Opening a review in a notebook: the display set up (plotly offline, short parameter errors), then the
application's :func:`~sspr_review.app.notebook.open_context` (parameters checked, the workspace opened, the week
reviewed), whose :class:`~sspr_review.app.notebook.Context` every section takes.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import plotly.io as pio
from IPython import get_ipython
from plotly.io._base_renderers import NotebookRenderer

from ...app.notebook import Context, open_context
from ...core.errors import ParameterError

#: The CDN MathJax tag plotly's notebook renderer adds to every figure: the report needs no MathJax and
#: must not reach the internet.
_MATHJAX_TAG = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*mathjax[^\"]*\"[^>]*>\s*</script>", re.IGNORECASE)


def setup() -> None:
    """Plotly for both audiences: JupyterLab uses the JSON mimetype, nbconvert the HTML with plotly.js
    embedded once (offline), without the MathJax CDN tag."""

    class OfflineNotebookRenderer(NotebookRenderer):  # type: ignore[misc]
        def to_mimebundle(self, fig_dict: Any) -> dict[str, Any]:
            bundle: dict[str, Any] = super().to_mimebundle(fig_dict)
            bundle["text/html"] = _MATHJAX_TAG.sub("", bundle["text/html"])
            return bundle

    if "sspr_offline" not in pio.renderers:
        pio.renderers["sspr_offline"] = OfflineNotebookRenderer()
    pio.renderers.default = "plotly_mimetype+sspr_offline"
    pd.set_option("display.max_colwidth", 120)


def _show_parameter_error(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None) -> list[str]:
    structured = [f"{etype.__name__}: {value}"]
    shell._showtraceback(etype, value, structured)
    return structured


def _short_parameter_errors() -> None:
    """Show :class:`ParameterError` in IPython as its message alone (the cell still fails, so Run All stops)."""
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((ParameterError,), _show_parameter_error)


def open_review(
    config_path: str = "",
    source: str = "demo",
    week_ending: str = "",
    store: str = "",
    files: str = "",
    *,
    compare: bool = True,
    user: str | None = None,
    weeks: int | None = None,
    saved_review: str = "",
) -> Context:
    """The notebooks' first call: set up the display, then open the workspace the parameters describe and review
        the week (:func:`~sspr_review.app.notebook.open_context`; never fetches from Graph), or load the review
    ``saved_review`` names (what ``sspr-review run`` computed once for its notebooks). A bad parameter raises
        :class:`ParameterError`, shown as one line."""
    setup()
    _short_parameter_errors()
    return open_context(
        config_path,
        source,
        week_ending,
        store,
        files,
        compare=compare,
        user=user,
        weeks=weeks,
        saved_review=saved_review,
    )
