"""The portfolio e-mail: the provider's one message for the week, one line per tenant, most urgent first.

Built from portfolio.json (:mod:`sspr_review.report.portfolio`) by ``templates/portfolio.html.j2`` and
``portfolio.txt.j2`` (inline styles, the report's colours; tenant text escaped) and sent like the weekly review
(SMTP or Graph ``sendMail``, ``[mail]`` of the tenants file's ``[defaults]``) to ``[portfolio] to`` and ``cc``.
Each tenant's own report goes to that tenant's recipients separately (:func:`sspr_review.mail.send`).
"""

from __future__ import annotations

from collections.abc import Mapping
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ..core.config import Config
from ..core.errors import ConfigError
from ..report.numbers import number
from ..report.style import SEVERITY_COLOURS, STATUS_COLOURS
from .body import environment
from .deliver import save_eml, transmit
from .message import addressed


def portfolio_subject(doc: Mapping[str, Any]) -> str:
    counts = doc["counts"]
    text = (
        f"{doc['title']}, week ending {doc['week_ending']}: {counts['attention']} of {counts['tenants']} "
        f"{'tenant needs' if counts['attention'] == 1 else 'tenants need'} attention"
    )
    return " ".join(text.split())  # no header injection through the title


def compose_portfolio(doc: Mapping[str, Any], config: Config) -> EmailMessage:
    """The message for portfolio.json ``doc``, from ``config``'s ``[mail]`` (the provider's)."""
    settings = config.mail
    if not settings.to:
        raise ConfigError("[portfolio] to is empty: set who receives the portfolio in the tenants file")
    if not settings.sender:
        raise ConfigError("[mail] sender is empty: set the From address in the tenants file's [defaults.mail]")
    rows = [
        {
            **row,
            "counts": ", ".join(f"{n} {s}" for s, n in (row["findings"] or {}).items() if n) or "none",
            "resets": number((row["numbers"] or {}).get("sspr_resets")),
            "coverage": number((row["numbers"] or {}).get("registration_coverage"), "ratio"),
        }
        for row in doc["tenants"]
    ]
    env = environment()
    values = {"doc": doc, "rows": rows, "severity_colours": SEVERITY_COLOURS, "status_colours": STATUS_COLOURS}
    msg = addressed(settings, portfolio_subject(doc))
    msg.set_content(env.get_template("portfolio.txt.j2").render(**values))
    msg.add_alternative(env.get_template("portfolio.html.j2").render(**values), subtype="html")
    return msg


def send_portfolio(doc: Mapping[str, Any], folder: Path, config: Config, *, dry_run: bool = False) -> str:
    """Send the portfolio e-mail (or, ``dry_run``, write it as ``folder/portfolio.eml``); where it went."""
    message = compose_portfolio(doc, config)
    if dry_run:
        return f"saved to {save_eml(message, Path(folder), 'portfolio.eml')}"
    return transmit(message, config)
