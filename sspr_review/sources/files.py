"""The files source: a folder of Graph JSON exports (Graph Explorer, ``az rest``) for air-gapped review."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import FetchFailed, InputError
from ..core.records import Rejected, SetAside, raw_json, record_key, safe_text, time_problem
from ..core.schema import parse_times
from ..core.vocabulary import PASSWORD_RULE_TEMPLATE
from .archive.tree import ArchiveTree, container_of
from .base import FetchStats, Pages, Record, RoleData, Source
from .exports import FileRecords, stream_file

#: How a record's kind is recognised: a key only that kind carries.
KIND_MARKERS: dict[str, str] = {
    "activityDisplayName": "audit",
    "riskEventType": "risk",
    "isSsprRegistered": "registration",
    "roleDefinitionId": "assignment",
    "rolePermissions": "definition",
    "templateId": "definition",
}


def _kind(record: Mapping[str, Any], context: str) -> str | None:
    if "roleDefinitionId" in record:
        return "eligibility" if "memberType" in record and "principal" not in record else "assignment"
    if "authenticationMethodConfigurations" in record:
        return "authmethods"
    if "allowedToUseSSPR" in record:
        return "authorization"
    if "values" in record and "templateId" in record:
        return "groupsetting"
    if ORGANIZATION_KEYS.intersection(record):
        return "organization"
    for key, kind in KIND_MARKERS.items():
        if key in record:
            return kind
    if "groupsettings" in context.lower():
        return "groupsetting"
    if context.lower().rstrip("/").split("#")[-1].startswith("organization"):
        return "organization"  # GET /organization?$select=id,displayName
    return None


#: Keys only an organization record carries.
ORGANIZATION_KEYS = frozenset(
    {"verifiedDomains", "tenantType", "countryLetterCode", "assignedPlans", "onPremisesSyncEnabled"}
)


FILE_KIND_NAMES = {
    "audit": "directoryAudit",
    "risk": "riskDetection",
    "registration": "userRegistrationDetails",
    "assignment": "role assignment",
    "policy": "groupSetting, authenticationMethodsPolicy or authorizationPolicy",
}


async def _missing(folder: Path, kind: str, given: int = 0) -> Pages:

    if given:
        raise FetchFailed(
            f"none of the {given} {FILE_KIND_NAMES[kind]} records in {folder} could be read (each is listed with why)",
            source=kind,
        )
    raise FetchFailed(f"the files in {folder} hold no {FILE_KIND_NAMES[kind]} records", source=kind)
    yield []  # pragma: no cover - makes this an async generator


#: Per kind: the property that places a record in time in the store (its absence or an unreadable value is an
#: input error), the one whose span is the kind's window (else the first), and the one that picks which of
#: conflicting copies of one id is kept (the newest; else the last one given).
FILE_TIMES: dict[str, tuple[str, str, str | None]] = {
    "audit": ("activityDateTime", "activityDateTime", None),
    "risk": ("detectedDateTime", "lastUpdatedDateTime", "lastUpdatedDateTime"),
    "registration": ("", "", "lastUpdatedDateTime"),
}


#: Records of a time-ranged kind or of the registration report read, indexed and handed on together: no more are
#: held at once, so the import's memory is bounded whatever the export's size.
BATCH_RECORDS = 5_000


class FilesSource(Source):
    """A folder of Graph JSON as saved from Graph Explorer or ``az rest`` (for air-gapped review), and of Entra logs
    archived by a diagnostic setting to Azure Storage, downloaded (``insights-logs-auditlogs/``,
    ``insights-logs-userriskevents/``: :mod:`.archive.tree`, streamed a blob at a time when its kind is read; the
    kind's window is then the hours the archive holds, and a missing hour inside it a gap).

    Each ``*.json`` file holds one Graph response (``{"value": [...]}``), a bare list of records, or one
    object; ``*.jsonl`` holds one record per line; UTF-8, or UTF-16/32 with a byte-order mark (PowerShell).
    The kind of each record is recognised from its keys.

    Nothing is dropped without a word: every record given is either handed on (and stored) or listed in
    :meth:`set_aside` (``rejected``, with file, item or line, record id, field and reason). That is a file that
    cannot be opened or decoded, JSON that does not parse, an item that is not an object or of no kind the kit
    reads, a record nested too deep, an audit event or risk detection without a readable time, and a
    conflicting copy of a record id (which copy was kept, and why, is said). Identical copies are stored once.

    Each kind's window is the span of its own records (:meth:`windows`); ``now()`` is the newest of them.
    """

    name = "files"

    def __init__(self, folder: str | Path, *, batch: int | None = None) -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise InputError(f"{self.folder} is not a folder of Graph JSON files")
        #: Records indexed, and handed on, together (:data:`BATCH_RECORDS` unless given).
        self.batch = max(int(batch or BATCH_RECORDS), 1)
        self.stats: dict[str, FetchStats] = {}
        #: The records of the small kinds (roles, policy, organization), whole.
        self.records: dict[str, list[Record]] = {}
        self.given: dict[str, int] = {}
        self._set_aside = SetAside()
        self._times: dict[str, pd.Series] = {}
        self._index: dict[str, _Index] = {kind: _Index() for kind in FILE_TIMES}
        found = sorted([*self.folder.rglob("*.json"), *self.folder.rglob("*.jsonl")])
        if not found:
            raise InputError(f"{self.folder} holds no .json or .jsonl files")
        # a downloaded diagnostic-setting archive (insights-logs-*/.../PT1H.json) is streamed when its kind is read
        blobs = [f for f in found if container_of(f.relative_to(self.folder)) is not None and f.is_file()]
        self.archive = ArchiveTree(self.folder, blobs, self._set_aside) if blobs else None
        self.files = [f for f in found if f not in set(blobs) and not f.is_dir()]
        late: dict[str, list[Rejected]] = {kind: [] for kind in FILE_TIMES}  # listed after every file's, as before
        for number, file in enumerate(self.files):
            self._read(number, file, late)
        for kind in FILE_TIMES:
            self._set_aside.rejected.extend(late[kind])
            self._settle(kind)

    def _read(self, number: int, file: Path, late: dict[str, list[Rejected]]) -> None:
        """Index the records of the streamed kinds of ``file`` a batch at a time; keep the small kinds' whole."""
        loaded = FileRecords()
        batches: dict[str, list[tuple[Record, str]]] = {kind: [] for kind in FILE_TIMES}
        others: list[tuple[Record, str]] = []  # their kind may need the file's @odata.context, known at its end
        for kind in FILE_TIMES:
            self._index[kind].start(number)
        for item, where in stream_file(file, loaded):
            streamed = _kind(item, "")
            if streamed not in batches:
                others.append((item, where))
                continue
            batch = batches[streamed]
            batch.append((item, where))
            if len(batch) >= self.batch:
                self._index[streamed].add(streamed, batch, late[streamed])
                batch.clear()
        for kind, batch in batches.items():
            if batch:
                self._index[kind].add(kind, batch, late[kind])
        self._set_aside.rejected.extend(loaded.rejected)
        for item, where in others:
            small = _kind(item, loaded.context)
            if small is None:
                self._set_aside.reject(
                    "not a record the kit reads (directoryAudit, riskDetection, userRegistrationDetails, role"
                    " assignment or definition, groupSetting, authentication methods policy, authorization"
                    " policy, organization);"
                    f" its keys are {', '.join(sorted(item)[:8])}",
                    where,
                    safe_text(item),
                )
                continue
            self.records.setdefault(small, []).append(item)

    def _walk(self, kind: str, wanted: np.ndarray | None = None) -> Iterator[tuple[int, Record, str]]:
        """The records of ``kind`` read again from the files, with their position among the kind's records
        (only those at the positions ``wanted``, a mask, when given)."""
        index = self._index[kind]
        for number, first in index.offsets.items():
            end = index.ends[number]
            if wanted is not None and not wanted[first:end].any():
                continue
            position = first
            for item, where in stream_file(self.files[number], FileRecords()):
                if _kind(item, "") != kind:
                    continue
                if position >= end:
                    break
                if wanted is None or wanted[position]:
                    yield position, item, where
                position += 1
            if position != end:
                raise InputError(f"{self.files[number]} changed while it was imported; run the fetch again")

    def _settle(self, kind: str) -> None:
        """Set aside conflicting copies of one id of ``kind`` (the time-less are already); note the window times.

        Which copy is kept follows from the index alone; the copies are read again (and only they) to compare
        their content and to list the conflicting ones.
        """
        index = self._index[kind]
        index.finish()
        self.given[kind] = len(index.keep)
        if not len(index.keep):
            return
        window_by = FILE_TIMES[kind][1]
        keep = index.keep
        candidates = pd.Series(index.hashes).duplicated(keep=False).to_numpy() & keep
        if candidates.any():
            copies: dict[str, list[tuple[int, bytes]]] = {}
            for position, item, _where in self._walk(kind, candidates):
                digest = hashlib.blake2b(raw_json(_sorted(item)).encode("utf-8", "surrogatepass"), digest_size=16)
                copies.setdefault(record_key(item), []).append((position, digest.digest()))
            conflicts: list[tuple[str, int, str, list[int]]] = []  # id, the copy kept, why, the others
            for record_id, group in copies.items():  # in the order the ids were first given
                if len(group) < 2:
                    continue  # the same hash, another id; or the other copies had no readable time
                positions = [p for p, _ in group]
                chosen, why = _chosen(kind, positions, index.newest)
                keep[positions] = False
                keep[chosen] = True
                kept = dict(group)[chosen]
                others = [p for p, digest in group if p != chosen and digest != kept]
                self._set_aside.identical_copies += len(group) - 1 - len(others)
                if others:
                    conflicts.append((record_id, chosen, why, positions))
            if conflicts:
                self._list_conflicts(kind, conflicts, dict(copies))
        if window_by:
            self._times[kind] = index.at[keep].reset_index(drop=True)

    def _list_conflicts(
        self, kind: str, conflicts: list[tuple[str, int, str, list[int]]], copies: dict[str, list[tuple[int, bytes]]]
    ) -> None:
        """List each conflicting copy set aside with the one kept and why (read again, only they)."""
        wanted = np.zeros(len(self._index[kind].keep), dtype=bool)
        for _id, _chosen_at, _why, positions in conflicts:
            wanted[positions] = True
        where: dict[int, str] = {}
        texts: dict[int, str] = {}
        for position, item, at in self._walk(kind, wanted):
            where[position], texts[position] = at, safe_text(item)
        for record_id, chosen, why, positions in conflicts:
            kept = dict(copies[record_id])[chosen]
            for position, digest in copies[record_id]:
                if position == chosen or digest == kept:
                    continue
                self._set_aside.reject(
                    f"id {record_id!r} is given {len(positions)} times with different content; kept the copy in"
                    f" {where[chosen]} ({why})",
                    where[position],
                    texts[position],
                    unreadable=False,
                )

    def set_aside(self) -> SetAside:
        """The records of the folder not handed on, each with where it was and why (and identical copies counted)."""
        return self._set_aside

    def windows(self) -> dict[str, tuple[datetime, datetime]]:
        """Per time-ranged kind, the span of its own records' times (the second is exclusive), and of the hours
        an archive holds blobs for."""
        out = {}
        for kind, times in self._times.items():
            readable = times.dropna()
            if len(readable):
                out[kind] = (
                    readable.min().floor("s").to_pydatetime(),
                    readable.max().floor("s").to_pydatetime() + timedelta(seconds=1),
                )
        for kind in ("audit", "risk"):
            span = self.archive.span(kind) if self.archive is not None else None
            if span is not None:
                mine = out.get(kind)
                out[kind] = span if mine is None else (min(mine[0], span[0]), max(mine[1], span[1]))
        return out

    def gaps(self, kind: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime, str]]:
        """The hours an archive holds no blob for, between its first and last (when no export covers the kind)."""
        if self.archive is None or not self.archive.has(kind) or self.has(kind):
            return []
        return self.archive.gaps(kind, start, end)

    def notes(self, kind: str) -> list[str]:
        """What an archive gave of ``kind`` (blobs, hours, records, repeated deliveries dropped)."""
        note = self.archive.note(kind) if self.archive is not None else None
        return [note] if note else []

    def now(self) -> datetime:
        ends = [end for _, end in self.windows().values()]
        return max(ends) if ends else datetime.now(UTC)

    def window(self) -> tuple[datetime, datetime] | None:
        """The span of the audit records' times (see :meth:`windows` for every kind)."""
        return self.windows().get("audit")

    async def tenant(self) -> dict[str, Any]:
        orgs = self.records.get("organization", [])
        return {"id": orgs[0].get("id"), "name": orgs[0].get("displayName")} if orgs else {}

    def _filtered(self, kind: str, start: datetime, end: datetime) -> list[Pages]:
        archived = [self.archive.pages(kind)] if self.archive is not None and self.archive.has(kind) else []
        if not self.has(kind):
            return archived or [_missing(self.folder, kind, self.given.get(kind, 0))]
        at = self._index[kind].at
        inside = self._index[kind].keep & ((at >= pd.Timestamp(start)) & (at <= pd.Timestamp(end))).to_numpy()
        return [self._pages(kind, inside), *archived]

    async def _pages(self, kind: str, wanted: np.ndarray) -> Pages:
        """The records of ``kind`` at the positions ``wanted``, read again from the files, a batch at a time."""
        page: list[Record] = []
        for _position, item, _where in self._walk(kind, wanted):
            page.append(item)
            if len(page) >= self.batch:
                yield page
                page = []
        yield page

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        return self._filtered("audit", start, end)

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        return self._filtered("risk", since, end)

    def registration(self) -> list[Pages]:
        if not self.has("registration"):
            return [_missing(self.folder, "registration", self.given.get("registration", 0))]
        return [self._pages("registration", self._index["registration"].keep)]

    def count(self, kind: str) -> int:
        """How many records of ``kind`` are handed on (each id once)."""
        if kind in self._index:
            return int(self._index[kind].keep.sum())
        return len(self.records.get(kind, []))

    def has(self, kind: str) -> bool:
        return self.count(kind) > 0

    async def roles(self) -> RoleData:
        if not self.has("assignment"):
            async for _ in _missing(self.folder, "assignment"):
                pass
        return RoleData(
            self.records.get("definition", []),
            self.records.get("assignment", []),
            self.records.get("eligibility", []),
        )

    async def policy(self) -> dict[str, Any]:
        settings = self.records.get("groupsetting", [])
        methods = self.records.get("authmethods", [])
        authorization = self.records.get("authorization", [])
        if not settings and not methods and not authorization:
            async for _ in _missing(self.folder, "policy"):
                pass
        orgs = self.records.get("organization", [])
        out = {
            "passwordRuleSettings": next((s for s in settings if s.get("templateId") == PASSWORD_RULE_TEMPLATE), None),
            "authenticationMethodsPolicy": methods[0] if methods else None,
        }
        if authorization:
            out["authorizationPolicy"] = {"allowedToUseSSPR": authorization[0].get("allowedToUseSSPR")}
        if orgs and "onPremisesSyncEnabled" in orgs[0]:  # GET /organization?$select=id,displayName has none
            out["organization"] = {"onPremisesSyncEnabled": orgs[0].get("onPremisesSyncEnabled")}
        return out


def _chosen(kind: str, positions: list[int], newest: pd.Series | None) -> tuple[int, str]:
    """Which of the copies at ``positions`` of one id is kept, and why: the newest by ``newest``, else the last
    given (as a later export replaces an earlier one)."""
    chosen, why = positions[-1], "the last one given, as a later export replaces an earlier one"
    if newest is not None:
        stamps = newest.iloc[positions]
        if stamps.notna().any() and stamps.nunique() > 1:
            top = stamps.max()
            chosen = max(p for p, stamp in zip(positions, stamps, strict=True) if stamp == top)
            why = f"the newest {FILE_TIMES[kind][2]}"
    return chosen, why


class _Index:
    """What the files source keeps of each record of one streamed kind: no record, a few columns (a hash of its
    id, whether it is kept, its window and "newest" times) and which files hold it, built a batch at a time."""

    def __init__(self) -> None:
        self.offsets: dict[int, int] = {}  # file number -> position of its first record of the kind
        self.ends: dict[int, int] = {}
        self.count = 0
        self._number = -1
        self._hashes: list[np.ndarray] = []
        self._keep: list[np.ndarray] = []
        self._at: list[pd.Series] = []
        self._newest: list[pd.Series] = []
        self.hashes = np.zeros(0, dtype=np.uint64)
        self.keep = np.zeros(0, dtype=bool)
        self.at: pd.Series = pd.Series([], dtype="datetime64[ns, UTC]")
        self.newest: pd.Series | None = None

    def start(self, number: int) -> None:
        self._number = number

    def add(self, kind: str, batch: list[tuple[Record, str]], late: list[Rejected]) -> None:
        """Index ``batch`` (records of one file, in order); those without a readable time are listed in ``late``."""
        if self._number not in self.offsets:
            self.offsets[self._number] = self.count
        self.count += len(batch)
        self.ends[self._number] = self.count
        records = [r for r, _ in batch]
        placed_by, window_by, newest_by = FILE_TIMES[kind]
        keep = np.ones(len(records), dtype=bool)
        placed = None
        if placed_by:
            placed = parse_times([r.get(placed_by) for r in records])
            for i in np.flatnonzero(placed.isna().to_numpy()):
                record, where = batch[i]
                late.append(
                    Rejected(
                        time_problem(record.get(placed_by), placed_by), f"{where}{_id_of(record)}", safe_text(record)
                    )
                )
                keep[i] = False
        self._keep.append(keep)
        self._hashes.append(pd.util.hash_array(np.array([record_key(r) for r in records], dtype=object)))
        if window_by:
            at = parse_times([r.get(window_by) for r in records])
            if placed is not None and window_by != placed_by:
                at = at.fillna(placed)
            self._at.append(at)
        if newest_by:
            self._newest.append(parse_times([r.get(newest_by) for r in records]))

    def finish(self) -> None:
        """Join the batches' columns."""
        if self._keep:
            self.keep = np.concatenate(self._keep)
            self.hashes = np.concatenate(self._hashes)
        if self._at:
            self.at = pd.concat(self._at, ignore_index=True)
        if self._newest:
            self.newest = pd.concat(self._newest, ignore_index=True)
        self._keep, self._hashes, self._at, self._newest = [], [], [], []


def _id_of(record: Mapping[str, Any]) -> str:
    return f" (id {record['id']!r})" if isinstance(record.get("id"), str) and record["id"] else ""


def _sorted(value: Any) -> Any:
    """``value`` with object keys in order, to compare two copies of a record by content."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
