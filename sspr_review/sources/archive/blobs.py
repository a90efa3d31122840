"""Hourly blobs: which hour a blob holds (both path layouts), which hours are present and missing, and reading a
blob's lines into pages of Graph records with repeated deliveries dropped.

Paths, below a container named ``insights-logs-<category>``:

- documented: ``resourceId=/tenants/<tenant>/providers/microsoft.aadiam/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json``;
- seen on live tenants: ``tenantId=<tenant>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json``.

A kind's coverage is the hours whose blob is present: an hour missing between the first and the last one present is
a gap, named (:meth:`Hours.gaps`). Delivery is at least once: a record given again (the same ``properties.id``) is
dropped and counted (:attr:`BlobReader.duplicates`). Reading is line by line, a page at a time, so memory stays
bounded by a page and the ids of the records kept (the kit's few SSPR-related events, not the whole archive).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ...core.errors import NotARecord
from ...core.records import SetAside
from ..base import Record
from .envelope import AUDIT_MARKERS, kind_of, record_of, wanted_audit

HOUR: Final = timedelta(hours=1)
#: Records per page handed to the fetch.
PAGE: Final = 5000
_PATH = re.compile(r"y=(\d{4})/m=(\d{1,2})/d=(\d{1,2})/h=(\d{1,2})/m=\d{1,2}/[^/]+\.json$", re.IGNORECASE)


def blob_hour(path: str) -> datetime | None:
    """The hour a blob holds, from its path (either layout); ``None`` when the path names none."""
    found = _PATH.search(path.replace("\\", "/"))
    if found is None:
        return None
    year, month, day, hour = (int(g) for g in found.groups())
    try:
        return datetime(year, month, day, hour, tzinfo=UTC)
    except ValueError:
        return None


def day_prefix(root: str, day: datetime) -> str:
    """The prefix of a day's blobs below ``root`` (the part of a path before ``y=``)."""
    return f"{root}y={day:%Y}/m={day:%m}/d={day:%d}/"


def root_of(path: str) -> str:
    """The part of a blob's path before ``y=``: ``tenantId=<id>/`` or ``resourceId=/tenants/<id>/providers/...``."""
    found = _PATH.search(path)
    return path[: found.start()] if found else ""


@dataclass
class Hours:
    """The hours present per kind (the hour each blob holds)."""

    present: dict[str, set[datetime]] = field(default_factory=dict)

    def add(self, kind: str, hour: datetime) -> None:
        self.present.setdefault(kind, set()).add(hour)

    def span(self, kind: str) -> tuple[datetime, datetime] | None:
        """From the first hour present to the end of the last one."""
        hours = self.present.get(kind)
        return (min(hours), max(hours) + HOUR) if hours else None

    def gaps(self, kind: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The runs of hours missing within ``[start, end)``: before the first hour present, and between the first
        and the last (what follows the last hour present is :meth:`after`)."""
        hours = self.present.get(kind, set())
        span = self.span(kind)
        if span is None:
            return [(start, end)] if start < end else []
        lo, hi = max(start, span[0]), min(end, span[1])
        out: list[tuple[datetime, datetime]] = [(start, lo)] if start < lo else []
        hour = lo.replace(minute=0, second=0, microsecond=0)
        while hour < hi:
            if hour not in hours:
                a, b = max(hour, lo), min(hour + HOUR, hi)
                if out and out[-1][1] == a:
                    out[-1] = (out[-1][0], b)
                else:
                    out.append((a, b))
            hour += HOUR
        return out

    def after(self, kind: str, end: datetime) -> tuple[datetime, datetime] | None:
        """The part of a window after the last hour present (its blob may simply not exist yet): not claimed."""
        span = self.span(kind)
        return (span[1], end) if span is not None and span[1] < end else None

    def window_gaps(
        self, kind: str, start: datetime, end: datetime, where: str
    ) -> list[tuple[datetime, datetime, str]]:
        """What a source of these hours answers for :meth:`~sspr_review.sources.base.TimedSource.gaps`: each of
        :meth:`gaps` with why (:func:`gap_reason`, ``where`` naming the archive), then :meth:`after` with no reason
        (the current hour's blob may not exist yet: not claimed, not a gap)."""
        named = [(a, b, gap_reason(where, (a, b))) for a, b in self.gaps(kind, start, end)]
        after = self.after(kind, end)
        return [*named, *([(after[0], after[1], "")] if after else [])]

    def describe(self, kind: str) -> str:
        hours = self.present.get(kind, set())
        span = self.span(kind)
        if span is None:
            return "no hourly blob"
        return f"{len(hours)} hourly blobs, {span[0]:%Y-%m-%d %H:%M} to {span[1]:%Y-%m-%d %H:%M} UTC"

    def note(self, kind: str, where: str, reader: BlobReader | None) -> str | None:
        """What the archive in ``where`` gave of ``kind`` (hours, blobs, records, repeated deliveries), once
        ``reader`` read it; ``None`` before."""
        return f"{where}: {self.describe(kind)}; {reader.describe()}" if reader is not None else None


def gap_reason(where: str, gap: tuple[datetime, datetime]) -> str:
    """Why a gap is no data, in words."""
    hours = round((gap[1] - gap[0]).total_seconds() / 3600)
    return (
        f"{where} holds no hourly blob for {gap[0]:%Y-%m-%d %H:%M} to {gap[1]:%Y-%m-%d %H:%M} UTC"
        f" ({hours} hour{'s' if hours != 1 else ''}): no data for that time, not zero events"
    )


@dataclass
class BlobReader:
    """Reads the lines of archived blobs into pages of one kind's Graph records (see the module)."""

    kind: str
    set_aside: SetAside
    seen: set[str] = field(default_factory=set)
    duplicates: int = 0
    records: int = 0
    blobs: int = 0

    def blob(self, where: str, lines: Iterable[bytes], container: str = "") -> Iterator[list[Record]]:
        """The records of one blob, a page at a time (``lines``: its lines, CRLF or LF)."""
        state = self.open(where, container)
        page: list[Record] = []
        for raw in lines:
            page.extend(state.feed(raw))
            if len(page) >= PAGE:
                yield page
                page = []
        page.extend(state.finish())
        if page:
            yield page

    def open(self, where: str, container: str = "") -> OpenBlob:
        """Start reading one blob: feed it line by line (:class:`OpenBlob`)."""
        self.blobs += 1
        return OpenBlob(self, where, container)

    def _records(self, document: Any, where: str, container: str) -> list[Record]:
        items = document.get("records") if isinstance(document, dict) else None
        envelopes = items if isinstance(items, list) else [document]
        out = []
        for i, envelope in enumerate(envelopes):
            at = f"{where} record {i}" if isinstance(items, list) else where
            if not isinstance(envelope, dict):
                self.set_aside.reject("is not a JSON object", at, _text(json.dumps(envelope)))
                continue
            if kind_of(envelope, container) != self.kind:
                continue  # another category (RiskyUsers, a container shared by categories)
            try:
                record = record_of(envelope, self.kind)
            except NotARecord as exc:
                self.set_aside.reject(f"an archived {self.kind} line the kit cannot read: {exc}", at, _text(envelope))
                continue
            if self.kind == "audit" and not wanted_audit(record):
                continue
            if record["id"] in self.seen:
                self.duplicates += 1  # delivered again (at least once): the same properties.id
                self.set_aside.identical_copies += 1
                continue
            self.seen.add(record["id"])
            self.records += 1
            out.append(record)
        return out

    def describe(self) -> str:
        dupes = f", {self.duplicates:,} delivered again and dropped (properties.id)" if self.duplicates else ""
        return f"{self.records:,} records from {self.blobs:,} blobs{dupes}"


class OpenBlob:
    """One blob being read: :meth:`feed` each line, then :meth:`finish`; each returns the records it completed."""

    def __init__(self, reader: BlobReader, where: str, container: str) -> None:
        self.reader, self.where, self.container = reader, where, container
        self.number = 0
        self.pending: list[bytes] | None = None  # a document spanning lines ({"records": [...]} pretty-printed)

    def feed(self, raw: bytes) -> list[Record]:
        self.number += 1
        if self.pending is not None:
            self.pending.append(raw)
            return []
        line = raw.strip()
        reader, at = self.reader, f"{self.where} line {self.number}"
        if not line:
            return []
        if reader.kind == "audit" and not any(m in line for m in AUDIT_MARKERS) and b'"records"' not in line:
            return []  # a directory event of another service: the Graph fetch would not ask for it
        try:
            document = json.loads(line)
        except ValueError as exc:
            if self.number == 1 and line.startswith(b"{"):
                self.pending = [raw]
                return []
            reader.set_aside.reject(f"not valid JSON ({exc})", at, _text(line))
            return []
        return reader._records(document, at, self.container)

    def finish(self) -> list[Record]:
        if self.pending is None:
            return []
        text, self.pending = b"".join(self.pending), None
        try:
            document = json.loads(text)
        except ValueError as exc:
            self.reader.set_aside.reject(f"not valid JSON Lines nor one JSON document ({exc})", self.where, _text(text))
            return []
        return self.reader._records(document, self.where, self.container)


class LineSplitter:
    """Lines of a blob given in chunks (a line may span chunks): :meth:`push` each chunk, then :meth:`rest`."""

    def __init__(self) -> None:
        self.tail = b""

    def push(self, chunk: bytes) -> list[bytes]:
        parts = (self.tail + chunk).split(b"\n")
        self.tail = parts.pop()
        return parts

    def rest(self) -> list[bytes]:
        tail, self.tail = self.tail, b""
        return [tail] if tail else []


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value[:2000].decode("utf-8", "replace")
    return json.dumps(value, ensure_ascii=False)[:2000] if not isinstance(value, str) else value[:2000]
