"""Users named in the report's tables: ``Display Name <upn>`` from each user's latest registration row."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pandas as pd

from sspr_review.app.notebook import Context
from sspr_review.report.sections.render import names


def _context(registration: pd.DataFrame | None) -> Any:
    data = None if registration is None else SimpleNamespace(registration=registration)
    return Context(ws=None, review=SimpleNamespace(data=data))  # type: ignore[arg-type]


def test_users_are_named_from_their_latest_row_whatever_the_case_of_their_upn() -> None:
    registration = pd.DataFrame(
        {
            "snapshot_date": pd.to_datetime(["2026-11-30", "2026-11-23", "2026-11-30"], utc=True),
            "user_upn": pd.array(["Ann.Lee@Contoso.com", "ann.lee@contoso.com", "bo@contoso.com"], dtype="string"),
            "user_name": pd.array(["Ann Lee (new name)", "Ann Lee (old name)", "Bo <b>"], dtype="string"),
        }
    )
    ctx = _context(registration)
    upns = pd.Series(["ANN.LEE@contoso.com", "nobody@contoso.com", None, "bo@contoso.com"], index=[7, 3, 5, 1])
    shown = names(ctx, upns)
    assert shown.index.tolist() == [7, 3, 5, 1]
    assert shown.tolist()[:2] == ["Ann Lee (new name) <ANN.LEE@contoso.com>", "nobody@contoso.com"]
    assert pd.isna(shown.iloc[2]) and shown.iloc[3] == "Bo <b> <bo@contoso.com>"  # escaped where rendered
    assert ctx.display_names is ctx.display_names  # built once per context


def test_without_registration_rows_upns_are_shown_as_they_are() -> None:
    empty = pd.DataFrame({"snapshot_date": [], "user_upn": [], "user_name": []})
    for ctx in (_context(None), _context(empty)):
        assert names(ctx, pd.Series(["a@b.c"])).tolist() == ["a@b.c"]
