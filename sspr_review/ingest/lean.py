"""The lean weekly registration fetch (``[registration] mode``), for tenants whose whole userRegistrationDetails
report costs too many of Graph's reports requests (1,000 rows a page, 5 requests per 10 s).

A lean snapshot reads Graph's counts (``usersRegisteredByFeature``, ``usersRegisteredByMethod``: one request
each), the members who are not SSPR-capable, the administrators and the SSPR-capable guests in full (server-side
``$filter``), and, once the week's audit events and risk detections are in the store, the rows of the other
users the week's rules look up (:func:`~sspr_review.analysis.lean.registration_needs`) and of the role holders,
a batch of them per request. The store keeps Graph's counts beside the rows (``registration/<day>.lean.json``);
the registration metrics take the capable members from them, so every metric, finding and trend is the one a
full snapshot gives. The coverage says which mode produced the snapshot.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..core.coverage import SourceCoverage
from ..core.errors import SourceError, StoreError
from ..core.files import write_json
from ..core.timefmt import iso_z
from ..sources.base import Record, RegistrationParts, RoleData
from .store import Store

if TYPE_CHECKING:
    from ..core.config import Config

#: The lean summary's format version.
SUMMARY_VERSION = 1


# ------------------------------------------------------------------------------- the store's lean summaries
def _summary_path(store: Store, day: datetime) -> Any:
    return store.path / "registration" / f"{day.astimezone(UTC):%Y-%m-%d}.lean.json"


def write_summary(store: Store, day: datetime, summary: dict[str, Any]) -> None:
    """Mark the registration snapshot of ``day`` lean (``registration/<day>.lean.json``), with what it holds
    instead of every row. Written before that day's rows, so a fetch killed between the two leaves a day read as
    lean (Graph's counts, rows a superset of the lean ones), never the rows of a lean snapshot counted as full."""
    store._require_lock()
    write_json(_summary_path(store, day), summary)


def clear_summary(store: Store, day: datetime) -> None:
    """A full snapshot replaced the day's lean one (called after its rows are written)."""
    store._require_lock()
    _summary_path(store, day).unlink(missing_ok=True)


def read_summary(store: Store, day: datetime) -> dict[str, Any] | None:
    """The summary of the lean registration snapshot of ``day`` (UTC); ``None`` for a full one."""
    path = _summary_path(store, day)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise StoreError(f"{path} is not valid JSON ({exc}); delete it and fetch again") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path} is not a JSON object; delete it and fetch again")
    return data


def summaries(store: Store) -> dict[datetime, dict[str, Any]]:
    """Every lean registration snapshot's summary, by snapshot day (UTC midnight)."""
    folder = store.path / "registration"
    out: dict[datetime, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.lean.json")) if folder.exists() else []:
        if path.name.startswith("."):
            continue
        day = datetime.strptime(path.name.removesuffix(".lean.json"), "%Y-%m-%d").replace(tzinfo=UTC)
        summary = read_summary(store, day)
        if summary is not None:
            out[day] = summary
    return out


def snapshot_coverage(store: Store, cov: SourceCoverage, start: datetime, end: datetime) -> SourceCoverage:
    """``cov`` (registration, for ``[start, end)``) with the mode of its snapshot; a lean snapshot used for a
    week it did not look users up for is partial, the part named."""
    summary = read_summary(store, cov.start) if cov.start is not None else None
    if summary is None:
        return replace(cov, mode="full")
    served = {(str(a), str(b)) for a, b in summary.get("weeks", [])}
    missing = cov.missing
    if (iso_z(start), iso_z(end)) not in served:
        missing = (
            *missing,
            f"the lean registration snapshot of {cov.start:%Y-%m-%d %H:%M} UTC holds Graph's counts, the "
            "administrators and the members who are not SSPR-capable, but looked up other users only for the "
            "weeks it was fetched for, not this one",
        )
    return replace(cov, missing=missing, mode="lean")


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
    full = [m for m in moments if read_summary(store, m) is None]
    if not full:
        return Mode(False, "auto: the store holds no full registration snapshot yet")
    age = now - full[-1]
    if age >= timedelta(days=settings.full_every_days):
        return Mode(False, f"auto: the last full snapshot is {age.days} days old (full_every_days)")
    users = tenant_size(store, moments[-1])
    if users <= settings.lean_above_users:
        return Mode(False, f"auto: {users:,} users, not above lean_above_users = {settings.lean_above_users:,}")
    return Mode(True, f"auto: {users:,} users, above lean_above_users = {settings.lean_above_users:,}")


def tenant_size(store: Store, moment: datetime) -> int:
    """Users in the registration snapshot of ``moment``: Graph's total of a lean one, the rows of a full one."""
    summary = read_summary(store, moment)
    if summary is not None:
        return int((summary.get("usersRegisteredByFeature") or {}).get("totalUserCount") or 0)
    import pyarrow.parquet as pq

    path = store.path / "registration" / f"{moment:%Y-%m-%d}.parquet"
    return int(pq.ParquetFile(path).metadata.num_rows) if path.exists() else 0


def graph_capable(summary: dict[str, Any]) -> int:
    """Graph's ``ssprCapable`` user count (every user type) in a lean summary."""
    feature = summary.get("usersRegisteredByFeature") or {}
    for item in feature.get("userRegistrationFeatureCounts") or []:
        if isinstance(item, dict) and item.get("feature") == "ssprCapable":
            return int(item.get("userCount") or 0)
    raise ValueError("usersRegisteredByFeature holds no ssprCapable count")


def lean_days(store: Store) -> dict[int, int]:
    """Per lean registration snapshot, its day (UTC days since the epoch) → Graph's ``ssprCapable`` count, for
    :func:`~sspr_review.analysis.prepare`."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    out = {}
    for day, summary in summaries(store).items():
        try:
            out[(day - epoch).days] = graph_capable(summary)
        except ValueError as exc:
            raise StoreError(
                f"{_summary_path(store, day)}: {exc}; delete it and the parquet file of that day, then fetch again"
            ) from None
    return out


@dataclass
class LeanResult:
    """The records of a lean snapshot, its summary (for the store) and notes for the terminal."""

    records: list[Record]
    summary: dict[str, Any]
    notes: list[str] = field(default_factory=list)


#: What the review will look up in a snapshot taken ``now``: the weeks it serves and the accounts their rules read
#: (``user_id``, ``user_upn``), given whether this fetch's audit events landed. The workspace provides it from the
#: analyses (:func:`sspr_review.lookups.registration_needs`): the fetch layer does not run the rules itself.
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
