"""The e-mailed weekly review: composing the message, and sending it by SMTP or Graph ``sendMail``.

::

    message.py     the MIME message from a report folder: subject, attachments, chart images, size limit
    body.py        the body's context, rendered by templates/body.html.j2 and templates/body.txt.j2
    identities.py  keyed pseudonyms for user identifiers ([mail] pseudonymise)
    chromium.py    the one lookup of a headless Chromium (the charts' images; doctor checks it too)
    smtp.py        connect(): TLS policy, STARTTLS or implicit TLS, login (shared with ``doctor``); smtp_send
    graph.py       Graph sendMail: the request body and the call
    deliver.py     send(): compose for the configured transport and send, or save a .eml (--dry-run)
"""

from __future__ import annotations

from .deliver import save_eml, send
from .graph import GRAPH_REQUEST_LIMIT, graph_message, graph_send
from .identities import pseudonym
from .message import MESSAGE_LIMIT, Composed, ReportFolder, compose, render_charts, subject
from .smtp import connect, smtp_send

__all__ = [
    "GRAPH_REQUEST_LIMIT",
    "MESSAGE_LIMIT",
    "Composed",
    "ReportFolder",
    "compose",
    "connect",
    "graph_message",
    "graph_send",
    "pseudonym",
    "render_charts",
    "save_eml",
    "send",
    "smtp_send",
    "subject",
]
