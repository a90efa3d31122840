"""Categorical columns (a compact store read) decoded to strings as pandas would, by Arrow; and text trimmed and
lower-cased by Arrow as Python would."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sspr_review.analysis._util import first_sorted, lower, lower_isin, strings, take_rows


@pytest.mark.parametrize("categories", [["b", "a", "Ä c"], pd.array(["b", "a", "Ä c"], dtype="string")])
def test_a_categorical_decodes_as_pandas_decodes_it(categories: object) -> None:
    values = pd.Series(
        pd.Categorical(["a", None, "Ä c", "a", "b"], categories=categories), index=[9, 3, 5, 7, 1], name="upn"
    )
    decoded = strings(values)
    expected = values.astype("string")
    pd.testing.assert_series_equal(decoded, expected)
    assert decoded.isna().tolist() == [False, True, False, False, False]


def test_rows_taken_from_a_compact_table_look_like_a_typed_tables() -> None:
    frame = pd.DataFrame(
        {
            "user_upn": pd.Categorical(["x", "y", None, "x"]),
            "ip": pd.array(["1.1.1.1", None, "2.2.2.2", "3.3.3.3"], dtype="string"),
            "n": [1, 2, 3, 4],
        }
    )
    picked = take_rows(frame, np.array([3, 2, 0]), ["user_upn", "ip", "n"])
    assert picked["user_upn"].dtype == "string" and picked["ip"].dtype == "string"
    assert picked["user_upn"].tolist() == ["x", pd.NA, "x"] and picked.index.tolist() == [3, 2, 0]
    assert strings(pd.Series(pd.Categorical([]))).dtype == "string"


@pytest.mark.parametrize(
    "texts",
    [
        [" ANN.Lee@Contoso.com ", "id-ABC", None, "", "   ", "x\x1cY\x1f", "\tTab\n"],  # all ASCII
        # not all ASCII; no word ends in a capital sigma (Arrow's utf8_lower has no final sigma: "Σ" gives "σ" where
        # Python gives "ς"; both sides of a match go through lower(), so no match depends on it)
        ["ÄNN@Contoso.com", "\u00a0Bob@contoso.com\u00a0", "ΣΟΦΊΑ", None, "", "plain"],
        [None, None],
        [],
    ],
    ids=["ascii", "unicode", "missing", "empty"],
)
def test_lower_trims_lower_cases_and_blanks_as_python_does(texts: list[str | None]) -> None:
    # what lower() gives, on text and on a categorical, is Python's strip() and lower(), blank text missing
    def expected(value: str | None) -> str | None:
        out = None if value is None else value.strip().lower()
        return out or None

    for values in (pd.Series(texts, dtype="string"), pd.Series(texts, dtype="string").astype("category")):
        got = lower(values)
        assert got.dtype == "string"
        assert [None if v is pd.NA else v for v in got.tolist()] == [expected(v) for v in texts]


@pytest.mark.parametrize("wanted", [["user"], ["user", None], [None], [], [" USER ", "app"]])
def test_lower_isin_is_the_same_on_a_categorical_and_on_text(wanted: list[str | None]) -> None:
    texts = [" User", "user", None, "", "APP", "service principal", "user "]
    text = pd.Series(texts, dtype="string")
    compact = text.astype(pd.CategoricalDtype(["unused", " User", "user", "", "APP", "service principal", "user "]))
    got = lower_isin(compact.iloc[[6, 0, 2, 3, 1]], wanted)
    assert got.tolist() == lower_isin(text.iloc[[6, 0, 2, 3, 1]], wanted).tolist()
    assert got.tolist()[:2] == ["user" in wanted] * 2  # the values trimmed and lower-cased, not what is asked
    assert got.tolist()[3] == (None in wanted)  # a blank value matches a missing one asked for
    assert not got[2]  # a missing value matches nothing


@pytest.mark.parametrize("k", [0, 1, 3, 7, 50])
def test_first_sorted_gives_pythons_sorted_head(k: int) -> None:
    # Arrow's order is UTF-8's bytes: the code points' order, as Python sorts (accents, CJK, emoji, case, duplicates)
    texts = ["zoë@x", "Zoe@x", "émile@x", "emile@x", "李@x", "😀@x", "a", "a", "(unknown account)", "ÿ", "Ā", ""]
    for values in (pd.Series(texts, dtype="string"), pd.Series(texts, dtype="string").astype("category")):
        assert first_sorted(values, k) == sorted(texts)[:k]
    assert first_sorted(pd.Series([], dtype="string"), 3) == []
