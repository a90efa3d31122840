"""The tenant a Graph token is for (issue 26): read from its tid claim, and a token for another tenant refused."""

from __future__ import annotations

import asyncio

import pytest

from sspr_review.core.config import AuthSettings
from sspr_review.core.errors import AuthError, WrongTenant
from sspr_review.sources.graph.auth import (
    CredentialTokenProvider,
    StaticToken,
    build_credential,
    check_tenant,
    token_tenant,
)
from tests.support.graph_server import mint_token

A = "11111111-1111-1111-1111-111111111111"
B = "22222222-2222-2222-2222-222222222222"
URL = "http://127.0.0.1:8000/v1.0"


def test_the_tid_claim_is_read_from_an_entra_shaped_token() -> None:
    assert token_tenant(mint_token(A)) == A
    for opaque in ("test-token", "a.b", "a.!!!.c", "a.bm90IGpzb24.c", "a.WzFd.c", ""):
        assert token_tenant(opaque) is None


def test_a_token_for_another_tenant_is_refused_naming_both() -> None:
    check_tenant(mint_token(A), A)
    check_tenant(mint_token(A.upper()), A)
    with pytest.raises(WrongTenant, match=rf"issued for tenant {B}, not for \[auth\] tenant_id {A}"):
        check_tenant(mint_token(B), A)
    with pytest.raises(WrongTenant, match=r"does not say which tenant it is for"):
        check_tenant("opaque-token", A)
    assert issubclass(WrongTenant, AuthError)  # exit 5, like any authentication failure


def test_only_a_guid_tenant_can_be_compared() -> None:
    check_tenant(mint_token(B), "")  # no tenant configured: nothing to compare with
    check_tenant(mint_token(B), "contoso.onmicrosoft.com")  # a domain name is no tid
    check_tenant("opaque-token", "")


def test_the_provider_refuses_before_handing_the_token_out() -> None:
    provider = CredentialTokenProvider(StaticToken(mint_token(B)), URL, A)
    with pytest.raises(WrongTenant):
        asyncio.run(provider.get_authorization_token(f"{URL}/organization"))
    token = mint_token(A)
    good = CredentialTokenProvider(StaticToken(token), URL, A)
    assert asyncio.run(good.get_authorization_token(f"{URL}/organization")) == token


def test_each_tenant_names_the_variable_of_its_own_token() -> None:
    settings = AuthSettings(token_env="TOKEN_CONTOSO")
    credential = build_credential(settings, env={"TOKEN_CONTOSO": "tok-a", "SSPR_REVIEW_ACCESS_TOKEN": "tok-b"})
    assert isinstance(credential, StaticToken) and credential.get_token("scope").token == "tok-a"
    with pytest.raises(AuthError, match="TOKEN_CONTOSO"):
        build_credential(AuthSettings(mode="token", token_env="TOKEN_CONTOSO"), env={})
