"""Lean registration snapshots (``[registration] mode = "lean"``): what the analyses need of them.

A lean snapshot holds Graph's counts (``usersRegisteredByFeature``), every member who is not SSPR-capable, every
administrator and every SSPR-capable guest in full, and of the other users only those the week's rules look up
(:func:`~.lookups.accounts_looked_up`, run by the fetch once the week's audit events are stored). The registration
metrics then take the capable members from Graph's count (:func:`lean_counts`), and every rule reads the same
rows it would read in a full snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["lean_counts", "lean_member_counts"]


def lean_counts(counts: pd.DataFrame, lean: Mapping[int, int]) -> pd.DataFrame:
    """:func:`~.metrics.registration_counts` with the member counts of lean snapshots (``lean``: snapshot day →
    Graph's ``ssprCapable`` user count over every user type, from ``usersRegisteredByFeature``) taken from
    Graph's count.

    A lean snapshot holds every member who is not SSPR-capable, every administrator and every SSPR-capable
    guest, but only some capable members: its SSPR-capable members are Graph's count minus the capable
    non-members it holds, and its SSPR-enabled members those plus the enabled members who are not capable it
    holds (Graph's ``isSsprCapable`` means registered *and* enabled by policy). Administrators are counted from
    its rows, which hold them all.
    """
    if not lean or counts.empty:
        return counts
    days = counts["day"].to_numpy(dtype=np.int64)
    graph = pd.Series(dict(lean), dtype="float64").reindex(days).to_numpy(dtype=np.float64)
    hit = ~np.isnan(graph)
    if not hit.any():
        return counts
    out = counts.copy()
    held = out["capable_members"].to_numpy(dtype=np.float64)
    capable = np.where(hit, graph - out["capable_non_members"].to_numpy(dtype=np.float64), held)
    not_capable = out["enabled_members"].to_numpy(dtype=np.float64) - held
    out["capable_members"] = capable.astype(np.int64)
    out["enabled_members"] = (capable + not_capable).astype(np.int64)
    return out


def lean_member_counts(
    graph_capable: int, member: np.ndarray, enabled: np.ndarray, capable: np.ndarray
) -> tuple[int, int]:
    """(SSPR-enabled members, SSPR-capable members) of one lean snapshot from its rows' flags and Graph's
    ``ssprCapable`` count (see :func:`lean_counts`)."""
    cap = int(graph_capable) - int((~member & capable).sum())
    return cap + int((member & enabled & ~capable).sum()), cap
