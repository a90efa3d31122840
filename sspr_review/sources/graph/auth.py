"""Credentials: azure-identity for every mode, or a ready token from the environment.

Modes (``[auth] mode``):

========================  ===================================================================================
``auto`` (default)        ``SSPR_REVIEW_ACCESS_TOKEN`` if set, else azure-identity's DefaultAzureCredential
                          (environment service principal, workload identity, managed identity, Azure CLI...)
``token``                 a ready access token in ``SSPR_REVIEW_ACCESS_TOKEN`` (for tests and short jobs)
``browser``               InteractiveBrowserCredential (an analyst in JupyterLab)
``device_code``           DeviceCodeCredential (an analyst on a machine with no browser)
``azure_cli``             AzureCliCredential (the CLI's app may lack AuditLog.Read.All: prefer your own app)
``client_secret``         ClientSecretCredential; the secret is read from ``client_secret_env``
``certificate``           CertificateCredential from ``certificate_path``; password from the environment
``managed_identity``      ManagedIdentityCredential (an Azure VM, container or Automation account)
``workload_identity``     WorkloadIdentityCredential (GitHub Actions / Kubernetes federated credentials)
========================  ===================================================================================

Secrets never come from the config file: only names of environment variables and file paths do.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from kiota_abstractions.authentication import AccessTokenProvider, AllowedHostsValidator

from ...core.config import LOOPBACK_HOSTS, AuthSettings
from ...core.errors import AuthError

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
    token = env.get(TOKEN_ENV, "")
    if mode == "token" or (mode == "auto" and token):
        if not token:
            raise AuthError(f"[auth] mode = 'token' needs the access token in the environment variable {TOKEN_ENV}")
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

    Tokens are only sent to the configured Graph host, and over plain http only to a loopback address.
    """

    def __init__(self, credential: TokenCredential, base_url: str) -> None:
        self._credential = credential
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
                    self._token = await asyncio.to_thread(self._credential.get_token, self._scope)
                except Exception as exc:
                    raise token_error(self._scope, exc) from exc
            return self._token.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts
