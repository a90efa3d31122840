"""The lookback summaries a review reads before its tables (analysis/history.py): the rows of a time range and of
some accounts, matched by id or UPN."""

from __future__ import annotations

import pandas as pd

from sspr_review.analysis.history import History


def _history() -> History:
    ips = pd.DataFrame(
        {
            "user_id": pd.array(["a1", "a1", None, "c3", None], dtype="string"),
            "user_upn": pd.array(["a@x", "a@x", "b@x", None, None], dtype="string"),
            "ip": pd.array(["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"], dtype="string"),
            "time": [10, 20, 30, 40, 50],
        }
    )
    return History(since=100, ips=ips)


def test_rows_of_a_time_range_and_of_the_accounts_asked_for() -> None:
    history = _history()
    assert history.between("ips", 15, 100)["ip"].tolist() == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"]
    assert history.between("ips", 0, 100, {"a1"}, set())["time"].tolist() == [10, 20]
    assert history.between("ips", 0, 100, set(), {"b@x"})["ip"].tolist() == ["10.0.0.3"]
    # by id or by UPN; an account with neither is nobody's, and an unknown one matches nothing
    assert history.between("ips", 0, 35, {"c3", "zz"}, {"b@x", "a@x"})["time"].tolist() == [10, 20, 30]
    assert history.between("ips", 0, 100, {"c3"}, set())["time"].tolist() == [40]
    assert history.between("ips", 0, 100, set(), set()).empty
    # the same answers again (the accounts' codes are kept after the first lookup)
    assert history.between("ips", 0, 100, {"a1"}, set())["time"].tolist() == [10, 20]
