"""The ``registration_gap`` rule (SSPR registration below target, administrators not SSPR-capable) and the
accounts flagged ``isAdmin`` that the role data does not list."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..core.settings import AnalysisSettings
from ..core.weeks import zone
from ..core.wording import capitalised, count, words_list
from ._util import (
    NAT,
    NS_PER_DAY,
    as_datetime,
    first_sorted,
    iso,
    lower_isin,
    ns,
    plain,
)
from .accounts import display_name
from .lean import lean_member_counts
from .model import Finding, fingerprint
from .prepare import ReviewData
from .privileged import WindowRegistration, in_roles
from .window import ReviewWindow

__all__ = ["admins_not_in_roles", "find_registration_gaps"]


def _week_snapshot(data: ReviewData, window: ReviewWindow) -> pd.DataFrame:
    """Registration rows of the snapshot the window uses (:attr:`ReviewData.snapshots`); without a chosen one,
    the latest snapshot dated within the week (see :mod:`.metrics`), else the latest snapshot dated on or before
    the week's end day."""
    reg = data.registration
    if reg.empty:
        return reg
    columns = ["snapshot_date", "user_id", "user_upn", "user_type", "is_sspr_enabled", "is_sspr_capable", "is_admin"]
    if data.snapshot_day("registration") is not None:
        picked: pd.DataFrame = data.derived(WindowRegistration.of).rows[columns]
        return picked
    snap = ns(reg["snapshot_date"])
    day = np.where(snap == NAT, np.iinfo(np.int64).min, snap // NS_PER_DAY)
    tz = zone(window.timezone)
    epoch = pd.Timestamp("1970-01-01").date().toordinal()
    end_day = window.end.astimezone(tz).date().toordinal() - epoch
    usable = (snap != NAT) & (day <= end_day)
    if not usable.any():
        return reg.iloc[0:0]
    chosen = day[usable].max()
    result: pd.DataFrame = reg[columns][day == chosen]
    return result


def find_registration_gaps(data: ReviewData, window: ReviewWindow, settings: AnalysisSettings) -> list[Finding]:
    """``registration_gap``: SSPR-capable share of SSPR-enabled member users below ``registration_target``
    (low), or administrators not SSPR-capable (medium). With the role data missing or incomplete, administrators
    may hide among the users not capable: medium, the title saying so (``evidence.role_data_gaps``)."""
    snap = _week_snapshot(data, window)
    if snap.empty:
        return []
    member = lower_isin(snap["user_type"], ["member"])
    enabled = snap["is_sspr_enabled"].astype("boolean").fillna(True).to_numpy(dtype=bool)
    capable = snap["is_sspr_capable"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    admin = snap["is_admin"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    admin |= in_roles(data, snap, ns(snap["snapshot_date"]))
    scope = member & enabled
    den = int(scope.sum())
    cap = int((scope & capable).sum())
    graph_capable = data.registration_lean.get(int(ns(snap["snapshot_date"])[0]) // NS_PER_DAY)
    if graph_capable is not None:  # a lean snapshot: the capable members from Graph's count (see .lean)
        den, cap = lean_member_counts(graph_capable, member, enabled, capable)
    coverage = cap / den if den else None
    admins_missing = sorted(display_name(snap[admin & ~capable]).astype(str))
    missing = first_sorted(display_name(snap[scope & ~capable & ~admin]), settings.max_users_listed)  # shown
    below = coverage is not None and coverage < settings.registration_target
    if not below and not admins_missing:
        return []
    limit = settings.max_users_listed
    parts = []
    if coverage is not None:
        parts.append(
            f"SSPR registration {coverage:.1%} of {den:,} enabled members (target {settings.registration_target:.0%})"
        )
    if admins_missing:
        parts.append(f"{len(admins_missing)} administrators not SSPR-capable")
    gaps = list(data.gaps.get("roles", ()))  # as the coverage names them (no coverage given: isAdmin suffices)
    if gaps and not admins_missing:  # administrators the role data lacks could be among the users not capable
        parts.append("role data incomplete, administrators not ruled out among them")
    evidence = {
        "snapshot_date": iso(snap["snapshot_date"].iloc[0]),
        "coverage": coverage,
        "target": settings.registration_target,
        "enabled_members": den,
        "capable_members": cap,
        "not_registered": den - cap,
        "admins": int(admin.sum()),
        "admins_not_capable": admins_missing,
        "not_registered_sample": missing[:limit],
        "role_data_gaps": gaps,
    }
    return [
        Finding(
            kind="registration_gap",
            severity="medium" if admins_missing or gaps else "low",
            title="; ".join(parts),
            users=tuple((admins_missing + missing)[:limit]),
            start=as_datetime(snap["snapshot_date"].iloc[0]),
            end=as_datetime(snap["snapshot_date"].iloc[0]),
            evidence=plain(evidence),
            action=_registration_action(admins_missing, coverage is not None and below),
            fingerprint=fingerprint("registration_gap"),
        )
    ]


def _registration_action(admins: list[str], below: bool) -> str:
    """What to do, true for the case: the administrators who are not SSPR-capable first, by name, then a
    campaign for the members when their coverage is below the target."""
    campaign = "run a registration campaign (combined registration enforced at sign-in, or a registration policy)"
    if not admins:
        return f"{capitalised(campaign)} for the members who are not SSPR-capable yet."
    named = words_list([*admins[:3], *([count(len(admins) - 3, "other")] if len(admins) > 3 else [])])
    ask = f"Ask {named} ({'an administrator' if len(admins) == 1 else 'administrators'}) to register SSPR methods now"
    return f"{ask}, and {campaign} for the other members." if below else f"{ask}."


def admins_not_in_roles(data: ReviewData, window: ReviewWindow) -> list[str]:
    """Accounts the week's registration snapshot flags ``isAdmin`` that the role data does not list (sorted; empty
    unless both sources are complete). They count as privileged (:func:`~.privileged.privileged_lookup`); the
    review notes the mismatch."""
    if not (data.has("roles") and data.has("registration")):
        return []
    snap = _week_snapshot(data, window)
    if snap.empty:
        return []
    flagged = snap["is_admin"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    listed = in_roles(data, snap, ns(snap["snapshot_date"]))
    return sorted(set(display_name(snap[flagged & ~listed]).astype(str)))
