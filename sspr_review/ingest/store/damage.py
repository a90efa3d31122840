"""What a damaged file takes out of the store's coverage, and what a later fetch brings back.

A kind's entry in ``coverage.json`` keeps, under ``damaged``, a record per quarantined file: the file, why, when,
the rows it held and the intervals (for a snapshot: the snapshot times) it took out of the coverage. A fetch that
covers part of those intervals again narrows the record (:func:`narrow`); a new snapshot of the same day clears a
snapshot's record (:func:`clear_day`). The review names the file for a week that overlaps what is left
(:func:`reason`). Functions here change the entry they are given (a ``dict`` of the coverage document).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ...core.timefmt import iso_z, parse_iso
from ...core.vocabulary import TIMED_KINDS
from .snapshots import parse_day

#: The folder of each data file, and the kind of data its coverage describes.
FOLDER_KINDS: Final = {
    "audit": "audit",
    "risk": "risk",
    "registration": "registration",
    "privileged": "roles",
    "policy": "policy",
}

Span = tuple[datetime, datetime]


def kind_of(rel: str) -> str | None:
    """The kind of data whose coverage the file ``rel`` (``audit/2026-11.parquet``) holds; ``None`` for others."""
    folder, _, _name = rel.partition("/")
    return FOLDER_KINDS.get(folder)


def month_span(stem: str) -> Span | None:
    """``[first day, first day of the next month)`` of a month file's stem (``2026-11``); ``None`` for others."""
    try:
        month = datetime.strptime(stem, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        return None
    return month, (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def _pairs(items: Sequence[Sequence[str]]) -> list[Span]:
    return [(parse_iso(a), parse_iso(b)) for a, b in items]


def _texts(spans: Sequence[Span]) -> list[list[str]]:
    return [[iso_z(a), iso_z(b)] for a, b in spans]


def subtract(spans: Sequence[Span], start: datetime, end: datetime) -> list[Span]:
    """``spans`` without ``[start, end]``."""
    out: list[Span] = []
    for a, b in spans:
        if b <= start or a >= end:
            out.append((a, b))
            continue
        if a < start:
            out.append((a, start))
        if b > end:
            out.append((end, b))
    return out


def take_out(entry: dict[str, Any], kind: str, rel: str, why: str, rows: int | None, at: datetime) -> list[Span]:
    """Take what the damaged file ``rel`` held out of ``kind``'s coverage ``entry`` and record it under
    ``damaged``; the intervals (snapshot kinds: ``(moment, moment)`` pairs) taken out."""
    stem = rel.rsplit("/", 1)[-1].split(".", 1)[0]
    if kind in TIMED_KINDS:
        span = month_span(stem)
        if span is None:
            return []
        held = _pairs(entry.get("intervals", []))
        removed = [(max(a, span[0]), min(b, span[1])) for a, b in held if b > span[0] and a < span[1]]
        entry["intervals"] = _texts(subtract(held, *span))
    else:
        day = parse_day(stem)
        if day is None:
            return []
        moments = [parse_iso(m) for m in entry.get("snapshots", [])]
        removed = [(m, m) for m in moments if day <= m < day + timedelta(days=1)]
        gone = {iso_z(m) for m, _ in removed}
        entry["snapshots"] = [m for m in entry.get("snapshots", []) if m not in gone]
        if "missing" in entry:
            entry["missing"] = {k: v for k, v in entry["missing"].items() if k not in gone}
    if removed:
        record = {"file": rel, "why": why, "at": iso_z(at), "rows": rows, "intervals": _texts(removed)}
        entry["damaged"] = [*[d for d in entry.get("damaged", []) if d.get("file") != rel], record]
    return removed


def narrow(entry: dict[str, Any], start: datetime, end: datetime) -> None:
    """``[start, end]`` of the kind is covered again: what it brings back is no longer missing."""
    for record in entry.get("damaged", []):
        record["intervals"] = _texts(subtract(_pairs(record.get("intervals", [])), start, end))


def clear_day(entry: dict[str, Any], moment: datetime) -> None:
    """A new snapshot of ``moment``'s day replaces a damaged one of that day."""
    day = moment.astimezone(UTC).date()
    entry["damaged"] = [
        d for d in entry.get("damaged", []) if not any(parse_iso(a).date() == day for a, _ in d.get("intervals", []))
    ]


def records(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The damage records of a kind that still take something out of its coverage."""
    return [d for d in entry.get("damaged", []) if d.get("intervals")]


def describe(record: dict[str, Any]) -> str:
    """One damage record in words: the file, why, and what is not in the store because of it."""
    spans = _pairs(record.get("intervals", []))
    times = "; ".join(f"{a:%Y-%m-%d %H:%M}" if a == b else f"{a:%Y-%m-%d %H:%M} → {b:%Y-%m-%d %H:%M}" for a, b in spans)
    at = parse_iso(record["at"])
    head = f"{record['file']} was damaged ({record['why']}) and moved to quarantine/ on {at:%Y-%m-%d %H:%M} UTC"
    if record.get("rebuilt"):
        return f"{head}; the coverage was rebuilt from the stored records, which may not show every gap"
    if "lost" in record:
        lost = record["lost"]
        held = f"{lost:,} records" if isinstance(lost, int) else "its records"
        return f"{head}; {held} of {times} UTC could not be re-read: the source no longer holds them"
    rows = record.get("rows")
    held = f"its {rows:,} records" if isinstance(rows, int) else "its data"
    return (
        f"{head}: {held} of {times} UTC are not in the store; 'sspr-review fetch' re-reads what the source still holds"
    )


def reason(entry: dict[str, Any], start: datetime, end: datetime) -> str | None:
    """Why ``[start, end)`` lacks data, when a damaged file is the cause (the newest such record)."""
    for record in reversed(records(entry)):
        if any(a < end and b >= start for a, b in _pairs(record["intervals"])):
            return describe(record)
    return None


def damaged_moments(entry: dict[str, Any]) -> dict[datetime, dict[str, Any]]:
    """A snapshot kind's damaged snapshots: time → its damage record."""
    return {parse_iso(a): d for d in records(entry) for a, _ in d["intervals"]}
