"""The policies the review reads: the authentication methods policy and the authorization policy (one entity each,
a 404 while there is none) and the directory's group settings (password protection's banned-password settings)."""

from __future__ import annotations

from .collection import entity, listing
from .endpoint import Route

ROUTES = (
    Route("/groupSettings", ("GET",), "groupSettings", listing(lambda data, _: data.group_settings)),
    Route(
        "/policies/authenticationMethodsPolicy",
        ("GET",),
        "policies/authenticationMethodsPolicy/$entity",
        entity(lambda data: data.authentication_methods_policy),
    ),
    Route(
        "/policies/authorizationPolicy",
        ("GET",),
        "policies/authorizationPolicy/$entity",
        entity(lambda data: data.authorization_policy),
    ),
)
