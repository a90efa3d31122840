"""The reset-spike rule at any tenant size: a baseline per hour of the week, bursts concentrated on one IP or
network, the signals that decide the severity, and the per-hour series the chart draws (issue 28)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from sspr_review.analysis import AnalysisSettings, find_reset_spikes, fingerprint, prepare, spike_hours
from sspr_review.analysis.prepare import ReviewData
from tests.support.analysis import BLOCKED, CHANGE, WINDOW, audit, completed_flow, ev, t

S = AnalysisSettings()
WEEK = pd.Timedelta(days=7)


def _rhythm(weeks: int, per_hour: int = 20, *, days: range = range(5), at: str = "9h") -> list[dict[str, Any]]:
    """An ordinary busy hour on each weekday: ``per_hour`` accounts complete a reset between ``at`` and 57
    minutes later, each from its own IP, the same accounts from the same IPs every week, for ``weeks`` weeks
    before the review week and in it."""
    rows: list[dict[str, Any]] = []
    for w in range(weeks, -1, -1):
        for d in days:
            for i in range(per_hour):
                when = t(f"{d}d {at}") - w * WEEK + pd.Timedelta(minutes=57 * i / per_hour)
                rows += completed_flow(when, f"n{d}-{i}", ip=f"198.51.{d}.{i + 1}", both=False)
    return rows


def _burst(
    count: int, spread_minutes: float, *, base: str = "2d 9h 10min", ips: list[str], user: str = "x"
) -> list[dict[str, Any]]:
    """``count`` accounts (no earlier activity) completing a reset from ``ips`` in turn, evenly over the spread."""
    step = spread_minutes / max(count - 1, 1)
    rows: list[dict[str, Any]] = []
    for i in range(count):
        rows += completed_flow(t(base) + pd.Timedelta(minutes=step * i), f"{user}{i}", ip=ips[i % len(ips)])
    return rows


@pytest.fixture(scope="module")
def eight_weeks() -> list[dict[str, Any]]:
    return _rhythm(8)


def _spikes(*rows: Any, settings: AnalysisSettings = S) -> list[Any]:
    return find_reset_spikes(prepare({"audit": audit(*rows)}), WINDOW, settings)


# ------------------------------------------------------------------------------------------ the baseline


def test_a_busy_hour_as_busy_as_every_week_is_no_spike(eight_weeks: list[dict[str, Any]]) -> None:
    # 20 accounts within the hour every weekday morning for eight weeks: the tenant's Monday morning, not a spike
    assert _spikes(eight_weeks) == []


def _familiar(count: int, ips: list[str]) -> list[dict[str, Any]]:
    """Accounts ``x0``... with an earlier reset from the IPs they will use (on a Saturday night a month before)."""
    return [
        row
        for i in range(count)
        for row in completed_flow(t("-30d 3h") + pd.Timedelta(minutes=i), f"x{i}", ip=ips[i % len(ips)], both=False)
    ]


def test_a_burst_above_the_hours_baseline_is_a_spike_with_its_expected_range(
    eight_weeks: list[dict[str, Any]],
) -> None:
    ips = [f"198.18.{i}.1" for i in range(16)]  # many IPs, each known to its account: volume alone
    (spike,) = _spikes(eight_weeks, _familiar(16, ips), _burst(16, 40, ips=ips))
    base = spike.evidence["baseline"]
    assert base["applied"] is True and base["weeks"] == 8 and base["weeks_needed"] == 8
    assert base["median"] == 20
    # median + 3 × max(1.4826 × MAD, √median, 1): MAD is 0, so the Poisson spread √20 counts
    assert base["expected_high"] == pytest.approx(20 + 3 * 20**0.5, abs=0.01)
    assert spike.evidence["peak_accounts"] == 36
    assert base["threshold"] == 34  # more than the limit, at least the floor
    assert base["ratio"] == pytest.approx(36 / 20)
    assert spike.evidence["trigger"] == ["volume"]
    assert spike.severity == "medium" and spike.evidence["signals_fired"] == []
    assert "36 within 60 minutes" in spike.title and "usually at most 33" in spike.title


def test_without_history_every_busy_hour_is_judged_by_the_floor_alone() -> None:
    extra = _burst(16, 40, ips=[f"198.18.{i}.1" for i in range(16)])
    found = _spikes(_rhythm(0), extra)
    assert len(found) == 5  # the chapter's rule: each weekday's 20 accounts, and Wednesday's 36
    assert sorted(f.evidence["peak_accounts"] for f in found) == [20, 20, 20, 20, 36]
    assert not any(f.evidence["baseline"]["applied"] for f in found)


def test_three_weeks_of_history_fall_back_to_the_absolute_rule_and_say_so() -> None:
    found = _spikes(_rhythm(3))
    assert len(found) == 5  # every weekday's busy hour: 20 accounts ≥ 10, with no baseline to judge them by
    for spike in found:
        base = spike.evidence["baseline"]
        assert base["applied"] is False and base["weeks"] == 3 and base["weeks_needed"] == 8
        assert "3 of the 8 weeks" in base["note"] and "absolute rule" in base["note"]
        assert "absolute rule" in spike.title
        assert spike.severity == "medium"  # the accounts reset from their usual IPs: volume alone


def test_no_baseline_weeks_configured_is_the_chapters_rule(eight_weeks: list[dict[str, Any]]) -> None:
    found = _spikes(eight_weeks, settings=AnalysisSettings(spike_baseline_weeks=0))
    assert len(found) == 5
    assert all("absolute rule" in f.evidence["baseline"]["note"] for f in found)


# ------------------------------------------------------------------------------ concentration and signals


def test_a_burst_within_the_baseline_from_one_network_new_to_its_accounts_is_high(
    eight_weeks: list[dict[str, Any]],
) -> None:
    extra = _burst(12, 40, ips=["203.0.113.45", "203.0.113.46", "203.0.113.47"])  # 32 accounts: under the limit
    (spike,) = _spikes(eight_weeks, extra)
    assert spike.severity == "high"
    assert spike.evidence["trigger"] == ["one_network"]
    assert spike.evidence["accounts_count"] == 12  # the burst's accounts, not the ordinary ones beside it
    network = spike.evidence["signals"]["one_network"]
    assert network["fired"] is True and network["network"] == "203.0.113.0/24" and network["accounts"] == 12
    assert "one network" in spike.title and "203.0.113.0/24" in spike.title
    assert spike.evidence["signals"]["new_ips"]["fired"] is True


def test_six_accounts_from_one_ip_within_ten_minutes_is_a_finding_below_the_floor(
    eight_weeks: list[dict[str, Any]],
) -> None:
    (spike,) = _spikes(eight_weeks, _burst(6, 8, ips=["203.0.113.9"]))
    assert spike.severity == "high" and spike.evidence["trigger"] == ["one_ip"]
    assert spike.evidence["accounts_count"] == 6
    assert spike.evidence["signals"]["one_ip"] == {
        "fired": True,
        "ip": "203.0.113.9",
        "accounts": 6,
        "within_minutes": 10,
        "needed": 6,
    }
    assert {a["user"] for a in spike.evidence["accounts"]} == {f"x{i}@contoso.com" for i in range(6)}
    assert "6 accounts" in spike.title and "one IP address" in spike.title and "203.0.113.9" in spike.title


def test_five_accounts_from_one_ip_or_six_over_longer_are_not(eight_weeks: list[dict[str, Any]]) -> None:
    assert _spikes(eight_weeks, _burst(5, 8, ips=["203.0.113.9"])) == []
    assert _spikes(eight_weeks, _burst(6, 15, ips=["203.0.113.9"])) == []


def test_six_accounts_from_the_office_ip_they_always_use_are_not_a_burst(eight_weeks: list[dict[str, Any]]) -> None:
    office = "192.0.2.10"
    earlier = [ev(CHANGE, t("-20d 9h") + pd.Timedelta(minutes=i), f"x{i}", ip=office) for i in range(6)]
    assert _spikes(eight_weeks, earlier, _burst(6, 8, ips=[office])) == []


def test_the_same_burst_from_accounts_with_no_history_is_high(eight_weeks: list[dict[str, Any]]) -> None:
    (spike,) = _spikes(eight_weeks, _burst(16, 40, ips=[f"198.18.{i}.1" for i in range(16)]))
    assert spike.severity == "high" and spike.evidence["trigger"] == ["volume"]
    assert set(spike.evidence["signals_fired"]) == {"new_ips", "no_earlier_sspr"}
    new_ips = spike.evidence["signals"]["new_ips"]
    assert new_ips["accounts"] == 16 and new_ips["usual_share"] == 0.0  # every other reset: a known IP
    assert "16 from IP addresses new to them" in spike.title


def test_signals_phone_only_and_blocked_attempts_from_the_bursts_ip() -> None:
    rows = _burst(10, 30, ips=["203.0.113.9"], base="2d 3h")  # the test flows verify by SMS only
    rows += [ev(BLOCKED, t("2d 3h 20min"), "victim", ip="203.0.113.9")]
    (spike,) = _spikes(_rhythm(8, days=range(2)), rows)  # the rest of the week verifies by SMS too
    signals = spike.evidence["signals"]
    assert signals["blocked_from_burst_ips"]["fired"] is True and signals["blocked_from_burst_ips"]["accounts"] == 1
    assert signals["phone_only"]["accounts"] == 10
    assert signals["phone_only"]["fired"] is False  # every reset of the week is phone-only: not unusual here
    assert spike.severity == "high"


def test_severity_reason_names_the_signals(eight_weeks: list[dict[str, Any]]) -> None:
    extra = _burst(16, 40, ips=["198.18.0.1", "198.18.1.1", "198.18.2.1"])  # few IPs, new to the accounts
    (spike,) = _spikes(eight_weeks, extra)
    assert spike.severity == "high"
    assert "few_ips" in spike.evidence["signals_fired"]
    assert "3 IP addresses" in spike.evidence["severity_reason"]


# ---------------------------------------------------------------------------------- small tenants as before


def test_fingerprint_is_the_hour_of_the_first_reset_as_before() -> None:
    rows = _burst(14, 38, ips=["203.0.113.45", "203.0.113.46", "203.0.113.47"], base="1d 10h 38min")
    (spike,) = _spikes(rows)
    assert spike.fingerprint == fingerprint("reset_spike", "2024-03-05T10:00:00Z")
    assert spike.severity == "high"


# -------------------------------------------------------------------------------------- the chart's series


def _data(*rows: Any) -> ReviewData:
    return prepare({"audit": audit(*rows)})


def test_spike_hours_give_the_peak_window_and_the_expected_band(eight_weeks: list[dict[str, Any]]) -> None:
    data = _data(eight_weeks, _burst(16, 40, ips=[f"198.18.{i}.1" for i in range(16)]))
    hours = spike_hours(data, WINDOW, S)
    assert len(hours) == 168 and hours["hour"].iloc[0] == pd.Timestamp(WINDOW.start)
    wednesday = hours.set_index("hour").loc[t("2d 9h")]
    assert wednesday["accounts"] == 36 and wednesday["threshold"] == 34 and bool(wednesday["applied"])
    assert wednesday["median"] == 20 and wednesday["expected_low"] == pytest.approx(20 - 3 * 20**0.5, abs=0.01)
    tuesday = hours.set_index("hour").loc[t("1d 9h")]
    assert tuesday["accounts"] == 20 and tuesday["accounts"] < tuesday["threshold"]
    quiet = hours.set_index("hour").loc[t("1d 3h")]
    assert quiet["accounts"] == 0 and quiet["threshold"] == 10  # the floor where the hour is always quiet


def test_spike_hours_without_history_use_the_floor() -> None:
    hours = spike_hours(_data(_rhythm(0)), WINDOW, S)
    assert not hours["applied"].any() and (hours["threshold"] == 10).all()
    assert hours["weeks"].max() == 0


def test_covered_intervals_decide_the_weeks_held(eight_weeks: list[dict[str, Any]]) -> None:
    data = _data(eight_weeks)
    # the store holds only the last four weeks complete: the rows of older weeks do not count as history
    held = replace(data, covered={"audit": [(WINDOW.start - 4 * WEEK, WINDOW.end)]})
    assert spike_hours(held, WINDOW, S)["weeks"].max() == 4
    assert len(find_reset_spikes(held, WINDOW, S)) == 5


# ------------------------------------------------------------------------------------------- findings.json


def test_the_new_evidence_is_in_the_schema() -> None:
    import jsonschema  # type: ignore[import-untyped]

    from sspr_review.analysis import ReviewInputs, build_review, findings_json, findings_schema
    from tests.support.analysis import coverage

    review = build_review(ReviewInputs({"audit": audit(_burst(6, 8, ips=["203.0.113.9"]))}, coverage(), WINDOW))
    doc = findings_json(review, generated_at=WINDOW.end)
    validator = jsonschema.Draft202012Validator(findings_schema())
    validator.validate(doc)
    (spike,) = [f for f in doc["findings"] if f["kind"] == "reset_spike"]
    assert spike["evidence"]["signals"]["one_ip"]["fired"] is True
    for key in ("baseline", "signals", "trigger"):
        broken = {**doc, "findings": [{**spike, "evidence": {k: v for k, v in spike["evidence"].items() if k != key}}]}
        assert not validator.is_valid(broken), key
    wrong = {**doc, "findings": [{**spike, "evidence": {**spike["evidence"], "trigger": ["loud"]}}]}
    assert not validator.is_valid(wrong)
