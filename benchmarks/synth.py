"""A year of store history for a large tenant, built fast from two weeks of the demo tenant.

The demo tenant (``sspr_review.demo.DemoTenant``) is generated for two weeks at the wanted size and normalised
with the kit's own code; those two weeks are then repeated back in time, 26 times, with every record id and
correlation id made unique per copy (``<id>~<copy>``) and the times shifted by 14 days per copy. Users stay
the same (a user resets again months later, as in real tenants). The ``raw`` column is each copy's source
record as Graph sent it (ids not rewritten: the analyses read it only for the SSPR configuration's events, whose
changes they take from it, with each copy's id and time from the normalised columns; otherwise only its size on disk
counts).

Registration: one snapshot per week (52), the demo's final state with adoption growing over the year (a
share of the users that is registered at the end was not yet registered in earlier snapshots). Roles: one
snapshot per week. Risk detections: repeated like the audit events. Coverage says the year is complete.

The store is cached in ``benchmarks/.cache`` (keyed by size, history length and format) and reused. ``weeks``
(:func:`build`) sets the history's length (52 by default; the history-length table of ``bench_history.py`` builds
13, 26, 52 and 104): the same two weeks repeated ``weeks / 2`` times, one snapshot per week.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import common
import numpy as np
import pandas as pd

VERSION = 1
WEEKS = 52
SEED = 7
#: Share of the users SSPR-capable at the end that were not yet capable a year before.
ADOPTION_GROWTH = 0.30


def store_root(users: int, end: datetime, weeks: int = WEEKS) -> Path:
    span = "" if weeks == WEEKS else f"-{weeks}w"
    return common.CACHE / f"store-{users}-{end:%Y%m%d}{span}-v{VERSION}"


def _copy(frame: pd.DataFrame, k: int, time_cols: tuple[str, ...], id_cols: tuple[str, ...]) -> pd.DataFrame:
    out = frame.copy()
    shift = pd.Timedelta(days=14 * k)
    for col in time_cols:
        out[col] = out[col] - shift
    if k:
        suffix = f"~{k}"
        for col in id_cols:
            out[col] = out[col] + suffix
    return out


def build(users: int, end: datetime, *, weeks: int = WEEKS, progress: bool = True) -> Path:
    """Build (or reuse) the store for ``users`` ending at ``end`` with ``weeks`` weeks of history (even); returns
    the store root (tenant "graph")."""
    from sspr_review.ingest import normalize
    from sspr_review.ingest.store.history import Store
    from sspr_review.sources.demo.tenant import DemoTenant

    root = store_root(users, end, weeks)
    if (root / "graph" / "coverage.json").exists() and (root / "graph" / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()

    def say(text: str) -> None:
        if progress:
            print(f"  [{time.perf_counter() - started:6.1f} s] {text}", file=sys.stderr, flush=True)

    tenant = DemoTenant(users=users, weeks=2, seed=SEED, end=end)
    audit, _ = normalize.audit(tenant.directory_audits())
    say(f"demo tenant: {len(audit)} audit events in two weeks")
    risk, _ = normalize.risk(tenant.risk_detections(end))
    registration, _ = normalize.registration(tenant.user_registration_details(end), end)
    registration = registration.drop(columns="raw")
    groups = {
        str(a["principal"]["id"])
        for a in tenant.role_assignments()
        if str(a.get("principal", {}).get("@odata.type", "")).endswith(".group")
    }
    privileged = normalize.privileged(
        tenant.role_definitions(),
        tenant.role_assignments(),
        tenant.role_eligibility_schedule_instances(),
        {g: tenant.group_members(g) for g in groups},
        end,
        users=registration,
    )
    copies = weeks // 2
    store = Store(root, "graph")
    with store.writing():
        store.write_tenant({"id": "00000000-0000-4000-8000-benchmark000", "name": f"Benchmark {users} users"})
        # audit and risk: oldest copy first, writing each month once all its rows are there
        for table, frame, time_cols, id_cols in (
            ("audit", audit, ("activity_time",), ("id", "correlation_id")),
            ("risk", risk, ("activity_time", "detected_time", "last_updated_time"), ("id", "request_id")),
        ):
            time_col = "activity_time" if table == "audit" else "detected_time"
            pending: list[pd.DataFrame] = []
            for k in range(copies - 1, -1, -1):
                part = _copy(frame, k, time_cols, id_cols)
                pending.append(part)
                copy_end = end - timedelta(days=14 * k)
                month_start = pd.Timestamp(copy_end).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
                if k == 0:
                    month_start = pd.Timestamp(end) + pd.Timedelta(days=62)
                rows = pd.concat(pending, ignore_index=True)
                ready = (rows[time_col] < month_start).fillna(True).to_numpy(dtype=bool)
                if ready.any():
                    store.write(table, rows[ready])
                    say(f"{table}: wrote up to {month_start:%Y-%m}")
                pending = [rows[~ready]] if (~ready).any() else []
            start = end - timedelta(days=14 * copies)
            store.record_interval(table, start, end)
        # snapshots: weekly, adoption growing
        capable = registration["is_sspr_capable"].fillna(False).to_numpy(dtype=bool)
        ids = registration["user_id"].astype(str).to_numpy()
        rank = np.array([int(hashlib.blake2b(i.encode(), digest_size=4).hexdigest(), 16) for i in ids]) / 2**32
        for j in range(weeks - 1, -1, -1):
            moment = end - timedelta(days=7 * j)
            snap = registration.copy()
            snap["snapshot_date"] = pd.Timestamp(moment).tz_convert("UTC").normalize()
            later = capable & (rank < ADOPTION_GROWTH * j / (weeks - 1))
            if later.any():
                snap.loc[later, ["is_sspr_registered", "is_sspr_capable"]] = False
                snap.loc[later, "methods_registered"] = ""
                snap.loc[later, "method_count"] = 0
            store.write_snapshot("registration", snap, moment)
            store.record_snapshot("registration", moment)
            roles = privileged.copy()
            roles["snapshot_date"] = pd.Timestamp(moment).tz_convert("UTC").normalize()
            store.write_snapshot("privileged", roles, moment)
            store.record_snapshot("roles", moment)
        say(f"registration and roles: {weeks} weekly snapshots of {len(registration)} users")
    (root / "graph" / ".complete").touch()
    say("done")
    return root


def sizes(root: Path) -> dict[str, int]:
    """Rows per table and bytes on disk."""
    import pyarrow.parquet as pq

    out: dict[str, int] = {}
    total = 0
    for table in ("audit", "risk", "registration", "privileged"):
        rows = 0
        for file in sorted((root / "graph" / table).glob("*.parquet")):
            rows += pq.ParquetFile(file).metadata.num_rows
            total += file.stat().st_size
        out[table] = rows
    out["bytes_on_disk"] = total
    return out
