"""The one Jinja2 environment of the report's templates (``sspr_review/report/templates/*.html.j2``): the
sections' (:mod:`.sections.render`) and the portfolio page's (:mod:`.portfolio`). Autoescape on: tenant text is
text, never markup; an undefined name is an error (never an empty string). Here, not in :mod:`.sections.render`,
so the portfolio does not import IPython."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, StrictUndefined

#: The report's templates, loaded once.
ENV = Environment(
    loader=PackageLoader("sspr_review.report", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
