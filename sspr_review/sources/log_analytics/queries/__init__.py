"""The KQL the kit sends to a Log Analytics workspace, kept as data (``*.kql`` beside this file).

A template holds typed placeholders, ``{name:type}``; :func:`render` fills them, each value checked against its
type and written as a KQL literal: ``datetime`` as ``datetime(2026-11-30T00:00:00.0000000Z)`` (UTC),
``string`` as a double-quoted literal with ``\\`` and ``"`` escaped, ``timespan`` as whole seconds (``3600s``),
``table`` only as one of the tables the kit reads. Nothing else reaches the query text, so no tenant string
can change a query's meaning. Comment lines (``//``) document the templates and are not sent.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from ...graph.endpoints import SSPR

#: The workspace tables the kit reads (the only values a ``table`` placeholder takes).
TABLES = ("AuditLogs", "AADUserRiskEvents")
#: Every template, by name (the file ``<name>.kql``).
NAMES = ("audit", "audit_histogram", "risk", "risk_histogram", "oldest", "probe")
#: The audit filter's constants: the same services and activities as the Graph fetch's ``audit_filters``.
AUDIT_CONSTANTS: dict[str, Any] = {
    "sspr": SSPR,
    "auth_methods": "Authentication Methods",
    "core": "Core Directory",
    "admin_reset": "Reset user password",
    "reset_prefix": "Reset password",
}

_PLACEHOLDER = re.compile(r"\{([a-z_]+):(datetime|string|timespan|table)\}")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@cache
def template(name: str) -> str:
    """The template ``name`` without its comment lines."""
    if name not in NAMES:
        raise KeyError(f"no KQL template {name!r}; the templates are {', '.join(NAMES)}")
    text = resources.files(__name__).joinpath(f"{name}.kql").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("//"))


def kql_datetime(moment: datetime) -> str:
    """A KQL ``datetime()`` literal in UTC, to the microsecond."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"a KQL datetime needs a timezone-aware datetime, not {moment!r}")
    return f"datetime({moment.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}0Z)"


def kql_string(value: str) -> str:
    """A double-quoted KQL string literal; control characters other than newline, return and tab are refused."""
    if not isinstance(value, str):
        raise ValueError(f"a KQL string needs text, not {value!r}")
    bad = [c for c in value if ord(c) < 32 and c not in _ESCAPES]
    if bad:
        raise ValueError(f"{value!r} holds a control character ({bad[0]!r}) a KQL query cannot carry")
    return '"' + "".join(_ESCAPES.get(c, c) for c in value) + '"'


def kql_timespan(span: timedelta) -> str:
    seconds = span.total_seconds()
    if not isinstance(span, timedelta) or seconds < 1 or seconds != int(seconds):
        raise ValueError(f"a KQL timespan here is a whole number of seconds, at least 1, not {span!r}")
    return f"{int(seconds)}s"


def kql_table(name: str) -> str:
    if name not in TABLES:
        raise ValueError(f"{name!r} is not a table the kit reads ({', '.join(TABLES)})")
    return name


_RENDER: dict[str, Callable[[Any], str]] = {
    "datetime": kql_datetime,
    "string": kql_string,
    "timespan": kql_timespan,
    "table": kql_table,
}


def parameters(name: str) -> dict[str, str]:
    """The placeholders of template ``name``: parameter name → type."""
    return {m.group(1): m.group(2) for m in _PLACEHOLDER.finditer(template(name))}


def render(name: str, **values: Any) -> str:
    """Template ``name`` with every placeholder filled; a missing, unknown or mistyped value is an error."""
    wanted = parameters(name)
    missing, unknown = set(wanted) - set(values), set(values) - set(wanted)
    if missing or unknown:
        raise ValueError(
            f"KQL template {name!r} takes {', '.join(sorted(wanted))}"
            + (f"; missing {', '.join(sorted(missing))}" if missing else "")
            + (f"; unknown {', '.join(sorted(unknown))}" if unknown else "")
        )
    return _PLACEHOLDER.sub(lambda m: _RENDER[m.group(2)](values[m.group(1)]), template(name))


def audit(start: datetime, end: datetime) -> str:
    return render("audit", start=start, end=end, **AUDIT_CONSTANTS)


def audit_histogram(start: datetime, end: datetime, bin: timedelta) -> str:
    return render("audit_histogram", start=start, end=end, bin=bin, **AUDIT_CONSTANTS)


def risk(start: datetime, end: datetime) -> str:
    return render("risk", start=start, end=end)


def risk_histogram(start: datetime, end: datetime, bin: timedelta) -> str:
    return render("risk_histogram", start=start, end=end, bin=bin)


def oldest(table: str) -> str:
    return render("oldest", table=table)


def probe(table: str) -> str:
    return render("probe", table=table)


def every_query() -> list[str]:
    """Every KQL text the kit can send, rendered with example parameters (for checking with Kusto's parser)."""
    start, end = datetime(2026, 11, 23, tzinfo=UTC), datetime(2026, 11, 30, 0, 0, 0, 500, tzinfo=UTC)
    hour = timedelta(hours=1)
    return [
        audit(start, end),
        audit_histogram(start, end, hour),
        risk(start, end),
        risk_histogram(start, end, hour),
        *(oldest(table) for table in TABLES),
        *(probe(table) for table in TABLES),
    ]
