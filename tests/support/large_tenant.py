"""A large tenant's audit history in memory, built as ``benchmarks/synth.py`` builds its store: two weeks of the
demo tenant at the wanted size, repeated back in time (every record and correlation id made unique per copy),
and SSPR bursts injected on top of it, as Graph's records would show them once normalised."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from sspr_review.core import schema
from sspr_review.ingest import normalize
from sspr_review.sources.demo.planted import Planted
from sspr_review.sources.demo.tenant import DemoTenant

SSPR = "Self-service Password Management"
PROGRESS = "Self-service password reset flow activity progress"
RESET = "Reset password (self-service)"


def repeated_audit(users: int, end: datetime, copies: int, *, seed: int = 7) -> tuple[pd.DataFrame, Planted]:
    """``copies`` × two weeks of the demo tenant's audit events ending at ``end``, and its planted cases (in the
    last week of every copy)."""
    tenant = DemoTenant(users=users, weeks=2, seed=seed, end=end)
    audit, _ = normalize.audit(tenant.directory_audits())
    parts = []
    for k in range(copies):
        part = audit.copy()
        part["activity_time"] = part["activity_time"] - pd.Timedelta(days=14 * k)
        for col in ("id", "correlation_id") if k else ():
            part[col] = part[col] + f"~{k}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True), tenant.planted


def burst(
    accounts: Sequence[tuple[str, str]], start: pd.Timestamp, spread_minutes: float, ips: Sequence[str], tag: str
) -> pd.DataFrame:
    """Completed SSPR flows (verified by SMS) of ``accounts`` (object id, UPN), evenly over ``spread_minutes`` from
    ``start``, from ``ips`` in turn: the audit rows of an injected burst."""
    step = spread_minutes / max(len(accounts) - 1, 1)
    rows: list[dict[str, Any]] = []
    for i, (user_id, upn) in enumerate(accounts):
        done = start + pd.Timedelta(minutes=step * i)
        corr = f"{tag}-{i}"
        who = {
            "service": SSPR,
            "correlation_id": corr,
            "initiator_type": "user",
            "initiator_id": user_id,
            "initiator_upn": upn,
            "ip": ips[i % len(ips)],
            "target_id": user_id,
            "target_upn": upn,
            "user_id": user_id,
            "user_upn": upn,
            "result": "success",
        }
        for k, (activity, reason) in enumerate(
            (
                (PROGRESS, "User submitted their user ID"),
                (PROGRESS, "User started the mobile SMS verification option"),
                (PROGRESS, "User completed the mobile SMS verification option"),
                (RESET, None),
            )
        ):
            at = done - pd.Timedelta(seconds=30 * (3 - k))
            rows.append(
                {**who, "id": f"{corr}-{k}", "activity": activity, "result_reason": reason, "activity_time": at}
            )
    return schema.conform(pd.DataFrame(rows), "audit")
