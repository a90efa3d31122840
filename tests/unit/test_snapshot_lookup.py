"""snapshot_lookup (analysis/_util.py): each event's row in the snapshot in force at its time, matched on the object
id, else on the UPN, both lower-cased and trimmed, the first row of a snapshot winning."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sspr_review.analysis._util import NS_PER_DAY, snapshot_lookup


def _ns(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").value)


SNAPSHOTS = pd.DataFrame(
    {
        "snapshot_date": pd.to_datetime(["2026-03-01"] * 4 + ["2026-03-08"] * 2, utc=True),
        "user_id": pd.array(["ID-A", "id-b", None, "id-b", "id-a", None], dtype="string"),
        "user_upn": pd.array(["a@x.com", "B@X.com", " C@x.com ", "b2@x.com", "a@x.com", "c@x.com"], dtype="string"),
        "method_count": pd.array([1, 2, 3, 4, 5, 6], dtype="Int64"),
        "methods": pd.Categorical(["m1", "m2", "m3", "m4", "m5", "m6"]),
    }
)


def _lookup(times: list[str], ids: list[str | None], upns: list[str | None], **kw: object) -> pd.DataFrame:
    return snapshot_lookup(
        np.array([_ns(t) for t in times], dtype=np.int64),
        pd.Series(ids, dtype="string"),
        pd.Series(upns, dtype="string"),
        SNAPSHOTS,
        id_col="user_id",
        upn_col="user_upn",
        columns=["method_count", "methods"],
        **kw,  # type: ignore[arg-type]
    )


def test_each_event_takes_the_snapshot_in_force_matched_by_id_else_upn() -> None:
    found = _lookup(
        ["2026-03-05", "2026-03-09", "2026-02-01", "2026-03-05", "2026-03-05", "2026-03-09", "2026-03-05"],
        ["id-a", "ID-A ", "id-b", None, "nobody", None, None],
        [None, None, "b@x.com", " c@X.com", "b@x.com", "b@x.com", None],
    )
    # by id in the first snapshot; by id in the second; before the first snapshot: the first, by id (the first of
    # its two rows); by UPN, trimmed and lower-cased; an unknown id falls back to the UPN; a UPN not in the
    # snapshot in force; nothing to match on
    assert found["method_count"].fillna(-1).tolist() == [1, 5, 2, 3, 2, -1, -1]
    assert found["methods"].astype(object).where(found["found"], None).tolist() == [
        "m1",
        "m5",
        "m2",
        "m3",
        "m2",
        None,
        None,
    ]
    assert found["found"].tolist() == [True, True, True, True, True, False, False]
    assert found["method_count"].dtype == "Int64" and isinstance(found["methods"].dtype, pd.CategoricalDtype)


def test_a_chosen_day_serves_every_event_and_a_day_without_a_snapshot_finds_none() -> None:
    day = _ns("2026-03-08") // NS_PER_DAY
    found = _lookup(["2026-03-02", "2026-03-20"], ["id-a", "id-a"], [None, None], day=day)
    assert found["method_count"].tolist() == [5, 5]
    none = _lookup(["2026-03-02"], ["id-a"], [None], day=day + 1)
    assert none["found"].tolist() == [False] and none["method_count"].isna().all()
    assert len(_lookup([], [], [])) == 0
