"""Records as received, and those set aside: what every reader of records uses to say what it did not keep.

A record that cannot be stored is never dropped without a word: it becomes a :class:`Rejected` (where it came
from, why, and what was received), collected in a :class:`SetAside` that the caller lists and keeps in the store's
``rejects/``. Both the files source (a folder of exports it reads) and normalisation (records to tables) use
these, so the types live here, below both. Standard library only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

#: Nesting deeper than this is not a Graph record (Graph's are under ten levels deep); it is rejected.
MAX_DEPTH: Final = 64
#: How many rejected records :meth:`SetAside.lines` names one by one (all are in ``rejects/``).
LISTED: Final = 10
#: The longest text of a rejected record kept in ``rejects/`` when it could not be read as JSON.
KEPT_TEXT: Final = 100_000


@dataclass(frozen=True)
class Rejected:
    """A record that was not stored: where it came from, why, and what was received.

    ``unreadable`` is false for a conflicting duplicate set aside in favour of another copy (a note, not an
    input error).
    """

    reason: str
    where: str = ""
    text: str = ""
    unreadable: bool = True

    def line(self) -> str:
        return f"{self.where}: {self.reason}" if self.where else self.reason

    def document(self) -> dict[str, Any]:
        """What ``rejects/*.jsonl`` keeps of it."""
        return {"where": self.where, "reason": self.reason, "received": self.text[:KEPT_TEXT]}


@dataclass
class SetAside:
    """What a reader set aside: the records it rejected (each with why) and the identical copies it stored once."""

    rejected: list[Rejected] = field(default_factory=list)
    identical_copies: int = 0

    @property
    def unreadable(self) -> list[Rejected]:
        """Rejected records that could not be read (input errors), without conflicting duplicates."""
        return [r for r in self.rejected if r.unreadable]

    def reject(self, reason: str, where: str = "", text: str = "", *, unreadable: bool = True) -> None:
        self.rejected.append(Rejected(reason, where, text, unreadable))

    def merge(self, other: SetAside) -> None:
        self.rejected.extend(other.rejected)
        self.identical_copies += other.identical_copies

    def lines(self) -> list[str]:
        """Human-readable notes, empty when nothing was set aside."""
        out = []
        if self.identical_copies:
            out.append(f"{self.identical_copies} identical copies of records given more than once, stored once")
        for unreadable, what in (
            (True, "records not stored because they cannot be read"),  # "record" when one
            (False, "conflicting duplicates set aside"),
        ):
            items = [r for r in self.rejected if r.unreadable is unreadable]
            if items:
                more = f"; and {len(items) - LISTED} more" if len(items) > LISTED else ""
                listed = "; ".join(r.line() for r in items[:LISTED])
                if len(items) == 1:
                    what = what.replace("records", "record", 1).replace("duplicates", "duplicate")
                out.append(f"{len(items)} {what} (kept in the store's rejects/): {listed}{more}")
        return out


def as_text(value: Any) -> str | None:
    """A value of a record as text: a string as it is, anything else as JSON (``None`` stays ``None``)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def raw_json(record: Any) -> str:
    """The record as compact JSON text (how the store keeps it)."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def safe_text(value: Any) -> str:
    """``value`` as JSON text for ``rejects/``, whatever it holds (lone surrogates escaped, too deep: a note)."""
    try:
        return json.dumps(value, ensure_ascii=True)
    except RecursionError:
        return "(not kept: nested too deep to write out)"
    except (TypeError, ValueError):
        return repr(value)[:KEPT_TEXT]


def unicode_problem(record: Mapping[str, Any]) -> str | None:
    """Why ``record`` cannot be stored as UTF-8 text (a lone surrogate, from a ``\\ud800`` escape), or ``None``."""
    for key, value in record.items():
        try:
            json.dumps({key: value}, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return f"field {key} holds text that is not valid Unicode (a lone surrogate such as \\ud800)"
    return None


def record_key(record: Mapping[str, Any]) -> str:
    """The id the store keys ``record`` by: its ``id``, else one derived from its content."""
    value = record.get("id")
    if isinstance(value, str) and value:
        return value
    return "sha1:" + hashlib.sha1(raw_json(record).encode("utf-8", "surrogatepass")).hexdigest()


def time_problem(value: Any, name: str) -> str:
    """Why ``value`` of the Graph property ``name`` is no usable time."""
    if value is None or value == "":
        return f"{name} is missing or empty, so the record cannot be placed in time"
    shown = value if isinstance(value, str) else as_text(value)
    return (
        f"{name} {str(shown)[:60]!r} is not a readable date and time "
        "(ISO 8601 such as 2026-11-16T08:30:00Z, years 1678 to 2261)"
    )
