"""Microsoft Graph ``sendMail``: the MIME message as Graph's JSON request, sent from the ``sender`` mailbox."""

from __future__ import annotations

import base64
import json
from email.message import EmailMessage
from typing import Any

from kiota_abstractions.method import Method
from kiota_abstractions.request_information import RequestInformation

from ..core.config import Config
from ..core.errors import MailError
from ..sources.base import FetchStats, run_sync
from ..sources.graph.auth import build_credential
from ..sources.graph.client import GraphClient, app_budget
from ..sources.graph.endpoints import Endpoint

#: Microsoft Graph sendMail accepts requests up to 4 MB; base64 grows attachments by a third.
GRAPH_REQUEST_LIMIT = 4 * 1024 * 1024
SEND_MAIL = Endpoint("users/{sender}/sendMail", "directory", "Mail.Send")


def graph_message(message: EmailMessage) -> dict[str, Any]:
    """The Graph ``sendMail`` request body for ``message``: HTML body, inline images, attachments."""
    body = message.get_body(("html",))
    assert body is not None
    attachments = []
    for part in message.walk():
        is_body = part is body or (part.get_content_type() == "text/plain" and not part.get_filename())
        if part.get_content_maintype() == "multipart" or is_body:
            continue
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        cid = str(part.get("Content-ID", "")).strip("<>")
        attachments.append(
            {
                "@odata.type": "#microsoft.graph.fileAttachment",
                "name": part.get_filename() or "attachment",
                "contentType": part.get_content_type(),
                "contentBytes": base64.b64encode(payload).decode(),
                **({"isInline": True, "contentId": cid} if cid else {"isInline": False}),
            }
        )

    def recipients(header: str) -> list[dict[str, Any]]:
        values = [v.strip() for v in str(message.get(header, "")).split(",") if v.strip()]
        return [{"emailAddress": {"address": v}} for v in values]

    return {
        "message": {
            "subject": str(message["Subject"]),
            "body": {"contentType": "HTML", "content": body.get_content()},
            "toRecipients": recipients("To"),
            "ccRecipients": recipients("Cc"),
            "attachments": attachments,
        },
        "saveToSentItems": False,
    }


def request_size(message: EmailMessage) -> int:
    """The bytes of ``message``'s ``sendMail`` request (what :data:`GRAPH_REQUEST_LIMIT` bounds)."""
    return len(json.dumps(graph_message(message)).encode())


def graph_send(message: EmailMessage, config: Config) -> None:
    """Send through Microsoft Graph ``POST /users/{sender}/sendMail`` (permission Mail.Send), the sender being
    ``[mail] sender``; the Graph client is built from ``[graph]`` and ``[auth]``."""
    body = json.dumps(graph_message(message)).encode()
    if len(body) > GRAPH_REQUEST_LIMIT:
        raise MailError(
            f"the message is {len(body) / 1e6:.1f} MB; Graph sendMail accepts 4 MB (set attach_trends = false)"
        )

    async def go() -> None:
        credential = build_credential(config.auth)
        async with GraphClient(
            config.graph, credential, budget=app_budget(config), tenant_id=config.auth.tenant_id
        ) as client:
            request = RequestInformation(
                Method.POST, "{+baseurl}/users/{user_id}/sendMail", {"user_id": config.mail.sender}
            )
            request.set_stream_content(body, "application/json")
            await client.get_json(request, SEND_MAIL, FetchStats(), "mail")

    run_sync(go())
