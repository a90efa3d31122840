"""What a review reads around its weeks (issue 24): the rules' declared reads, and the lookbacks served by the
store's weekly summaries instead of the events themselves."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sspr_review.analysis.reads import ALL_HISTORY, Reads, days, describe, spans
from sspr_review.analysis.registry import review_spans
from sspr_review.core.settings import AnalysisSettings


def test_a_read_through_a_summary_adds_its_reach_to_the_summary_not_to_the_events() -> None:
    settings = AnalysisSettings()
    got = spans(
        [
            Reads("audit", days("leak_remediation_days")),
            Reads("audit", days("new_ip_lookback_days"), summary="ips"),
            Reads("audit", days("leak_remediation_days"), summary="ips"),
            Reads("audit", ALL_HISTORY, summary="methods"),
        ],
        settings,
    )["audit"]
    assert got.before == timedelta(days=settings.leak_remediation_days)
    assert dict(got.summaries) == {"ips": timedelta(days=settings.new_ip_lookback_days), "methods": None}
    assert got.summary_reach() == timedelta(days=settings.new_ip_lookback_days)  # all history needs no lookback
    assert spans([Reads("audit", ALL_HISTORY, summary="fixes")], settings)["audit"].summary_reach() is None


def test_the_rules_read_a_few_days_of_events_and_the_long_lookbacks_through_summaries() -> None:
    settings = AnalysisSettings()
    audit = review_spans(settings)["audit"]
    # the IP history (90 days) and the spike baseline (8 weeks) no longer widen the events read
    assert audit.before is not None and audit.before < timedelta(days=15)
    # whether an IP is new: 90 days before the flow of a reset in a spike window starting two windows before the week
    window = timedelta(minutes=2 * settings.spike_window_minutes)
    assert audit.summaries["ips"] == timedelta(days=settings.new_ip_lookback_days) + window
    assert audit.summaries["starts"] == timedelta(days=settings.new_ip_lookback_days) + window
    assert audit.summaries["resets"] is not None
    assert audit.summaries["resets"] > timedelta(weeks=settings.spike_baseline_weeks)
    assert audit.summaries["fixes"] is None and audit.summaries["methods"] is None
    assert "ips (90.0833 days before)" in describe({"audit": audit})["audit"]
    longer = review_spans(AnalysisSettings(new_ip_lookback_days=200, spike_baseline_weeks=30))["audit"]
    assert longer.before == audit.before
    assert longer.summary_reach() == timedelta(weeks=30, minutes=120, days=1)


def test_a_summary_must_be_one_the_store_keeps() -> None:
    with pytest.raises(ValueError, match="not one of"):
        Reads("audit", ALL_HISTORY, summary="everything")
