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

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from ..core.errors import ReasonRulesError
from ..core.reason_rules import (
    ALLOWED,
    END_STATES,
    GATE_STAGES,
    METHODS,
    STAGES,
    ReasonRule,
    compile_pattern,
    load_rules,
    parse_rules,
    reason_rules,
)

__all__ = [
    "END_STATES",
    "GATE_STAGES",
    "METHODS",
    "METHOD_REGISTRATIONS",
    "STAGES",
    "ReasonRule",
    "classify_reasons",
    "classify_unique",
    "explain_reasons",
    "load_rules",
    "parse_rules",
    "reason_rules",
]

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


def _hits(lower: pd.Series, rule: ReasonRule) -> np.ndarray:
    """Which of the (lower-cased, trimmed) distinct texts ``rule`` matches."""
    if rule.is_regex:
        with warnings.catch_warnings():  # "has match groups": harmless for a boolean search
            warnings.simplefilter("ignore", UserWarning)
            found = lower.str.contains(compile_pattern(rule.pattern), regex=True)
    else:
        found = lower.str.contains(rule.pattern, regex=False)
    return np.asarray(found.to_numpy(dtype=bool, na_value=False))


def _first_match(
    hits: list[np.ndarray], rules: tuple[ReasonRule, ...], attribute: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct reason: code of the first matching rule's value for ``attribute`` (-1: none), and that rule's
    index (-1: none)."""
    allowed = ALLOWED[attribute]
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
    'user started the (result_reasons.csv:11) + sms verification (result_reasons.csv:47)'
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
