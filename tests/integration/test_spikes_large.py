"""The reset-spike rule on a 100,000-user tenant (issue 28): ten weeks of the synthetic history the benchmarks use
(two demo weeks at that size, repeated), where the chapter's absolute rule raised eleven high spikes a week."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from sspr_review.analysis import AnalysisSettings, find_reset_spikes, prepare, review_window
from tests.support.large_tenant import RESET, burst, repeated_audit

pytestmark = pytest.mark.slow

USERS = 100_000
END = datetime(2024, 3, 11, tzinfo=UTC)
COPIES = 5  # ten weeks: the last one and the one before each have eight weeks of history before them
ATTACKER = "198.18.7.7"


@pytest.fixture(scope="module")
def tenant() -> dict[str, Any]:
    """The history with 30 accounts (with history of their own) resetting from one IP in 30 minutes at the
    busiest clock hour of the last week, prepared once."""
    audit, planted = repeated_audit(USERS, END, COPIES)
    week = review_window(END.date(), "UTC")
    resets = audit[(audit["activity"] == RESET).to_numpy(dtype=bool)]
    in_week = resets[(resets["activity_time"] >= pd.Timestamp(week.start)).to_numpy(dtype=bool)]
    per_hour = in_week.groupby(in_week["activity_time"].dt.floor("h"))["user_id"].nunique()
    busiest = per_hour.idxmax()
    earlier = resets[(resets["activity_time"] < pd.Timestamp(week.start) - pd.Timedelta(days=7)).to_numpy(dtype=bool)]
    busy_day = set(in_week[in_week["activity_time"].dt.floor("D") == busiest.floor("D")]["user_id"].dropna())
    pool = earlier.drop_duplicates("user_id")
    pool = pool[~pool["user_id"].isin(busy_day).to_numpy(dtype=bool)].head(30)
    accounts = list(zip(pool["user_id"], pool["user_upn"], strict=True))
    injected = burst(accounts, busiest + pd.Timedelta(minutes=5), 30, [ATTACKER], "injected")
    data = prepare({"audit": pd.concat([audit, injected], ignore_index=True)})
    covered = {"audit": [(week.start - pd.Timedelta(weeks=2 * COPIES - 1), week.end)]}
    return {
        "data": replace(data, covered=covered),
        "week": week,
        "busiest": busiest,
        "busiest_accounts": int(per_hour.max()),
        "accounts": {upn.lower() for _, upn in accounts},
        "planted": planted,
    }


def test_the_ordinary_week_before_gives_no_spike_at_the_defaults(tenant: dict[str, Any]) -> None:
    week = tenant["week"].shift(1)
    assert tenant["busiest_accounts"] >= 40  # the busiest hour holds four times the chapter's floor
    assert find_reset_spikes(tenant["data"], week, AnalysisSettings()) == []
    # the chapter's rule alone (no baseline weeks) on the same week: the noise the baseline removes
    assert len(find_reset_spikes(tenant["data"], week, AnalysisSettings(spike_baseline_weeks=0))) >= 5


def test_a_burst_injected_at_the_busiest_hour_is_found_with_its_signals(tenant: dict[str, Any]) -> None:
    found = find_reset_spikes(tenant["data"], tenant["week"], AnalysisSettings())
    assert len(found) == 1  # the injected burst, nothing else of a busy week
    (spike,) = found
    assert tenant["accounts"] <= {u.lower() for u in spike.users}
    assert spike.severity == "high"
    signals = spike.evidence["signals"]
    assert signals["one_ip"]["fired"] and signals["one_ip"]["ip"] == ATTACKER
    assert signals["one_ip"]["accounts"] >= 10  # one every minute: ten within the ten-minute window
    assert signals["one_network"]["fired"] and signals["new_ips"]["fired"]
    assert spike.evidence["baseline"]["applied"] is True and spike.evidence["baseline"]["weeks"] == 8
    burst_start = tenant["busiest"] + pd.Timedelta(minutes=5)
    assert spike.start is not None and spike.end is not None
    assert spike.start <= burst_start.to_pydatetime() and spike.end >= (burst_start + pd.Timedelta(minutes=30))
