"""Graph's ``$filter``, as far as the kit's requests and Graph's refusals go: a recursive-descent parser (``and``,
``or``, parentheses, ``eq ne gt ge lt le``, ``startswith``, ``any`` lambdas) and an evaluator over Graph JSON records.

Anything else is a :class:`FilterError` (the server answers 400 "Invalid filter clause"), as are quoted datetimes
compared with a ``*DateTime`` property and, given an allowlist, properties and operators it does not name.
Timestamps compare as instants to the nanosecond (:func:`datetime_ns`), as Graph compares its stored times.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast


class FilterError(Exception):
    """A ``$filter`` Graph would refuse; the message says why."""


# ---------------------------------------------------------------------------------------------- datetimes

_DATETIME_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?$",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=1 << 18)
def datetime_ns(text: str) -> int | None:
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
            raise FilterError(f"Syntax error at position {pos} in '{text}'.")
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
            raise FilterError(f"Syntax error: unexpected '{self._peek().text}'.")
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
            raise FilterError(f"Syntax error: expected '{char}' but found '{token.text or 'end of input'}'.")

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
            raise FilterError(f"Syntax error: expected a property or function but found '{token.text}'.")
        word = token.text.lower()
        if word == "not":
            raise FilterError("The 'not' operator is not supported.")
        if word in _KEYWORDS:
            raise FilterError(f"Syntax error: unexpected '{token.text}'.")
        nxt = self._peek(1)
        is_call = nxt.kind == "punct" and nxt.text == "("
        if is_call and "/" not in token.text:
            return self._function()
        if is_call:
            head, _, last = token.text.rpartition("/")
            if last.lower() == "any":
                return self._lambda(head)
            raise FilterError(f"The function or lambda '{last}' is not supported.")
        return self._comparison()

    def _function(self) -> _Node:
        name = self._next().text
        if name.lower() != "startswith":
            raise FilterError(f"The function '{name}' is not supported.")
        self._expect_punct("(")
        path = self._path(self._next())
        self._expect_punct(",")
        literal = self._literal(self._next())
        self._expect_punct(")")
        if not isinstance(literal, str) or isinstance(literal, bool):
            raise FilterError("startswith expects a string literal as its second argument.")
        if _is_datetime_property(path):
            raise FilterError(
                "No function signature for the function with name 'startswith' matches the specified arguments."
            )
        if self._peek().kind == "name" and self._peek().text.lower() in _COMPARISONS:
            raise FilterError("Comparing the result of startswith is not supported.")
        self._check_allowed(path, "startswith")
        return _StartsWith(path, literal)

    def _lambda(self, collection_text: str) -> _Node:
        self._next()  # the "x/any" name
        collection = self._path(_Token("name", collection_text))
        self._expect_punct("(")
        var_token = self._next()
        if var_token.kind != "name" or "/" in var_token.text or var_token.text.lower() in _KEYWORDS:
            raise FilterError("Syntax error: a lambda needs a range variable, as in any(t: t/id eq 'x').")
        self._expect_punct(":")
        var = var_token.text
        if var in self.scopes:
            raise FilterError(f"The range variable '{var}' is already in scope.")
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
                raise FilterError(f"The '{op}' operator is not supported.")
            raise FilterError(f"Syntax error: expected a comparison operator but found '{op_token.text}'.")
        value = self._literal(self._next())
        datetime_property = _is_datetime_property(path)
        if datetime_property != isinstance(value, _DateTimeLiteral) and (isinstance(value, str | _DateTimeLiteral)):
            left = "Edm.DateTimeOffset" if datetime_property else "Edm.String"
            raise FilterError(
                "A binary operator with incompatible types was detected. Found operand types "
                f"'{left}' and '{_edm_type(value)}' for operator kind '{_OP_KIND[op]}'."
            )
        if op not in {"eq", "ne"} and (value is None or isinstance(value, bool)):
            raise FilterError(f"The operator '{op}' cannot be used with '{_edm_type(value)}'.")
        self._check_allowed(path, op)
        return _Compare(path, op, value)

    def _path(self, token: _Token) -> _Path:
        if token.kind != "name" or token.text.lower() in _KEYWORDS:
            raise FilterError(f"Syntax error: expected a property path but found '{token.text}'.")
        segments = tuple(token.text.split("/"))
        if segments[0] in self.scopes:
            rest = segments[1:]
            canonical = "/".join((self.scopes[segments[0]], *rest))
            return _Path(rest, segments[0], canonical)
        if self.scopes:
            raise FilterError(f"Inside a lambda, paths must start with its range variable: '{token.text}'.")
        return _Path(segments, None, token.text)

    def _literal(self, token: _Token) -> _Lit:
        if token.kind == "str":
            return token.text[1:-1].replace("''", "'")
        if token.kind == "dt":
            ns = datetime_ns(token.text)
            if ns is None:
                raise FilterError(f"'{token.text}' is not a valid DateTimeOffset.")
            return _DateTimeLiteral(token.text, ns)
        if token.kind == "num":
            return float(token.text) if any(c in token.text for c in ".eE") else int(token.text)
        if token.kind == "name" and token.text.lower() in {"true", "false"}:
            return token.text.lower() == "true"
        if token.kind == "name" and token.text.lower() == "null":
            return None
        raise FilterError(f"Syntax error: expected a literal but found '{token.text or 'end of input'}'.")

    def _check_allowed(self, path: _Path, op: str) -> None:
        if self.allowed is None:
            return
        ops = self.allowed.get(path.canonical)
        if ops is None:
            raise FilterError(f"Filtering on property '{path.canonical}' is not supported.")
        if op not in ops:
            raise FilterError(f"The operator '{op}' is not supported on property '{path.canonical}'.")


def parse_filter(text: str, allowed: Mapping[str, frozenset[str]] | None) -> _Node:
    return _FilterParser(text, allowed).parse()


def _resolve(record: Any, path: _Path, env: Mapping[str, Any]) -> Any:
    value = env[path.var] if path.var is not None else record
    for segment in path.segments:
        if isinstance(value, list):
            raise FilterError(f"'{path.canonical}' is a collection: use a lambda such as any().")
        if not isinstance(value, dict):
            return None
        value = value.get(segment)
    if isinstance(value, list):
        raise FilterError(f"'{path.canonical}' is a collection: use a lambda such as any().")
    return value


def _compare(value: Any, op: str, literal: _Lit) -> bool:
    mismatch = op == "ne"  # a value of another type (or a missing one) is "not equal" and nothing else
    if isinstance(literal, _DateTimeLiteral):
        ns = datetime_ns(value) if isinstance(value, str) else None
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


def matches(node: _Node, record: Any, env: Mapping[str, Any]) -> bool:
    if isinstance(node, _BoolOp):
        if node.op == "and":
            return matches(node.left, record, env) and matches(node.right, record, env)
        return matches(node.left, record, env) or matches(node.right, record, env)
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
    return any(matches(node.body, record, {**env, node.var: item}) for item in base)
