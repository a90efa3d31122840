"""The files source: a folder of Graph JSON exports (Graph Explorer, ``az rest``) for air-gapped review."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import FetchFailed, InputError
from ..core.records import SetAside, raw_json, record_key, safe_text, time_problem
from ..core.schema import parse_times
from ..core.vocabulary import PASSWORD_RULE_TEMPLATE
from .archive.tree import ArchiveTree, container_of
from .base import FetchStats, Pages, Record, RoleData, Source, one_page
from .exports import read_file

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

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).expanduser()
        if not self.folder.is_dir():
            raise InputError(f"{self.folder} is not a folder of Graph JSON files")
        self.stats: dict[str, FetchStats] = {}
        self.records: dict[str, list[Record]] = {}
        self.where: dict[str, list[str]] = {}
        self.given: dict[str, int] = {}
        self._set_aside = SetAside()
        self._times: dict[str, pd.Series] = {}
        found = sorted([*self.folder.rglob("*.json"), *self.folder.rglob("*.jsonl")])
        if not found:
            raise InputError(f"{self.folder} holds no .json or .jsonl files")
        # a downloaded diagnostic-setting archive (insights-logs-*/.../PT1H.json) is streamed when its kind is read
        blobs = [f for f in found if container_of(f.relative_to(self.folder)) is not None and f.is_file()]
        self.archive = ArchiveTree(self.folder, blobs, self._set_aside) if blobs else None
        files = [f for f in found if f not in set(blobs)]
        for file in files:
            if file.is_dir():
                continue
            loaded = read_file(file)
            self._set_aside.rejected.extend(loaded.rejected)
            for item, where in loaded.records:
                kind = _kind(item, loaded.context)
                if kind is None:
                    self._set_aside.reject(
                        "not a record the kit reads (directoryAudit, riskDetection, userRegistrationDetails, role"
                        " assignment or definition, groupSetting, authentication methods policy, authorization"
                        " policy, organization);"
                        f" its keys are {', '.join(sorted(item)[:8])}",
                        where,
                        safe_text(item),
                    )
                    continue
                self.records.setdefault(kind, []).append(item)
                self.where.setdefault(kind, []).append(where)
        for kind in FILE_TIMES:
            self.given[kind] = len(self.records.get(kind, []))
            self._settle(kind)

    def _settle(self, kind: str) -> None:
        """Set aside records of ``kind`` without a readable time and conflicting copies; note the window times."""
        records, where = self.records.get(kind, []), self.where.get(kind, [])
        if not records:
            return
        placed_by, window_by, newest_by = FILE_TIMES[kind]
        keep = np.ones(len(records), dtype=bool)
        if placed_by:
            placed = parse_times([r.get(placed_by) for r in records])
            for i in np.flatnonzero(placed.isna().to_numpy()):
                rec = records[i]
                self._set_aside.reject(
                    time_problem(rec.get(placed_by), placed_by),
                    f"{where[i]}{_id_of(rec)}",
                    safe_text(rec),
                )
                keep[i] = False
        ids = pd.Series([record_key(r) for r in records], dtype=object)
        repeated = (ids.duplicated(keep=False) & pd.Series(keep)).to_numpy()
        if repeated.any():
            newest = parse_times([r.get(newest_by) for r in records]) if newest_by else None
            for record_id, group in ids[repeated].groupby(ids[repeated], sort=False):
                indices = [int(i) for i in group.index]
                chosen = self._keep_one(kind, str(record_id), indices, newest)
                keep[indices] = False
                keep[chosen] = True
        self.records[kind] = [r for r, k in zip(records, keep, strict=True) if k]
        self.where[kind] = [w for w, k in zip(where, keep, strict=True) if k]
        if window_by:
            kept = self.records[kind]
            times = parse_times([r.get(window_by) for r in kept])
            if window_by != placed_by:
                times = times.fillna(parse_times([r.get(placed_by) for r in kept]))
            self._times[kind] = times

    def _keep_one(self, kind: str, record_id: str, indices: list[int], newest: pd.Series | None) -> int:
        """Which of the copies ``indices`` of one id is kept: the newest by ``newest``, else the last given.

        Conflicting copies set aside are listed in the report with the one kept and why; identical ones counted.
        """
        records, where = self.records[kind], self.where[kind]
        chosen, why = indices[-1], "the last one given, as a later export replaces an earlier one"
        if newest is not None:
            stamps = newest.iloc[indices]
            if stamps.notna().any() and stamps.nunique() > 1:
                top = stamps.max()
                chosen = max(i for i, stamp in zip(indices, stamps, strict=True) if stamp == top)
                why = f"the newest {FILE_TIMES[kind][2]}"
        text = raw_json(_sorted(records[chosen]))
        for i in indices:
            if i == chosen:
                continue
            if raw_json(_sorted(records[i])) == text:
                self._set_aside.identical_copies += 1
                continue
            self._set_aside.reject(
                f"id {record_id!r} is given {len(indices)} times with different content; kept the copy in"
                f" {where[chosen]} ({why})",
                where[i],
                safe_text(records[i]),
                unreadable=False,
            )
        return chosen

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
        if self.archive is None or not self.archive.has(kind) or self.records.get(kind):
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
        times = self._times[kind]
        inside = ((times >= pd.Timestamp(start)) & (times <= pd.Timestamp(end))).to_numpy()
        records = self.records[kind]
        return [one_page([r for r, ok in zip(records, inside, strict=True) if ok], len(records) or 1), *archived]

    def audit(self, start: datetime, end: datetime) -> list[Pages]:
        return self._filtered("audit", start, end)

    def risk(self, since: datetime, end: datetime) -> list[Pages]:
        return self._filtered("risk", since, end)

    def registration(self) -> list[Pages]:
        if not self.has("registration"):
            return [_missing(self.folder, "registration", self.given.get("registration", 0))]
        return [one_page(self.records["registration"], len(self.records["registration"]))]

    def has(self, kind: str) -> bool:
        return bool(self.records.get(kind))

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


def _id_of(record: Mapping[str, Any]) -> str:
    return f" (id {record['id']!r})" if isinstance(record.get("id"), str) and record["id"] else ""


def _sorted(value: Any) -> Any:
    """``value`` with object keys in order, to compare two copies of a record by content."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value
