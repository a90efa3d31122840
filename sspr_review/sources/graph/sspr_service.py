"""Which ``loggedByService`` value selects SSPR's own audit events on Graph.

The Entra portal and Log Analytics name the service "Self-service Password Management" (the kit's
:data:`~sspr_review.core.vocabulary.SSPR_SERVICE`); public scripts by several authors filter the same Graph endpoint
with ``loggedByService eq 'SSPR'`` and get "Reset password (self-service)" events back. Nothing Microsoft publishes
settles which value Graph's ``$filter`` matches, and the wrong one returns no error, only no events: a quiet week that
is not one. So the fetch does not trust either:

- on a store's first fetch it **probes** both values (``$top=1`` over the look-back: two requests, through the
  same rate limiter as every request) and reads with the value that returned events, or with both (their events
  are merged once each, by id);
- on later fetches it reads with the value the store recorded, and only when that returns nothing for the whole
  window does it probe again (and read the window with the other value when that one has events);
- when neither value returns an event, it reads the documented SSPR activity names instead (:data:`ACTIVITIES`,
  filtered on ``activityDisplayName``) and says so.

The choice is kept in the store (:meth:`Selection.state`) and said in the coverage notes, ``doctor`` and
findings.json (:meth:`Selection.describe`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ...core.timefmt import iso_z
from ...core.vocabulary import SSPR_ACTIVITY_NAMES, SSPR_SERVICE, SSPR_SERVICE_SHORT
from ..base import Pages, Record
from .endpoints import odata_string

#: The ``loggedByService`` values that may select SSPR's events: the documented one first.
VALUES: Final = (SSPR_SERVICE, SSPR_SERVICE_SHORT)
#: SSPR's own activities (Microsoft's audit activity list for the service), for when neither value selects anything.
ACTIVITIES: Final = SSPR_ACTIVITY_NAMES
#: What the store keeps under this key (coverage.json, the audit kind's ``state``).
STATE_KEY: Final = "sspr_service"


def value_filter(value: str) -> str:
    return f"loggedByService eq {odata_string(value)}"


def activity_filter() -> str:
    return "(" + " or ".join(f"activityDisplayName eq {odata_string(a)}" for a in ACTIVITIES) + ")"


@dataclass
class Selection:
    """How SSPR's events are selected: ``values`` (``loggedByService`` values, one or both), or none (the activity
    names); with the last probe (value → it returned events) and why the choice was made."""

    values: tuple[str, ...] | None
    probed: dict[str, bool] = field(default_factory=dict)
    probed_at: str | None = None
    how: str = "documented"
    duplicates: int = 0

    @property
    def filters(self) -> list[str]:
        """The ``$filter`` clause of each stream reading SSPR's events (the window is added by the caller)."""
        if self.values is None:
            return [activity_filter()]
        return [value_filter(v) for v in self.values]

    def describe(self) -> str:
        """The choice in words, for the coverage notes, doctor and findings.json."""
        if self.values is None:
            what = (
                "SSPR's activity names (neither loggedByService 'Self-service Password Management' nor 'SSPR' "
                "returned an event when probed)"
            )
        else:
            what = " and ".join(value_filter(v) for v in self.values)
        probe = ""
        if self.probed:
            found = [
                f"{odata_string(v)} {'returned events' if ok else 'returned none'}" for v, ok in self.probed.items()
            ]
            probe = f"; probed {(self.probed_at or '')[:10]}: {', '.join(found)}"
        dupes = f"; {self.duplicates} events returned under both values counted once" if self.duplicates else ""
        return f"SSPR's events selected by {what}{probe}{dupes}"

    def state(self) -> dict[str, Any]:
        """What the store keeps of the choice."""
        return {
            STATE_KEY: {
                "values": None if self.values is None else list(self.values),
                "probed": dict(self.probed),
                "probed_at": self.probed_at,
                "how": self.how,
                "selection": self.describe(),
            }
        }

    @classmethod
    def restore(cls, state: Mapping[str, Any] | None) -> Selection | None:
        """The choice the store kept, or ``None`` (a first fetch, or a state not of this kind)."""
        kept = (state or {}).get(STATE_KEY)
        if not isinstance(kept, Mapping):
            return None
        values = kept.get("values")
        if values is not None and not (isinstance(values, list) and values and all(v in VALUES for v in values)):
            return None
        given = kept.get("probed")
        probed: Mapping[str, Any] = given if isinstance(given, dict) else {}
        return cls(
            None if values is None else tuple(values),
            {str(k): bool(v) for k, v in probed.items()},
            kept.get("probed_at") if isinstance(kept.get("probed_at"), str) else None,
            str(kept.get("how") or "kept"),
        )


def choose(found: Mapping[str, bool], moment: datetime) -> Selection:
    """The selection after a probe: the values that returned events, else the activity names."""
    values = tuple(v for v in VALUES if found.get(v))
    return Selection(values or None, dict(found), iso_z(moment), "probe" if values else "fallback")


#: Reads SSPR's events of a window with a ``$filter`` clause: a stream of pages.
Reader = Callable[[str], Pages]
#: Asks whether a clause returns any event over the look-back (one ``$top=1`` request).
Prober = Callable[[str], Awaitable[bool]]


async def probe(ask: Prober) -> dict[str, bool]:
    """Which of :data:`VALUES` return an event (one request each)."""
    return {value: await ask(value_filter(value)) for value in VALUES}


class SsprStream:
    """SSPR's events of one window, selected as :mod:`this module <.sspr_service>` describes; after the stream,
    :attr:`selection` is the choice to keep."""

    def __init__(self, kept: Selection | None, read: Reader, ask: Prober, now: datetime) -> None:
        self.selection = kept
        self.read, self.ask, self.now = read, ask, now

    async def pages(self) -> Pages:
        probed_now = False
        if self.selection is None:  # a first fetch: probe both values before reading
            self.selection = choose(await probe(self.ask), self.now)
            probed_now = True
        seen: set[str] = set()
        count = 0
        async for page in self._read(self.selection, seen):
            count += len(page)
            yield page
        if count or probed_now:
            return
        # the kept choice returned nothing for the whole window: probe again, and read with a better one
        again = choose(await probe(self.ask), self.now)
        if again.values != self.selection.values:
            self.selection = again
            async for page in self._read(again, seen):
                yield page
        else:
            self.selection.probed, self.selection.probed_at = again.probed, again.probed_at

    async def _read(self, selection: Selection, seen: set[str]) -> Pages:
        """Each stream of the selection in turn; an event already given (under the other value) once only."""
        for clause in selection.filters:
            async for page in self.read(clause):
                fresh = _fresh(page, seen)
                selection.duplicates += len(page) - len(fresh)
                if fresh:
                    yield fresh


def _fresh(page: Sequence[Record], seen: set[str]) -> list[Record]:
    out = []
    for record in page:
        key = record.get("id")
        if isinstance(key, str):
            if key in seen:
                continue
            seen.add(key)
        out.append(record)
    return out
