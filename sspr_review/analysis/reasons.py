r"""Classify the resultReason of SSPR events with the rule table ``sspr_review/data/result_reasons.csv``.

Microsoft publishes no exhaustive list of these texts, so classification is by case-insensitive substring, never
by equality. The table has one rule per row, ``pattern,stage,method,end_state,note``; a rule sets the attributes
it has a value for. A pattern starting ``re:`` is a regular expression (Python syntax, case-insensitive, searched
anywhere in the trimmed text: ``re:^success\.?$`` matches "Success" and "Success." only). Rules are tried in file
order and, **per attribute**, the first matching rule wins: a reason such as "User started the mobile SMS
verification option" takes its stage from the rule "user started the" and its method from the rule
"sms verification".

``[analysis] reason_rules`` names a user's own table with the same columns; its rules are tried before the
packaged ones (a user rule with the same pattern as a packaged one replaces it), and a malformed table is refused
with the file, line, column and what is wrong (:class:`ReasonRulesError`).

A reason that no rule matches is *unrecognised*; so is a gate step ("User started/completed the ... verification
option") whose method no rule names, so that a new verification method shows up instead of vanishing. The review
counts and lists unrecognised reasons; the events themselves stay in their flows.

Work is done on the distinct reason texts (hundreds) and mapped back to the events, so the cost per event is a
lookup.
"""

from __future__ import annotations

import csv
import difflib
import functools
import io
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from ..errors import ReasonRulesError

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
    "banned_password",
    "failed_password_policy",
    "failed_system",
    "in_progress",
)
#: Stages that name a verification gate (and so should name a method).
GATE_STAGES: Final = ("gate_started", "gate_verified")

#: For each SSPR method, the ``methodsRegistered`` names (lower case) that make it available to the user.
METHOD_REGISTRATIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "email": ("email",),
    "sms": ("mobilephone", "alternatemobilephone"),
    "voice": ("mobilephone", "alternatemobilephone"),
    "office_phone": ("officephone",),
    "app_notification": ("microsoftauthenticatorpush",),
    "app_code": ("softwareonetimepasscode", "microsoftauthenticatorpush", "hardwareonetimepasscode"),
    "security_questions": ("securityquestion",),
}

RULES_RESOURCE: Final = "data/result_reasons.csv"
RULES_NAME: Final = "result_reasons.csv"
#: A pattern starting with this is a regular expression.
REGEX_PREFIX: Final = "re:"
COLUMNS: Final = ("pattern", "stage", "method", "end_state", "note")
_REQUIRED: Final = COLUMNS[:4]
_ALLOWED: Final[Mapping[str, tuple[str, ...]]] = {"stage": STAGES, "method": METHODS, "end_state": END_STATES}


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


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern[len(REGEX_PREFIX) :], re.IGNORECASE)


def parse_rules(text: str, source: str = RULES_NAME) -> tuple[ReasonRule, ...]:
    """Rules from CSV text; :class:`ReasonRulesError` (a ``ValueError``) naming ``source``, the line, the column
    and what is wrong for a malformed table: a missing or unknown column, an empty pattern, a value that is not
    a known stage, method or end state, a bad regular expression, a rule that sets nothing, a repeated pattern."""
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    if not any(header):
        raise ReasonRulesError(f"{source} line 1: no header; the first line must be {','.join(COLUMNS)}")
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], COLUMNS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ReasonRulesError(
            f"{source} line 1: unknown column {unknown[0]!r}{hint}; the columns are {', '.join(COLUMNS)}"
        )
    missing = [c for c in _REQUIRED if c not in header]
    if missing or len(set(header)) != len(header):
        what = f"missing column {missing[0]!r}" if missing else "a column appears twice"
        raise ReasonRulesError(f"{source} line 1: {what}; the columns are {', '.join(COLUMNS)} (note optional)")
    rules: list[ReasonRule] = []
    seen: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
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
                compiled = _compile(pattern)
            except re.error as exc:
                raise fail("pattern", f"bad regular expression {pattern!r}: {exc}") from None
            if compiled.search(""):
                raise fail("pattern", f"the regular expression {pattern!r} matches every text (also the empty one)")
        else:
            pattern = pattern.lower()
            if not pattern:
                raise fail("pattern", "empty pattern; give the text (or 're:' and a regular expression) to match")
        values: dict[str, str | None] = {}
        for column, allowed in _ALLOWED.items():
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


def _hits(lower: pd.Series, rule: ReasonRule) -> np.ndarray:
    """Which of the (lower-cased, trimmed) distinct texts ``rule`` matches."""
    if rule.is_regex:
        with warnings.catch_warnings():  # "has match groups": harmless for a boolean search
            warnings.simplefilter("ignore", UserWarning)
            found = lower.str.contains(_compile(rule.pattern), regex=True)
    else:
        found = lower.str.contains(rule.pattern, regex=False)
    return np.asarray(found.to_numpy(dtype=bool, na_value=False))


def _first_match(
    hits: list[np.ndarray], rules: tuple[ReasonRule, ...], attribute: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct reason: code of the first matching rule's value for ``attribute`` (-1: none), and that rule's
    index (-1: none)."""
    allowed = _ALLOWED[attribute]
    n = len(hits[0]) if hits else 0
    codes = np.full(n, -1, dtype=np.int16)
    rule_index = np.full(n, -1, dtype=np.int16)
    for i, rule in enumerate(rules):
        value = getattr(rule, attribute)
        if value is None:
            continue
        hit = hits[i] & (codes < 0)
        codes[hit] = allowed.index(value)
        rule_index[hit] = i
    return codes, rule_index


@dataclass(frozen=True)
class UniqueClassification:
    """Classification of distinct reason texts: rule-table codes per text (-1: not set)."""

    stage: np.ndarray
    method: np.ndarray
    end_state: np.ndarray
    end_rule: np.ndarray
    matched: np.ndarray
    recognised: np.ndarray
    stage_rule: np.ndarray
    method_rule: np.ndarray


def classify_unique(texts: pd.Index | pd.Series, rules: tuple[ReasonRule, ...] | None = None) -> UniqueClassification:
    """Classify distinct texts (a few hundred); the building block of :func:`classify_reasons`."""
    rules = reason_rules() if rules is None else rules
    if len(rules) >= np.iinfo(np.int16).max:
        raise ReasonRulesError(f"at most {np.iinfo(np.int16).max - 1} reason rules, not {len(rules)}")
    lower = pd.Series(pd.Index(texts).astype("string").str.strip().str.lower(), dtype="string")
    hits = [_hits(lower, rule) for rule in rules]
    stage, stage_rule = _first_match(hits, rules, "stage")
    method, method_rule = _first_match(hits, rules, "method")
    end_state, end_rule = _first_match(hits, rules, "end_state")
    matched = np.logical_or.reduce(hits) if hits else np.zeros(len(lower), dtype=bool)
    gate_codes = [STAGES.index(s) for s in GATE_STAGES]
    recognised = matched & ~(np.isin(stage, gate_codes) & (method < 0))
    return UniqueClassification(stage, method, end_state, end_rule, matched, recognised, stage_rule, method_rule)


def rule_patterns(rules: tuple[ReasonRule, ...] | None = None) -> list[str]:
    """The patterns of the rule table, in order (the categories of ``end_state_rule``)."""
    return [r.pattern for r in (reason_rules() if rules is None else rules)]


def classification_frame(
    found: UniqueClassification,
    codes: np.ndarray,
    index: pd.Index,
    rules: tuple[ReasonRule, ...] | None = None,
) -> pd.DataFrame:
    """Per-event frame from a :class:`UniqueClassification` and each event's text code (-1: not classified)."""

    def take(values: np.ndarray, missing: object) -> np.ndarray:
        return np.asarray(np.append(values, np.array([missing], dtype=values.dtype))[codes])

    return pd.DataFrame(
        {
            "stage": pd.Categorical.from_codes(
                take(found.stage, -1), dtype=pd.CategoricalDtype(list(STAGES), ordered=True)
            ),
            "method": pd.Categorical.from_codes(take(found.method, -1), dtype=pd.CategoricalDtype(list(METHODS))),
            "end_state": pd.Categorical.from_codes(
                take(found.end_state, -1), dtype=pd.CategoricalDtype(list(END_STATES))
            ),
            "end_state_rule": pd.Categorical.from_codes(
                take(found.end_rule, -1), dtype=pd.CategoricalDtype(rule_patterns(rules))
            ),
            "matched": take(found.matched, False),
            "recognised": take(found.recognised, False),
        },
        index=index,
    )


def classify_reasons(reasons: pd.Series, rules: tuple[ReasonRule, ...] | None = None) -> pd.DataFrame:
    """Classify resultReason texts; a frame aligned with ``reasons``.

    Columns: ``stage``, ``method``, ``end_state`` (categoricals over :data:`STAGES` (ordered),
    :data:`METHODS`, :data:`END_STATES`; missing when no rule sets them), ``end_state_rule`` (categorical:
    pattern of the rule that set the end state), ``matched`` (some rule matched) and ``recognised`` (matched,
    and a gate step names a known method). A missing or blank reason is not recognised.

    >>> classify_reasons(pd.Series(["User started the mobile SMS verification option"])).loc[0, "method"]
    'sms'
    """
    codes, uniques = pd.factorize(reasons, use_na_sentinel=True)
    found = classify_unique(pd.Index(uniques), rules)
    return classification_frame(found, codes, reasons.index, rules)


def explain_reasons(texts: pd.Series, rules: tuple[ReasonRule, ...] | None = None) -> pd.DataFrame:
    """How each text is classified, for checking new texts and rules: a frame aligned with ``texts`` with
    ``stage``, ``method``, ``end_state`` (strings, "" when not set) and ``rule``: the rules that set them as
    ``pattern (file:line)``, joined by " + " ("" when the text is unrecognised).

    >>> explain_reasons(pd.Series(["User started the mobile SMS verification option"])).loc[0, "rule"]
    'user started the (result_reasons.csv:11) + sms verification (result_reasons.csv:46)'
    """
    rules = reason_rules() if rules is None else rules
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    found = classify_unique(pd.Index(uniques), rules)
    labels = np.array([r.label for r in rules] + [""], dtype=object)  # index -1: no rule
    names = {"stage": STAGES, "method": METHODS, "end_state": END_STATES}
    out: dict[str, np.ndarray] = {}
    for column, values in (("stage", found.stage), ("method", found.method), ("end_state", found.end_state)):
        out[column] = np.array([*names[column], ""], dtype=object)[values]
    per_rule = [labels[found.stage_rule], labels[found.method_rule], labels[found.end_rule]]
    joined = [
        " + ".join(dict.fromkeys(label for label in row if label)) if ok else ""
        for *row, ok in zip(*per_rule, found.recognised, strict=True)
    ]
    unique = pd.DataFrame({**out, "rule": np.array(joined, dtype=object)})
    missing = pd.DataFrame({"stage": [""], "method": [""], "end_state": [""], "rule": [""]})
    table = pd.concat([unique, missing], ignore_index=True)
    frame = table.iloc[np.where(codes < 0, len(unique), codes)].reset_index(drop=True)
    frame.index = texts.index
    return frame.astype("string")
