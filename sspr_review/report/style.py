"""The kit's look, carried by every section's output so JupyterLab, the exported HTML and the e-mail agree.

Each section's HTML is wrapped by :func:`wrap` in ``<div class="sspr-out">`` with a ``<style>`` block whose
rules all start with ``.sspr-out``: they style the kit's own elements only and never restyle JupyterLab
(its cells, toolbars, other outputs). The rules beat JupyterLab's own output styles by specificity (JupyterLab
right-aligns table cells with ``.jp-RenderedHTMLCommon td``), not by ``!important``.

The e-mail cannot use a ``<style>`` block (many mail clients drop it), so :mod:`sspr_review.mail` takes the same
colours from :data:`SEVERITY_COLOURS` and :data:`BANNER` as inline styles; the charts take theirs from
:data:`CHART_COLOURS`. This module is the one place for the report's colours.
"""

from __future__ import annotations

from typing import Final

#: The kit's palette: every colour of the sections, the charts and the e-mail is one of these.
BLUE: Final = "#1a73e8"
ORANGE: Final = "#e37400"
RED: Final = "#d93025"
DARK_RED: Final = "#8b0000"
GREY: Final = "#5f6368"
GREEN: Final = "#137333"

#: Badge colour per finding severity (white text on each).
SEVERITY_COLOURS: Final = {
    "critical": DARK_RED,
    "high": RED,
    "medium": ORANGE,
    "low": GREY,
    "info": BLUE,
}
#: Badge colour per tenant status in the portfolio (:mod:`sspr_review.report.portfolio`; white text on each).
STATUS_COLOURS: Final = {"ok": GREEN, "partial": ORANGE, "failed": RED}
#: Badge colour per status of the SSPR configuration's posture (``sspr-posture-<status>``, white text).
POSTURE_COLOURS: Final = {"ok": GREEN, "deviates": RED, "unknown": GREY}
#: Chart colours (:mod:`sspr_review.report.charts`): self-service against helpdesk, failed against passed.
CHART_COLOURS: Final = {
    "self_service": BLUE,
    "helpdesk": ORANGE,
    "failed": RED,
    "ok": GREEN,
}
#: Banner background and border per state: ok (all complete), bad (data missing), warn (a parameter to set).
BANNER: Final = {
    "ok": ("#e7f5ea", "1px solid #8fc99c"),
    "bad": ("#fdecea", "2px solid #d93025"),
    "warn": ("#fff4e5", "1px solid #f0a030"),
}
ROOT: Final = "sspr-out"


def _css() -> str:
    r = f".{ROOT}"
    bold = " font-weight: 600;"
    rules = [
        f"{r} {{ font-size: 14px; line-height: 1.4; }}",
        f"{r} .sspr-banner {{ padding: .7em 1em; border-radius: 6px; margin: .4em 0; font-size: 15px; }}",
        *(
            f"{r} .sspr-{state} {{ background: {bg}; border: {border};{bold if state == 'bad' else ''} }}"
            for state, (bg, border) in BANNER.items()
        ),
        f"{r} table.sspr {{ border-collapse: collapse; font-size: 13px; margin: .4em 0 1em; table-layout: auto; }}",
        f"{r} table.sspr th, {r} table.sspr td {{ border: 1px solid #ddd; padding: 4px 8px; text-align: left;"
        " vertical-align: top; white-space: normal; }",
        f"{r} table.sspr th {{ background: #f4f6f8; font-weight: 600; }}",
        f"{r} table.sspr td.sspr-num {{ text-align: right; font-variant-numeric: tabular-nums; }}",
        f"{r} .sspr-sev {{ display: inline-block; min-width: 5.5em; text-align: center; border-radius: 4px;"
        " color: #fff; font-weight: 600; padding: 1px 6px; }",
        *(f"{r} .sspr-sev.sspr-{sev} {{ background: {colour}; }}" for sev, colour in SEVERITY_COLOURS.items()),
        *(f"{r} .sspr-sev.sspr-posture-{st} {{ background: {colour}; }}" for st, colour in POSTURE_COLOURS.items()),
        f"{r} .sspr-tiles {{ display: flex; flex-wrap: wrap; gap: 10px; margin: .5em 0 1em; }}",
        f"{r} .sspr-tile {{ border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 150px;"
        " flex: 0 0 auto; background: #fff; }",
        f"{r} .sspr-tile .v {{ font-size: 24px; font-weight: 600; }}",
        f"{r} .sspr-tile .l, {r} .sspr-tile .d {{ font-size: 12px; color: #555; }}",
        f"{r} .sspr-tile .d.sspr-up {{ color: {GREEN}; }} {r} .sspr-tile .d.sspr-down {{ color: #a50e0e; }}",
    ]
    return "\n".join(rules)


#: The stylesheet every section carries (a couple of kilobytes).
CSS: Final = _css()


def wrap(body: str) -> str:
    """A section's HTML with the kit's scoped stylesheet."""
    return f"<div class='{ROOT}'><style>{CSS}</style>{body}</div>"
