import asyncio

import pytest

from sspr_review.core.config import AuthSettings
from sspr_review.core.errors import AuthError
from sspr_review.sources.graph.auth import TOKEN_ENV, CredentialTokenProvider, StaticToken, build_credential


def test_token_from_environment_wins_in_auto_mode() -> None:
    cred = build_credential(AuthSettings(), env={TOKEN_ENV: "abc"})
    assert isinstance(cred, StaticToken) and cred.get_token("scope").token == "abc"


def test_token_mode_without_token_names_the_variable() -> None:
    with pytest.raises(AuthError, match=TOKEN_ENV):
        build_credential(AuthSettings(mode="token"), env={})


def test_client_secret_comes_from_the_named_environment_variable() -> None:
    settings = AuthSettings(mode="client_secret", tenant_id="t", client_id="c", client_secret_env="MY_SECRET")
    with pytest.raises(AuthError, match="MY_SECRET, which is not set"):
        build_credential(settings, env={})
    cred = build_credential(settings, env={"MY_SECRET": "s3cret"})
    assert type(cred).__name__ == "ClientSecretCredential"


def test_unattended_modes_name_missing_ids() -> None:
    with pytest.raises(AuthError, match=r"tenant_id and client_id"):
        build_credential(AuthSettings(mode="client_secret"), env={"AZURE_CLIENT_SECRET": "x"})
    with pytest.raises(AuthError, match="certificate_path"):
        build_credential(AuthSettings(mode="certificate", tenant_id="t", client_id="c"), env={})


def test_provider_sends_tokens_only_to_graph_host_and_never_over_plain_http() -> None:
    provider = CredentialTokenProvider(StaticToken("tok"), "http://127.0.0.1:8000/v1.0")
    assert asyncio.run(provider.get_authorization_token("http://127.0.0.1:8000/v1.0/x")) == "tok"
    with pytest.raises(AuthError, match="plain http"):
        asyncio.run(provider.get_authorization_token("http://evil.example/v1.0/x"))
    hosts = CredentialTokenProvider(StaticToken("t"), "https://graph.microsoft.us/v1.0").get_allowed_hosts_validator()
    assert "graph.microsoft.us" in hosts.get_allowed_hosts()


def test_failed_token_acquisition_is_an_auth_error() -> None:
    class Broken:
        def get_token(self, *scopes: str, **kw: object) -> object:
            raise RuntimeError("AADSTS7000215: Invalid client secret provided")

    provider = CredentialTokenProvider(Broken(), "https://graph.microsoft.com/v1.0")  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="AADSTS7000215"):
        asyncio.run(provider.get_authorization_token("https://graph.microsoft.com/v1.0/x"))


def test_a_failed_credential_chain_is_said_once_in_short_and_kept_in_full() -> None:
    """azure-identity's DefaultAzureCredential explains every credential it tried; the message names them, the
    reasons stay in ``detail`` (shown by --verbose)."""
    from sspr_review.sources.graph.auth import token_error

    chain = (
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n"
        "\tEnvironmentCredential: EnvironmentCredential authentication unavailable. Environment variables are not"
        " fully configured.\nVisit https://aka.ms/x to troubleshoot this issue.\n"
        "\tAzureCliCredential: Azure CLI not found on path\n"
        "To mitigate this issue, please refer to the troubleshooting guidelines."
    )
    error = token_error("https://graph.microsoft.com/.default", RuntimeError(chain))
    assert str(error) == (
        "could not acquire a token for https://graph.microsoft.com/.default: DefaultAzureCredential failed to"
        " retrieve a token from the included credentials. (tried 2: EnvironmentCredential, AzureCliCredential)"
    )
    assert error.detail == chain
    plain = token_error("s", RuntimeError("AADSTS7000215: Invalid client secret provided."))
    assert str(plain) == "could not acquire a token for s: AADSTS7000215: Invalid client secret provided."
