"""The store's lean registration summaries: ``registration/<day>.lean.json`` beside a lean snapshot's rows.

A lean snapshot (:mod:`sspr_review.ingest.lean`) holds Graph's counts instead of every row; its summary keeps them,
with the weeks whose users it looked up. The store reads them for the coverage (which mode produced a snapshot,
and whether a week it did not look users up for is partial) and the review reads Graph's counts from them. Each
function takes the tenant's store folder (:attr:`Store.path <sspr_review.ingest.store.Store.path>`); writing goes
through the :class:`~sspr_review.ingest.store.Store`, which checks its write lock.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from ...core.coverage import Coverage
from ...core.errors import StoreError
from ...core.files import write_json
from ...core.timefmt import iso_z

#: The lean summary's format version.
SUMMARY_VERSION = 1


def _summary_path(folder: Path, day: datetime) -> Path:
    return folder / "registration" / f"{day.astimezone(UTC):%Y-%m-%d}.lean.json"


def write_summary(folder: Path, day: datetime, summary: dict[str, Any]) -> None:
    """Mark the registration snapshot of ``day`` lean (``registration/<day>.lean.json``), with what it holds
    instead of every row. Written before that day's rows, so a fetch killed between the two leaves a day read as
    lean (Graph's counts, rows a superset of the lean ones), never the rows of a lean snapshot counted as full."""
    write_json(_summary_path(folder, day), summary)


def clear_summary(folder: Path, day: datetime) -> None:
    """A full snapshot replaced the day's lean one (called after its rows are written)."""
    _summary_path(folder, day).unlink(missing_ok=True)


def read_summary(folder: Path, day: datetime) -> dict[str, Any] | None:
    """The summary of the lean registration snapshot of ``day`` (UTC) in the store folder ``folder``; ``None`` for
    a full one."""
    path = _summary_path(folder, day)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise StoreError(f"{path} is not valid JSON ({exc}); delete it and fetch again") from None
    if not isinstance(data, dict):
        raise StoreError(f"{path} is not a JSON object; delete it and fetch again")
    return data


def summaries(folder: Path) -> dict[datetime, dict[str, Any]]:
    """Every lean registration snapshot's summary, by snapshot day (UTC midnight)."""
    snapshots = folder / "registration"
    out: dict[datetime, dict[str, Any]] = {}
    for path in sorted(snapshots.glob("*.lean.json")) if snapshots.exists() else []:
        if path.name.startswith("."):
            continue
        day = datetime.strptime(path.name.removesuffix(".lean.json"), "%Y-%m-%d").replace(tzinfo=UTC)
        summary = read_summary(folder, day)
        if summary is not None:
            out[day] = summary
    return out


def snapshot_coverage(folder: Path, cov: Coverage, start: datetime, end: datetime) -> Coverage:
    """``cov`` (registration, for ``[start, end)``) with the mode of its snapshot; a lean snapshot used for a
    week it did not look users up for is partial, the part named."""
    summary = read_summary(folder, cov.start) if cov.start is not None else None
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


def tenant_size(folder: Path, moment: datetime) -> int:
    """Users in the registration snapshot of ``moment``: Graph's total of a lean one, the rows of a full one."""
    summary = read_summary(folder, moment)
    if summary is not None:
        return int((summary.get("usersRegisteredByFeature") or {}).get("totalUserCount") or 0)
    path = folder / "registration" / f"{moment:%Y-%m-%d}.parquet"
    return int(pq.ParquetFile(path).metadata.num_rows) if path.exists() else 0


def graph_capable(summary: dict[str, Any]) -> int:
    """Graph's ``ssprCapable`` user count (every user type) in a lean summary."""
    feature = summary.get("usersRegisteredByFeature") or {}
    for item in feature.get("userRegistrationFeatureCounts") or []:
        if isinstance(item, dict) and item.get("feature") == "ssprCapable":
            return int(item.get("userCount") or 0)
    raise ValueError("usersRegisteredByFeature holds no ssprCapable count")


def lean_days(folder: Path) -> dict[int, int]:
    """Per lean registration snapshot, its day (UTC days since the epoch) → Graph's ``ssprCapable`` count, for
    :func:`~sspr_review.analysis.prepare`."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    out = {}
    for day, summary in summaries(folder).items():
        try:
            out[(day - epoch).days] = graph_capable(summary)
        except ValueError as exc:
            raise StoreError(
                f"{_summary_path(folder, day)}: {exc}; delete it and the parquet file of that day, then fetch again"
            ) from None
    return out
