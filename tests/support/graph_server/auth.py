"""The bearer token: with a token set, a request without ``Authorization: Bearer <token>`` is a 401 carrying Graph's
``WWW-Authenticate`` challenge. :func:`mint_token` makes a token shaped like Entra ID's (a JWT whose ``tid`` claim
names the tenant; its signature is not a real one), to serve several tenants or to hand the kit a token issued for
another tenant than the one it is configured for."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping

from .responses import GraphError

WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


def bearer(headers: Mapping[str, str]) -> str:
    """The request's bearer token (``headers`` with lower-case names); Graph's 401 when there is none."""
    value = headers.get("authorization", "")
    scheme, _, credential = value.partition(" ")
    if not value:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
    if scheme.lower() != "bearer":
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")
    return credential.strip()


def authorise(token: str | None, headers: Mapping[str, str]) -> None:
    """Raise Graph's 401 unless the request carries ``token`` (``headers`` with lower-case names); no token: open."""
    if token is None:
        return
    if bearer(headers) != token:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")


def _part(data: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def mint_token(tenant_id: str, *, app_id: str = "99999999-0000-0000-0000-000000000001", lifetime: int = 3600) -> str:
    """An app-only access token for Microsoft Graph as Entra ID issues one for ``tenant_id`` (header, claims,
    signature, base64url), with a signature no one can verify: the server compares tokens, never checks them."""
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "kid": "graph-server-test-key"}
    claims = {
        "aud": "https://graph.microsoft.com",
        "iss": f"https://sts.windows.net/{tenant_id}/",
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": app_id,
        "idtyp": "app",
        "roles": ["AuditLog.Read.All", "IdentityRiskEvent.Read.All", "UserAuthenticationMethod.Read.All"],
        "tid": tenant_id,
    }
    return f"{_part(header)}.{_part(claims)}.{base64.urlsafe_b64encode(b'not-a-signature').decode().rstrip('=')}"
