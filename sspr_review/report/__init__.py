"""Everything a reader sees: the report notebooks' sections and charts, their execution and export, the text summary.

``from sspr_review import report`` is what the notebooks do: the section functions of the :mod:`.sections`
package (``report.open_review``, ``report.header``, ...) are reached through this package, imported on first
use so that ``sspr_review.report.run`` does not pay for IPython and plotly. The rest: :mod:`.run` (``sspr-review
run``), :mod:`.notebooks` (papermill and nbconvert), :mod:`.outputs` (findings.json and charts.json from the
review), :mod:`.charts`, :mod:`.summary` (the text summary), :mod:`.numbers`, :mod:`.style`, :mod:`.rollup`,
``templates/`` (the sections' Jinja2 templates, loaded by :mod:`.templating`, and the nbconvert report template).
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    sections = importlib.import_module(".sections", __name__)
    try:
        return getattr(sections, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
