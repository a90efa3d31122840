"""Credentials: azure-identity for every mode, or a ready token from the environment.

Modes (``[auth] mode``):

========================  ===================================================================================
``auto`` (default)        a ready token in ``token_env`` (``SSPR_REVIEW_ACCESS_TOKEN``) if set, else azure-identity's
                          DefaultAzureCredential (environment service principal, workload identity, managed
                          identity, Azure CLI...)
``token``                 a ready access token in ``token_env`` (for tests and short jobs)
``browser``               InteractiveBrowserCredential (an analyst in JupyterLab)
``device_code``           DeviceCodeCredential (an analyst on a machine with no browser)
``azure_cli``             AzureCliCredential (the CLI's app may lack AuditLog.Read.All: prefer your own app)
``client_secret``         ClientSecretCredential; the secret is read from ``client_secret_env``
``certificate``           CertificateCredential from ``certificate_path``; password from the environment
``managed_identity``      ManagedIdentityCredential (an Azure VM, container or Automation account)
``workload_identity``     WorkloadIdentityCredential (GitHub Actions / Kubernetes federated credentials)
========================  ===================================================================================

Secrets never come from the config file: only names of environment variables and file paths do.

The tenant a token is for: with ``[auth] tenant_id`` a GUID, every token is checked before it is used
(:func:`check_tenant`): its ``tid`` claim must name that tenant, or nothing is sent with it. A token for another
tenant is valid at Graph, which would answer with that tenant's data: under a tenants file, one customer's data
in another's report. The claim is read without checking the token's signature: reading a claim needs no trust
in it (Graph checks the token); the check only refuses to use a token the kit was not meant to have.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import os
import re
import time
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator

from ...core.config import LOOPBACK_HOSTS, AuthSettings
from ...core.errors import AuthError, WrongTenant

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential

TOKEN_ENV = "SSPR_REVIEW_ACCESS_TOKEN"


class StaticToken:
    """A credential holding one ready token (from ``SSPR_REVIEW_ACCESS_TOKEN``)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        from azure.core.credentials import AccessToken  # lazy: azure-core is heavy; a ready token needs no more

        return AccessToken(self._token, int(time.time()) + 3600)


def build_credential(settings: AuthSettings, *, env: Mapping[str, str] | None = None) -> TokenCredential:
    """Build the credential ``settings.mode`` asks for; raise :class:`AuthError` saying what is missing."""
    env = os.environ if env is None else env
    mode = settings.mode
    token = env.get(settings.token_env, "")
    if mode == "token" or (mode == "auto" and token):
        if not token:
            raise AuthError(
                f"[auth] mode = 'token' needs the access token in the environment variable {settings.token_env}"
            )
        return StaticToken(token)

    import azure.identity as identity  # lazy: azure-identity takes about a second to import

    tenant, client = settings.tenant_id or None, settings.client_id or None

    def need(*names: str) -> None:
        missing = [n for n in names if not getattr(settings, n)]
        if missing:
            raise AuthError(
                f"[auth] mode = '{mode}' needs [auth] {' and '.join(missing)} "
                "(from your app registration's overview page)"
            )

    if mode == "auto":
        return identity.DefaultAzureCredential()
    if mode == "browser":
        return identity.InteractiveBrowserCredential(tenant_id=tenant, client_id=client)
    if mode == "device_code":
        return identity.DeviceCodeCredential(tenant_id=tenant, client_id=client)  # type: ignore[arg-type]
    if mode == "azure_cli":
        return identity.AzureCliCredential(tenant_id=settings.tenant_id)
    if mode == "client_secret":
        need("tenant_id", "client_id")
        secret = env.get(settings.client_secret_env, "")
        if not secret:
            raise AuthError(
                f"[auth] mode = 'client_secret' reads the secret from the environment variable "
                f"{settings.client_secret_env}, which is not set"
            )
        return identity.ClientSecretCredential(tenant, client, secret)  # type: ignore[arg-type]
    if mode == "certificate":
        need("tenant_id", "client_id", "certificate_path")
        password = env.get(settings.certificate_password_env) or None
        return identity.CertificateCredential(
            tenant,  # type: ignore[arg-type]
            client,  # type: ignore[arg-type]
            certificate_path=settings.certificate_path,
            password=password,
        )
    if mode == "managed_identity":
        return identity.ManagedIdentityCredential(client_id=client) if client else identity.ManagedIdentityCredential()
    if mode == "workload_identity":
        return identity.WorkloadIdentityCredential(tenant_id=tenant, client_id=client)
    raise AuthError(f"unknown [auth] mode {mode!r}")  # pragma: no cover - the config validates modes


def token_tenant(token: str) -> str | None:
    """The ``tid`` claim of an Entra ID access token (a JWT: its middle part, base64url JSON), the tenant it was
    issued for; ``None`` when the token is not a JWT or names no tenant. The signature is not checked (see the
    module's doc)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error):
        return None
    tid = claims.get("tid") if isinstance(claims, dict) else None
    return tid if isinstance(tid, str) and tid else None


def is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def check_tenant(token: str, tenant_id: str) -> None:
    """Raise :class:`WrongTenant` unless ``token`` was issued for ``tenant_id``. Only a GUID can be compared
    with the claim: a domain name or an empty ``tenant_id`` is not checked."""
    if not is_guid(tenant_id):
        return
    tid = token_tenant(token)
    if tid is None:
        raise WrongTenant(
            f"the access token does not say which tenant it is for (no tid claim), so it cannot be checked against "
            f"[auth] tenant_id {tenant_id}; nothing was fetched. Use a token Entra ID issued for that tenant."
        )
    if tid.lower() != tenant_id.lower():
        raise WrongTenant(
            f"the access token was issued for tenant {tid}, not for [auth] tenant_id {tenant_id}; nothing was fetched "
            "(the report would show another tenant's data under this one's name). Check the credential: its "
            "tenant, or the token in the environment variable [auth] token_env names."
        )


#: One attempted credential in azure-identity's chained message: "\tEnvironmentCredential: <why it failed>".
_ATTEMPT = re.compile(r"^\s+(\w+Credential): ", re.MULTILINE)


def token_error(scope: str, exc: Exception) -> AuthError:
    """The :class:`AuthError` of a failed token request: a chained credential's failure shortened to its first line
    and the credentials it tried (each named once), the whole text kept in ``detail``."""
    text = str(exc).strip()
    tried = list(dict.fromkeys(_ATTEMPT.findall(text)))
    summary = text.splitlines()[0] if text else type(exc).__name__
    if tried:
        summary += f" (tried {len(tried)}: {', '.join(tried)})"
    error = AuthError(f"could not acquire a token for {scope}: {summary}")
    error.detail = text
    return error


class CredentialTokenProvider(AccessTokenProvider):
    """Kiota token provider over a *sync* azure-identity credential (works for every mode, in notebooks too).

    Tokens are only sent to the configured Graph host, over plain http only to a loopback address, and with a
    ``tenant_id`` (a GUID) only when issued for that tenant (:func:`check_tenant`).
    """

    def __init__(self, credential: TokenCredential, base_url: str, tenant_id: str = "") -> None:
        self._credential = credential
        self._tenant_id = tenant_id
        parts = urlsplit(base_url)
        host = parts.hostname or ""
        self._hosts = AllowedHostsValidator([host if parts.port is None else f"{host}:{parts.port}", host])
        self._scope = (
            "https://graph.microsoft.com/.default"
            if parts.scheme == "http" or host.endswith("graph.microsoft.com")
            else f"{parts.scheme}://{host}/.default"
        )
        self._token: AccessToken | None = None
        self._lock = asyncio.Lock()

    async def get_authorization_token(self, uri: str, additional_authentication_context: Any = None) -> str:
        parts = urlsplit(uri)
        if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
            raise AuthError(f"refusing to send a token over plain http to {parts.hostname}")
        async with self._lock:
            if self._token is None or self._token.expires_on - time.time() < 300:
                try:
                    token = await asyncio.to_thread(self._credential.get_token, self._scope)
                except Exception as exc:
                    raise token_error(self._scope, exc) from exc
                check_tenant(token.token, self._tenant_id)
                self._token = token
            return self._token.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts
