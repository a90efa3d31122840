"""Graph's answers: the error body (``{"error": {"code", "message", "innerError": {...}}}``) with the default code and
message per status, JSON success bodies, and ``Retry-After`` values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SUCCESS_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
DEFAULT_ERRORS: Mapping[int, tuple[str, str]] = {
    400: ("BadRequest", "Bad request."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("ResourceNotFound", "Resource not found."),
    405: ("MethodNotAllowed", "The HTTP method is not allowed for this resource."),
    413: ("RequestEntityTooLarge", "The maximum request length supported is 4MB."),
    429: ("TooManyRequests", "Too many requests. Retry later."),
    500: ("InternalServerError", "An internal server error occurred."),
    502: ("BadGateway", "Bad gateway."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Retry later."),
    504: ("GatewayTimeout", "The gateway timed out."),
}


class GraphError(Exception):
    """An error answer: status, Graph's error code and message (defaults by status) and extra headers."""

    def __init__(
        self, status: int, code: str = "", message: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        default_code, default_message = DEFAULT_ERRORS.get(status, ("UnknownError", "An error occurred."))
        super().__init__(message or default_message)
        self.status = status
        self.code = code or default_code
        self.message = message or default_message
        self.headers = dict(headers or {})


def bad_request(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # drop the connection without answering


def error_body(error: GraphError, request_id: str, client_request_id: str) -> bytes:
    return json.dumps(
        {
            "error": {
                "code": error.code,
                "message": error.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                },
            }
        }
    ).encode()


def json_response(payload: Mapping[str, Any]) -> Response:
    return Response(200, json.dumps(payload, separators=(",", ":")).encode(), {"Content-Type": SUCCESS_CONTENT_TYPE})


def format_seconds(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds as an integer, a scaled fraction as a short decimal (``"0.1"``)."""
    if float(seconds).is_integer():
        return str(int(seconds))
    return f"{seconds:.6f}".rstrip("0").rstrip(".")
