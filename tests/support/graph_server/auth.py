"""The bearer token: with a token set, a request without ``Authorization: Bearer <token>`` is a 401 carrying Graph's
``WWW-Authenticate`` challenge."""

from __future__ import annotations

from collections.abc import Mapping

from .responses import GraphError

WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


def authorise(token: str | None, headers: Mapping[str, str]) -> None:
    """Raise Graph's 401 unless the request carries ``token`` (``headers`` with lower-case names); no token: open."""
    if token is None:
        return
    value = headers.get("authorization", "")
    scheme, _, credential = value.partition(" ")
    if not value:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    if scheme.lower() != "bearer" or credential.strip() != token:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
