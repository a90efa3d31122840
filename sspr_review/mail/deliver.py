"""Compose the review mail for the configured transport and send it (or save it, ``--dry-run``)."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

from ..core.config import Config
from ..core.files import write_private_text
from .graph import GRAPH_REQUEST_LIMIT, graph_send, request_size
from .message import ReportFolder, compose
from .smtp import smtp_send


def save_eml(message: EmailMessage, folder: Path) -> Path:
    """``--dry-run``: write the message as a .eml file into the report folder (owner-only)."""
    path = folder / "weekly-review.eml"
    write_private_text(path, message.as_string())
    return path


def send(report: ReportFolder, config: Config, *, dry_run: bool = False) -> tuple[str, list[str]]:
    """Compose and send (or save) the review mail as ``config``'s ``[mail]`` says (Graph's ``sendMail`` also reads
    ``[graph]`` and ``[auth]``); return (where it went, notes)."""
    settings = config.mail
    if settings.transport == "graph":
        composed = compose(report, settings, size_limit=GRAPH_REQUEST_LIMIT, measure=request_size)
    else:
        composed = compose(report, settings)
    if dry_run:
        return f"saved to {save_eml(composed.message, report.folder)}", composed.notes
    if settings.transport == "graph":
        graph_send(composed.message, config)
        return f"sent through Microsoft Graph as {settings.sender}", composed.notes
    smtp_send(composed.message, settings)
    return f"sent through {settings.smtp_host}:{settings.smtp_port}", composed.notes
