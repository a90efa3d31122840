"""A small KQL parser and evaluator for the subset sspr-review sends (used by tests/support/log_analytics_server.py).

Supported: a table name, then ``| where`` (``== != < <= > >=``, ``and``, ``or``, parentheses, ``in (...)``,
``startswith``), ``| project`` (columns, ``Name = tostring(Column)``), ``| count``, ``| summarize`` (``count()``,
``min(Column)``, optionally ``by Name = bin(Column, Ns)``), ``| order by`` / ``| sort by`` (``asc``/``desc``) and
``| take`` / ``| limit``; literals ``"text"`` (with ``\\`` escapes), ``datetime(...)``, whole numbers and
timespans (``3600s``, ``1h``, ``1d``, ``30m``). Types are checked like Kusto's: a column compared with a value of
another type, an unknown column or table, or any other operator is a :class:`KqlError` (the server answers 400).

Datetimes are 100 ns ticks since 1970 (``int``); strings are ``str``; dynamic columns hold JSON text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Row = dict[str, Any]
Schema = dict[str, str]  # column → type (string, datetime, long, dynamic)
TICKS_PER_SECOND = 10_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


class KqlError(Exception):
    """The query is not valid here: ``code`` is Kusto's (SyntaxError, SemanticError)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_datetime(text: str) -> int:
    """``2026-11-30T10:41:03.1234567Z`` (or with a space, or no fraction) → ticks."""
    m = re.fullmatch(r"\s*(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d{1,7}))?)?\s*Z?\s*", text)
    if not m:
        raise KqlError("SyntaxError", f"invalid datetime literal datetime({text})")
    clock = m.group(2) or "00:00:00"
    clock = clock if clock.count(":") == 2 else clock + ":00"
    base = datetime.fromisoformat(f"{m.group(1)}T{clock}+00:00")
    fraction = int((m.group(3) or "0").ljust(7, "0"))
    return int((base - _EPOCH).total_seconds()) * TICKS_PER_SECOND + fraction


def format_datetime(ticks: int) -> str:
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:07d}Z"


# ------------------------------------------------------------------------------------------------ tokens

_TOKEN = re.compile(
    r"""\s+|//[^\n]*
    |(?P<datetime>datetime\s*\((?P<dt>[^)]*)\))
    |(?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    |(?P<span>\d+(?:\.\d+)?(?:ms|d|h|m|s)\b)
    |(?P<number>\d+\b)
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<op>==|!=|>=|<=|!in\b|[<>=|(),])""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Tok:
    kind: str
    value: Any
    text: str


def tokenize(text: str) -> list[Tok]:
    out, at = [], 0
    while at < len(text):
        m = _TOKEN.match(text, at)
        if not m:
            raise KqlError("SyntaxError", f"Syntax error: unexpected {text[at : at + 20]!r} at position {at}")
        at = m.end()
        kind = m.lastgroup
        if kind in (None,):
            continue
        raw = m.group(0)
        if kind == "datetime":
            out.append(Tok("literal", ("datetime", parse_datetime(m.group("dt"))), raw))
        elif kind == "string":
            body = raw[1:-1]
            out.append(Tok("literal", ("string", re.sub(r"\\(.)", _unescape, body)), raw))
        elif kind == "span":
            number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", raw).groups()  # type: ignore[union-attr]
            out.append(Tok("literal", ("timespan", int(float(number) * _UNITS[unit] * TICKS_PER_SECOND)), raw))
        elif kind == "number":
            out.append(Tok("literal", ("long", int(raw)), raw))
        elif kind in ("name", "op"):
            out.append(Tok(kind, raw, raw))
    out.append(Tok("end", None, ""))
    return out


def _unescape(m: re.Match[str]) -> str:
    return {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1))


# ------------------------------------------------------------------------------------------------ parser

Expr = tuple[str, Callable[[Row], Any]]  # (type, evaluate)
_COMPARE: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


@dataclass
class Table:
    """One workspace table: its schema and rows, sorted by ``order`` (a datetime column)."""

    name: str
    schema: Schema
    rows: list[Row]
    order: str

    def __post_init__(self) -> None:
        self.rows.sort(key=lambda r: r[self.order])
        self.keys = [r[self.order] for r in self.rows]


@dataclass
class Result:
    schema: Schema
    rows: list[Row]


class Query:
    """Parses and runs one query over ``tables``; ``timespan`` (ticks, ticks) bounds TimeGenerated."""

    def __init__(self, text: str, tables: Mapping[str, Table], timespan: tuple[int, int] | None = None) -> None:
        self.toks = tokenize(text)
        self.at = 0
        self.tables = tables
        self.timespan = timespan

    # token helpers
    def peek(self) -> Tok:
        return self.toks[self.at]

    def take(self) -> Tok:
        tok = self.toks[self.at]
        self.at += 1
        return tok

    def word(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "name" and tok.value in words

    def expect(self, value: str) -> None:
        tok = self.take()
        if tok.value != value:
            raise KqlError("SyntaxError", f"Syntax error: expected {value!r}, found {tok.text or 'end of query'!r}")

    def name(self) -> str:
        tok = self.take()
        if tok.kind != "name":
            raise KqlError("SyntaxError", f"Syntax error: expected a name, found {tok.text or 'end of query'!r}")
        return str(tok.value)

    # the pipeline
    def run(self) -> Result:
        table_name = self.name()
        table = self.tables.get(table_name)
        if table is None:
            raise KqlError(
                "SemanticError",
                f"'{table_name}' operator: Failed to resolve table or column expression named '{table_name}'",
            )
        schema, rows, first = dict(table.schema), table.rows, True
        span_pending = self.timespan is not None
        while self.peek().value == "|":
            self.take()
            op = self.name()
            if op == "where":
                begin = self.at
                expr = self.expr(schema)
                if expr[0] != "bool":
                    raise KqlError("SemanticError", "'where' operator: the predicate must be a boolean expression")
                if first:
                    rows = self.narrow(table, begin, self.at)
                rows, span_pending = (self.in_span(rows) if span_pending else rows), False
                test = expr[1]
                rows = [r for r in rows if test(r)]
                first = False
                continue
            rows, span_pending = (self.in_span(rows) if span_pending else rows), False
            if op == "project":
                schema, rows = self.project(schema, rows)
            elif op == "count":
                schema, rows = {"Count": "long"}, [{"Count": len(rows)}]
            elif op == "summarize":
                schema, rows = self.summarize(schema, rows)
            elif op in ("order", "sort"):
                self.expect("by")
                rows = self.order(schema, rows)
            elif op in ("take", "limit"):
                tok = self.take()
                if tok.kind != "literal" or tok.value[0] != "long":
                    raise KqlError("SyntaxError", f"'{op}' needs a whole number of rows")
                rows = rows[: tok.value[1]]
            else:
                raise KqlError("SyntaxError", f"Syntax error: the operator '{op}' is not supported here")
            first = False
        if self.peek().kind != "end":
            raise KqlError("SyntaxError", f"Syntax error: unexpected {self.peek().text!r}")
        return Result(schema, self.in_span(rows) if span_pending else rows)

    def in_span(self, rows: list[Row]) -> list[Row]:
        assert self.timespan is not None
        lo, hi = self.timespan
        return [r for r in rows if lo <= r["TimeGenerated"] < hi]

    def narrow(self, table: Table, begin: int, end: int) -> list[Row]:
        """The rows a leading ``where Order >= datetime(..) and Order < datetime(..)`` keeps, found by bisection
        on the table's order (an index); the where clause must be exactly such range conditions."""
        toks, lo, hi, i = self.toks, 0, len(table.rows), begin
        while i + 2 < end:
            name, op, value = toks[i].value, toks[i + 1].value, toks[i + 2].value
            if name != table.order or toks[i + 2].kind != "literal" or value[0] != "datetime" or op not in (">=", "<"):
                return table.rows
            if op == ">=":
                lo = max(lo, bisect.bisect_left(table.keys, value[1]))
            else:
                hi = min(hi, bisect.bisect_left(table.keys, value[1]))
            i += 3
            if i < end and toks[i].value != "and":
                return table.rows
            i += 1
        return table.rows[lo:hi] if i >= end else table.rows

    def project(self, schema: Schema, rows: list[Row]) -> tuple[Schema, list[Row]]:
        out: list[tuple[str, Expr]] = []
        while True:
            name = self.name()
            if self.peek().value == "=":
                self.take()
                out.append((name, self.term(schema)))
            else:
                out.append((name, self.column(name, schema)))
            if self.peek().value != ",":
                break
            self.take()
        new_schema = {n: e[0] for n, e in out}
        getters = [(n, e[1]) for n, e in out]
        return new_schema, [{n: get(r) for n, get in getters} for r in rows]

    def summarize(self, schema: Schema, rows: list[Row]) -> tuple[Schema, list[Row]]:
        aggs: list[tuple[str, str, str | None]] = []  # (output, function, column)
        while True:
            out = self.name()
            self.expect("=")
            fn = self.name()
            self.expect("(")
            column = None if fn == "count" else self.name()
            self.expect(")")
            if fn not in ("count", "min", "max"):
                raise KqlError("SyntaxError", f"summarize: the aggregation '{fn}' is not supported here")
            if column is not None:
                self.column(column, schema)
            aggs.append((out, fn, column))
            if self.peek().value != ",":
                break
            self.take()
        key_name, key = None, None
        if self.word("by"):
            self.take()
            key_name = self.name()
            self.expect("=")
            if self.name() != "bin":
                raise KqlError("SyntaxError", "summarize by: only Name = bin(Column, span) is supported here")
            self.expect("(")
            column = self.name()
            kind, get = self.column(column, schema)
            self.expect(",")
            tok = self.take()
            if kind != "datetime" or tok.kind != "literal" or tok.value[0] != "timespan" or tok.value[1] <= 0:
                raise KqlError("SemanticError", "bin(): a datetime column and a positive timespan are needed here")
            self.expect(")")
            width = tok.value[1]
            key = (lambda g, w: lambda r: g(r) // w * w)(get, width)
        groups: dict[Any, list[Row]] = {}
        for r in rows:
            groups.setdefault(key(r) if key else None, []).append(r)
        if not groups and key is None:
            groups[None] = []
        out_schema: Schema = {key_name: "datetime"} if key_name else {}
        for out, fn, column in aggs:
            out_schema[out] = "long" if fn == "count" else schema[column or ""]
        result = []
        for k, members in sorted(groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
            row: Row = {key_name: k} if key_name else {}
            for out, fn, column in aggs:
                values = [m[column] for m in members if column and m[column] is not None]
                row[out] = len(members) if fn == "count" else (min if fn == "min" else max)(values, default=None)
            result.append(row)
        return out_schema, result

    def order(self, schema: Schema, rows: list[Row]) -> list[Row]:
        keys: list[tuple[str, bool]] = []
        while True:
            name = self.name()
            self.column(name, schema)
            descending = True  # Kusto's default
            if self.word("asc", "desc"):
                descending = self.take().value == "desc"
            keys.append((name, descending))
            if self.peek().value != ",":
                break
            self.take()
        for name, descending in reversed(keys):
            rows = sorted(rows, key=lambda r, n=name: (r[n] is not None, r[n] or 0), reverse=descending)
        return rows

    # expressions
    def expr(self, schema: Schema) -> Expr:
        left = self.conj(schema)
        while self.word("or"):
            self.take()
            right = self.conj(schema)
            left = ("bool", (lambda a, b: lambda r: a(r) or b(r))(left[1], right[1]))
        return left

    def conj(self, schema: Schema) -> Expr:
        left = self.comparison(schema)
        while self.word("and"):
            self.take()
            right = self.comparison(schema)
            left = ("bool", (lambda a, b: lambda r: a(r) and b(r))(left[1], right[1]))
        return left

    def comparison(self, schema: Schema) -> Expr:
        if self.peek().value == "(":
            self.take()
            inner = self.expr(schema)
            self.expect(")")
            return inner
        kind, get = self.term(schema)
        tok = self.peek()
        if tok.value in _COMPARE:
            self.take()
            other_kind, other = self.term(schema)
            if other_kind != kind:
                raise KqlError(
                    "SemanticError",
                    f"Cannot compare values of types {kind} and {other_kind}. Try adding explicit casts",
                )
            test = _COMPARE[tok.value]
            return "bool", (lambda g, o, t: lambda r: t(g(r), o(r)))(get, other, test)
        if tok.value in ("in", "!in"):
            self.take()
            self.expect("(")
            values = []
            while True:
                v = self.take()
                if v.kind != "literal" or v.value[0] != kind:
                    raise KqlError("SemanticError", f"in(): every value must be of type {kind}")
                values.append(v.value[1])
                if self.peek().value != ",":
                    break
                self.take()
            self.expect(")")
            wanted, negate = frozenset(values), tok.value == "!in"
            return "bool", (lambda g, w, n: lambda r: (g(r) in w) != n)(get, wanted, negate)
        if tok.value == "startswith":
            self.take()
            other_kind, other = self.term(schema)
            if kind != "string" or other_kind != "string":
                raise KqlError("SemanticError", "startswith: both sides must be strings")
            return "bool", (lambda g, o: lambda r: str(g(r)).lower().startswith(str(o(r)).lower()))(get, other)
        if kind == "bool":
            return kind, get
        raise KqlError("SyntaxError", f"Syntax error: expected a comparison, found {tok.text or 'end of query'!r}")

    def term(self, schema: Schema) -> Expr:
        tok = self.take()
        if tok.kind == "literal":
            kind, value = tok.value
            return kind, (lambda v: lambda r: v)(value)
        if tok.kind != "name":
            raise KqlError("SyntaxError", f"Syntax error: unexpected {tok.text or 'end of query'!r}")
        if self.peek().value == "(":
            if tok.value != "tostring":
                raise KqlError("SemanticError", f"the function '{tok.value}' is not supported here")
            self.take()
            kind, get = self.term(schema)
            self.expect(")")
            if kind == "datetime":
                return "string", (lambda g: lambda r: "" if g(r) is None else format_datetime(g(r)))(get)
            return "string", (lambda g: lambda r: "" if g(r) is None else str(g(r)))(get)
        return self.column(str(tok.value), schema)

    @staticmethod
    def column(name: str, schema: Schema) -> Expr:
        if name not in schema:
            raise KqlError("SemanticError", f"'where' operator: Failed to resolve scalar expression named '{name}'")
        return schema[name], (lambda n: lambda r: r[n])(name)


def run(text: str, tables: Mapping[str, Table], timespan: tuple[int, int] | None = None) -> Result:
    return Query(text, tables, timespan).run()


def output_rows(result: Result) -> tuple[list[dict[str, str]], list[list[Any]]]:
    """The REST answer's ``columns`` and ``rows`` (datetimes as ISO text)."""
    columns = [{"name": n, "type": t} for n, t in result.schema.items()]
    dates = [n for n, t in result.schema.items() if t == "datetime"]
    names: Sequence[str] = list(result.schema)
    rows = []
    for r in result.rows:
        if dates:
            r = {**r, **{d: None if r[d] is None else format_datetime(r[d]) for d in dates}}
        rows.append([r[n] for n in names])
    return columns, rows
