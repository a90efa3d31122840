"""Who held a privileged role when, and what the registration report says of an account at a time: the lookups the
rules make of the role and registration snapshots (:func:`privileged_lookup`, :func:`registration_lookup`), and the
role match the registration counts use (:func:`role_candidates`, :func:`roles_match`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._util import NAT, NS_PER_DAY, isin, lower, lower_isin, ns, snapshot_lookup, user_key
from .prepare import ReviewData

__all__ = [
    "PrivilegedIndex",
    "WindowRegistration",
    "in_roles",
    "privileged_lookup",
    "registration_lookup",
    "role_candidates",
    "roles_match",
]


@dataclass(frozen=True)
class WindowRegistration:
    """The registration rows the window's lookups read (:func:`registration_lookup`, the ``is_admin`` flag): the
    snapshot day the window uses when one is chosen, else every snapshot read; ``snap``: their snapshot times
    (int64 ns); ``keys``: their ids and UPNs lower-cased (:func:`~._util.lower`), which the lookups match events
    on. Built once per window: at 500,000 users the table holds 1.5 million rows."""

    rows: pd.DataFrame
    snap: np.ndarray
    keys: tuple[pd.Series, pd.Series]

    @classmethod
    def of(cls, data: ReviewData) -> WindowRegistration:
        registration = data.registration
        snap = ns(registration["snapshot_date"])
        day = data.snapshot_day("registration")
        if day is not None:  # the window reads only that day's snapshot (snapshot_lookup's ``day``)
            rows = np.flatnonzero(snap // NS_PER_DAY == day)
            if rows.size and rows[-1] - rows[0] + 1 == rows.size:  # one file's rows, read together: a view of them
                registration, snap = registration.iloc[rows[0] : rows[-1] + 1], snap[rows[0] : rows[-1] + 1]
            else:
                registration, snap = registration.iloc[rows], snap[rows]
        return cls(registration, snap, (lower(registration["user_id"]), lower(registration["user_upn"])))


@dataclass(frozen=True)
class PrivilegedIndex:
    """The part of :func:`privileged_lookup` that does not depend on the accounts looked up, for one window.

    ``role_users``: the user principals (``principal_type`` user or missing) of the roles the window uses
    (:meth:`~.prepare.ReviewData.roles`), with ``_snap`` (int64 ns), ``_id`` and ``_upn`` (lower-cased) and ``_key``
    (:func:`~._util.user_key`).
    """

    role_users: pd.DataFrame

    @classmethod
    def of(cls, data: ReviewData) -> PrivilegedIndex:
        priv = data.roles()
        ptype = lower(priv["principal_type"])
        users = priv[((ptype == "user") | ptype.isna()).to_numpy(dtype=bool)]
        users = users.assign(
            _snap=ns(users["snapshot_date"]),
            _id=lower(users["principal_id"]).array,
            _upn=lower(users["user_upn"]).array,
            _key=user_key(users, "principal_id", "user_upn").array,
        )
        return cls(users)


def _holders(users: pd.DataFrame) -> pd.DataFrame:
    """One row per role holder (``snapshot_date``, ``_key``; in the order they first appear, those without either
    left out) of ``users`` (role assignments): the first ``principal_id`` and ``user_upn`` given, and its
    ``roles``, ``assignments`` and ``groups``, each the distinct values sorted and "; "-joined. The rows are the
    assignments of the accounts a rule looks up, a few each: joined in Python, without a groupby's overhead."""
    columns = ("snapshot_date", "_key", "principal_id", "user_upn", "role_name", "assignment", "via_group_name")
    holders: dict[tuple[Any, str], list[Any]] = {}
    for snap, key, pid, upn, *values in zip(*(users[c].tolist() for c in columns), strict=True):
        if pd.isna(snap) or pd.isna(key):
            continue
        held = holders.setdefault((snap, key), [None, None, set(), set(), set()])
        held[0] = pid if held[0] is None and not pd.isna(pid) else held[0]
        held[1] = upn if held[1] is None and not pd.isna(upn) else held[1]
        for found, value in zip(held[2:], values, strict=True):
            if not pd.isna(value) and str(value):
                found.add(str(value))
    held_by = list(holders.values())
    return pd.DataFrame(
        {
            "snapshot_date": pd.Series([k[0] for k in holders], dtype=users["snapshot_date"].dtype),
            "_key": pd.Series([k[1] for k in holders], dtype=users["_key"].dtype),
            "principal_id": pd.Series([h[0] for h in held_by], dtype=users["principal_id"].dtype),
            "user_upn": pd.Series([h[1] for h in held_by], dtype=users["user_upn"].dtype),
            **{
                name: pd.Series(["; ".join(sorted(h[i])) for h in held_by], dtype=object)
                for i, name in ((2, "roles"), (3, "assignments"), (4, "groups"))
            },
        }
    )


def privileged_lookup(
    data: ReviewData, times: np.ndarray, ids: pd.Series, upns: pd.Series, registration: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Whether each account held a privileged role at the time: any available signal says so.

    The signals are the ``privileged`` table (active, eligible, via a group, or ``isAdmin``; the latest roles
    snapshot at or before the time) when the roles source is complete, and the registration report's
    ``is_admin`` flag (latest snapshot at or before the time) when registration is complete. An account flagged
    ``is_admin`` but absent from the role data is privileged, and ``mismatch`` marks it. Returns one row per
    event (positional): ``privileged`` (nullable boolean; missing when neither source is there), ``roles``,
    ``assignments``, ``groups`` ("; "-joined), ``basis`` ("roles" when the role data lists the account,
    "registration" when only ``is_admin`` does or when it is the only signal, missing without either),
    ``mismatch`` (boolean) and ``gaps`` (what the role data lacks, "; "-joined, or missing when it is whole:
    a "not privileged" answer is then certain only when ``gaps`` is missing). ``registration``: the
    :func:`registration_lookup` of the same accounts and times, when the caller made it (its ``is_admin`` is used).
    """
    n = len(times)
    out = pd.DataFrame(index=pd.RangeIndex(n))
    has_roles, has_registration = data.has("roles"), data.has("registration")
    if has_roles:
        listed, found_cols = _role_holders(data, times, ids, upns)
    else:
        listed = np.zeros(n, dtype=bool)
        found_cols = {c: np.full(n, None, dtype=object) for c in ("roles", "assignments", "groups")}
    if not (has_registration and n):
        flagged = np.zeros(n, dtype=bool)
    elif registration is not None:
        flagged = registration["is_admin"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    else:
        flagged = _admin_flags(data, times, ids, upns)
    if not has_roles and not has_registration:
        out["privileged"] = pd.array([None] * n, dtype="boolean")
        for col in ("roles", "assignments", "groups", "basis"):
            out[col] = pd.array([None] * n, dtype="string")
        out["mismatch"] = np.zeros(n, dtype=bool)
        out["gaps"] = pd.array(["; ".join(data.lacks("roles"))] * n, dtype="string")
        return out
    only_flag = flagged & ~listed
    out["privileged"] = pd.array(listed | flagged, dtype="boolean")
    roles = found_cols["roles"].copy()
    roles[only_flag] = "(an administrator role; from the registration report's isAdmin)"
    assignments = found_cols["assignments"].copy()
    assignments[only_flag] = "isAdmin"
    out["roles"] = pd.array(roles, dtype="string")
    out["assignments"] = pd.array(assignments, dtype="string")
    out["groups"] = pd.array(found_cols["groups"], dtype="string")
    basis = np.where(listed, "roles", np.where(only_flag | (not has_roles), "registration", "roles"))
    out["basis"] = pd.array(basis.astype(object), dtype="string")
    out["mismatch"] = only_flag & has_roles
    gaps = "; ".join(data.lacks("roles")) or None
    out["gaps"] = pd.array([gaps] * n, dtype="string")
    return out


def _role_holders(
    data: ReviewData, times: np.ndarray, ids: pd.Series, upns: pd.Series
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per account at its time: listed in the roles snapshot in force (latest at or before the time), and its
    ``roles``, ``assignments`` and ``groups`` ("; "-joined, ``None`` when not listed)."""
    n = len(times)
    listed = np.zeros(n, dtype=bool)
    found_cols: dict[str, np.ndarray] = {c: np.full(n, None, dtype=object) for c in ("roles", "assignments", "groups")}
    users = data.derived(PrivilegedIndex.of).role_users
    if not (len(users) and n):
        return listed, found_cols
    snap_ns = users["_snap"].to_numpy()
    dates = np.unique(snap_ns[snap_ns != NAT])
    needed = dates[np.clip(np.searchsorted(dates, times, side="right") - 1, 0, None)]
    wanted_ids = set(lower(pd.Series(ids.to_numpy(), dtype="string")).dropna().tolist())
    wanted_upns = set(lower(pd.Series(upns.to_numpy(), dtype="string")).dropna().tolist())
    users = users[np.isin(snap_ns, needed) & (isin(users["_id"], wanted_ids) | isin(users["_upn"], wanted_upns))]
    found = snapshot_lookup(
        times,
        ids,
        upns,
        _holders(users),
        id_col="principal_id",
        upn_col="user_upn",
        columns=["roles", "assignments", "groups"],
    )
    listed = found["found"].to_numpy(dtype=bool)
    for col in found_cols:
        found_cols[col] = found[col].to_numpy(dtype=object)
    return listed, found_cols


def _admin_flags(data: ReviewData, times: np.ndarray, ids: pd.Series, upns: pd.Series) -> np.ndarray:
    """Per account at its time: flagged ``is_admin`` by the registration snapshot in force."""
    if not len(times):
        return np.zeros(0, dtype=bool)
    window = data.derived(WindowRegistration.of)
    reg = snapshot_lookup(
        times,
        ids,
        upns,
        window.rows,
        id_col="user_id",
        upn_col="user_upn",
        columns=["is_admin"],
        day=data.snapshot_day("registration"),
        snap_ns=window.snap,
        keys=window.keys,
    )
    return reg["is_admin"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def registration_lookup(data: ReviewData, times: np.ndarray, ids: pd.Series, upns: pd.Series) -> pd.DataFrame:
    """Each account's row in the latest registration snapshot at or before the time (positional), with
    ``found``; empty columns when registration is not complete."""
    columns: Sequence[str] = (
        "is_admin",
        "is_sspr_registered",
        "is_sspr_enabled",
        "is_sspr_capable",
        "methods_registered",
        "method_count",
    )
    if data.lookups is not None:
        data.lookups.append(pd.DataFrame({"user_id": ids.to_numpy(), "user_upn": upns.to_numpy()}, dtype="string"))
    window = data.derived(WindowRegistration.of) if data.has("registration") else None
    rows = data.registration.iloc[0:0] if window is None else window.rows
    return snapshot_lookup(
        times,
        ids,
        upns,
        rows,
        id_col="user_id",
        upn_col="user_upn",
        columns=list(columns),
        day=data.snapshot_day("registration"),
        snap_ns=None if window is None else window.snap,
        keys=None if window is None else window.keys,
    )


def in_roles(data: ReviewData, reg: pd.DataFrame, reg_snap: np.ndarray) -> np.ndarray:
    """Registration rows whose user is in the roles snapshot the window uses (:meth:`ReviewData.roles`; without
    a chosen one, the latest roles snapshot at or before the registration snapshot)."""
    return roles_match(data.roles(), reg, reg_snap)


def role_candidates(priv: pd.DataFrame) -> tuple[set[str], set[str]]:
    """The ids (as given and lower-cased) and lower-cased UPNs of the user principals in ``priv``: a
    registration row can be in a role only if its ``user_id`` is one of the ids, or, without an id, its
    lower-cased UPN is one of the UPNs (see :func:`roles_match`)."""
    ptype = lower(priv["principal_type"])
    priv = priv[((ptype == "user") | ptype.isna()).to_numpy(dtype=bool)]
    return set(lower(priv["principal_id"]).dropna()) | set(priv["principal_id"].dropna()), set(
        lower(priv["user_upn"]).dropna()
    )


def roles_match(priv: pd.DataFrame, reg: pd.DataFrame, reg_snap: np.ndarray) -> np.ndarray:
    """:func:`in_roles` against the ``privileged`` table ``priv``."""
    if priv.empty or reg.empty:
        return np.zeros(len(reg), dtype=bool)
    ptype = lower(priv["principal_type"])
    priv = priv[((ptype == "user") | ptype.isna()).to_numpy(dtype=bool)]
    ids = lower(priv["principal_id"])
    upns = lower(priv["user_upn"])
    reg_ids = reg["user_id"].astype("string")
    reg_upns = reg["user_upn"].astype("string")
    candidates = isin(reg_ids, set(ids.dropna()) | set(priv["principal_id"].dropna()))
    no_id = np.flatnonzero(reg_ids.isna().to_numpy(dtype=bool))
    candidates[no_id] = lower_isin(reg_upns.iloc[no_id], upns.dropna())
    rows = np.flatnonzero(candidates)
    out = np.zeros(len(reg), dtype=bool)
    if rows.size == 0:
        return out
    priv_ns = ns(priv["snapshot_date"])
    dates = np.unique(priv_ns[priv_ns != NAT])
    use = dates[np.clip(np.searchsorted(dates, reg_snap[rows], side="right") - 1, 0, None)]
    # the candidates are the role holders' rows, a few each: matched as (snapshot, id) and (snapshot, UPN) pairs
    snaps = priv_ns.tolist()
    by_id = {(at, key) for at, key in zip(snaps, _texts(ids), strict=True) if key is not None}
    by_upn = {(at, key) for at, key in zip(snaps, _texts(upns), strict=True) if key is not None}
    mine = zip(use.tolist(), _texts(lower(reg_ids.iloc[rows])), _texts(lower(reg_upns.iloc[rows])), strict=True)
    out[rows] = [(at, key) in by_id or (at, upn) in by_upn for at, key, upn in mine]
    return out


def _texts(values: pd.Series) -> list[str | None]:
    """A string column's values, ``None`` where missing (``pd.NA`` cannot be compared in a set's lookup)."""
    return [None if value is pd.NA else str(value) for value in values.tolist()]
