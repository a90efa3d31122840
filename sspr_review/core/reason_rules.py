"""The resultReason rule table: its columns, its vocabulary (stages, methods, end states) and reading it.

The packaged table is ``sspr_review/data/result_reasons.csv``; ``[analysis] reason_rules`` names a user's own
table with the same columns, tried first. Reading a table checks it completely and refuses a malformed one with
the file, line, column and what is wrong (:class:`~sspr_review.core.errors.ReasonRulesError`), so a bad table
fails when the configuration is loaded, before any analysis runs. Classifying texts with the rules is
:mod:`sspr_review.analysis.reasons`. Standard library only: the configuration checks a table without pandas.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from .errors import ReasonRulesError

#: Stages of an SSPR flow, in order (the categories of ``stage``; "furthest stage" is the maximum).
STAGES: Final = (
    "started",
    "gate_started",
    "gate_verified",
    "all_gates_verified",
    "new_password_submitted",
    "completed",
)
#: Verification methods (the categories of ``method``).
METHODS: Final = (
    "email",
    "sms",
    "voice",
    "office_phone",
    "app_notification",
    "app_code",
    "security_questions",
)
#: End states of a flow (the categories of ``end_state``); ``in_progress`` marks a step that ends nothing.
END_STATES: Final = (
    "completed",
    "unlocked",
    "abandoned",
    "cancelled",
    "contacted_admin",
    "throttled",
    "failed_configuration",
    "failed_writeback",
    "cloud_password_rejected",
    "banned_password",
    "failed_password_policy",
    "failed_system",
    "in_progress",
)
#: End states of an event logged with result *success* that did not do what it says: Active Directory took the new
#: password and the cloud refused it (``OnPremisesSuccessCloudFailure``, MicrosoftDocs/entra-docs #694), so the
#: user's on-premises and cloud passwords differ. Such an event is no completed reset or change.
FAILED_DESPITE_SUCCESS: Final = ("cloud_password_rejected",)
#: The end states of the writeback family (what the ``writeback_failure`` findings and the metric count).
WRITEBACK_END_STATES: Final = ("failed_writeback", "cloud_password_rejected")
#: Reason texts that mean "no reason" (compared trimmed, lower case): "None" on successful self-service changes.
NO_REASON: Final = frozenset({"", "none"})
#: Stages that name a verification gate (and so should name a method).
GATE_STAGES: Final = ("gate_started", "gate_verified")

RULES_RESOURCE: Final = "data/result_reasons.csv"
RULES_NAME: Final = "result_reasons.csv"
#: A pattern starting with this is a regular expression.
REGEX_PREFIX: Final = "re:"
COLUMNS: Final = ("pattern", "stage", "method", "end_state", "note")
REQUIRED: Final = COLUMNS[:4]
ALLOWED: Final[Mapping[str, tuple[str, ...]]] = {"stage": STAGES, "method": METHODS, "end_state": END_STATES}


@dataclass(frozen=True)
class ReasonRule:
    """One row of a rule table. Empty attributes are ``None`` (the rule does not set them).

    ``pattern`` is lower case for a substring rule, as written for a ``re:`` rule; ``source`` and ``line`` say
    where the rule was read (the packaged table, or the ``[analysis] reason_rules`` file).
    """

    pattern: str
    stage: str | None
    method: str | None
    end_state: str | None
    note: str
    source: str = RULES_NAME
    line: int = 0

    @property
    def is_regex(self) -> bool:
        return self.pattern.startswith(REGEX_PREFIX)

    @property
    def label(self) -> str:
        """``pattern (file:line)``, as the ``reasons`` command prints it."""
        return f"{self.pattern} ({Path(self.source).name}:{self.line})"


def compile_pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern[len(REGEX_PREFIX) :], re.IGNORECASE)


def _rows(reader: Any, source: str) -> Iterator[tuple[int, list[str]]]:
    """The CSV's rows with the line each starts on; a CSV syntax error (a quoted field never closed, text after a
    closing quote) is a :class:`ReasonRulesError` naming that line."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ReasonRulesError(
                f"{source} line {line}: CSV syntax error ({exc}): a field that starts with a double quote must end "
                'with one (write a double quote inside it as two: "say ""hi""")'
            ) from None
        yield line, row


def parse_rules(text: str, source: str = RULES_NAME) -> tuple[ReasonRule, ...]:
    """Rules from CSV text; :class:`ReasonRulesError` (a ``ValueError``) naming ``source``, the line, the column
    and what is wrong for a malformed table: a missing or unknown column, an empty pattern, a value that is not
    a known stage, method or end state, a bad regular expression, a rule that sets nothing, a repeated pattern."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")), strict=True)
    rows = _rows(reader, source)
    header = [h.strip().lower() for h in next(rows, (0, []))[1]]
    if not any(header):
        raise ReasonRulesError(f"{source} line 1: no header; the first line must be {','.join(COLUMNS)}")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], COLUMNS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ReasonRulesError(
            f"{source} line 1: unknown column {unknown[0]!r}{hint}; the columns are {', '.join(COLUMNS)}"
        )
    missing = [c for c in REQUIRED if c not in header]
    if missing or len(set(header)) != len(header):
        what = f"missing column {missing[0]!r}" if missing else "a column appears twice"
        raise ReasonRulesError(f"{source} line 1: {what}; the columns are {', '.join(COLUMNS)} (note optional)")
    rules: list[ReasonRule] = []
    seen: dict[str, int] = {}
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise ReasonRulesError(
                f"{source} line {line}: {len(row)} fields but the header has {len(header)} columns; "
                "put a pattern or note that contains a comma in double quotes"
            )
        cells = dict(zip(header, (c.strip() for c in row), strict=False))

        def fail(column: str, what: str, line: int = line) -> ReasonRulesError:
            return ReasonRulesError(f"{source} line {line}, column {column}: {what}")

        pattern = cells.get("pattern", "")
        if pattern.lower().startswith(REGEX_PREFIX):
            pattern = REGEX_PREFIX + pattern[len(REGEX_PREFIX) :].strip()
            if pattern == REGEX_PREFIX:
                raise fail("pattern", "empty pattern (a regular expression after 're:')")
            try:
                compiled = compile_pattern(pattern)
            except re.error as exc:
                raise fail("pattern", f"bad regular expression {pattern!r}: {exc}") from None
            if compiled.search(""):
                raise fail("pattern", f"the regular expression {pattern!r} matches every text (also the empty one)")
        else:
            pattern = pattern.lower()
            if not pattern:
                raise fail("pattern", "empty pattern; give the text (or 're:' and a regular expression) to match")
        values: dict[str, str | None] = {}
        for column, allowed in ALLOWED.items():
            value = cells.get(column, "") or None
            if value is not None and value not in allowed:
                close = difflib.get_close_matches(value, allowed, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise fail(column, f"{value!r} is not a known {column}{hint}; use one of {', '.join(allowed)}")
            values[column] = value
        if not any(values.values()):
            raise fail("stage", "the rule sets nothing; give a stage, a method or an end_state")
        if pattern in seen:
            raise fail("pattern", f"pattern {pattern!r} appears twice (also on line {seen[pattern]})")
        seen[pattern] = line
        rules.append(
            ReasonRule(
                pattern,
                values["stage"],
                values["method"],
                values["end_state"],
                cells.get("note", ""),
                source=source,
                line=line,
            )
        )
    return tuple(rules)


@functools.cache
def reason_rules() -> tuple[ReasonRule, ...]:
    """The packaged rule table (read once)."""
    text = resources.files("sspr_review").joinpath(RULES_RESOURCE).read_text(encoding="utf-8")
    return parse_rules(text)


def combine_rules(user: tuple[ReasonRule, ...], packaged: tuple[ReasonRule, ...]) -> tuple[ReasonRule, ...]:
    """``user`` rules, then the ``packaged`` ones whose pattern no user rule repeats (user rules win)."""
    mine = {r.pattern for r in user}
    return user + tuple(r for r in packaged if r.pattern not in mine)


@functools.lru_cache(maxsize=8)
def _user_rules(path: str, _mtime_ns: int, _size: int) -> tuple[ReasonRule, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReasonRulesError(f"reason rules file {path} is not UTF-8 text ({exc}); save it as UTF-8 CSV") from None
    except OSError as exc:
        raise ReasonRulesError(f"reason rules file {path} cannot be read: {exc.strerror}") from None
    return parse_rules(text, path)


def load_rules(path: str | Path | None = None) -> tuple[ReasonRule, ...]:
    """The rules in force: those of the CSV file ``path`` (``[analysis] reason_rules``) before the packaged
    table, or the packaged table alone when ``path`` is empty. The file is read again when it changes."""
    if path is None or str(path) == "":
        return reason_rules()
    file = Path(path).expanduser()
    try:
        info = file.stat()
    except FileNotFoundError:
        raise ReasonRulesError(
            f"reason rules file {file} does not exist; create it with the columns {','.join(COLUMNS)} "
            "or remove [analysis] reason_rules"
        ) from None
    except OSError as exc:
        raise ReasonRulesError(f"reason rules file {file} cannot be read: {exc.strerror}") from None
    if not file.is_file():
        raise ReasonRulesError(f"reason rules file {file} is not a file")
    return combine_rules(_user_rules(str(file), info.st_mtime_ns, info.st_size), reason_rules())
