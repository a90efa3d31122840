"""The authentication-methods reports, all in the "reports" bucket: ``userRegistrationDetails`` (pages of 1000,
``$filter`` only on what Microsoft documents, :data:`REGISTRATION_DETAILS_FILTERS`) and the functions
``usersRegisteredByFeature`` and ``usersRegisteredByMethod`` (counts over the same rows, Graph's JSON shape)."""

from __future__ import annotations

import collections
import re
from collections.abc import Mapping
from typing import Any

from .collection import listing
from .endpoint import Call, Route
from .responses import GraphError, Response, bad_request, json_response

#: userRegistrationDetails properties Microsoft documents as filterable (the resource's property table), with
#: their operators; ``id eq`` as well, which the service accepts (the kit's per-user lookups use it).
REGISTRATION_DETAILS_FILTERS: Mapping[str, frozenset[str]] = {
    "id": frozenset({"eq"}),
    "userPrincipalName": frozenset({"eq", "startswith"}),
    "userDisplayName": frozenset({"eq", "startswith"}),
    "userType": frozenset({"eq"}),
    "isAdmin": frozenset({"eq"}),
    "isSsprRegistered": frozenset({"eq"}),
    "isSsprEnabled": frozenset({"eq"}),
    "isSsprCapable": frozenset({"eq"}),
    "isMfaRegistered": frozenset({"eq"}),
    "isMfaCapable": frozenset({"eq"}),
    "isPasswordlessCapable": frozenset({"eq"}),
    "isSystemPreferredAuthenticationMethodEnabled": frozenset({"eq"}),
    "userPreferredMethodForSecondaryAuthentication": frozenset({"eq"}),
    "methodsRegistered/any": frozenset({"eq"}),
    "systemPreferredAuthenticationMethods/any": frozenset({"eq"}),
}

_FEATURES = (
    ("ssprRegistered", "isSsprRegistered"),
    ("ssprEnabled", "isSsprEnabled"),
    ("ssprCapable", "isSsprCapable"),
    ("passwordlessCapable", "isPasswordlessCapable"),
    ("mfaCapable", "isMfaCapable"),
)


def _summary(call: Call) -> Response:
    """``usersRegisteredByFeature`` / ``usersRegisteredByMethod`` over the registration report's rows, with or
    without ``(includedUserTypes='…',includedUserRoles='…')``.

    Like Graph, ``includedUserTypes`` accepts only ``all`` (Graph answers any other value with 400
    "Parameter member is not a valid userType parameter. Valid parameters are all"); ``includedUserRoles``
    is ``all``, ``admin`` or ``privilegedAdmin`` (both: ``isAdmin``) or ``user``."""
    call.options()
    context = call.context
    args = {"includedUserTypes": "all", "includedUserRoles": "all"}
    for part in filter(None, (p.strip() for p in call.arguments.split(","))):
        name, _, value = part.partition("=")
        if name.strip() not in args or not re.fullmatch(r"'[A-Za-z]+'", value.strip()):
            raise bad_request(f"Invalid function parameter '{part}'.")
        args[name.strip()] = value.strip()[1:-1]
    if args["includedUserTypes"] != "all":
        raise GraphError(
            400,
            "400",
            f"Parameter {args['includedUserTypes']} is not a valid userType parameter. Valid parameters are all",
        )
    roles = args["includedUserRoles"]
    if roles not in ("all", "admin", "privilegedAdmin", "user"):
        raise bad_request(f"Parameter {roles} is not a valid userRole parameter.")
    rows = [
        r for r in call.data.user_registration_details if roles == "all" or bool(r.get("isAdmin")) == (roles != "user")
    ]
    body: dict[str, Any] = {"@odata.context": context}
    body["totalUserCount"] = len(rows)
    if call.route.template.endswith("Feature"):
        body["userRegistrationFeatureCounts"] = [
            {"feature": feature, "userCount": sum(1 for r in rows if r.get(prop) is True)}
            for feature, prop in _FEATURES
        ]
    else:
        methods: collections.Counter[str] = collections.Counter(
            str(m) for r in rows for m in set(r.get("methodsRegistered") or [])
        )
        body["userRegistrationMethodCounts"] = [
            {"authenticationMethod": m, "userCount": n} for m, n in sorted(methods.items())
        ]
    body["userRoles"], body["userTypes"] = roles, "all"
    return json_response(body)


ROUTES = (
    Route(
        "/reports/authenticationMethods/userRegistrationDetails",
        ("GET",),
        "reports/authenticationMethods/userRegistrationDetails",
        listing(lambda data, _: data.user_registration_details),
        bucket="reports",
        page_size=(1000, 1000),
        strict_filters=REGISTRATION_DETAILS_FILTERS,
    ),
    Route(
        "/reports/authenticationMethods/usersRegisteredByFeature",
        ("GET",),
        "microsoft.graph.userRegistrationFeatureSummary",
        _summary,
        bucket="reports",
        function=True,
    ),
    Route(
        "/reports/authenticationMethods/usersRegisteredByMethod",
        ("GET",),
        "microsoft.graph.userRegistrationMethodSummary",
        _summary,
        bucket="reports",
        function=True,
    ),
)
