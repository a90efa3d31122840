"""B3: the weekly review and the adoption trend over a year of history, at 100,000 and 500,000 users.

For each size a year of store history is built once (``synth.py``, cached, not timed). Then a fresh Python
process opens the store and runs ``Workspace.review()``: it reads the tables, prepares flows and derived
tables, computes the weekly metrics over the whole year (the trend), this week's and last week's findings
(for new/continuing/resolved) and the flow summary: everything the weekly review and the adoption trends
notebooks show. Reported: wall time (with its phases), peak resident memory of that process (RSS, as the
kernel counts it: pandas and Arrow allocate outside Python's heap) and its baseline before the review.

Run: ``python benchmarks/bench_analysis.py [--users 100000 500000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import common
import synth

#: Issue 24's targets for the review of the last week: seconds, MB of peak resident memory.
TARGETS = {100_000: (1.5, 500.0), 500_000: (5.0, 1536.0)}


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    import os

    return round(pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)


def measure(root: str, week_ending: str) -> None:
    """Child process: time ``Workspace.review`` on the store at ``root``; print one JSON line."""
    started = time.perf_counter()
    from sspr_review.analysis import review as review_mod
    from sspr_review.app.workspace import Workspace
    from sspr_review.core import config
    from sspr_review.ingest.store.history import Store

    imported = time.perf_counter() - started
    phases: dict[str, float] = {}

    def timed(name: str, func: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                phases[name] = phases.get(name, 0.0) + time.perf_counter() - t0

        return wrapper

    from sspr_review.analysis import inputs as analysis_inputs
    from sspr_review.app import aggregates as app_aggregates
    from sspr_review.app import inputs as app_inputs
    from sspr_review.app import review as app_review

    # The review looks these up in the modules' globals when it runs, so patching them there times them.
    Store.read = timed("read tables", Store.read)  # type: ignore[method-assign]
    app_inputs.registration_counts = timed(
        "registration counts (per snapshot, kept in the store)", app_inputs.registration_counts
    )
    app_aggregates.history = timed("weekly aggregates (the trend's earlier weeks)", app_aggregates.history)
    app_review.keep_recent = timed("weekly aggregates kept", app_review.keep_recent)
    analysis_inputs.prepare = timed("prepare (events, flows, resets)", analysis_inputs.prepare)
    review_mod.weekly_metrics = timed("weekly metrics (trend)", review_mod.weekly_metrics)
    review_mod.week_findings = timed("findings (this week and last)", review_mod.week_findings)
    app_inputs.read_policy_events = timed("SSPR configuration events (read with raw)", app_inputs.read_policy_events)
    review_mod.policy_state = timed("SSPR configuration (last values, posture)", review_mod.policy_state)
    ws = Workspace(config.load(env={"SSPR_REVIEW_STORE_PATH": root}), "graph")
    baseline = _rss_mb()
    t0 = time.perf_counter()
    review = ws.review(week_ending)
    wall = time.perf_counter() - t0
    phases["other"] = wall - sum(phases.values())
    data = review.data
    assert data is not None
    print(
        json.dumps(
            {
                "wall_s": round(wall, 2),
                "import_s": round(imported, 2),
                "phases_s": {k: round(v, 2) for k, v in phases.items()},
                "baseline_rss_mb": baseline,
                "peak_rss_mb": common.peak_rss_mb(),
                "rows": {
                    "audit": len(data.audit),
                    "risk": len(data.risk),
                    "registration": len(data.registration),
                    "privileged": len(data.privileged),
                    "flows": len(data.flows),
                },
                "weeks_in_trend": len(review.weekly),
                "findings": len(review.findings),
                "findings_by_kind": _kinds(review.findings),
                "flows_in_week": len(review.flows),
                "comparison": None
                if review.comparison is None
                else {
                    "new": len(review.comparison.new),
                    "continuing": len(review.comparison.continuing),
                    "resolved": len(review.comparison.resolved),
                },
            }
        )
    )


def review_once(root: str, week_ending: str) -> dict[str, Any]:
    """One review of the store at ``root`` in a fresh process (:func:`measure`): its figures."""
    return common.child(f"import bench_analysis; bench_analysis.measure({root!r}, {week_ending!r})")


def timed_reviews(root: str, week_ending: str, repeat: int) -> dict[str, Any]:
    """``repeat`` reviews (:func:`review_once`): the fastest's figures, every run's wall time and the highest peak."""
    runs = [review_once(root, week_ending) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["wall_s"])
    return {**best, "runs_wall_s": [r["wall_s"] for r in runs], "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs)}


def _kinds(findings: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        out[f.kind] = out.get(f.kind, 0) + 1
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[100_000, 500_000])
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="runs per size (the fastest is reported; the first rebuilds the SSPR configuration cache)",
    )
    args = parser.parse_args(argv)
    from sspr_review.core.weeks import last_monday

    end = last_monday("UTC")
    week_ending = f"{end:%Y-%m-%d}"
    previous = common.load("analysis") or {}
    result: dict[str, Any] = {"sizes": dict(previous.get("sizes", {})), "week_ending": week_ending}
    for users in args.users:
        print(f"B3: {users} users, a year of history: building or reusing the store ...", flush=True)
        t0 = time.perf_counter()
        root = synth.build(users, end)
        built = time.perf_counter() - t0
        size = synth.sizes(root)
        # The first run reads the SSPR configuration's events from every month file (a store's first review); the
        # later ones from the cache it leaves (a weekly review after a fetch rescans only the months rewritten).
        (root / "graph" / "cache" / "policy-events.parquet").unlink(missing_ok=True)
        best = timed_reviews(str(root), week_ending, args.repeat)
        target_s, target_mb = TARGETS.get(users, (None, None))
        entry = {
            "users": users,
            "store": size,
            "store_build_s": round(built, 1),
            **best,
            "target_s": target_s,
            "target_mb": target_mb,
            "time_met": None if target_s is None else bool(best["wall_s"] <= target_s),
            "memory_met": None if target_mb is None else bool(best["peak_rss_mb_max"] <= target_mb),
            "met": None
            if target_s is None
            else bool(best["wall_s"] <= target_s and best["peak_rss_mb_max"] <= target_mb),
            "load_average": round(os.getloadavg()[0], 1),  # a shared machine's load explains a missed target
        }
        entry["us_per_audit_row"] = round(entry["wall_s"] / max(size["audit"], 1) * 1e6, 2)
        entry["mb_per_million_audit_rows"] = round(
            (entry["peak_rss_mb_max"] - best["baseline_rss_mb"]) / max(size["audit"], 1) * 1e6, 1
        )
        result["sizes"][str(users)] = entry
        print(
            f"B3 {users} users: {size['audit']} audit rows, {size['registration']} registration rows; review "
            f"{best['wall_s']} s (runs {entry['runs_wall_s']}), peak RSS {entry['peak_rss_mb_max']} MB "
            f"(baseline {best['baseline_rss_mb']} MB); phases {best['phases_s']}",
            flush=True,
        )
    common.save("analysis", result)
    print(json.dumps(result["sizes"], indent=1)[:0], end="")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
