"""The store's health for the command line: ``status``'s lines, ``store verify`` and ``store repair``, and the
message a command ends with when the store it read is damaged (:mod:`sspr_review.ingest.store.health` does the
work)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.coverage import Coverage
from ..ingest.store import Store
from ..ingest.store.damage import describe
from ..ingest.store.health import damage_shown, sweep, verify
from ..ingest.store.integrity import data_files


def status_lines(info: dict[str, Any]) -> list[str]:
    """What the store holds (``Workspace.status()``), for the terminal."""
    lines = [f"Store {info['path']}"]
    if info["tenant"]:
        lines.append(f"Tenant {info['tenant'].get('name')} ({info['tenant'].get('id')})")
    for name, entry in info["sources"].items():
        if entry["intervals"]:
            held = "; ".join(f"{a[:16]} → {b[:16]}" for a, b in entry["intervals"])
        elif entry["snapshots"]:
            held = f"{entry['snapshots']} snapshots, newest {entry['latest_snapshot'][:16]}"
        else:
            held = "nothing yet"
        lines.append(f"  {name:<13} {held}")
        if entry["last_failure"]:
            failure = entry["last_failure"]
            lines.append(f"  {'':<13} last failure ({failure['kind']}, {failure['at'][:16]}): {failure['reason']}")
        lines += [f"  {'':<13} {line}" for line in entry.get("damaged", [])]
    if info.get("quarantined"):
        lines.append(f"{info['quarantined']} damaged files in {Path(info['path']) / 'quarantine'} (each with a note)")
    return lines


def verify_store(store: Store) -> tuple[list[str], int]:
    """``store verify``: each damaged file and what earlier damage still takes out of the coverage, and a summary
    line; the number of damaged files."""
    checked = len(list(data_files(store.path)))
    found = verify(store)
    lines = [f"DAMAGED  {d.file}: {d.why}" for d in found]
    lines += [f"earlier  {describe(r)}" for records in store.damage_records().values() for r in records]
    lines.append(f"Store {store.path}: {checked} data files checked, {len(found)} damaged")
    return lines, len(found)


def repair_store(store: Store) -> list[str]:
    """``store repair`` before its fetch: every damaged file quarantined, coverage rebuilt when damaged, files from
    before the manifest entered."""
    with store.writing():
        found = sweep(store)
    return [f"quarantined  {d.file}: {d.why}" for d in found] + [
        f"Store {store.path}: {len(found)} damaged files moved to quarantine/"
    ]


def damage_message(store: Store, coverages: Iterable[Coverage]) -> str | None:
    """What ends a command that found the store damaged, or whose week lacks data a damaged file held (exit 4)."""
    lines = [f"{d}; moved to quarantine/" for d in store.found]
    lines += [line for line in damage_shown(store, list(coverages)) if line not in lines]
    if not lines:
        return None
    return (
        f"the history store is damaged (each damaged file is in {store.path / 'quarantine'} with a note; "
        "'sspr-review fetch' re-reads what the source still holds, 'sspr-review store verify' checks every file):"
        + "".join(f"\n  {line}" for line in lines)
    )
