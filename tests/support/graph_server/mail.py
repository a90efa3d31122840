"""``POST /users/{id}/sendMail``: the message is kept in :attr:`GraphData.sent_mail` (with ``userId``, the path's
user) and answered 202, as Graph does; a body that is not a message is Graph's 400."""

from __future__ import annotations

import json

from .endpoint import Call, Route
from .responses import GraphError, Response


def _send_mail(call: Call) -> Response:
    try:
        payload = json.loads(call.body or b"null")
    except ValueError:
        raise GraphError(400, "ErrorInvalidRequest", "Cannot read the request body.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("message"), dict):
        raise GraphError(400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
    with call.server.lock:
        call.data.sent_mail.append({"userId": call.path_id, **payload})
    return Response(202)


ROUTES = (Route("/users/{id}/sendMail", ("POST",), "", _send_mail),)
