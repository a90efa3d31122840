"""Classify the resultReason of SSPR events with the rule table ``sspr_review/data/result_reasons.csv``.

Microsoft publishes no exhaustive list of these texts, so classification is by case-insensitive substring, never
by equality. The table has one rule per row, ``pattern,stage,method,end_state,note``; a rule sets the attributes
it has a value for. Rules are tried in file order and, **per attribute**, the first matching rule wins: a reason
such as "User started the mobile SMS verification option" takes its stage from the rule "user started the" and
its method from the rule "sms verification".

A reason that no rule matches is *unrecognised*; so is a gate step ("User started/completed the ... verification
option") whose method no rule names, so that a new verification method shows up instead of vanishing. The review
counts and lists unrecognised reasons; the events themselves stay in their flows.

Work is done on the distinct reason texts (hundreds) and mapped back to the events, so the cost per event is a
lookup.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Final

import numpy as np
import pandas as pd

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
    "abandoned",
    "cancelled",
    "contacted_admin",
    "throttled",
    "failed_configuration",
    "failed_writeback",
    "banned_password",
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
_ALLOWED: Final[Mapping[str, tuple[str, ...]]] = {"stage": STAGES, "method": METHODS, "end_state": END_STATES}


@dataclass(frozen=True)
class ReasonRule:
    """One row of the rule table. Empty attributes are ``None`` (the rule does not set them)."""

    pattern: str
    stage: str | None
    method: str | None
    end_state: str | None
    note: str


def parse_rules(text: str) -> tuple[ReasonRule, ...]:
    """Rules from CSV text; ``ValueError`` for a malformed table (unknown column value, empty pattern)."""
    reader = csv.DictReader(io.StringIO(text))
    expected = ["pattern", "stage", "method", "end_state", "note"]
    if reader.fieldnames != expected:
        raise ValueError(f"reason rule table must have the columns {expected}, not {reader.fieldnames}")
    rules: list[ReasonRule] = []
    for line, row in enumerate(reader, start=2):
        pattern = (row["pattern"] or "").strip().lower()
        if not pattern:
            raise ValueError(f"reason rule table line {line}: empty pattern")
        values: dict[str, str | None] = {}
        for column, allowed in _ALLOWED.items():
            value = (row[column] or "").strip() or None
            if value is not None and value not in allowed:
                raise ValueError(f"reason rule table line {line}: {column} {value!r} is not one of {allowed}")
            values[column] = value
        if not any(values.values()):
            raise ValueError(f"reason rule table line {line}: the rule sets nothing")
        if any(r.pattern == pattern for r in rules):
            raise ValueError(f"reason rule table line {line}: pattern {pattern!r} appears twice")
        rules.append(
            ReasonRule(pattern, values["stage"], values["method"], values["end_state"], (row["note"] or "").strip())
        )
    return tuple(rules)


@functools.cache
def reason_rules() -> tuple[ReasonRule, ...]:
    """The packaged rule table (read once)."""
    text = resources.files("sspr_review").joinpath(RULES_RESOURCE).read_text(encoding="utf-8")
    return parse_rules(text)


def _first_match(lower: pd.Series, rules: tuple[ReasonRule, ...], attribute: str) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct reason: code of the first rule's value for ``attribute`` (-1: none), and that rule's index."""
    allowed = _ALLOWED[attribute]
    codes = np.full(len(lower), -1, dtype=np.int16)
    rule_index = np.full(len(lower), -1, dtype=np.int16)
    for i, rule in enumerate(rules):
        value = getattr(rule, attribute)
        if value is None:
            continue
        hit = lower.str.contains(rule.pattern, regex=False).to_numpy(dtype=bool, na_value=False) & (codes < 0)
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


def classify_unique(texts: pd.Index | pd.Series, rules: tuple[ReasonRule, ...] | None = None) -> UniqueClassification:
    """Classify distinct texts (a few hundred); the building block of :func:`classify_reasons`."""
    rules = reason_rules() if rules is None else rules
    lower = pd.Series(pd.Index(texts).astype("string").str.strip().str.lower(), dtype="string")
    stage, _ = _first_match(lower, rules, "stage")
    method, _ = _first_match(lower, rules, "method")
    end_state, end_rule = _first_match(lower, rules, "end_state")
    matched = np.zeros(len(lower), dtype=bool)
    for rule in rules:
        matched |= lower.str.contains(rule.pattern, regex=False).to_numpy(dtype=bool, na_value=False)
    gate_codes = [STAGES.index(s) for s in GATE_STAGES]
    recognised = matched & ~(np.isin(stage, gate_codes) & (method < 0))
    return UniqueClassification(stage, method, end_state, end_rule, matched, recognised)


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
