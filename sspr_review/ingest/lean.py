"""The lean weekly registration fetch (``[registration] mode``), for tenants whose whole userRegistrationDetails
report costs too many of Graph's reports requests (1,000 rows a page, 5 requests per 10 s).

A lean snapshot reads Graph's counts (``usersRegisteredByFeature``, ``usersRegisteredByMethod``: one request
each), the members who are not SSPR-capable, the administrators and the SSPR-capable guests in full (server-side
``$filter``), and, once the week's audit events and risk detections are in the store, the rows of the other
users the week's rules look up (:func:`~sspr_review.analysis.lookups.accounts_looked_up`) and of the role
holders, a batch of them per request. The store keeps Graph's counts beside the rows
(``registration/<day>.lean.json``, :mod:`.store.lean_summary`); the registration metrics take the capable members
from them, so every metric, finding and trend is the one a full snapshot gives. The coverage says which mode
produced the snapshot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..core.errors import SourceError
from ..core.timefmt import iso_z
from ..sources.base import Record, RegistrationParts, RoleData
from .store import Store
from .store.lean_summary import SUMMARY_VERSION, graph_capable, read_summary, tenant_size

if TYPE_CHECKING:
    from ..core.config import Config


@dataclass(frozen=True)
class Mode:
    """The registration mode of one fetch and why."""

    lean: bool
    why: str


def choose_mode(store: Store, source: str, parts: RegistrationParts | None, config: Config, now: datetime) -> Mode:
    """Lean or full for this fetch: ``[registration] mode``; ``auto`` is lean above ``lean_above_users`` users
    (the size of the latest snapshot) unless the latest full snapshot is ``full_every_days`` old or more (or
    there is none). A source that cannot read the report in parts (``parts`` is ``None``: demo, files) always reads
    it whole; ``source`` names it."""
    settings = config.registration
    if parts is None:
        return Mode(False, f"the {source} source serves the whole report")
    if settings.mode != "auto":
        return Mode(settings.mode == "lean", f"[registration] mode = {settings.mode!r}")
    moments = store.snapshot_moments("registration")
    full = [m for m in moments if read_summary(store.path, m) is None]
    if not full:
        return Mode(False, "auto: the store holds no full registration snapshot yet")
    age = now - full[-1]
    if age >= timedelta(days=settings.full_every_days):
        return Mode(False, f"auto: the last full snapshot is {age.days} days old (full_every_days)")
    users = tenant_size(store.path, moments[-1])
    if users <= settings.lean_above_users:
        return Mode(False, f"auto: {users:,} users, not above lean_above_users = {settings.lean_above_users:,}")
    return Mode(True, f"auto: {users:,} users, above lean_above_users = {settings.lean_above_users:,}")


@dataclass
class LeanResult:
    """The records of a lean snapshot, its summary (for the store) and notes for the terminal."""

    records: list[Record]
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)


#: What the review will look up in a snapshot taken ``now``: the weeks it serves and the accounts their rules read
#: (``user_id``, ``user_upn``), given whether this fetch's audit events landed. The workspace provides it from the
#: analyses (:func:`sspr_review.app.lookups.registration_needs`): the fetch layer does not run the rules itself.
NeedsFn = Callable[[Store, "Config", datetime], tuple[list[Any], pd.DataFrame]]


def role_users(roles: RoleData | SourceError) -> pd.DataFrame:
    """The user principals of the role data (direct, eligible, via a group): the registration gap counts them as
    administrators even when the report's ``isAdmin`` does not."""
    if isinstance(roles, SourceError):
        return _no_users()
    rows = []
    for item in [*roles.assignments, *roles.eligibility]:
        found = item.get("principal")
        principal: dict[str, Any] = found if isinstance(found, dict) else {}
        if str(principal.get("@odata.type", "#microsoft.graph.user")).lower().endswith(".user"):
            rows.append((item.get("principalId") or principal.get("id"), principal.get("userPrincipalName")))
    for members in roles.group_members.values():
        rows.extend((m.get("id"), m.get("userPrincipalName")) for m in members)
    return pd.DataFrame(rows, columns=["user_id", "user_upn"], dtype="string")


def _no_users() -> pd.DataFrame:
    return pd.DataFrame({"user_id": pd.Series(dtype="string"), "user_upn": pd.Series(dtype="string")})


def _lower(values: Iterable[Any]) -> set[str]:
    return {str(v).lower() for v in values if isinstance(v, str) and v}


async def fetch_lean(
    store: Store,
    parts: RegistrationParts,
    config: Config,
    now: datetime,
    events_stored: Callable[[], Awaitable[bool]],
    roles: Awaitable[RoleData | SourceError],
    add: Any,
    needs_of: NeedsFn | None,
) -> LeanResult:
    """Read a lean registration snapshot through ``parts`` (a Graph source's); ``add(page)`` sees each page.

    ``events_stored()`` resolves once the audit events and risk detections of this fetch are in the store (true
    when the audit fetch succeeded). Raises :class:`~sspr_review.core.errors.SourceError` when Graph refuses the
    counts (the caller reads the report whole instead)."""
    if needs_of is None:
        raise SourceError("nothing says which users the week's findings look up", source="registration")
    counts = await parts.counts()
    try:
        graph_capable(counts)
    except ValueError as exc:
        raise SourceError(f"{exc}: Graph's answer cannot count a lean snapshot", source="registration") from None
    held: dict[str, Record] = {}

    async def drain(pages: list[Any]) -> None:
        async def one(stream: Any) -> None:
            async for page in stream:
                add(page)
                for record in page:
                    held.setdefault(str(record.get("id")), record)

        await asyncio.gather(*(one(p) for p in pages))

    await drain(parts.in_full())
    audit_ok = await events_stored()
    notes = []
    if audit_ok:
        weeks, needs = await asyncio.to_thread(needs_of, store, config, now)
    else:
        notes.append("registration: the audit fetch failed, so no user was looked up for the week's findings")
        weeks, needs = [], _no_users()
    needs = pd.concat([needs, role_users(await roles)], ignore_index=True)
    # by object id first; then by UPN the accounts without an id, or whose id the report does not hold (the
    # analyses match a row by id, else by UPN, case-insensitively)
    ids = sorted(_lower(needs["user_id"].dropna()) - _lower(held))
    await drain(parts.lookup(ids, []))
    unmatched = needs[~needs["user_id"].str.lower().isin(_lower(held)).fillna(False).to_numpy(dtype=bool)]
    upns_held = _lower(r.get("userPrincipalName") for r in held.values())
    upns = sorted({u.lower() for u in unmatched["user_upn"].dropna().astype(str)} - upns_held)
    await drain(parts.lookup([], upns))
    summary = {
        "version": SUMMARY_VERSION,
        "taken": iso_z(now),
        **counts,
        "weeks": [[iso_z(w.start), iso_z(w.end)] for w in weeks],
        "looked_up": {"ids": len(ids), "upns": len(upns), "found": len(held)},
    }
    return LeanResult(list(held.values()), summary, notes)
