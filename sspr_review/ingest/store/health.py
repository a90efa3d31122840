"""The store's health: a fetch's sweep of every file before it writes, what the fetch brought back of what damaged
files took out of the coverage (and what it could not), and the read-only check of ``sspr-review store verify``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...core import schema
from ...core.errors import StoreDamaged
from ...core.timefmt import parse_iso
from ...core.vocabulary import DATA_KINDS, TIMED_KINDS
from . import damage, quarantine
from .history import TIME_COLUMN, Store
from .integrity import data_files

#: A damaged file whose data the source no longer holds, in the words of each kind of data.
_SNAPSHOT_LOST = "the source gives only today's state, so that day's snapshot cannot be read again"


def sweep(store: Store) -> list[StoreDamaged]:
    """Check every data file (the caller holds the write lock): quarantine the damaged ones and files the manifest
    lists that are gone, enter the sound ones it lacks (a store from before the manifest); the damage found."""
    before = len(store.found)
    listed = store.integrity.entries()
    sound = {}
    for file in data_files(store.path):
        rel = store.integrity.rel(file)
        if store.checked([file]) and rel not in listed:
            sound[rel] = store.integrity.check(file)
    store.integrity.enter(sound)
    present = {store.integrity.rel(f) for f in data_files(store.path)}
    for rel in sorted(set(listed) - present):
        store.found_damage(StoreDamaged(rel, "it is missing (deleted or moved by hand)"))
    store.tenant_info()  # a damaged tenant.json or coverage.json is quarantined (coverage rebuilt) here
    store.damage_records()
    return store.found[before:]


def unread_damage(store: Store, kind: str) -> datetime | None:
    """The earliest time a damaged file of ``kind`` took out of the coverage that no fetch has re-read yet (a
    fetch reads from there, within what the source holds)."""
    starts = [
        parse_iso(a)
        for record in store.damage_records().get(kind, [])
        if "lost" not in record
        for a, _ in record["intervals"]
    ]
    return min(starts) if starts else None


@dataclass
class Settled:
    """What one fetch brought back of damaged files' data, and what it could not."""

    recovered: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def settle(store: Store, before: dict[str, list[dict[str, Any]]], fetched: set[str]) -> Settled:
    """After a fetch of the kinds ``fetched`` (those that landed): each damage record the fetch re-read wholly is
    gone (said as recovered); each left is settled, with the records and the times that could not be recovered."""
    out = Settled()
    after = store.damage_records()
    for kind, records in before.items():
        for record in records:
            if "lost" not in record and not any(r["file"] == record["file"] for r in after.get(kind, [])):
                out.recovered.append(f"{record['file']}: recovered: read again from the source, nothing is missing")
    for kind, records in after.items():
        for record in records:
            if kind in fetched and "lost" not in record:
                _settle_one(store, kind, record, out)
    return out


def _settle_one(store: Store, kind: str, record: dict[str, Any], out: Settled) -> None:
    file, rows = record["file"], record.get("rows")
    spans = [(parse_iso(a), parse_iso(b)) for a, b in record["intervals"]]
    if record.get("rebuilt"):
        store.settle_damage(kind, file, None)  # the files are all there: only their coverage was rebuilt
        return
    if kind not in TIMED_KINDS:
        store.settle_damage(kind, file, rows)
        out.lost.append(f"{damage.describe({**record, 'lost': rows})} ({_SNAPSHOT_LOST})")
        return
    span = damage.month_span(file.rsplit("/", 1)[-1].split(".", 1)[0])
    stored = 0
    if span is not None:
        column = TIME_COLUMN[kind]
        stored = len(store.read(kind, span[0], min(span[1], parse_iso(record["at"])), columns=[column]))
    missing = None if rows is None else max(rows - stored, 0)
    if missing == 0:  # every record the file held is back: what it covered is covered again
        for start, end in spans:
            store.record_interval(kind, start, end)
        store.settle_damage(kind, file, None)
        out.recovered.append(f"{file}: recovered: read again from the source, all {rows:,} of its records are back")
        return
    store.settle_damage(kind, file, missing)
    out.lost.append(damage.describe({**record, "lost": missing}))


def verify(store: Store) -> list[StoreDamaged]:
    """Check every file of the store without changing anything (``sspr-review store verify``): the data files
    against the manifest (those it lacks decoded whole), files it lists that are gone, tenant.json and
    coverage.json; the damage found."""
    found: list[StoreDamaged] = []
    listed = store.integrity.entries()
    for file in data_files(store.path):
        try:
            store.integrity.check(file)
        except StoreDamaged as exc:
            found.append(exc)
    present = {store.integrity.rel(f) for f in data_files(store.path)}
    found += [StoreDamaged(rel, "it is missing (deleted or moved by hand)") for rel in sorted(set(listed) - present)]
    for name in ("tenant.json", "coverage.json"):
        try:
            doc = json.loads((store.path / name).read_bytes())
        except FileNotFoundError:
            continue
        except ValueError as exc:
            found.append(StoreDamaged(name, f"it is not valid JSON ({exc})"))
            continue
        if not isinstance(doc, dict):
            found.append(StoreDamaged(name, "it is not a JSON object"))
    if store.integrity.problem:
        found.append(StoreDamaged("manifest.json", store.integrity.problem))
    return found


def status(store: Store) -> dict[str, Any]:
    """A summary of what the store holds, per kind: intervals, snapshots, the last failure, what damaged files took
    out of it; the files per table and how many were quarantined."""
    doc = store.document()
    out: dict[str, Any] = {"path": str(store.path), "tenant": store.tenant_info(), "sources": {}}
    for kind in DATA_KINDS:
        entry = doc["sources"][kind]
        out["sources"][kind] = {
            "intervals": entry["intervals"],
            "snapshots": len(entry["snapshots"]),
            "latest_snapshot": entry["snapshots"][-1] if entry["snapshots"] else None,
            "last_failure": entry["failures"][-1] if entry["failures"] else None,
            "damaged": [damage.describe(d) for d in damage.records(entry)],
        }
    for table in schema.TABLES:
        folder = store.path / table
        out.setdefault("files", {})[table] = (
            len([p for p in folder.glob("*.parquet") if not p.name.startswith(".")]) if folder.exists() else 0
        )
    out["quarantined"] = len(quarantine.notes(store.path))
    return out


def damage_shown(store: Store, coverages: list[Any]) -> list[str]:
    """The damage records (in words) that the coverages of a review (:class:`~sspr_review.core.coverage.Coverage`)
    name: a week whose data a damaged file took out."""
    said = [c.reason or "" for c in coverages] + [m for c in coverages for m in c.missing]
    described = [damage.describe(r) for records in store.damage_records().values() for r in records]
    return [d for d in described if any(d in text for text in said)]
