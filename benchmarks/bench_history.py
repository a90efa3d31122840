"""B9: the review's cost against the length of the history (13, 26, 52 and 104 weeks at 100,000 users).

A review reads the week, the week before and the windows its rules declare, and takes the trend's earlier weeks
from the weekly aggregates the store keeps (issue 24): its cost should not grow with the history. For each
length a store is built once (``synth.py``, cached, not timed), a first review computes and keeps the store's
weekly aggregates (timed apart: the one-off cost of a store's first review), then fresh Python processes time
``Workspace.review()`` of the last week (``bench_analysis.measure``: wall time, phases, peak resident memory), in
rounds over the lengths (one run of each length per round), the fastest run of each length reported.

Target: the review at 104 weeks takes at most 1.15 times the review at 13 weeks; at 100,000 users, at most 1.5 s
and 500 MB.

Run: ``python benchmarks/bench_history.py [--users 100000] [--weeks 13 26 52 104] [--repeat 3]``; the smallest
check: ``--users 2000 --weeks 4 8 --repeat 1 --no-save``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import bench_analysis
import common
import synth

#: The review at the longest history takes at most this many times the review at the shortest.
GROWTH = 1.15
#: The review of the last week at 100,000 users: seconds, MB.
TARGET_100K = (1.5, 500.0)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, nargs="+", default=[13, 26, 52, 104])
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs per length, in rounds over the lengths (the fastest counts)"
    )
    parser.add_argument(
        "--sample",
        type=int,
        nargs="*",
        default=[0, 13, 26, 39],
        help="weeks back from the last whose review is compared with a review of the full tables (issue 24's "
        "equivalence on a large store), on the store with the most history up to 52 weeks; none: skip",
    )
    parser.add_argument("--no-save", action="store_true", help="print the figures only (a check of the script)")
    args = parser.parse_args(argv)
    from sspr_review.core.weeks import last_monday

    end = last_monday("UTC")
    week_ending = f"{end:%Y-%m-%d}"
    lengths: dict[str, Any] = {}
    roots: dict[int, str] = {}
    for weeks in args.weeks:
        weeks += weeks % 2  # the synthetic history repeats two weeks
        print(f"B9: {args.users} users, {weeks} weeks of history: building or reusing the store ...", flush=True)
        root = synth.build(args.users, end, weeks=weeks, progress=False)
        t0 = time.perf_counter()
        first = bench_analysis.review_once(str(root), week_ending)
        lengths[str(weeks)] = {
            "weeks": weeks,
            "store": synth.sizes(root),
            "first_review_s": first["wall_s"],
            "first_review_process_s": round(time.perf_counter() - t0, 2),
            "first_peak_rss_mb": first["peak_rss_mb"],
        }
        roots[weeks] = str(root)
    # The timed runs go round the lengths in turn, so that the machine's drift over the minutes of the benchmark
    # falls on every length alike (a ratio of runs minutes apart measured the machine as much as the review).
    runs: dict[int, list[dict[str, Any]]] = {weeks: [] for weeks in roots}
    for _ in range(args.repeat):
        for weeks, root in roots.items():
            runs[weeks].append(bench_analysis.review_once(root, week_ending))
    for weeks, timed in runs.items():
        best = min(timed, key=lambda r: r["wall_s"])
        entry = lengths[str(weeks)]
        entry.update(
            {
                **best,
                "runs_wall_s": [r["wall_s"] for r in timed],
                "peak_rss_mb_max": max(r["peak_rss_mb"] for r in timed),
                "load_average": round(os.getloadavg()[0], 1),  # a shared machine's load explains a missed target
            }
        )
        print(
            f"B9 {weeks} weeks: {entry['store']['audit']} audit rows; first review {entry['first_review_s']} s; "
            f"review {best['wall_s']} s (runs {entry['runs_wall_s']}), peak RSS {entry['peak_rss_mb_max']} MB; "
            f"phases {best['phases_s']}",
            flush=True,
        )
    entries = sorted(lengths.values(), key=lambda e: e["weeks"])
    if args.sample:
        weeks = max((e["weeks"] for e in entries if e["weeks"] <= 52), default=entries[0]["weeks"])
        root = synth.build(args.users, end, weeks=weeks, progress=False)
        print(f"B9: {weeks} weeks: comparing the reviews of {args.sample} weeks back with the full tables' ...")
        equivalence = {"weeks": weeks, **equivalent(str(root), end, [b for b in args.sample if b < weeks])}
        print(f"B9: identical: {equivalence['identical']}", flush=True)
    shortest, longest = entries[0], entries[-1]
    ratio = round(longest["wall_s"] / shortest["wall_s"], 2) if shortest["wall_s"] else None
    result: dict[str, Any] = {
        "users": args.users,
        "week_ending": week_ending,
        "lengths": lengths,
        "growth": ratio,
        **({"equivalence": equivalence} if args.sample else {}),
        "growth_target": GROWTH,
        "growth_met": None if ratio is None or len(entries) < 2 else ratio <= GROWTH,
        "target_s": TARGET_100K[0] if args.users == 100_000 else None,
        "target_mb": TARGET_100K[1] if args.users == 100_000 else None,
    }
    if result["target_s"] is not None:
        result["target_met"] = all(
            e["wall_s"] <= TARGET_100K[0] and e["peak_rss_mb_max"] <= TARGET_100K[1] for e in entries
        )
    print(
        f"B9: the review at {longest['weeks']} weeks takes {ratio} × the review at {shortest['weeks']} weeks "
        f"(target ≤ {GROWTH})",
        flush=True,
    )
    if args.no_save:
        print(json.dumps(result, indent=1, default=str))
    else:
        common.save("history", result)
    return result


def equivalent(root: str, end: Any, back: list[int]) -> dict[str, Any]:
    """Review each of the weeks ``back`` weeks before ``end``'s as ``Workspace.review`` does (time-bounded reads,
    weekly aggregates) and from the store's full tables (``tests/support/reference.py``, the computation before
    issue 24); the same findings.json, trend and leaked-credential trend, week by week."""
    sys.path.insert(0, str(common.ROOT))
    from sspr_review.app.workspace import Workspace
    from sspr_review.core import config
    from tests.support.reference import Reference, assert_same

    ws = Workspace(config.load(env={"SSPR_REVIEW_STORE_PATH": root}), "graph")
    reference = Reference(ws)
    weeks: dict[str, bool] = {}
    for b in back:
        week = ws.window(end).shift(b).week_ending.isoformat()
        try:
            assert_same(ws.review(week), reference.review(week))
            same = True
        except AssertionError:
            same = False
        weeks[week] = same
        print(f"B9: week ending {week}: {'identical' if same else 'DIFFERENT'}", flush=True)
    return {"compared": weeks, "identical": all(weeks.values())}


if __name__ == "__main__":
    main(sys.argv[1:])
