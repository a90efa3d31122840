"""Small vectorised helpers shared by the analysis modules (private)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..core.timefmt import iso_z

NAT: Final = np.iinfo(np.int64).min
NS_PER_MINUTE: Final = 60 * 1_000_000_000
NS_PER_HOUR: Final = 60 * NS_PER_MINUTE
NS_PER_DAY: Final = 24 * NS_PER_HOUR


def ns(values: pd.Series | pd.Index) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) as int64; missing values are :data:`NAT` (smaller than any time)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    series = pd.Series(values)
    if not isinstance(series.dtype, pd.DatetimeTZDtype):
        series = pd.to_datetime(series, utc=True, errors="coerce")
    return np.asarray(series.to_numpy(dtype="datetime64[ns]")).view(np.int64)


def to_ns(value: datetime) -> int:
    """A datetime as int64 nanoseconds since the epoch (a naive datetime is taken as UTC)."""
    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.as_unit("ns").value)


def timestamps(values: np.ndarray) -> pd.Series:
    """int64 nanoseconds back to a ``datetime64[ns, UTC]`` Series (NAT becomes NaT)."""
    return pd.Series(pd.to_datetime(np.asarray(values, dtype=np.int64).view("datetime64[ns]"), utc=True))


def iso(value: Any) -> str | None:
    """ISO 8601 UTC with ``Z`` (milliseconds only when non-zero); ``None`` for a missing value."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        if int(value) == NAT:
            return None
        value = pd.Timestamp(int(value), tz="UTC")
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return iso_z(ts, 3, trim=True)


def as_datetime(value: Any) -> datetime | None:
    """A UTC :class:`datetime` from a timestamp-like value or int64 nanoseconds; ``None`` when missing."""
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        if int(value) == NAT:
            return None
        return pd.Timestamp(int(value), tz="UTC").to_pydatetime(warn=False)
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return None
    out: datetime = (ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")).to_pydatetime(warn=False)
    return out.astimezone(UTC)


def plain(value: Any) -> Any:
    """A JSON-ready Python value: numpy/pandas scalars unwrapped, timestamps ISO, NA/NaN as ``None``."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Series, pd.Index)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
        return [plain(v) for v in items]
    if isinstance(value, (pd.Timestamp, datetime, np.datetime64)):
        return iso(value)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(float(value)) else float(value)
    return value if isinstance(value, str) else str(value)


def take_rows(frame: pd.DataFrame, rows: np.ndarray, columns: Sequence[str]) -> pd.DataFrame:
    """``frame[columns].iloc[rows]`` with categorical columns turned into strings.

    Tables may come with categorical string columns (a compact store read); the rows the analyses pick out of
    them then look exactly as they would from a schema-typed table, and only the picked rows are converted.
    """
    out = frame[list(columns)].iloc[rows]
    for col in columns:
        if isinstance(out[col].dtype, pd.CategoricalDtype):
            out[col] = strings(out[col])
    return out


def strings(values: pd.Series) -> pd.Series:
    """A string column as pandas' ``string`` dtype (categoricals decoded by Arrow, :func:`_by_codes`: a tenth of the
    time of pandas' own conversion, which goes through Python objects)."""
    if values.dtype == "string":
        return values
    if isinstance(values.dtype, pd.CategoricalDtype) and pd.StringDtype().storage == "pyarrow":
        return _by_codes(values, pa.array(pd.Series(values.cat.categories).astype("string").array))
    return values.astype("string")


def lower(values: pd.Series) -> pd.Series:
    """Strip and lower-case a string column; blanks become missing.

    Computed by Arrow on the column's buffer (``utf8_trim_whitespace``, ``utf8_lower``: what pandas' ``.str.strip()``
    and ``.str.lower()`` run on an Arrow-backed column), and for a categorical column on its categories only.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _by_codes(values, _lowered(pd.Series(values.cat.categories).astype("string")))
    text = values.astype("string")
    if not isinstance(text.array, pd.arrays.ArrowStringArray):  # string storage set to "python"
        out = text.str.strip().str.lower()
        return out.mask(out == "")
    return pd.Series(pd.arrays.ArrowStringArray(_lowered(text)), index=values.index, name=values.name)


def _by_codes(values: pd.Series, names: pa.Array) -> pd.Series:
    """The categorical ``values`` as an Arrow-backed string Series: ``names`` (one per category, in order) taken by
    the codes, a missing value where the code is -1."""
    codes = values.cat.codes.to_numpy()
    taken = names.take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.arrays.ArrowStringArray(taken), index=values.index, name=values.name)


def _lowered(text: pd.Series) -> pa.Array:
    """The Arrow array of an Arrow-backed string Series, trimmed and lower-cased, blanks as nulls.

    Text that is all ASCII (ids, most UPNs) is lower-cased by ``ascii_lower``, which gives what ``utf8_lower`` gives
    on it in a third of the time; blanks are looked for before they are replaced."""
    arr = pc.utf8_trim_whitespace(pa.array(text.array))
    arr = pc.ascii_lower(arr) if pc.all(pc.string_is_ascii(arr)).as_py() is not False else pc.utf8_lower(arr)
    blank = pc.equal(arr, "")
    return pc.if_else(blank, pa.scalar(None, arr.type), arr) if pc.any(blank).as_py() else arr


def isin(values: pd.Series, pool: pd.Series | Iterable[Any]) -> np.ndarray:
    """Boolean array: the string value is one of ``pool`` (exact match; missing values never are).

    Uses Arrow's hash set; a Series pool is handed over without creating Python objects.
    """
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    left = pa.array(values.astype("string").array)
    if isinstance(pool, pd.Series):
        right = pa.array(pool.dropna().astype("string").array).cast(pa.large_string())
    else:
        right = pa.array([str(v) for v in pool if v is not None and v is not pd.NA], type=pa.large_string())
    hit = pc.fill_null(pc.is_in(left.cast(pa.large_string()), value_set=right), False)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def lower_isin(values: pd.Series, wanted: Iterable[str]) -> np.ndarray:
    """Boolean array: the trimmed, lower-cased value is in ``wanted`` (computed on the distinct values: a
    categorical's categories as they are, another column's factorized)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes, names = values.cat.codes.to_numpy(), lower(pd.Series(values.cat.categories).astype("string"))
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        names = lower(pd.Series(pd.Index(uniques), dtype="string"))
    pool: list[Any] = list(wanted)
    # as pandas' ``isin`` on a string column takes them: the strings, and a missing value matching a blank one
    texts: list[str | None] = [v for v in pool if isinstance(v, str)]
    if any(v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) for v in pool):
        texts.append(None)
    if not texts:
        return np.zeros(len(codes), dtype=bool)
    found = pc.is_in(pa.array(names.array), value_set=pa.array(texts, type=pa.large_string()))
    hit = np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)
    return np.append(hit, False)[codes]


def user_key(frame: pd.DataFrame, id_col: str = "user_id", upn_col: str = "user_upn") -> pd.Series:
    """Identity of an account: its object id (lower case), else ``upn:<upn>``; missing when neither is known."""
    ids = lower(frame[id_col])
    upns = "upn:" + lower(frame[upn_col])
    return ids.fillna(upns)


def first_sorted(values: pd.Series, k: int) -> list[str]:
    """``sorted(values)[:k]`` of a string column without missing values: Arrow picks the ``k`` first (its byte
    order is UTF-8's, which is the code points' order Python sorts by) without sorting the rest."""
    if k <= 0 or values.empty:
        return []
    array = pa.array(values.astype("string").array)
    picked = array.take(pc.select_k_unstable(array, k=min(k, len(array)), sort_keys=[("values", "ascending")]))
    return sorted(str(v) for v in picked.to_pylist())


def texts(values: Iterable[Any]) -> list[str]:
    """Sorted distinct non-missing values as strings."""
    return sorted({str(v) for v in values if v is not None and not pd.isna(v) and str(v) != ""})


def week_index(times: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Index of the half-open interval ``bounds[i] <= t < bounds[i+1]`` holding each time; -1 when outside."""
    idx = np.searchsorted(bounds, times, side="right") - 1
    idx[(idx >= len(bounds) - 1) | (times == NAT)] = -1
    return idx


def snapshot_lookup(
    times: np.ndarray,
    ids: pd.Series,
    upns: pd.Series,
    snapshots: pd.DataFrame,
    *,
    id_col: str,
    upn_col: str,
    columns: Sequence[str],
    day: int | None = None,
    snap_ns: np.ndarray | None = None,
    keys: tuple[pd.Series, pd.Series] | None = None,
) -> pd.DataFrame:
    """For each event, ``columns`` of its user's row in the latest snapshot at or before the event.

    ``snapshots`` has a ``snapshot_date`` column and at most one row per user per snapshot; an event before the
    first snapshot uses the first one. ``day`` (UTC days since the epoch): every event uses the snapshot of that
    day instead (none found when there is none). Users match on object id, else on UPN (case-insensitive).
    Returns a frame with one row per event, in event order (positional index), with a boolean ``found`` column.
    ``snap_ns``: ``snapshots["snapshot_date"]`` as int64 ns, and ``keys``: its ``id_col`` and ``upn_col`` as
    :func:`lower` gives them (positional), when the caller holds them already (once per window, not per lookup).
    """
    n = len(times)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    snap_ns = ns(snapshots["snapshot_date"]) if snap_ns is None else snap_ns
    dates = np.sort(pd.unique(snap_ns[snap_ns != NAT]))
    if day is not None:
        dates = dates[dates // NS_PER_DAY == day]
    if n == 0 or snapshots.empty or dates.size == 0:
        for col in columns:
            out[col] = pd.Series(pd.NA, index=out.index, dtype=snapshots[col].dtype if col in snapshots else object)
        out["found"] = np.zeros(n, dtype=bool)
        return out
    at = dates[np.clip(np.searchsorted(dates, times, side="right") - 1, 0, None)]  # the snapshot of each event
    used = np.unique(at)
    event_ids = lower(pd.Series(ids.to_numpy(), dtype="string"))
    event_upns = lower(pd.Series(upns.to_numpy(), dtype="string"))
    # Only the snapshots needed, and only rows whose id or UPN (both compared lower-cased) an event names.
    snap_ids, snap_upns = (lower(snapshots[id_col]), lower(snapshots[upn_col])) if keys is None else keys
    in_used = snap_ns == used[0] if used.size == 1 else np.isin(snap_ns, used)  # one snapshot: the usual case
    wanted = np.flatnonzero(in_used & (isin(snap_ids, event_ids) | isin(snap_upns, event_upns)))
    # Each event's row by (snapshot, id), else by (snapshot, UPN): the first such row of the snapshot.
    by_id = _first_row(at, used, event_ids, snap_ns[wanted], snap_ids.iloc[wanted])
    by_upn = _first_row(at, used, event_upns, snap_ns[wanted], snap_upns.iloc[wanted])
    match = np.where(by_id >= 0, by_id, by_upn)
    rows = np.where(match >= 0, wanted[np.maximum(match, 0)] if wanted.size else 0, -1)
    for col in columns:
        out[col] = snapshots[col].array.take(rows, allow_fill=True)
    out["found"] = match >= 0
    return out


def _first_row(at: np.ndarray, used: np.ndarray, values: pd.Series, snap: np.ndarray, keys: pd.Series) -> np.ndarray:
    """Per event (its snapshot ``at``, one of ``used``, and key ``values``), the position in ``snap``/``keys`` of
    the first row with the same snapshot and key; -1 for none (a missing key matches nothing). ``keys`` holds the
    rows the events name, a few per event: Arrow's ``index_in`` gives a value's first position, per snapshot."""
    out = np.full(len(at), -1, dtype=np.int64)
    events, rows = pa.array(values.array), pa.array(keys.array)
    for date in used.tolist():
        mine, theirs = np.flatnonzero(at == date), np.flatnonzero(snap == date)
        if not (mine.size and theirs.size):
            continue
        options = pc.SetLookupOptions(value_set=rows.take(pa.array(theirs)), skip_nulls=True)
        hit = pc.fill_null(pc.index_in(events.take(pa.array(mine)), options=options), -1)
        hit = np.asarray(hit.to_numpy(zero_copy_only=False), dtype=np.int64)
        out[mine] = np.where(hit >= 0, theirs[np.maximum(hit, 0)], -1)
    return out
