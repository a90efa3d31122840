"""Wording rules every reader-facing text follows: counts with the right plural, lists in words, and texts
shortened at a word, never mid-word.

>>> count(1, "reset"), count(3, "reset"), count(2, "time"), count(1, "user", "users")
('1 reset', '3 resets', '2 times', '1 user')
>>> count(2, "detection is", "detections are")
'2 detections are'
>>> words_list(["a reset spike", "2 administrator resets", "4 leaked passwords"])
'a reset spike, 2 administrator resets and 4 leaked passwords'
>>> shorten("The on-premises agent could not be reached, so writeback failed", 40)
'The on-premises agent could not be…'
>>> capitalised("a reset spike needs you")
'A reset spike needs you'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

#: What ends a text shortened by :func:`shorten`.
ELLIPSIS: Final = "…"


def plural(n: int, singular: str, many: str | None = None) -> str:
    """``singular`` for 1, else ``many`` (default: ``singular`` + "s"), without the number."""
    if n == 1:
        return singular
    return many if many is not None else singular + "s"


def count(n: int, singular: str, many: str | None = None) -> str:
    """``n`` and its noun in the right number: "1 reset", "3 resets", "1,204 users"."""
    return f"{n:,} {plural(n, singular, many)}"


def words_list(items: Sequence[str], conjunction: str = "and") -> str:
    """``items`` as a list in words: "a", "a and b", "a, b and c" (no Oxford comma); "" when empty."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def shorten(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters, else cut at the last whole word that fits and ended with
    :data:`ELLIPSIS` (a trailing comma, colon or full stop before it dropped); never cut mid-word unless a
    single word is longer than ``limit``."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: max(1, limit - 1)]
    head = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return head.rstrip(" ,;:.-—") + ELLIPSIS


def capitalised(text: str) -> str:
    """``text`` with its first letter in upper case (the rest untouched, unlike :meth:`str.capitalize`)."""
    return text[:1].upper() + text[1:]
