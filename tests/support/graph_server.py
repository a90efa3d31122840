"""A Microsoft-Graph-compatible HTTP server on 127.0.0.1, for tests, benchmarks and demos.

The kit's real client (msgraph-sdk over httpx, plus the kit's own rate limiter and retries) is tested against
this server over real HTTP, so it behaves like Graph where the kit depends on it:

* the endpoints the kit reads (see :data:`ROUTES`), under ``/v1.0`` and ``/beta`` alike, path matching
  case-insensitive like Graph;
* paging with ``$top`` (per-endpoint default and maximum, ``$top`` above the maximum is a 400) and an
  **absolute** ``@odata.nextLink`` carrying the same query options plus an opaque ``$skiptoken``; pages of
  one listing come from one snapshot, like a server-side cursor;
* ``$filter`` parsed by a small recursive-descent parser (``and``, ``or``, parentheses, ``eq ne gt ge lt le``,
  ``startswith``, ``any`` lambdas); anything else is a 400 "Invalid filter clause", as are quoted datetimes
  compared with a ``*DateTime`` property and, for directoryAudits (``strict_filters``), properties and
  operators Microsoft does not document as filterable;
* ``$select``, ``$orderby`` (directoryAudits: ``activityDateTime`` only, default ``desc``), ``$expand``
  (``principal``/``roleDefinition`` on role assignments and eligibility instances);
* the authentication-methods report functions ``usersRegisteredByFeature`` and ``usersRegisteredByMethod``
  (counts over the registration rows, Graph's JSON shape; ``includedUserTypes`` other than ``all`` is a 400 as
  on Graph), and ``$filter`` on userRegistrationDetails limited to the properties Microsoft documents
  (:data:`REGISTRATION_DETAILS_FILTERS`);
* the documented throttling: the "reports" bucket (directoryAudits, userRegistrationDetails and the two
  report functions together)
  5 requests per 10 s with ``Retry-After``; the "identityProtection" bucket (riskDetections) 1 request per
  second **without** ``Retry-After``; a sliding window over request arrival times, rejected requests do not
  consume budget;
* Graph error bodies (``{"error": {"code", "message", "innerError": {...}}}``), 401 without the bearer
  token, permanent 403s (:meth:`GraphServer.deny`) and injected faults (:class:`Fault`).

``time_scale`` shrinks the throttling windows (``0.01`` turns 10 s into 0.1 s). The scaled ``Retry-After``
is then sent as a decimal string (``"0.1"``); real Graph, and this server at ``time_scale=1``, send whole
seconds. Note that kiota's own ``RetryHandler`` only understands whole seconds and ignores a decimal value.
Fault delays and fault ``retry_after`` values are *not* scaled: they are sent and slept as given.

Run ``python -m tests.support.graph_server --demo`` to serve the demo tenant and point ``SSPR_REVIEW_GRAPH_URL`` at
the printed base URL.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import calendar
import collections
import contextlib
import functools
import importlib
import json
import math
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl, quote, unquote, urlsplit

__all__ = [
    "DEFAULT_PAGE_SIZES",
    "MAX_REQUEST_BYTES",
    "THROTTLE_LIMITS",
    "DemoSource",
    "Fault",
    "GraphData",
    "GraphServer",
    "RequestLog",
    "main",
]

Record = dict[str, Any]

#: (default, maximum) page size per endpoint template. Endpoints not listed return everything in one page.
DEFAULT_PAGE_SIZES: Mapping[str, tuple[int, int]] = {
    "/auditLogs/directoryAudits": (100, 999),
    "/identityProtection/riskDetections": (20, 500),
    "/reports/authenticationMethods/userRegistrationDetails": (1000, 1000),
    "/groups/{id}/transitiveMembers/microsoft.graph.user": (100, 999),
    "/groups/{id}/transitiveMembers": (100, 999),
}

#: Documented limits per throttling bucket: (requests, window seconds, sends Retry-After).
THROTTLE_LIMITS: Mapping[str, tuple[int, float, bool]] = {
    "reports": (5, 10.0, True),
    "identityProtection": (1, 1.0, False),
}

#: Graph refuses request bodies above 4 MB (sendMail: "The maximum request length supported is 4MB.").
MAX_REQUEST_BYTES = 4 * 1024 * 1024

#: directoryAudits properties Microsoft documents as filterable, with their operators. ``any`` marks a
#: lambda over a collection (``targetResources/any(t: t/id eq '...')``).
DIRECTORY_AUDIT_FILTERS: Mapping[str, frozenset[str]] = {
    "activityDateTime": frozenset({"eq", "ge", "gt", "le", "lt"}),
    "activityDisplayName": frozenset({"eq", "startswith"}),
    "loggedByService": frozenset({"eq"}),
    "correlationId": frozenset({"eq"}),
    "id": frozenset({"eq"}),
    "initiatedBy/user/id": frozenset({"eq"}),
    "initiatedBy/user/displayName": frozenset({"eq"}),
    "initiatedBy/user/userPrincipalName": frozenset({"eq", "startswith"}),
    "initiatedBy/app/appId": frozenset({"eq"}),
    "initiatedBy/app/displayName": frozenset({"eq"}),
    "targetResources/any/id": frozenset({"eq"}),
    "targetResources/any/displayName": frozenset({"eq", "startswith"}),
}

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

#: The authentication-methods report functions: ``usersRegisteredByFeature`` and ``usersRegisteredByMethod``,
#: with or without ``(includedUserTypes='…',includedUserRoles='…')``.
_REPORT_FUNCTION_RE = re.compile(
    r"^/reports/authenticationMethods/(usersRegisteredByFeature|usersRegisteredByMethod)(?:\((.*)\))?$", re.IGNORECASE
)
_FEATURES = (
    ("ssprRegistered", "isSsprRegistered"),
    ("ssprEnabled", "isSsprEnabled"),
    ("ssprCapable", "isSsprCapable"),
    ("passwordlessCapable", "isPasswordlessCapable"),
    ("mfaCapable", "isMfaCapable"),
)

_SUCCESS_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
_DEFAULT_ERRORS: Mapping[int, tuple[str, str]] = {
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


# --------------------------------------------------------------------------------------------------- data


class DemoSource(Protocol):
    """What :meth:`GraphData.from_demo` needs from a demo tenant (``sspr_review.demo.DemoTenant``)."""

    @property
    def end(self) -> datetime: ...

    def directory_audits(self, start: datetime | None = None, end: datetime | None = None) -> list[Record]: ...
    def risk_detections(self, as_of: datetime) -> list[Record]: ...
    def user_registration_details(self, as_of: datetime) -> list[Record]: ...
    def role_definitions(self) -> list[Record]: ...
    def role_assignments(self) -> list[Record]: ...
    def role_eligibility_schedule_instances(self) -> list[Record]: ...
    def group_members(self, group_id: str) -> list[Record]: ...
    def group_settings(self) -> list[Record]: ...
    def authentication_methods_policy(self) -> Record | None: ...
    def organization(self) -> Any: ...


@dataclass
class GraphData:
    """The records the server answers with, as Graph JSON dicts. Tests may change the lists between requests;
    a listing that is already being paged keeps its snapshot."""

    directory_audits: list[Record] = field(default_factory=list)
    risk_detections: list[Record] = field(default_factory=list)
    user_registration_details: list[Record] = field(default_factory=list)
    role_definitions: list[Record] = field(default_factory=list)
    #: Each with ``principal`` already expanded; dropped from responses unless ``$expand=principal``.
    role_assignments: list[Record] = field(default_factory=list)
    role_eligibility_schedule_instances: list[Record] = field(default_factory=list)
    #: group id → its transitive user members.
    group_members: dict[str, list[Record]] = field(default_factory=dict)
    group_settings: list[Record] = field(default_factory=list)
    authentication_methods_policy: Record | None = None
    organization: list[Record] = field(default_factory=list)
    #: Every accepted ``POST /users/{id}/sendMail``: the request JSON plus ``"userId"`` (the path's user).
    sent_mail: list[Record] = field(default_factory=list)

    @classmethod
    def from_demo(cls, tenant: DemoSource, as_of: datetime | None = None) -> GraphData:
        """Everything a demo tenant holds, as Graph would show it at ``as_of`` (default: ``tenant.end``)."""
        when = tenant.end if as_of is None else as_of
        assignments = list(tenant.role_assignments())
        eligible = list(tenant.role_eligibility_schedule_instances())
        group_ids: list[str] = []
        for record in (*assignments, *eligible):
            principal = record.get("principal")
            if isinstance(principal, dict) and _is_group(principal):
                gid = principal.get("id") or record.get("principalId")
                if isinstance(gid, str) and gid not in group_ids:
                    group_ids.append(gid)
        organization = tenant.organization()
        if isinstance(organization, dict):
            organization = [organization]
        return cls(
            directory_audits=list(tenant.directory_audits()),
            risk_detections=list(tenant.risk_detections(when)),
            user_registration_details=list(tenant.user_registration_details(when)),
            role_definitions=list(tenant.role_definitions()),
            role_assignments=assignments,
            role_eligibility_schedule_instances=eligible,
            group_members={gid: list(tenant.group_members(gid)) for gid in group_ids},
            group_settings=list(tenant.group_settings()),
            authentication_methods_policy=tenant.authentication_methods_policy(),
            organization=list(organization or []),
        )


def _is_group(principal: Mapping[str, Any]) -> bool:
    return str(principal.get("@odata.type", "")).lower() == "#microsoft.graph.group"


@dataclass
class Fault:
    """One injected fault.

    ``path`` is matched as a suffix of the request path (at a segment boundary, case-insensitive).
    ``status`` 0 or 200 means "sleep ``delay`` seconds, then answer normally" (a timeout or a slow
    response); -1 closes the connection without answering; anything else is answered with that status, a
    Graph error body (``code``/``message``, defaults by status) and ``Retry-After`` when ``retry_after`` is
    set.
    The fault skips the first ``after`` matching requests, then hits the next ``times`` ones. Faults are
    checked before authorisation denials and throttling, and a faulted request consumes no throttle budget.
    """

    path: str
    status: int
    times: int = 1
    after: int = 0
    retry_after: float | None = None
    code: str = ""
    message: str = ""
    delay: float = 0.0


@dataclass(frozen=True)
class RequestLog:
    """One received request. ``time`` is ``time.monotonic()`` at arrival; ``path`` is the request path as
    sent (with ``/v1.0``, without the query, percent-decoded); ``query`` the decoded query options (the last
    one wins when repeated); ``headers`` with lower-case names; ``status`` the status answered (-1: connection
    closed without an answer)."""

    time: float
    method: str
    path: str
    query: dict[str, str]
    status: int
    headers: dict[str, str]
    body: bytes


# ------------------------------------------------------------------------------------------------- errors


class _GraphError(Exception):
    def __init__(
        self, status: int, code: str = "", message: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        default_code, default_message = _DEFAULT_ERRORS.get(status, ("UnknownError", "An error occurred."))
        super().__init__(message or default_message)
        self.status = status
        self.code = code or default_code
        self.message = message or default_message
        self.headers = dict(headers or {})


def _bad_request(message: str) -> _GraphError:
    return _GraphError(400, "BadRequest", message)


class _FilterError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- datetimes

_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?$",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=1 << 18)
def _datetime_ns(text: str) -> int | None:
    """Nanoseconds since the epoch for an ISO 8601 text (any number of fractional digits, ``Z`` or an offset;
    a value without offset is taken as UTC, like Graph's stored timestamps), or None when it is not one."""
    m = _DATETIME_RE.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    try:
        datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        return None
    seconds = calendar.timegm(
        (int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), 0, 0, 0)
    )
    if zone and zone.upper() != "Z":
        sign = 1 if zone[0] == "+" else -1
        seconds -= sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    nanos = int((fraction or "")[:9].ljust(9, "0"))
    return seconds * 1_000_000_000 + nanos


# ------------------------------------------------------------------------------------------------ $filter


@dataclass(frozen=True)
class _DateTimeLiteral:
    text: str
    ns: int


_Lit = str | int | float | bool | None | _DateTimeLiteral

_TOKEN_RE = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<dt>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?)(?![\w:.-])
    | (?P<num>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w:-])
    | (?P<name>[A-Za-z_][\w.]*(?:/[A-Za-z_][\w.]*)*)
    | (?P<punct>[(),:])
    )""",
    re.VERBOSE,
)
_COMPARISONS = frozenset({"eq", "ne", "gt", "ge", "lt", "le"})
_KEYWORDS = frozenset({"and", "or", "not", "in", "has", "true", "false", "null", *_COMPARISONS})
_OP_KIND = {
    "eq": "Equal",
    "ne": "NotEqual",
    "gt": "GreaterThan",
    "ge": "GreaterThanOrEqual",
    "lt": "LessThan",
    "le": "LessThanOrEqual",
}
_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "ne": lambda a, b: bool(a != b),
    "gt": lambda a, b: bool(a > b),
    "ge": lambda a, b: bool(a >= b),
    "lt": lambda a, b: bool(a < b),
    "le": lambda a, b: bool(a <= b),
}


@dataclass(frozen=True)
class _Token:
    kind: str  # str, dt, num, name, punct, end
    text: str


@dataclass(frozen=True)
class _Path:
    segments: tuple[str, ...]
    var: str | None  # lambda variable the path starts from, None for the record itself
    canonical: str  # e.g. "targetResources/any/id", used for the strict allowlist and type checks


@dataclass(frozen=True)
class _Compare:
    path: _Path
    op: str
    value: _Lit


@dataclass(frozen=True)
class _StartsWith:
    path: _Path
    prefix: str


@dataclass(frozen=True)
class _Any:
    path: _Path
    var: str
    body: _Node


@dataclass(frozen=True)
class _BoolOp:
    op: str  # "and" | "or"
    left: _Node
    right: _Node


_Node = _Compare | _StartsWith | _Any | _BoolOp


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise _FilterError(f"Syntax error at position {pos} in '{text}'.")
        kind = cast(str, m.lastgroup)
        tokens.append(_Token(kind, m.group(kind)))
        pos = m.end()
    tokens.append(_Token("end", ""))
    return tokens


def _is_datetime_property(path: _Path) -> bool:
    return path.canonical.rsplit("/", 1)[-1].endswith("DateTime")


def _edm_type(value: _Lit) -> str:
    if isinstance(value, _DateTimeLiteral):
        return "Edm.DateTimeOffset"
    if isinstance(value, bool):
        return "Edm.Boolean"
    if isinstance(value, str):
        return "Edm.String"
    if isinstance(value, int):
        return "Edm.Int32"
    if isinstance(value, float):
        return "Edm.Double"
    return "null"


class _FilterParser:
    """Recursive descent over: or_expr := and_expr ('or' and_expr)*; and_expr := primary ('and' primary)*;
    primary := '(' or_expr ')' | startswith(path, 'text') | path/any(v: or_expr) | path op literal."""

    def __init__(self, text: str, allowed: Mapping[str, frozenset[str]] | None) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0
        self.allowed = allowed
        self.scopes: dict[str, str] = {}  # lambda variable -> canonical collection path ("x/any")

    def parse(self) -> _Node:
        node = self._or()
        if self._peek().kind != "end":
            raise _FilterError(f"Syntax error: unexpected '{self._peek().text}'.")
        return node

    def _peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def _next(self) -> _Token:
        token = self._peek()
        self.pos += 1
        return token

    def _is_word(self, word: str, ahead: int = 0) -> bool:
        token = self._peek(ahead)
        return token.kind == "name" and token.text.lower() == word

    def _expect_punct(self, char: str) -> None:
        token = self._next()
        if token.kind != "punct" or token.text != char:
            raise _FilterError(f"Syntax error: expected '{char}' but found '{token.text or 'end of input'}'.")

    def _or(self) -> _Node:
        node = self._and()
        while self._is_word("or"):
            self._next()
            node = _BoolOp("or", node, self._and())
        return node

    def _and(self) -> _Node:
        node = self._primary()
        while self._is_word("and"):
            self._next()
            node = _BoolOp("and", node, self._primary())
        return node

    def _primary(self) -> _Node:
        token = self._peek()
        if token.kind == "punct" and token.text == "(":
            self._next()
            node = self._or()
            self._expect_punct(")")
            return node
        if token.kind != "name":
            raise _FilterError(f"Syntax error: expected a property or function but found '{token.text}'.")
        word = token.text.lower()
        if word == "not":
            raise _FilterError("The 'not' operator is not supported.")
        if word in _KEYWORDS:
            raise _FilterError(f"Syntax error: unexpected '{token.text}'.")
        nxt = self._peek(1)
        is_call = nxt.kind == "punct" and nxt.text == "("
        if is_call and "/" not in token.text:
            return self._function()
        if is_call:
            head, _, last = token.text.rpartition("/")
            if last.lower() == "any":
                return self._lambda(head)
            raise _FilterError(f"The function or lambda '{last}' is not supported.")
        return self._comparison()

    def _function(self) -> _Node:
        name = self._next().text
        if name.lower() != "startswith":
            raise _FilterError(f"The function '{name}' is not supported.")
        self._expect_punct("(")
        path = self._path(self._next())
        self._expect_punct(",")
        literal = self._literal(self._next())
        self._expect_punct(")")
        if not isinstance(literal, str) or isinstance(literal, bool):
            raise _FilterError("startswith expects a string literal as its second argument.")
        if _is_datetime_property(path):
            raise _FilterError(
                "No function signature for the function with name 'startswith' matches the specified arguments."
            )
        if self._peek().kind == "name" and self._peek().text.lower() in _COMPARISONS:
            raise _FilterError("Comparing the result of startswith is not supported.")
        self._check_allowed(path, "startswith")
        return _StartsWith(path, literal)

    def _lambda(self, collection_text: str) -> _Node:
        self._next()  # the "x/any" name
        collection = self._path(_Token("name", collection_text))
        self._expect_punct("(")
        var_token = self._next()
        if var_token.kind != "name" or "/" in var_token.text or var_token.text.lower() in _KEYWORDS:
            raise _FilterError("Syntax error: a lambda needs a range variable, as in any(t: t/id eq 'x').")
        self._expect_punct(":")
        var = var_token.text
        if var in self.scopes:
            raise _FilterError(f"The range variable '{var}' is already in scope.")
        self.scopes[var] = f"{collection.canonical}/any"
        try:
            body = self._or()
        finally:
            del self.scopes[var]
        self._expect_punct(")")
        return _Any(collection, var, body)

    def _comparison(self) -> _Node:
        path = self._path(self._next())
        op_token = self._next()
        op = op_token.text.lower()
        if op_token.kind != "name" or op not in _COMPARISONS:
            if op in {"in", "has"}:
                raise _FilterError(f"The '{op}' operator is not supported.")
            raise _FilterError(f"Syntax error: expected a comparison operator but found '{op_token.text}'.")
        value = self._literal(self._next())
        datetime_property = _is_datetime_property(path)
        if datetime_property != isinstance(value, _DateTimeLiteral) and (isinstance(value, str | _DateTimeLiteral)):
            left = "Edm.DateTimeOffset" if datetime_property else "Edm.String"
            raise _FilterError(
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{left}' and '{_edm_type(value)}' for operator kind '{_OP_KIND[op]}'."
            )
        if op not in {"eq", "ne"} and (value is None or isinstance(value, bool)):
            raise _FilterError(f"The operator '{op}' cannot be used with '{_edm_type(value)}'.")
        self._check_allowed(path, op)
        return _Compare(path, op, value)

    def _path(self, token: _Token) -> _Path:
        if token.kind != "name" or token.text.lower() in _KEYWORDS:
            raise _FilterError(f"Syntax error: expected a property path but found '{token.text}'.")
        segments = tuple(token.text.split("/"))
        if segments[0] in self.scopes:
            rest = segments[1:]
            canonical = "/".join((self.scopes[segments[0]], *rest))
            return _Path(rest, segments[0], canonical)
        if self.scopes:
            raise _FilterError(f"Inside a lambda, paths must start with its range variable: '{token.text}'.")
        return _Path(segments, None, token.text)

    def _literal(self, token: _Token) -> _Lit:
        if token.kind == "str":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "dt":
            ns = _datetime_ns(token.text)
            if ns is None:
                raise _FilterError(f"'{token.text}' is not a valid DateTimeOffset.")
            return _DateTimeLiteral(token.text, ns)
        if token.kind == "num":
            return float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
        if token.kind == "name" and token.text.lower() in {"true", "false"}:
            return token.text.lower() == "true"
        if token.kind == "name" and token.text.lower() == "null":
            return None
        raise _FilterError(f"Syntax error: expected a literal but found '{token.text or 'end of input'}'.")

    def _check_allowed(self, path: _Path, op: str) -> None:
        if self.allowed is None:
            return
        ops = self.allowed.get(path.canonical)
        if ops is None:
            raise _FilterError(f"Filtering on property '{path.canonical}' is not supported.")
        if op not in ops:
            raise _FilterError(f"The operator '{op}' is not supported on property '{path.canonical}'.")


def _parse_filter(text: str, allowed: Mapping[str, frozenset[str]] | None) -> _Node:
    return _FilterParser(text, allowed).parse()


def _resolve(record: Any, path: _Path, env: Mapping[str, Any]) -> Any:
    value = env[path.var] if path.var is not None else record
    for segment in path.segments:
        if isinstance(value, list):
            raise _FilterError(f"'{path.canonical}' is a collection: use a lambda such as any().")
        if not isinstance(value, dict):
            return None
        value = value.get(segment)
    if isinstance(value, list):
        raise _FilterError(f"'{path.canonical}' is a collection: use a lambda such as any().")
    return value


def _compare(value: Any, op: str, literal: _Lit) -> bool:
    mismatch = op == "ne"  # a value of another type (or a missing one) is "not equal" and nothing else
    if isinstance(literal, _DateTimeLiteral):
        ns = _datetime_ns(value) if isinstance(value, str) else None
        return mismatch if ns is None else _OPS[op](ns, literal.ns)
    if literal is None:
        return (value is None) == (op == "eq")
    if isinstance(literal, bool):
        return _OPS[op](value, literal) if isinstance(value, bool) else mismatch
    if isinstance(literal, str):
        return _OPS[op](value, literal) if isinstance(value, str) else mismatch
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _OPS[op](value, literal)
    return mismatch


def _matches(node: _Node, record: Any, env: Mapping[str, Any]) -> bool:
    if isinstance(node, _BoolOp):
        if node.op == "and":
            return _matches(node.left, record, env) and _matches(node.right, record, env)
        return _matches(node.left, record, env) or _matches(node.right, record, env)
    if isinstance(node, _Compare):
        return _compare(_resolve(record, node.path, env), node.op, node.value)
    if isinstance(node, _StartsWith):
        value = _resolve(record, node.path, env)
        return isinstance(value, str) and value.startswith(node.prefix)
    base = env[node.path.var] if node.path.var is not None else record
    for segment in node.path.segments:
        base = base.get(segment) if isinstance(base, dict) else None
    if not isinstance(base, list):
        return False
    return any(_matches(node.body, record, {**env, node.var: item}) for item in base)


# ----------------------------------------------------------------------------------------------- routing


@dataclass(frozen=True)
class _Route:
    template: str  # "/groups/{id}/transitiveMembers", also the page_sizes key
    methods: tuple[str, ...]
    context: str  # @odata.context after "$metadata#"; "{id}" is substituted
    bucket: str | None = None
    single: bool = False  # one entity, not a collection
    top: bool = False  # honours $top
    expand: frozenset[str] = frozenset()
    hidden: frozenset[str] = frozenset()  # navigation properties only sent when expanded
    orderable: frozenset[str] | None = None  # None: any property path
    default_order: tuple[tuple[str, bool], ...] = ()  # (property, descending)
    strict_filters: Mapping[str, frozenset[str]] | None = None

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        parts = [re.escape(p) if p != "{id}" else "([^/]+)" for p in self.template.split("/")]
        return re.compile("/".join(parts) + "$", re.IGNORECASE)


_ROLE_EXPAND = frozenset({"principal", "roleDefinition"})

#: The endpoints served, relative to ``/v1.0`` (or ``/beta``).
ROUTES: tuple[_Route, ...] = (
    _Route(
        "/auditLogs/directoryAudits",
        ("GET",),
        "auditLogs/directoryAudits",
        bucket="reports",
        top=True,
        orderable=frozenset({"activityDateTime"}),
        default_order=(("activityDateTime", True),),
        strict_filters=DIRECTORY_AUDIT_FILTERS,
    ),
    _Route(
        "/identityProtection/riskDetections",
        ("GET",),
        "identityProtection/riskDetections",
        bucket="identityProtection",
        top=True,
    ),
    _Route(
        "/reports/authenticationMethods/userRegistrationDetails",
        ("GET",),
        "reports/authenticationMethods/userRegistrationDetails",
        bucket="reports",
        strict_filters=REGISTRATION_DETAILS_FILTERS,
    ),
    _Route(
        "/reports/authenticationMethods/usersRegisteredByFeature",
        ("GET",),
        "microsoft.graph.userRegistrationFeatureSummary",
        bucket="reports",
        single=True,
    ),
    _Route(
        "/reports/authenticationMethods/usersRegisteredByMethod",
        ("GET",),
        "microsoft.graph.userRegistrationMethodSummary",
        bucket="reports",
        single=True,
    ),
    _Route("/roleManagement/directory/roleDefinitions", ("GET",), "roleManagement/directory/roleDefinitions"),
    _Route(
        "/roleManagement/directory/roleAssignments",
        ("GET",),
        "roleManagement/directory/roleAssignments",
        expand=_ROLE_EXPAND,
        hidden=_ROLE_EXPAND,
    ),
    _Route(
        "/roleManagement/directory/roleEligibilityScheduleInstances",
        ("GET",),
        "roleManagement/directory/roleEligibilityScheduleInstances",
        expand=_ROLE_EXPAND,
        hidden=_ROLE_EXPAND,
    ),
    _Route("/groups/{id}/transitiveMembers/microsoft.graph.user", ("GET",), "users", top=True),
    _Route("/groups/{id}/transitiveMembers", ("GET",), "directoryObjects", top=True),
    _Route("/groupSettings", ("GET",), "groupSettings"),
    _Route("/organization", ("GET",), "organization"),
    _Route(
        "/policies/authenticationMethodsPolicy",
        ("GET",),
        "policies/authenticationMethodsPolicy/$entity",
        single=True,
    ),
    _Route("/users/{id}/sendMail", ("POST",), ""),
)

_KNOWN_OPTIONS = frozenset({"filter", "top", "select", "orderby", "expand", "skiptoken"})


def _suffix_match(path: str, suffix: str) -> bool:
    path = path.rstrip("/").lower()
    suffix = "/" + suffix.strip("/").lower()
    return path == suffix or path.endswith(suffix)


def _format_seconds(seconds: float) -> str:
    if float(seconds).is_integer():
        return str(int(seconds))
    return f"{seconds:.6f}".rstrip("0").rstrip(".")


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(token: str) -> str:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()


# ------------------------------------------------------------------------------------------------ server


@dataclass
class _FaultState:
    fault: Fault
    seen: int = 0


@dataclass
class _Bucket:
    limit: int
    window: float  # scaled seconds
    retry_after: bool
    admitted: collections.deque[float] = field(default_factory=collections.deque)
    rejected: int = 0


@dataclass
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    close: bool = False  # drop the connection without answering


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    graph: GraphServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError) or self.graph._stopping.is_set():
            return  # a client hung up, or we are shutting down
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "graph-server/1.0"
    sys_version = ""

    @property
    def graph(self) -> GraphServer:
        return cast(_HTTPServer, self.server).graph

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed ACKs
        # add ~40 ms to every keep-alive request.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.graph._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.graph._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _read_body(self) -> tuple[bytes, bool]:
        """The request body, and whether it was over :data:`MAX_REQUEST_BYTES`."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            size = 0
            while True:
                line = self.rfile.readline(65537)
                length = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if length == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunk = self.rfile.read(length)
                self.rfile.readline(65537)
                size += len(chunk)
                if size <= MAX_REQUEST_BYTES:
                    chunks.append(chunk)
            return b"".join(chunks), size > MAX_REQUEST_BYTES
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            remaining = length
            while remaining > 0:
                got = self.rfile.read(min(remaining, 1 << 16))
                if not got:
                    break
                remaining -= len(got)
            return b"", True
        return (self.rfile.read(length) if length > 0 else b""), False

    def _dispatch(self) -> None:
        arrival = time.monotonic()
        split = urlsplit(self.path)
        path = unquote(split.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            body, too_large = self._read_body()
        except (ValueError, OSError):
            body, too_large = b"", False
            self.close_connection = True
        graph = self.graph
        request_id = str(uuid.uuid4())
        client_request_id = headers.get("client-request-id") or str(uuid.uuid4())
        ids = (request_id, client_request_id)
        response = graph._handle(self.command, path, pairs, headers, body, too_large, ids)
        status = -1 if response.close else response.status
        graph._log(RequestLog(arrival, self.command, path, dict(pairs), status, headers, body))
        if response.close:
            self.close_connection = True
            return
        body_out = response.body
        if response.status >= 400 and not body_out:
            body_out = _error_body(_GraphError(response.status), request_id, client_request_id)
        try:
            self.send_response(response.status)
            self.send_header("request-id", request_id)
            self.send_header("client-request-id", client_request_id)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if body_out and "Content-Type" not in response.headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body_out)))
            self.end_headers()
            if body_out and self.command != "HEAD":
                self.wfile.write(body_out)
            self.wfile.flush()
        except OSError:
            self.close_connection = True


def _error_body(error: _GraphError, request_id: str, client_request_id: str) -> bytes:
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


class GraphServer:
    """A Graph-compatible server on ``127.0.0.1`` answering from a :class:`GraphData`.

    Use as a context manager (``with GraphServer(data) as server: ... server.url``), or call :meth:`start`
    and :meth:`stop`. ``page_sizes`` overrides the (default, maximum) page size per endpoint template (see
    :data:`DEFAULT_PAGE_SIZES`); ``strict_filters`` rejects directoryAudits filters on properties or with
    operators Microsoft does not document; ``echo`` prints one line per request to stderr.
    """

    def __init__(
        self,
        data: GraphData,
        *,
        time_scale: float = 1.0,
        throttle: bool = True,
        token: str | None = None,
        page_sizes: Mapping[str, tuple[int, int]] | None = None,
        strict_filters: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
        echo: bool = False,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self.data = data
        self.time_scale = time_scale
        self.throttle = throttle
        self.token = token
        self.page_sizes: dict[str, tuple[int, int]] = {**DEFAULT_PAGE_SIZES, **(page_sizes or {})}
        self.strict_filters = strict_filters
        self.host = host
        self.port = port
        self.echo = echo
        self.requests: list[RequestLog] = []
        self._lock = threading.Lock()
        self._faults: list[_FaultState] = []
        self._denied: list[tuple[str, int, str, str]] = []
        self._buckets = {
            name: _Bucket(limit, window * time_scale, retry_after)
            for name, (limit, window, retry_after) in THROTTLE_LIMITS.items()
        }
        self._snapshots: collections.OrderedDict[int, list[Record]] = collections.OrderedDict()
        self._next_snapshot = 1
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:PORT/v1.0`` (no trailing slash). Known once started."""
        if self._httpd is None:
            raise RuntimeError("GraphServer is not started")
        return f"http://{self.host}:{self._httpd.server_address[1]}/v1.0"

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``, for building ``/beta`` or raw URLs."""
        return self.url.removesuffix("/v1.0")

    def start(self) -> GraphServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self.port), _Handler)
        httpd.graph = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="graph-server", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> GraphServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # ------------------------------------------------------------------------------------- test hooks

    def add_fault(self, fault: Fault) -> None:
        """Inject a fault; the first matching active fault (in the order added) applies to a request."""
        with self._lock:
            self._faults.append(_FaultState(fault))

    def deny(
        self,
        path: str,
        *,
        code: str = "Authorization_RequestDenied",
        message: str = "Insufficient privileges to complete the operation.",
        status: int = 403,
    ) -> None:
        """Answer every request to ``path`` (a suffix) with this error, e.g. a missing permission or, with
        another code and message, a missing licence."""
        with self._lock:
            self._denied.append((path, status, code, message))

    def count(self, path: str, status: int | None = None) -> int:
        """Requests received so far whose path ends with ``path``, optionally only those answered
        ``status``."""
        with self._lock:
            logs = list(self.requests)
        return sum(1 for r in logs if _suffix_match(r.path, path) and (status is None or r.status == status))

    @property
    def throttled(self) -> dict[str, int]:
        """How many requests each throttling bucket answered with 429 (injected faults not included)."""
        with self._lock:
            return {name: bucket.rejected for name, bucket in self._buckets.items()}

    def _log(self, entry: RequestLog) -> None:
        with self._lock:
            self.requests.append(entry)
        if self.echo:
            query = "&".join(f"{k}={v}" for k, v in entry.query.items())
            print(
                f"{entry.method} {entry.path}{'?' + query if query else ''} -> {entry.status}",
                file=sys.stderr,
            )

    # -------------------------------------------------------------------------------------- handling

    def _handle(
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        headers: Mapping[str, str],
        body: bytes,
        too_large: bool,
        ids: tuple[str, str],
    ) -> _Response:
        request_id, client_request_id = ids
        delay = 0.0
        try:
            self._authorise(headers)
            fault = self._match_fault(path)
            if fault is not None:
                delay = fault.delay
                if fault.status == -1:
                    self._stopping.wait(delay)
                    return _Response(0, close=True)
                if fault.status not in (0, 200):
                    extra: dict[str, str] = {}
                    if fault.retry_after is not None:
                        extra["Retry-After"] = _format_seconds(fault.retry_after)
                    raise _GraphError(fault.status, fault.code, fault.message, extra)
            response = self._route(method, path, pairs, body, too_large)
        except _GraphError as error:
            headers_out = dict(error.headers)
            headers_out["Content-Type"] = "application/json"
            if error.status == 401:
                headers_out["WWW-Authenticate"] = (
                    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
                    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
                )
            response = _Response(error.status, _error_body(error, request_id, client_request_id), headers_out)
        except Exception as exc:  # a bug here must still answer like a server, not kill the thread
            bug = _GraphError(500, "InternalServerError", f"graph_server: {type(exc).__name__}: {exc}")
            response = _Response(500, _error_body(bug, request_id, client_request_id))
        if delay > 0:
            self._stopping.wait(delay)
        return response

    def _authorise(self, headers: Mapping[str, str]) -> None:
        if self.token is None:
            return
        value = headers.get("authorization", "")
        scheme, _, credential = value.partition(" ")
        if not value:
            raise _GraphError(401, "InvalidAuthenticationToken", "Access token is empty.")
        if scheme.lower() != "bearer" or credential.strip() != self.token:
            raise _GraphError(401, "InvalidAuthenticationToken", "Access token validation failure.")

    def _match_fault(self, path: str) -> Fault | None:
        chosen: Fault | None = None
        with self._lock:
            for state in self._faults:
                if not _suffix_match(path, state.fault.path):
                    continue
                index = state.seen
                state.seen += 1
                active = state.fault.after <= index < state.fault.after + state.fault.times
                if active and chosen is None:
                    chosen = state.fault
        return chosen

    def _admit(self, bucket_name: str | None) -> None:
        """Apply the bucket's sliding window at this request's arrival; raise 429 when over budget."""
        if bucket_name is None or not self.throttle:
            return
        with self._lock:
            bucket = self._buckets[bucket_name]
            now = time.monotonic()
            while bucket.admitted and bucket.admitted[0] <= now - bucket.window:
                bucket.admitted.popleft()
            if len(bucket.admitted) < bucket.limit:
                bucket.admitted.append(now)
                return
            bucket.rejected += 1
            wait = bucket.admitted[0] + bucket.window - now
        headers: dict[str, str] = {}
        if bucket.retry_after:
            graph_seconds = max(1, math.ceil(wait / self.time_scale - 1e-9))
            headers["Retry-After"] = _format_seconds(graph_seconds * self.time_scale)
        raise _GraphError(
            429, "TooManyRequests", "Too many requests. The application or user has been throttled.", headers
        )

    def _route(self, method: str, path: str, pairs: list[tuple[str, str]], body: bytes, too_large: bool) -> _Response:
        stripped = path.rstrip("/")
        version = next((v for v in ("/v1.0", "/beta") if stripped.lower().startswith(v + "/")), None)
        if version is None:
            raise _GraphError(404, "ResourceNotFound", f"Invalid version: '{path}'.")
        relative = stripped[len(version) :]
        # Graph accepts the namespace alias "graph." for "microsoft.graph." in type casts; msgraph-sdk sends it.
        relative = re.sub(r"/graph\.(\w+)$", r"/microsoft.graph.\1", relative)
        function = _REPORT_FUNCTION_RE.match(relative)
        arguments = ""
        if function:
            relative, arguments = f"/reports/authenticationMethods/{function.group(1)}", function.group(2) or ""
        for route in ROUTES:
            m = route.pattern.match(relative)
            if m:
                break
        else:
            raise _GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{relative}'.")
        for denied_path, status, code, message in self._denied:
            if _suffix_match(path, denied_path):
                raise _GraphError(status, code, message)
        if method not in route.methods:
            raise _GraphError(405, "Request_BadRequest", f"The method '{method}' is not allowed here.")
        self._admit(route.bucket)
        if too_large:
            raise _GraphError(413)
        path_id = m.group(1) if m.groups() else ""
        if route.template == "/users/{id}/sendMail":
            return self._send_mail(path_id, body)
        options = self._options(pairs)
        context = f"{self.origin}{version}/$metadata#{route.context.replace('{id}', path_id)}"
        if function:
            return self._summary(route, arguments, context)
        if route.single:
            return self._single(route, options, context)
        return self._collection(route, path_id, version, relative, options, pairs, context)

    @staticmethod
    def _options(pairs: list[tuple[str, str]]) -> dict[str, str]:
        options: dict[str, str] = {}
        for key, value in pairs:
            name = key.lower().removeprefix("$")
            if name not in _KNOWN_OPTIONS:
                if key.startswith("$"):
                    raise _bad_request(f"Query option '{key}' is not supported.")
                continue
            if name in options:
                raise _bad_request(f"Query option '${name}' was specified more than once.")
            options[name] = value
        return options

    def _send_mail(self, user_id: str, body: bytes) -> _Response:
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            raise _GraphError(400, "ErrorInvalidRequest", "Cannot read the request body.") from None
        if not isinstance(payload, dict) or not isinstance(payload.get("message"), dict):
            raise _GraphError(400, "ErrorInvalidParameter", "The value of the parameter 'Message' is empty.")
        with self._lock:
            self.data.sent_mail.append({"userId": user_id, **payload})
        return _Response(202)

    def _summary(self, route: _Route, arguments: str, context: str) -> _Response:
        """``usersRegisteredByFeature`` / ``usersRegisteredByMethod`` over the registration report's rows.

        Like Graph, ``includedUserTypes`` accepts only ``all`` (Graph answers any other value with 400
        "Parameter member is not a valid userType parameter. Valid parameters are all"); ``includedUserRoles``
        is ``all``, ``admin`` or ``privilegedAdmin`` (both: ``isAdmin``) or ``user``."""
        args = {"includedUserTypes": "all", "includedUserRoles": "all"}
        for part in filter(None, (p.strip() for p in arguments.split(","))):
            name, _, value = part.partition("=")
            if name.strip() not in args or not re.fullmatch(r"'[A-Za-z]+'", value.strip()):
                raise _bad_request(f"Invalid function parameter '{part}'.")
            args[name.strip()] = value.strip()[1:-1]
        if args["includedUserTypes"] != "all":
            raise _GraphError(
                400,
                "400",
                f"Parameter {args['includedUserTypes']} is not a valid userType parameter. Valid parameters are all",
            )
        roles = args["includedUserRoles"]
        if roles not in ("all", "admin", "privilegedAdmin", "user"):
            raise _bad_request(f"Parameter {roles} is not a valid userRole parameter.")
        rows = [
            r
            for r in self.data.user_registration_details
            if roles == "all" or bool(r.get("isAdmin")) == (roles != "user")
        ]
        body: dict[str, Any] = {"@odata.context": context}
        body["totalUserCount"] = len(rows)
        if route.template.endswith("Feature"):
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
        return _json_response(body)

    def _single(self, route: _Route, options: Mapping[str, str], context: str) -> _Response:
        if route.template == "/policies/authenticationMethodsPolicy":
            record = self.data.authentication_methods_policy
        else:  # pragma: no cover - only one single-entity route today
            record = None
        if record is None:
            raise _GraphError(404, "ResourceNotFound", "Resource not found.")
        select = self._select(options)
        out = self._project(record, route, select, frozenset())
        return _json_response({"@odata.context": context, **out})

    def _source(self, route: _Route, path_id: str) -> list[Record]:
        data = self.data
        template = route.template
        if template.startswith("/groups/"):
            members = data.group_members.get(path_id)
            if members is None:
                raise _GraphError(
                    404,
                    "Request_ResourceNotFound",
                    f"Resource '{path_id}' does not exist or one of its queried reference-property objects "
                    "are not present.",
                )
            if template.endswith("microsoft.graph.user"):
                return [
                    m
                    for m in members
                    if str(m.get("@odata.type", "#microsoft.graph.user")).lower() == "#microsoft.graph.user"
                ]
            return list(members)
        sources: Mapping[str, list[Record]] = {
            "/auditLogs/directoryAudits": data.directory_audits,
            "/identityProtection/riskDetections": data.risk_detections,
            "/reports/authenticationMethods/userRegistrationDetails": data.user_registration_details,
            "/roleManagement/directory/roleDefinitions": data.role_definitions,
            "/roleManagement/directory/roleAssignments": data.role_assignments,
            "/roleManagement/directory/roleEligibilityScheduleInstances": (data.role_eligibility_schedule_instances),
            "/groupSettings": data.group_settings,
            "/organization": data.organization,
        }
        return list(sources[template])

    def _collection(
        self,
        route: _Route,
        path_id: str,
        version: str,
        relative: str,
        options: Mapping[str, str],
        pairs: list[tuple[str, str]],
        context: str,
    ) -> _Response:
        default_size, max_size = self.page_sizes.get(route.template, (0, 0))
        size = default_size
        if route.top and "top" in options:
            size = self._top(options["top"], max_size)
        select = self._select(options)
        expand = self._expand(route, options)
        if select:
            context += "(" + ",".join(select) + ")"
        snapshot_id, offset = 0, 0
        items: list[Record] | None = None
        if "skiptoken" in options:
            snapshot_id, offset = self._skiptoken(options["skiptoken"])
            with self._lock:
                items = self._snapshots.get(snapshot_id)
                if items is not None:
                    self._snapshots.move_to_end(snapshot_id)
        if items is None:
            items = self._query(route, path_id, options)
            if size > 0 and len(items) > offset + size:
                with self._lock:
                    snapshot_id = self._next_snapshot
                    self._next_snapshot += 1
                    self._snapshots[snapshot_id] = items
                    while len(self._snapshots) > 64:
                        self._snapshots.popitem(last=False)
        page = items[offset : offset + size] if size > 0 else items[offset:]
        payload: dict[str, Any] = {
            "@odata.context": context,
            "value": [self._project(r, route, select, expand) for r in page],
        }
        if size > 0 and offset + size < len(items):
            token = _b64(f"{snapshot_id}:{offset + size}")
            kept = [(k, v) for k, v in pairs if k.lower().removeprefix("$") != "skiptoken"]
            query = "&".join(f"{quote(k, safe='$')}={quote(v, safe=_QUERY_SAFE)}" for k, v in kept)
            query = f"{query}&$skiptoken={token}" if query else f"$skiptoken={token}"
            payload["@odata.nextLink"] = f"{self.origin}{version}{relative}?{query}"
        return _json_response(payload)

    def _query(self, route: _Route, path_id: str, options: Mapping[str, str]) -> list[Record]:
        items = self._source(route, path_id)
        if "filter" in options:
            allowed = route.strict_filters if self.strict_filters else None
            try:
                node = _parse_filter(options["filter"], allowed)
                items = [r for r in items if _matches(node, r, {})]
            except _FilterError as exc:
                raise _bad_request(f"Invalid filter clause: {exc}") from None
        order = self._orderby(route, options)
        for prop, descending in reversed(order):
            items.sort(key=functools.partial(_sort_key, prop), reverse=descending)
        return items

    @staticmethod
    def _top(value: str, max_size: int) -> int:
        try:
            top = int(value)
        except ValueError:
            raise _bad_request(f"Invalid value '{value}' for query option '$top'.") from None
        if top < 1 or (max_size and top > max_size):
            raise _bad_request(f"Invalid page size specified: '{top}'. Must be between 1 and {max_size} inclusive.")
        return top

    @staticmethod
    def _select(options: Mapping[str, str]) -> tuple[str, ...]:
        if "select" not in options:
            return ()
        names = tuple(part.strip() for part in options["select"].split(","))
        for name in names:
            if not re.fullmatch(r"[A-Za-z_@][\w.@]*", name):
                raise _bad_request(f"Invalid $select: '{name}'. Only top-level property names are supported.")
        return names

    @staticmethod
    def _expand(route: _Route, options: Mapping[str, str]) -> frozenset[str]:
        if "expand" not in options:
            return frozenset()
        names = [part.strip() for part in options["expand"].split(",")]
        by_lower = {name.lower(): name for name in route.expand}
        out: set[str] = set()
        for name in names:
            if name.lower() not in by_lower:
                raise _bad_request(f"Could not find a navigation property named '{name}' to expand.")
            out.add(by_lower[name.lower()])
        return frozenset(out)

    @staticmethod
    def _orderby(route: _Route, options: Mapping[str, str]) -> tuple[tuple[str, bool], ...]:
        if "orderby" not in options:
            return route.default_order
        order: list[tuple[str, bool]] = []
        for clause in options["orderby"].split(","):
            parts = clause.split()
            if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() not in ("asc", "desc")):
                raise _bad_request(f"Invalid $orderby clause: '{clause.strip()}'.")
            prop = parts[0]
            if not re.fullmatch(r"[A-Za-z_][\w]*(?:/[A-Za-z_][\w]*)*", prop):
                raise _bad_request(f"Invalid $orderby property: '{prop}'.")
            if route.orderable is not None and prop not in route.orderable:
                raise _bad_request(f"Ordering by '{prop}' is not supported.")
            order.append((prop, len(parts) == 2 and parts[1].lower() == "desc"))
        return tuple(order)

    @staticmethod
    def _skiptoken(token: str) -> tuple[int, int]:
        try:
            snapshot, offset = _unb64(token).split(":")
            result = int(snapshot), int(offset)
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise _bad_request("Invalid $skiptoken.") from None
        if result[1] < 0:
            raise _bad_request("Invalid $skiptoken.")
        return result

    def _project(self, record: Record, route: _Route, select: tuple[str, ...], expand: frozenset[str]) -> Record:
        out = {k: v for k, v in record.items() if k not in route.hidden or k in expand}
        if "roleDefinition" in expand and "roleDefinition" not in out:
            rid = record.get("roleDefinitionId")
            out["roleDefinition"] = next((d for d in self.data.role_definitions if d.get("id") == rid), None)
        if "principal" in expand and "principal" not in out:
            out["principal"] = self._principal(record.get("principalId"))
        if select:
            keep = set(select) | expand | {k for k in out if k.startswith("@odata.")}
            out = {k: v for k, v in out.items() if k in keep}
        return out

    def _principal(self, principal_id: Any) -> Record | None:
        data = self.data
        for record in (*data.role_assignments, *data.role_eligibility_schedule_instances):
            principal = record.get("principal")
            if isinstance(principal, dict) and principal.get("id") == principal_id:
                return principal
        for members in data.group_members.values():
            for member in members:
                if member.get("id") == principal_id:
                    return member
        return None


_QUERY_SAFE = "$',:/()"


def _sort_key(prop: str, record: Record) -> tuple[int, Any]:
    value: Any = record
    for segment in prop.split("/"):
        value = value.get(segment) if isinstance(value, dict) else None
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        ns = _datetime_ns(value) if prop.endswith("DateTime") else None
        return (2, ns) if ns is not None else (3, value)
    if isinstance(value, bool | int | float):
        return (1, value)
    return (4, json.dumps(value, sort_keys=True))


def _json_response(payload: Mapping[str, Any]) -> _Response:
    return _Response(200, json.dumps(payload, separators=(",", ":")).encode(), {"Content-Type": _SUCCESS_CONTENT_TYPE})


# ------------------------------------------------------------------------------------------------- CLI


def _demo_tenant(users: int | None, weeks: int | None) -> DemoSource:
    # Imported here, by name: the server itself does not depend on the demo module.
    demo = importlib.import_module("sspr_review.sources.demo.tenant")
    kwargs = {k: v for k, v in (("users", users), ("weeks", weeks)) if v is not None}
    return cast(DemoSource, demo.DemoTenant(**kwargs))


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.support.graph_server --demo``: serve the demo tenant until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.graph_server", description="Serve a Microsoft-Graph-compatible API locally."
    )
    parser.add_argument("--demo", action="store_true", help="serve the demo tenant (sspr_review.demo)")
    parser.add_argument("--users", type=int, default=None, help="demo tenant size")
    parser.add_argument("--weeks", type=int, default=None, help="weeks of demo history")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)")
    parser.add_argument("--token", default=None, help="require 'Authorization: Bearer TOKEN'")
    parser.add_argument("--time-scale", type=float, default=1.0, help="scale throttling windows (0.01: 10 s → 0.1 s)")
    parser.add_argument("--no-throttle", action="store_true", help="disable the documented throttling")
    parser.add_argument("-v", "--verbose", action="store_true", help="print one line per request to stderr")
    args = parser.parse_args(argv)
    if not args.demo:
        parser.error("nothing to serve: pass --demo")
    tenant = _demo_tenant(args.users, args.weeks)
    data = GraphData.from_demo(tenant)
    server = GraphServer(
        data,
        time_scale=args.time_scale,
        throttle=not args.no_throttle,
        token=args.token,
        port=args.port,
        echo=args.verbose,
    )
    return serve_until_stopped(
        server,
        lambda url: (
            f"export SSPR_REVIEW_GRAPH_URL={url}   # {len(data.directory_audits)} audit events, "
            f"{len(data.user_registration_details)} users; Ctrl-C to stop"
        ),
    )


def serve_until_stopped(server: Any, banner: Callable[[str], str]) -> int:
    """Run a test server started with ``python -m``: its base URL first on stdout (what a test reads), the
    ``banner`` of that URL on stderr, then serve until Ctrl-C or ``kill`` (SIGTERM)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # stop cleanly on `kill` too, not only on Ctrl-C
    with server:
        print(server.url, flush=True)
        print(banner(server.url), file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
