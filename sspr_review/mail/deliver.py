"""Compose the review mail for the configured transport and send it (or save it, ``--dry-run``)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ..core.config import Config, MailSettings, env_name
from ..core.files import write_private_text
from .graph import GRAPH_REQUEST_LIMIT, graph_send, request_size
from .message import ReportFolder, compose
from .smtp import smtp_send


def save_eml(message: EmailMessage, folder: Path, name: str = "weekly-review.eml") -> Path:
    """``--dry-run``: write the message as the .eml file ``name`` into the report folder (owner-only)."""
    path = folder / name
    write_private_text(path, message.as_string())
    return path


def transmit(message: EmailMessage, config: Config) -> str:
    """Send ``message`` by ``config``'s ``[mail] transport`` (Graph ``sendMail`` also reads ``[graph]`` and
    ``[auth]``); where it went."""
    settings = config.mail
    if settings.transport == "graph":
        graph_send(message, config)
        return f"sent through Microsoft Graph as {settings.sender}"
    smtp_send(message, settings)
    return f"sent through {settings.smtp_host}:{settings.smtp_port}"


#: The addresses of a dry run without configured ones (the reserved .invalid domain: nothing can be sent there).
PLACEHOLDER_TO = "sspr-review-recipients@example.invalid"
PLACEHOLDER_SENDER = "sspr-review@example.invalid"


def with_placeholders(settings: MailSettings) -> tuple[MailSettings, list[str]]:
    """A dry run's settings: empty addresses replaced by placeholders, and notes saying so (with the variable that
    sets each)."""
    update: dict[str, Any] = {}
    if not settings.to:
        update["to"] = [PLACEHOLDER_TO]
    if not settings.sender:
        update["sender"] = PLACEHOLDER_SENDER
    notes = [
        f"[mail] {key} is empty (set it in the configuration file or {env_name('mail', key)}): the dry run uses the"
        f" placeholder {PLACEHOLDER_TO if key == 'to' else PLACEHOLDER_SENDER}"
        for key in update
    ]
    return settings.model_copy(update=update), notes


def send(report: ReportFolder, config: Config, *, dry_run: bool = False) -> tuple[str, list[str]]:
    """Compose and send (or save) the review mail as ``config``'s ``[mail]`` says (Graph's ``sendMail`` also reads
    ``[graph]`` and ``[auth]``); return (where it went, notes). A dry run needs no addresses: empty ones are
    replaced by placeholders, and the notes say so."""
    settings, placeheld = with_placeholders(config.mail) if dry_run else (config.mail, [])
    if settings.transport == "graph":
        composed = compose(report, settings, size_limit=GRAPH_REQUEST_LIMIT, measure=request_size)
    else:
        composed = compose(report, settings)
    if dry_run:
        return f"saved to {save_eml(composed.message, report.folder)}", [*placeheld, *composed.notes]
    return transmit(composed.message, config), composed.notes
