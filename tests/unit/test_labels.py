"""The one label table (core/labels.py) covers every enumerated value the kit can show, and every metric declares
its label and good direction once."""

from __future__ import annotations

import pytest

from sspr_review.analysis import END_STATES, KINDS, METHODS, METRIC_SPECS, STAGES
from sspr_review.analysis.rules_writeback import WRITEBACK_CAUSES
from sspr_review.core.labels import FINDING_NOUNS, LABELS, METRICS, identifiers, is_identifier, label, metric_label
from sspr_review.core.vocabulary import DATA_KINDS, KPIS


def test_every_metric_has_one_label_and_a_direction() -> None:
    assert set(METRICS) == {spec.name for spec in METRIC_SPECS}
    assert {m.better for m in METRICS.values()} <= {"higher", "lower", "neither"}
    assert dict(KPIS) == {name: METRICS[name].label for name, _ in KPIS}  # the tiles' labels are the table's
    assert metric_label("blocked_users") == "Users blocked from SSPR"


@pytest.mark.parametrize(
    ("group", "values"),
    [
        ("end_state", END_STATES),
        ("stage", STAGES),
        ("method", METHODS),
        ("writeback_cause", (*WRITEBACK_CAUSES.values(), "other")),
        ("data_kind", DATA_KINDS),
        ("coverage_state", ("complete", "partial", "approximate", "no data")),
        ("finding_kind", KINDS),
        ("assessment", ("possible_attack", "attack_not_ruled_out", "needs_registration_help")),
        (
            "blocked_signal",
            (
                "ip_used_for_other_accounts",
                "recent_risk_detections",
                "failed_methods_never_registered",
                "no_registration_row",
                "not_sspr_registered",
                "not_sspr_capable",
                "too_few_methods",
                "configuration_failures",
            ),
        ),
    ],
)
def test_every_value_of_the_vocabulary_has_words(group: str, values: tuple[str, ...]) -> None:
    missing = [v for v in values if v not in LABELS[group]]
    assert not missing
    assert all(not is_identifier(label(group, v)) for v in values)


def test_finding_nouns_cover_every_kind_with_an_article() -> None:
    assert set(FINDING_NOUNS) == set(KINDS)
    assert all(one.split()[0] in ("a", "an") for one, _ in FINDING_NOUNS.values())


def test_unknown_values_are_split_into_words_and_identifiers_are_found() -> None:
    assert label("risk_state", "confirmedCompromised") == "confirmed compromised"
    assert label("risk_state", "ATRISK") == "at risk"  # case-insensitive lookup
    assert label("writeback_cause", "brand_new_cause") == "brand new cause"
    assert label("boolean", False) == "no" and label("boolean", None) == ""
    keys = identifiers()
    assert {"atRisk", "agent_unreachable", "TemporaryAccessPass", "True"} <= keys
    assert not keys & {"sms", "no data", "complete", "remediated", "Fido2"}
