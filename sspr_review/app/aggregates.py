"""The aggregates a store keeps of its history, computed as reviews need them: each registration snapshot's counts
(:func:`registration_counts`) and the weekly aggregates of the weeks before what a review reads in full
(:func:`history`, :func:`keep_recent`).

Each is computed once and kept in the store (:mod:`sspr_review.ingest.store.aggregates`) under a key (the
analyses' :data:`~sspr_review.analysis.aggregates.ANALYSIS_VERSION`, the kit's version, the settings) with the
signature of the data files it was computed from, taken before they were read. A fetch that writes late events
into a month's file (or any other change to a file: replaced, removed) makes the weeks that file holds be
computed again at the next review; a new version or other settings, all of them. The first review of a store
computes its whole history, :data:`CHUNK_WEEKS` weeks at a time; every review also stores the weeks it computed
from the tables it read anyway, so the next week's review finds them. The accounts' part of that history (each
account's last fix, the methods it verified) is also kept summed up to the newest weeks reviewed, under the chain of
their weeks' signatures: a review reads one summary and the weeks after it, not every week's rows, so its cost does
not grow with the history; a change to any week's files breaks the chain. A store that cannot be written (read-only)
still reviews: its aggregates are computed each time instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache, reduce
from importlib import metadata
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ..analysis import ReviewData, prepare
from ..analysis._util import to_ns
from ..analysis.aggregates import (
    ANALYSIS_VERSION,
    FIX_COLUMNS,
    LOOKBACK_PARTS,
    METHOD_COLUMNS,
    WEEK_COLUMNS,
    WeekAggregates,
    reach,
    summarise,
    week_aggregates,
)
from ..analysis.history import History, empty_frame
from ..analysis.metrics import REGISTRATION_COUNT_INPUT, combine_registration_counts, registration_counts_arrow
from ..core import schema
from ..core.settings import AnalysisSettings
from ..ingest.store import Store, release_arrow_memory
from ..ingest.store.aggregates import read_aggregate, read_week_parts, signature, write_aggregate, write_week_parts
from ..ingest.store.snapshots import month_span, parse_day

__all__ = ["CHUNK_WEEKS", "aggregates_key", "history", "keep_recent", "registration_counts", "week_signatures"]

#: Weeks computed together when a store's weekly aggregates are missing (bounds the memory of a first review).
CHUNK_WEEKS: Final = 6


@cache
def kit_version() -> str:
    """The installed kit's version (part of the aggregates' key)."""
    try:
        return metadata.version("sspr-review")
    except metadata.PackageNotFoundError:
        return "unknown"


def aggregates_key(settings: AnalysisSettings | None = None) -> str:
    """The key the aggregates computed with ``settings`` are kept under (``None``: those that depend on no
    setting, the registration counts)."""
    parts = {"analysis": ANALYSIS_VERSION, "kit": kit_version()}
    if settings is not None:
        parts |= {"settings": settings.as_dict(), "rules": [repr(rule) for rule in settings.rules()]}
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _save(store: Store, name: str, key: str, rows: pd.DataFrame, covering: pd.DataFrame | None = None) -> None:
    # a store that cannot be written (read-only) keeps nothing: computed again next time, the review the same
    with contextlib.suppress(OSError):
        write_aggregate(store.path, name, key, rows, covering)


# ------------------------------------------------------------------------------------------ registration
def _in_force(dated: Sequence[tuple[datetime, Path]], day: Path) -> list[Path]:
    """The roles snapshot file (of ``dated``: each one's day and path, oldest first) a registration snapshot's
    admins are matched against: the latest one of its day or before, else the first (see
    :func:`~sspr_review.analysis.privileged.roles_match`)."""
    when = parse_day(day.stem)
    before = [] if when is None else [f for d, f in dated if d <= when]
    return before[-1:] or [f for _, f in dated[:1]]


def registration_counts(store: Store) -> pd.DataFrame:
    """Every registration snapshot's counts (:func:`~sspr_review.analysis.metrics.registration_counts`), each
    snapshot file read (and checked) only when its counts are not kept yet (or it, or the roles snapshot in force,
    changed), its admins matched against the roles snapshot in force, read with it: a year of snapshots whose
    counts are kept costs a listing of their folders."""
    key = aggregates_key()
    files = store.listed("registration")
    roles = [(d, f) for f in store.listed("privileged") if (d := parse_day(f.stem)) is not None]
    in_force = {f.name: _in_force(roles, f) for f in files}
    signatures = {f.name: signature([f, *in_force[f.name]]) for f in files}
    stored = read_aggregate(store.path, "registration", key)
    if not stored.empty:
        stored = stored[stored["file"].map(signatures).eq(stored["signature"]).to_numpy(dtype=bool)]
    done = set(stored["file"]) if not stored.empty else set()
    fresh = []
    for file in files:
        if file.name in done or not store.checked([file]):  # a damaged one is quarantined, its counts not kept
            continue
        try:
            table = pq.read_table(file, columns=list(REGISTRATION_COUNT_INPUT))
        except FileNotFoundError:
            continue
        counts = registration_counts_arrow(_roles_file(store, in_force[file.name]), [table])
        del table
        fresh.append(counts.assign(file=file.name, signature=signatures[file.name]))
        release_arrow_memory()
    new = pd.concat(fresh, ignore_index=True) if fresh else pd.DataFrame()
    _save(store, "registration", key, new)
    parts = [p for p in (stored, new) if not p.empty]
    counts = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return combine_registration_counts(counts.drop(columns=["file", "signature"], errors="ignore"))


def _roles_file(store: Store, files: Sequence[Path]) -> pd.DataFrame:
    """The ``privileged`` rows of the roles snapshot file in ``files`` (none, or one), as the store reads them."""
    when = parse_day(files[0].stem) if files else None
    return schema.empty("privileged") if when is None else store.read("privileged", when, when + timedelta(days=1))


# ------------------------------------------------------------------------------------------------- weeks
def week_signatures(store: Store, bounds: np.ndarray, settings: AnalysisSettings) -> pd.DataFrame:
    """Per week of ``bounds`` (int64 ns): ``week_start``, ``week_end`` and the ``signature`` of the data files
    its aggregates are computed from: the audit files from its reach before its start to its reach after its end
    (:func:`~sspr_review.analysis.aggregates.reach`), the risk files of the week. The files are not checked for
    this (a signature is their names and stat); those the review reads are checked when read."""
    before, after = (int(pd.Timedelta(span).value) for span in reach(settings))
    audit, risk = _months(store.listed("audit")), _months(store.listed("risk"))  # each folder listed once
    signatures = [
        signature([*audit.overlapping(a - before, b + after), *risk.overlapping(a, b)])
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
    ]
    return pd.DataFrame({"week_start": bounds[:-1], "week_end": bounds[1:], "signature": signatures}).astype(
        {"week_start": np.int64, "week_end": np.int64, "signature": "string"}
    )


@dataclass(frozen=True)
class _Months:
    """Month files, oldest first, with each one's month as int64 ns (``[starts[i], ends[i])``)."""

    files: list[Path]
    starts: np.ndarray
    ends: np.ndarray

    def overlapping(self, start: int, end: int) -> list[Path]:
        """The files whose month overlaps ``[start, end)`` (int64 ns), as
        :func:`~sspr_review.ingest.store.snapshots.month_overlaps` decides."""
        return self.files[int(np.searchsorted(self.ends, start, side="right")) : int(np.searchsorted(self.starts, end))]


def _months(files: Sequence[Path]) -> _Months:
    """The month files of ``files`` (those named for no month, ``undated``, no time-bounded read opens)."""
    found = sorted((span, f) for f in files if (span := month_span(f.stem)) is not None)
    return _Months(
        [f for _, f in found],
        np.array([to_ns(s) for (s, _), _ in found], dtype=np.int64),
        np.array([to_ns(e) for (_, e), _ in found], dtype=np.int64),
    )


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Runs of consecutive week indices, each at most :data:`CHUNK_WEEKS` long: (first, last + 1)."""
    out: list[tuple[int, int]] = []
    for i in indices.tolist():
        if out and out[-1][1] == i and i - out[-1][0] < CHUNK_WEEKS:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


#: The stored ``part`` of each per-account part of a week's aggregates (the :class:`WeekAggregates` field).
_STORED: Final = {"fixes": "fix", "methods": "method", "ips": "ip", "starts": "start", "resets": "reset"}
_COLUMNS: Final = {"fixes": FIX_COLUMNS, "methods": METHOD_COLUMNS, **LOOKBACK_PARTS}
_EARLIEST: Final = int(np.iinfo(np.int64).min)


def _read_weeks(
    store: Store,
    key: str,
    wanted: pd.DataFrame,
    *,
    accounts: bool = True,
    after: int | None = None,
    lookback_from: int | None = None,
) -> WeekAggregates:
    """The stored aggregates of the weeks of ``wanted`` whose signature still matches; ``accounts`` false: their
    week rows only (what is kept, not the per-account parts); ``after``: the fixes and methods of the weeks ending
    after it only (a summary holds those before); ``lookback_from``: the lookback parts of the weeks ending after it
    (``None``: none). A week whose per-account parts are needed but cannot be read counts as not kept."""
    empty = week_aggregates_empty()
    if wanted.empty:
        return empty
    ident = ["week_start", "week_end", "signature"]
    weeks = read_aggregate(
        store.path, "weeks", key, columns=[*WEEK_COLUMNS, "signature"], where=[("part", "==", "week")]
    )
    if weeks.empty:
        return empty
    valid = set(zip(*(wanted[c].astype(str).tolist() for c in ident), strict=True))  # a few dozen weeks
    weeks = weeks[[row in valid for row in zip(*(weeks[c].astype(str).tolist() for c in ident), strict=True)]]
    if not accounts:
        return replace(empty, weeks=weeks[list(WEEK_COLUMNS)].reset_index(drop=True))
    # the fixes and methods of the weeks after the summary, the lookback parts of the weeks in the lookback
    chosen: dict[tuple[str, ...], int] = {("fixes", "methods"): _EARLIEST if after is None else after}
    if lookback_from is not None:
        chosen[tuple(LOOKBACK_PARTS)] = lookback_from
    ends = weeks["week_end"].to_numpy(np.int64)
    needed = np.logical_or.reduce([ends > bound for bound in chosen.values()])
    if not needed.any():
        return replace(empty, weeks=weeks[list(WEEK_COLUMNS)].reset_index(drop=True))
    tests = [
        ds.field("part").isin([_STORED[name] for name in names]) & (ds.field("week_end") > bound)
        for names, bound in chosen.items()
    ]
    where = reduce(operator.or_, tests)
    columns = dict.fromkeys(c for names in chosen for n in names for c in _COLUMNS[n])
    pairs = list(zip(ends[needed].tolist(), weeks["signature"].to_numpy()[needed].tolist(), strict=True))
    table, lost = read_week_parts(store.path, key, pairs, list(columns), where)
    parts = {name: getattr(empty, name) for name in _STORED}
    if table is not None:
        for name, part in _STORED.items():
            rows = table.filter(pc.field("part") == part).select(list(_COLUMNS[name]))
            parts[name] = _typed(rows.to_pandas(), _COLUMNS[name])
    weeks = weeks[~weeks["week_end"].isin(lost)]
    return WeekAggregates(weeks=weeks[list(WEEK_COLUMNS)].reset_index(drop=True), **parts)


def _typed(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    empty = empty_frame(columns)
    return frame[list(columns)].astype(dict(empty.dtypes)).reset_index(drop=True) if not frame.empty else empty


def _with_part(frame: pd.DataFrame, part: str) -> pd.DataFrame:
    """``frame`` with its ``part`` named, its times and bits as nullable integers (joined with the other parts as
    float64, the times in nanoseconds would be rounded)."""
    return frame.astype({c: "Int64" for c in ("time", "bits") if c in frame}).assign(part=part)


def _save_weeks(store: Store, key: str, found: WeekAggregates, signatures: pd.DataFrame) -> None:
    """Store the weeks of ``found`` with their signatures: each week's per-account parts in its own file, then
    the weeks' rows in one write (a week whose row is kept has its parts)."""
    weeks = found.weeks.merge(signatures, on=["week_start", "week_end"])
    if weeks.empty:
        return
    parts = pd.concat([_with_part(getattr(found, name), part) for name, part in _STORED.items()], ignore_index=True)
    by_week = {end: rows for end, rows in parts.groupby("week_end", sort=False)}
    try:
        for end, sig in zip(weeks["week_end"].tolist(), weeks["signature"].tolist(), strict=True):
            rows = by_week.get(end, parts.iloc[0:0])
            write_week_parts(store.path, key, int(end), str(sig), rows)
    except OSError:
        return  # a store that cannot be written (read-only) keeps nothing: computed again next time
    _save(store, "weeks", key, weeks.assign(part="week"), covering=weeks[["week_start", "week_end"]])


def _compute(store: Store, settings: AnalysisSettings, bounds: np.ndarray) -> WeekAggregates:
    """The aggregates of the weeks of ``bounds``, from the tables read for them (with their reach)."""
    before, after = reach(settings)
    start, end = pd.Timestamp(int(bounds[0]), tz="UTC"), pd.Timestamp(int(bounds[-1]), tz="UTC")
    tables = {
        "audit": store.read("audit", start - before, end + after, compact=True),
        "risk": store.read("risk", start, end),
    }
    data = prepare(tables, settings)
    del tables
    found = week_aggregates(data, bounds, settings)
    del data
    release_arrow_memory()
    return found


_PARTS: Final = ("weeks", "fixes", "methods", *LOOKBACK_PARTS)


def _together(parts: Sequence[WeekAggregates]) -> WeekAggregates:
    parts = [week_aggregates_empty(), *parts]
    joined = {}
    for name in _PARTS:
        frames = [getattr(p, name) for p in parts if not getattr(p, name).empty] or [getattr(parts[0], name)]
        joined[name] = pd.concat(frames, ignore_index=True)
    return WeekAggregates(**joined)


def week_aggregates_empty() -> WeekAggregates:
    """The aggregates of no week (copies: a caller may change them)."""
    empty = _empty_aggregates()
    return WeekAggregates(**{name: getattr(empty, name).copy() for name in _PARTS})


@cache
def _empty_aggregates() -> WeekAggregates:
    weeks = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in WEEK_COLUMNS})
    weeks = weeks.astype({"week_start": np.int64, "week_end": np.int64})
    return WeekAggregates(weeks, empty_frame(FIX_COLUMNS), empty_frame(METHOD_COLUMNS))


def history(
    store: Store,
    settings: AnalysisSettings,
    bounds: np.ndarray,
    since: int,
    earliest: Mapping[str, int],
    lookback_from: int | None = None,
) -> History:
    """The :class:`~sspr_review.analysis.history.History` of the weeks of ``bounds`` (the trend's weeks, int64
    ns) ending at or before ``since``: their aggregates from the store, those missing or out of date computed and
    stored. The fixes and methods come from the newest kept summary still valid (:func:`_read_summary`) and the
    weeks after it, so their cost does not grow with the history; the summary at ``since`` is then kept. The
    lookback parts come from the weeks ending after ``lookback_from`` (int64 ns; ``None``: none)."""
    old = int(np.searchsorted(bounds[1:], since, side="right"))  # the weeks ending at or before since
    key = aggregates_key(settings)
    wanted = week_signatures(store, bounds[: old + 1], settings)
    chains = _chains(wanted)
    summary, upto = _read_summary(store, key, chains)
    stored = _read_weeks(store, key, wanted, after=upto, lookback_from=lookback_from)
    missing = np.flatnonzero(~wanted["week_end"].isin(stored.weeks["week_end"]).to_numpy(dtype=bool))
    fresh = _together([_compute(store, settings, bounds[a : b + 1]) for a, b in _runs(missing)])
    _save_weeks(store, key, fresh, wanted)
    found = summarise(_together([summary, stored, fresh]), since, earliest, lookback_from)
    if upto != since and not chains.empty and int(chains["week_end"].iloc[-1]) == since:
        _save_summary(store, key, found, str(chains["chain"].iloc[-1]))
    return found


# ------------------------------------------------------------------------------------------------ summaries
#: The summaries kept: those of the newest weeks (a weekly review, the one before, an investigation's).
KEEP_SUMMARIES: Final = 3


def _chains(wanted: pd.DataFrame) -> pd.DataFrame:
    """Per week of ``wanted`` (oldest first): ``week_end`` and the ``chain`` of the signatures of every week up to
    it (a summary up to a week is valid while none of those weeks' files changed)."""
    chain, out = "", []
    for sig in wanted["signature"].astype(str).tolist():
        chain = hashlib.sha256(f"{chain}:{sig}".encode()).hexdigest()[:24]
        out.append(chain)
    return pd.DataFrame({"week_end": wanted["week_end"].to_numpy(np.int64), "chain": pd.array(out, dtype="string")})


def _read_summary(store: Store, key: str, chains: pd.DataFrame) -> tuple[WeekAggregates, int | None]:
    """The newest kept summary whose chain still matches (its fixes and methods as one pseudo-week ending at its
    week), and that week's end; the aggregates of no week and ``None`` when there is none."""
    empty = week_aggregates_empty()
    if chains.empty:
        return empty, None
    where = [("chain", "in", chains["chain"].tolist())]
    kept = read_aggregate(store.path, "summary", key, columns=["week_end", "chain"], where=where)
    if kept.empty:
        return empty, None
    upto = int(kept["week_end"].max())
    chain = str(chains.loc[chains["week_end"] == upto, "chain"].iloc[0])
    rows = read_aggregate(
        store.path, "summary", key, columns=["part", *FIX_COLUMNS, "bits"], where=[("chain", "==", chain)]
    )
    if rows.empty:  # rewritten by another review since the read above
        return empty, None
    part = rows["part"].to_numpy()
    fixes, methods = rows[part == "fix"], rows[part == "method"]
    return replace(empty, fixes=_typed(fixes, FIX_COLUMNS), methods=_typed(methods, METHOD_COLUMNS)), upto


def _save_summary(store: Store, key: str, found: History, chain: str) -> None:
    """Keep ``found``'s fixes and methods as the summary up to its week, the older summaries beyond
    :data:`KEEP_SUMMARIES` dropped; nothing when newer ones fill the quota."""
    kept = read_aggregate(store.path, "summary", key, columns=["week_end"])
    ends = sorted({*(kept["week_end"].astype(np.int64).tolist() if not kept.empty else []), found.since})
    if found.since not in ends[-KEEP_SUMMARIES:]:
        return
    rows = pd.concat(
        [
            found.fixes.astype({"time": "Int64"}).assign(part="fix"),
            found.methods.astype({"bits": "Int64"}).assign(part="method"),
        ],
        ignore_index=True,
    ).assign(week_end=np.int64(found.since), chain=chain)
    gone = pd.DataFrame({"week_end": [e for e in ends if e not in ends[-KEEP_SUMMARIES:] or e == found.since]})
    _save(store, "summary", key, rows, covering=gone)


def keep_recent(store: Store, settings: AnalysisSettings, data: ReviewData, signatures: pd.DataFrame) -> None:
    """Store the aggregates of the weeks of ``signatures`` (taken before the tables were read) not kept yet,
    computed from ``data``: a review's prepared tables, which hold those weeks whole."""
    if signatures.empty:
        return
    key = aggregates_key(settings)
    stored = _read_weeks(store, key, signatures, accounts=False)
    todo = signatures[~signatures["week_end"].isin(stored.weeks["week_end"]).to_numpy(dtype=bool)]
    if todo.empty:
        return
    bounds = np.append(signatures["week_start"].to_numpy(np.int64), signatures["week_end"].to_numpy(np.int64)[-1])
    whole = replace(data, history=None)
    index = np.flatnonzero(signatures["week_end"].isin(todo["week_end"]).to_numpy(dtype=bool))
    found = _together([week_aggregates(whole, bounds[a : b + 1], settings) for a, b in _runs(index)])
    _save_weeks(store, key, found, signatures)
