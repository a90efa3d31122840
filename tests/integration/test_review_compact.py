"""Workspace.review reads the store compactly (categoricals, recent registration snapshots, streamed snapshot
counts), only what the week needs (the rest from the weekly aggregates) and prepares once for two weeks: it must
give exactly what reviewing the full tables gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from sspr_review import open_workspace
from sspr_review.analysis import findings_json
from sspr_review.analysis.metrics import registration_counts, registration_counts_arrow
from sspr_review.app.workspace import Workspace
from sspr_review.core import schema
from tests.support.reference import Reference

GENERATED = datetime(2030, 1, 1, tzinfo=UTC)


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as strings, for comparing frames by value."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype) and out[col].cat.categories.dtype != "int64":
            values = out[col].astype("string")
            out[col] = values
    return out


@pytest.fixture(scope="module")
def workspace(small_config: Path, demo_store: Path) -> Workspace:
    return open_workspace(small_config, source="demo", store=demo_store)


@pytest.mark.slow
@pytest.mark.parametrize("weeks_back", [0, 1, 3])
@pytest.mark.parametrize("compare", [True, False])
def test_review_equals_the_full_table_review(workspace: Workspace, weeks_back: int, compare: bool) -> None:
    end = workspace.store.high_water("audit")
    assert end is not None
    week_ending = workspace.window(end).shift(weeks_back).week_ending
    got = workspace.review(week_ending, compare=compare)
    want = Reference(workspace).review(week_ending, compare=compare)
    assert findings_json(got, generated_at=GENERATED) == findings_json(want, generated_at=GENERATED)
    pd.testing.assert_frame_equal(got.weekly, want.weekly)
    pd.testing.assert_frame_equal(plain(got.flows), plain(want.flows))
    pd.testing.assert_frame_equal(got.unrecognised_reasons, want.unrecognised_reasons)
    pd.testing.assert_frame_equal(got.unknown_activities, want.unknown_activities)
    assert got.data is not None and want.data is not None
    weeks = (got.window.previous_start, got.window.end)  # the tables of the reviewed weeks: the same rows
    for name, column in (("resets", "time"), ("admin_resets", "time"), ("taps", "time"), ("flows", "start")):
        pd.testing.assert_frame_equal(
            plain(within(getattr(got.data, name), column, weeks)),
            plain(within(getattr(want.data, name), column, weeks)),
            obj=name,
        )
    pd.testing.assert_frame_equal(
        plain(within(got.data.audit, "activity_time", weeks)),
        within(want.data.audit.drop(columns="raw"), "activity_time", weeks),  # records: the reference reads them
        check_dtype=False,
    )


def within(frame: pd.DataFrame, column: str, span: tuple[datetime, datetime]) -> pd.DataFrame:
    """The rows of ``frame`` whose ``column`` lies in ``span``, renumbered."""
    times = frame[column]
    return frame[((times >= pd.Timestamp(span[0])) & (times < pd.Timestamp(span[1]))).to_numpy()].reset_index(drop=True)


def test_compact_read_has_the_same_values(workspace: Workspace) -> None:
    full = workspace.store.read("audit")
    compact = workspace.store.read("audit", compact=True)
    assert list(compact.columns) == list(full.columns)
    assert isinstance(compact["activity"].dtype, pd.CategoricalDtype)
    pd.testing.assert_frame_equal(plain(compact), full, check_dtype=False)
    start = full["activity_time"].iloc[len(full) // 2]
    part = workspace.store.read("audit", start, start + timedelta(days=3), compact=True)
    pd.testing.assert_frame_equal(
        plain(part), workspace.store.read("audit", start, start + timedelta(days=3)), check_dtype=False
    )


def test_registration_counts_from_arrow_match_pandas() -> None:
    day1, day2 = pd.Timestamp("2026-11-02", tz="UTC"), pd.Timestamp("2026-11-09", tz="UTC")
    reg = schema.conform(
        pd.DataFrame(
            {
                "snapshot_date": [day1, day1, day1, day1, day2, day2, day2, day2, pd.NaT],
                "user_id": ["A1", "a2", None, "a4", "a1", None, "", "a5", "a1"],
                "user_upn": ["x@t", "y@t", "Admin@T ", None, "x@t", "ADMIN@t", "e@t", "g@t", "x@t"],
                "user_type": ["member", " Member", "member", "guest", None, "member", "member", "member", "member"],
                "is_sspr_enabled": [True, None, True, True, False, True, True, True, True],
                "is_sspr_capable": [True, False, None, True, True, True, False, True, True],
                "is_admin": [False, None, False, True, False, False, False, None, False],
            }
        ),
        "registration",
    )
    priv = schema.conform(
        pd.DataFrame(
            {
                "snapshot_date": [day1, day1, day2, day2],
                "principal_id": ["a1", "g1", "A5", None],
                "principal_type": ["user", "group", None, "user"],
                "user_upn": ["x@t", None, "g@t", "admin@t"],
            }
        ),
        "privileged",
    )
    want = registration_counts(priv, reg)
    table = pa.Table.from_pandas(reg, preserve_index=False)
    table = table.set_column(
        table.schema.get_field_index("user_type"), "user_type", table.column("user_type").dictionary_encode()
    )
    got = registration_counts_arrow(priv, [table.slice(0, 4), table.slice(4, 5)])
    pd.testing.assert_frame_equal(got, want)
    # day 1: is_admin only ("A1" is no principal id as given or lower-cased; admin@t holds a role only on day 2);
    # day 2: a5 through the NA-typed principal "A5", the id-less ADMIN@t through its UPN
    assert want["admins"].tolist() == [1, 2]
    assert registration_counts_arrow(priv, [table.slice(0, 0)]).empty
    assert np.array_equal(registration_counts(priv.iloc[0:0], reg)["admins"].to_numpy(), [1, 0])
