"""The demo tenant's store, filled as weekly scheduled runs would have filled it: one fetch per week of its history.

The demo store is rebuilt from scratch, so repeated demos give the same store. It is built in a temporary folder
beside the store and renamed into place when complete, under the demo build lock (``<store root>/.demo-build.lock``,
held through ``filelock``): a reader sees the old store or the new one, never a half-built one, and a second
process that wants the store waits for the build in flight, saying so.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from ..core.files import private_dir
from ..core.weeks import zone
from ..ingest.fetch import FetchResult
from ..ingest.progress import Progress
from ..ingest.store import Store, waiting_lock
from ..sources.demo.tenant import DemoTenant

#: One fetch of the demo tenant into a store, looking at the tenant as it was at a moment.
FetchWeek = Callable[[Store, datetime], FetchResult]


def build_demo_history(
    store: Store,
    tenant: DemoTenant,
    fetch_week: FetchWeek,
    *,
    progress: bool | None = None,
    if_missing: bool = False,
    timezone: str = "UTC",
) -> list[FetchResult]:
    """Rebuild ``store`` from ``tenant``'s history, one ``fetch_week`` per week; the fetches' results.

    One progress bar counts the weeks, naming the week each fetch completes (in ``timezone``); ``fetch_week``
    draws none of its own. With ``if_missing`` nothing is built when the store holds audit data once the lock is
    held (another process built it meanwhile)."""
    private_dir(store.root)
    building = store.root / f".building-{store.tenant}-{uuid.uuid4().hex}"
    results: list[FetchResult] = []
    with demo_build_lock(store, progress=progress):
        if if_missing and store.intervals("audit"):
            return results
        moments = fetch_moments(tenant)
        bars = Progress(progress)
        bar = bars.bar("demo tenant", total=len(moments), unit=" weeks")
        try:
            target = Store(building, store.tenant)
            for moment in moments:
                # drawn now: a week's fetch may end within tqdm's redraw interval, and each week should be seen
                bar.set_postfix_str(f"week ending {week_label(moment, timezone)}", refresh=True)
                results.append(fetch_week(target, moment))
                bar.update(1)
            (target.path / ".lock").unlink(missing_ok=True)
            _replace(store, target)
        finally:
            bars.finish()
            shutil.rmtree(building, ignore_errors=True)
    return results


def fetch_moments(tenant: DemoTenant) -> list[datetime]:
    """The moments the weekly fetches of the demo history look at the tenant: one week after its start, then
    every week up to its end (each fetch's data completes the week ending then)."""
    moments = []
    moment = tenant.start + timedelta(days=7)
    while moment <= tenant.end:
        moments.append(moment)
        moment += timedelta(days=7)
    return moments


def week_label(moment: datetime, timezone: str) -> str:
    """The local date of ``moment`` in ``timezone``: the week ending a weekly fetch at ``moment`` completes."""
    return f"{moment.astimezone(zone(timezone)):%Y-%m-%d}"


def _replace(store: Store, built: Store) -> None:
    """Move the complete ``built`` store into ``store``'s place, the previous one out of the way first."""
    old = store.root / f".old-{store.tenant}-{uuid.uuid4().hex}"
    if store.path.exists():
        os.rename(store.path, old)
    os.rename(built.path, store.path)
    shutil.rmtree(old, ignore_errors=True)


def demo_build_lock(store: Store, *, progress: bool | None = None) -> AbstractContextManager[None]:
    """The demo build lock of ``store``'s root; waiting for another builder is said on stderr (on stdout when
    ``progress`` is given: the caller shows progress there)."""

    def waiting(holder: str) -> None:
        print(
            f"Waiting for pid {holder}, which is building the demo store in {store.path} ...",
            file=sys.stderr if progress is None else sys.stdout,
            flush=True,
        )

    return waiting_lock(store.root / ".demo-build.lock", store.root / ".demo-build.pid", waiting)
