"""A review reads what its week needs (issue 24): the time-ranged tables from a week boundary on, the trend's
earlier weeks and the per-account summaries from the weekly aggregates kept in the store. Whatever it reads, it
must give exactly what a review of the full tables gives, for every week of the demo, and keep doing so when late
events land in an old week, when the analyses' version changes, and when the store cannot be written."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from sspr_review import open_workspace
from sspr_review.analysis.ip_history import initiated_events
from sspr_review.analysis.reads import CONTINUITY
from sspr_review.analysis.registry import review_spans
from sspr_review.app import aggregates
from sspr_review.app.workspace import Workspace
from tests.support.reference import Reference, assert_same

DEMO = "[demo]\nusers = 2000\nweeks = 26\n"  # the demo's defaults, written out


@pytest.fixture(scope="module")
def demo26(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo tenant at its defaults (2,000 users, 26 weeks), as `sspr-review demo` builds it."""
    folder = tmp_path_factory.mktemp("demo26")
    config = folder / "config.toml"
    config.write_text(DEMO)
    ws = open_workspace(config, source="demo", store=folder / "store")
    ws.build_demo_history(progress=False)
    return folder


def workspace(folder: Path, store: Path | None = None) -> Workspace:
    return open_workspace(folder / "config.toml", source="demo", store=store or folder / "store")


def weeks_of(ws: Workspace) -> Iterator[str]:
    end = ws.store.high_water("audit")
    assert end is not None
    last = ws.window(end)
    for back in range(26):
        yield last.shift(back).week_ending.isoformat()


@pytest.mark.slow
def test_every_week_of_the_demo_reviews_as_from_the_full_tables(demo26: Path) -> None:
    ws = workspace(demo26)
    reference = Reference(ws)
    weeks = list(weeks_of(ws))
    for week in weeks:
        assert_same(ws.review(week), reference.review(week))
    # the whole history's trend: 26 weeks, every one of them from the aggregates but the last ones; the accounts'
    # history now from the summary the first review kept
    again = ws.review(weeks[0])
    assert len(again.weekly) >= 26
    assert again.data is not None and again.data.history is not None
    kept = pd.read_parquet(ws.store.path / "aggregates" / "summary.parquet")
    assert again.data.history.since in set(kept["week_end"]) and kept["week_end"].nunique() <= 3
    assert_same(again, reference.review(weeks[0]))


@pytest.mark.slow
def test_the_review_reads_the_weeks_its_rules_need_not_the_whole_history(demo26: Path) -> None:
    ws = workspace(demo26)
    review = ws.review()
    assert review.data is not None
    held = review.data.audit["activity_time"]
    everything = ws.store.read("audit", columns=["activity_time"])["activity_time"]
    span = review_spans(review.settings)["audit"]
    assert span.before is not None
    # the reviewed weeks, the rules' longest lookback read as events (days, not the 90 days of IP history nor the
    # spike baseline's 8 weeks: those come from summaries), a week boundary and the margins
    reach = span.before + timedelta(days=7) + 2 * CONTINUITY
    assert reach < timedelta(days=30)
    assert held.min() >= pd.Timestamp(review.window.previous_start - reach)
    assert everything.min() < held.min()
    assert len(held) < len(everything) * 0.3
    assert review.data.history is not None and len(review.data.history.weeks) >= 8  # the older weeks
    # the roles snapshots from the one in force when the first event read happened (a lookup takes the latest
    # snapshot at or before an event), not the older ones
    roles = review.data.privileged["snapshot_date"]
    every_roles = ws.store.read("privileged", columns=["snapshot_date"])["snapshot_date"]
    assert roles.min() <= held.min() and (roles < held.min()).sum() == (roles == roles.min()).sum()
    assert every_roles.min() < roles.min() and roles.nunique() < every_roles.nunique()
    # the registration rows of the snapshots the two weeks chose (every lookup of a week reads its own), no older
    days = set(review.data.registration["snapshot_date"].dt.date)
    chosen = review.coverage["registration"].snapshot
    assert chosen is not None and chosen.date() in days and len(days) == 2
    assert min(days) > ws.store.read("registration", columns=["snapshot_date"])["snapshot_date"].min().date()


@pytest.mark.slow
def test_late_events_in_an_old_week_change_its_aggregates(demo26: Path, tmp_path: Path) -> None:
    """A fetch that writes late events into a week the aggregates hold: the next review counts them."""
    store = tmp_path / "store"
    shutil.copytree(demo26 / "store", store)
    ws = workspace(demo26, store)
    ws.review()  # the aggregates are kept, and the accounts' summary up to the tables
    summary = ws.store.path / "aggregates" / "summary.parquet"
    chains = set(pd.read_parquet(summary)["chain"])
    audit = ws.store.read("audit")
    old = audit["activity_time"].min() + pd.Timedelta(days=21)
    late = audit[audit["activity"] == "Change password (self-service)"].iloc[:3].copy()
    late["id"] = late["id"] + "-late"
    late["activity_time"] = [old + pd.Timedelta(hours=h) for h in range(3)]
    with ws.store.writing():
        ws.store.write("audit", late.assign(raw="{}"))
    got = ws.review()
    assert_same(got, Reference(ws).review(got.window.week_ending))
    week = got.weekly[(got.weekly["week_start"] <= old) & (got.weekly["week_end"] > old)]
    assert len(week) == 1 and int(week["password_changes"].iloc[0]) >= 3
    # the summary covered that week: it was not used, and the one kept now is another
    assert set(pd.read_parquet(summary)["chain"]) - chains


@pytest.mark.slow
def test_a_new_analysis_version_recomputes_the_aggregates(
    demo26: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    shutil.copytree(demo26 / "store", store)
    ws = workspace(demo26, store)
    ws.review()
    key = aggregates.aggregates_key(ws.config.analysis_settings())
    monkeypatch.setattr(aggregates, "ANALYSIS_VERSION", 10_000)
    assert aggregates.aggregates_key(ws.config.analysis_settings()) != key
    got = ws.review()
    kept = pd.read_parquet(ws.store.path / "aggregates" / "weeks.parquet")
    assert set(kept["key"]) == {aggregates.aggregates_key(ws.config.analysis_settings())}
    assert_same(got, Reference(ws).review(got.window.week_ending))


@pytest.mark.slow
def test_a_week_whose_per_account_file_went_or_broke_is_computed_again(demo26: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(demo26 / "store", store)
    ws = workspace(demo26, store)
    first = ws.review()
    folder = ws.store.path / "aggregates" / "weeks"
    assert first.data is not None and first.data.history is not None
    ends = sorted(int(p.name.split(".")[0]) for p in folder.glob("*.parquet"))
    before = [end for end in ends if end <= first.data.history.since]
    assert len(before) >= 20  # one file per week, those before the tables in the review's lookbacks too
    gone, broken = before[-1], before[-3]
    next(folder.glob(f"{gone}.*")).unlink()
    next(folder.glob(f"{broken}.*")).write_bytes(b"not parquet")
    got = ws.review()
    assert_same(got, first)
    assert_same(got, Reference(ws).review(got.window.week_ending))
    for end in (gone, broken):  # computed again and kept
        assert len(pd.read_parquet(next(folder.glob(f"{end}.*")))) > 0


@pytest.mark.slow
def test_a_store_whose_aggregates_cannot_be_written_still_reviews(demo26: Path, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(demo26 / "store", store)
    ws = workspace(demo26, store)
    shutil.rmtree(ws.store.path / "aggregates", ignore_errors=True)
    (ws.store.path / "aggregates").write_text("not a folder")  # every write there fails, as on a read-only disk
    got = ws.review()
    assert_same(got, Reference(ws).review(got.window.week_ending))
    assert (ws.store.path / "aggregates").read_text() == "not a folder"


@pytest.mark.slow
def test_the_summaries_stand_in_for_the_history_before_the_tables(demo26: Path) -> None:
    """The rules that read the whole history through a summary (a leak's fix, a method verified long ago) find in
    it what the full tables hold."""
    ws = workspace(demo26)
    review = ws.review()
    assert review.data is not None and review.data.history is not None
    history = review.data.history
    full = Reference(ws).data
    earlier = full.resets[full.resets["time"] < pd.Timestamp(history.since, tz="UTC")]
    last = earlier.assign(user_id=earlier["user_id"].str.lower()).groupby("user_id")["time"].max()
    kept = history.fixes.dropna(subset=["user_id"]).set_index("user_id")["time"]
    # every account's last SSPR reset before the tables is there, or a later password change of it
    assert len(last) and all(kept.get(user, -1) >= pd.Timestamp(t).value for user, t in last.items())
    assert history.fixes["time"].max() < history.since
    assert review.data.first_time("audit") == full.first_time("audit")
    assert replace(review.data, history=None).first_time("audit") > full.first_time("audit")


@pytest.mark.slow
def test_the_lookback_summaries_hold_what_the_events_before_the_tables_hold(demo26: Path) -> None:
    """Each account's last use of each IP, its last SSPR flow begun and every completed reset, week by week, over
    the rules' lookbacks: what the full tables hold before the review's tables begin."""
    ws = workspace(demo26)
    review = ws.review()
    assert review.data is not None and review.data.history is not None
    history = review.data.history
    full = Reference(ws).data
    settings = review.settings
    since = history.since
    begin = pd.Timestamp(review.window.previous_start).value - settings.new_ip_lookback_days * 86_400 * 10**9
    events = initiated_events(full, None, None, begin, since)
    assert len(events) and len(history.ips)
    assert history.ips["time"].min() < begin + 7 * 86_400 * 10**9 and history.ips["time"].max() < since
    kept = history.between("ips", begin, since)
    last = events.assign(user_id=events["user_id"].str.lower()).groupby(["user_id", "ip"])["time"].max()
    assert kept.groupby(["user_id", "ip"])["time"].max().to_dict() == last.to_dict()
    lo, hi = pd.Timestamp(begin, tz="UTC"), pd.Timestamp(since, tz="UTC")
    resets = full.resets[(full.resets["time"] >= lo) & (full.resets["time"] < hi)]
    got = history.between("resets", begin, since)
    assert len(resets) and sorted(got["time"]) == sorted(resets["time"].astype("int64"))
    flows = full.flows[(full.flows["start"] >= lo) & (full.flows["start"] < hi)]
    begun = flows.assign(user_id=flows["user_id"].str.lower()).groupby("user_id")["start"].max()
    starts = history.between("starts", begin, since).groupby("user_id")["time"].max()
    assert len(begun) and starts.to_dict() == begun.astype("int64").to_dict()
