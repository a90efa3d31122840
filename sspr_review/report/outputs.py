"""The review's machine-readable files, built from a :class:`~sspr_review.analysis.Review` by one code path.

``sspr-review run`` writes both next to the exported notebooks; ``sspr-review review --json`` writes
findings.json. The notebooks only display: nothing the CLI or the e-mail reads comes out of a notebook.

- ``findings.json``: :func:`~sspr_review.analysis.findings_json` of the review (docs/findings-json.md).
- ``charts.json``: the figures the e-mail shows as images (:data:`EMAIL_CHARTS` and the registration trend),
  as plotly JSON; the mailer renders them to PNG.

Both are written atomically and readable by their owner only (they hold user names and IP addresses).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from plotly.utils import PlotlyJSONEncoder

from ..analysis import Review, findings_json
from ..core.files import write_private_text
from . import charts

#: Charts the e-mail shows as images, in order (with the registration trend after them).
EMAIL_CHARTS = ("resets_per_hour", "resets_per_day")


def findings_document(review: Review) -> dict[str, Any]:
    """findings.json's content (see docs/findings-json.md)."""
    return findings_json(review)


def write_findings(review: Review, path: Path) -> dict[str, Any]:
    """Write findings.json (owner-only) to ``path``; the document written."""
    doc = findings_document(review)
    write_private_text(Path(path), json.dumps(doc, indent=2) + "\n")
    return doc


def charts_document(review: Review) -> dict[str, Any]:
    """charts.json's content: the e-mail's figures by name, as plotly JSON dicts."""
    figures = {name: charts.weekly(review, name).to_plotly_json() for name in EMAIL_CHARTS}
    figures["registration"] = charts.named_trend(review, "registration").to_plotly_json()
    return figures


def write_charts(review: Review, path: Path) -> None:
    """Write charts.json (owner-only) to ``path``."""
    write_private_text(Path(path), json.dumps(charts_document(review), cls=PlotlyJSONEncoder))


def write_outputs(review: Review, folder: Path) -> dict[str, Any]:
    """Write findings.json and charts.json into ``folder``; findings.json's document."""
    doc = write_findings(review, Path(folder) / "findings.json")
    write_charts(review, Path(folder) / "charts.json")
    return doc
