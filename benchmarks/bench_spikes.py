"""B7: reset spikes at any tenant size: findings per week on ordinary traffic, and recall for injected bursts.

For each size the year of store history of ``synth.py`` is read once (two demo weeks at that size, repeated: the
first week of each pair is ordinary traffic, the second holds the demo's planted cases) and prepared as the review
prepares it. Then, in the same process:

- **Findings per week**: ``reset_spike`` on each of the last four weeks at the defaults, and with the absolute
  rule alone (``spike_baseline_weeks = 0``: the chapter's rule, as before issue 28).
- **Recall**: on the last ordinary week, a burst of *n* accounts is added at the busiest hour (starting ten
  minutes into the hour whose windows hold the most accounts), spread evenly over 10, 30 or 60 minutes, from one
  IP address or each account from its own (in distinct networks). The accounts are existing users with history
  of their own, none resetting that week; the burst is added to the prepared resets (the rule's input) as
  completed self-service resets from those IPs (no verification method: phone-only cannot fire). Found: a
  ``reset_spike`` finding overlapping the burst (the week gives none without it).

Run: ``python benchmarks/bench_spikes.py [--users 100000 500000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from typing import Any

import common
import synth

SIZES = (6, 10, 20, 30, 50, 100, 200)
SPREADS = (10, 30, 60)
MODES = ("one IP", "many IPs")
WEEKS = 4  # the synthetic year repeats two weeks: two ordinary and two planted weeks say it all


def _accounts(data: Any, window: Any, count: int) -> Any:
    """``count`` existing accounts with earlier resets and none in ``window`` (a fixed random sample)."""
    import numpy as np
    import pandas as pd

    resets = data.resets
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    before = resets[(resets["time"] < start).to_numpy(dtype=bool)].dropna(subset=["user_key"])
    busy = set(resets[((resets["time"] >= start) & (resets["time"] < end)).to_numpy(dtype=bool)]["user_key"].dropna())
    pool = before.drop_duplicates("user_key")
    pool = pool[~pool["user_key"].isin(busy).to_numpy(dtype=bool)].sort_values("user_key")
    rng = np.random.default_rng(7)
    return pool.iloc[np.sort(rng.choice(len(pool), size=count, replace=False))]


def _inject(data: Any, pool: Any, start: Any, size: int, spread: int, mode: str, tag: str) -> Any:
    """``data`` with a burst of ``size`` accounts of ``pool`` added to its resets."""
    import pandas as pd

    picked = pool.head(size)
    step = spread / max(size - 1, 1)
    ips = ["198.18.7.7"] * size if mode == "one IP" else [f"198.18.{i}.9" for i in range(size)]
    added = pd.DataFrame(
        {
            "time": [start + pd.Timedelta(minutes=step * i) for i in range(size)],
            "user_id": picked["user_id"].to_numpy(),
            "user_upn": picked["user_upn"].to_numpy(),
            "ip": ips,
            "flow_id": [f"{tag}-{i}" for i in range(size)],
            "correlation_id": [f"{tag}-{i}" for i in range(size)],
            "user_key": picked["user_key"].to_numpy(),
        }
    ).astype(data.resets.dtypes.to_dict())
    resets = pd.concat([data.resets, added], ignore_index=True).sort_values("time", kind="stable")
    return replace(data, resets=resets.reset_index(drop=True))


def _weeks(data: Any, last: Any) -> list[dict[str, Any]]:
    from sspr_review.analysis import AnalysisSettings, find_reset_spikes

    out = []
    for back in range(WEEKS):
        window = last.shift(back)
        t0 = time.perf_counter()
        found = find_reset_spikes(data, window, AnalysisSettings())
        seconds = time.perf_counter() - t0
        chapter = find_reset_spikes(data, window, AnalysisSettings(spike_baseline_weeks=0))
        out.append(
            {
                "week_ending": window.week_ending.isoformat(),
                "kind": "planted" if back % 2 == 0 else "ordinary",
                "findings": len(found),
                "high": sum(f.severity == "high" for f in found),
                "medium": sum(f.severity == "medium" for f in found),
                "absolute_rule": len(chapter),
                "absolute_rule_high": sum(f.severity == "high" for f in chapter),
                "rule_s": round(seconds, 2),
                "titles": [f.title for f in found],
            }
        )
    return out


def _recall(data: Any, window: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    import numpy as np
    import pandas as pd

    from sspr_review.analysis import AnalysisSettings, find_reset_spikes, spike_hours

    settings = AnalysisSettings()
    hours = spike_hours(data, window, settings)
    top = int(np.argmax(hours["accounts"].to_numpy()))
    busiest = hours.iloc[top]
    start = pd.Timestamp(busiest["hour"]) + pd.Timedelta(minutes=10)
    pool = _accounts(data, window, max(SIZES))
    cases = []
    for mode in MODES:
        for spread in SPREADS:
            for size in SIZES:
                tag = f"bench-{mode[0]}-{spread}-{size}"
                found = find_reset_spikes(_inject(data, pool, start, size, spread, mode, tag), window, settings)
                end = start + pd.Timedelta(minutes=spread)
                hits = [
                    f for f in found if f.start is not None and f.end is not None and f.start <= end and f.end >= start
                ]
                cases.append(
                    {
                        "ips": mode,
                        "spread_minutes": spread,
                        "size": size,
                        "found": bool(hits),
                        "severity": hits[0].severity if hits else None,
                        "trigger": hits[0].evidence["trigger"] if hits else [],
                        "signals": hits[0].evidence["signals_fired"] if hits else [],
                    }
                )
    context = {
        "week_ending": window.week_ending.isoformat(),
        "hour": busiest["hour"].isoformat(),
        "accounts": int(busiest["accounts"]),
        "median": None if pd.isna(busiest["median"]) else float(busiest["median"]),
        "expected_high": None if pd.isna(busiest["expected_high"]) else round(float(busiest["expected_high"]), 1),
        "threshold": int(busiest["threshold"]),
        "weeks": int(busiest["weeks"]),
        "findings_without_burst": len(find_reset_spikes(data, window, settings)),
    }
    return context, cases


def measure(root: str, week_ending: str) -> None:
    """Child process: the figures for the store at ``root``; print one JSON line."""
    from sspr_review.analysis import AnalysisSettings, prepare_inputs
    from sspr_review.analysis.prepare import complete_kinds
    from sspr_review.app.inputs import load_inputs
    from sspr_review.app.workspace import Workspace
    from sspr_review.core import config

    ws = Workspace(config.load(env={"SSPR_REVIEW_STORE_PATH": root}), "graph")
    last = ws.window(week_ending)
    t0 = time.perf_counter()
    inputs = prepare_inputs(load_inputs(ws.store, ws.config, last, compare=False), AnalysisSettings())
    assert inputs.prepared is not None
    data = replace(inputs.prepared, complete=complete_kinds(inputs.coverage), covered=inputs.covered)
    loaded = time.perf_counter() - t0
    weeks = _weeks(data, last)
    context, cases = _recall(data, last.shift(1))
    print(
        json.dumps(
            {
                "load_and_prepare_s": round(loaded, 1),
                "resets": len(data.resets),
                "weeks": weeks,
                "busiest": context,
                "recall": cases,
                "peak_rss_mb": common.peak_rss_mb(),
                "load_average": round(os.getloadavg()[0], 1),
            }
        )
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, nargs="+", default=[100_000, 500_000])
    args = parser.parse_args(argv)
    from sspr_review.core.weeks import last_monday

    end = last_monday("UTC")
    week_ending = f"{end:%Y-%m-%d}"
    previous = common.load("spikes") or {}
    result: dict[str, Any] = {"sizes": dict(previous.get("sizes", {})), "week_ending": week_ending}
    for users in args.users:
        print(f"B7: {users} users: building or reusing the store ...", flush=True)
        root = synth.build(users, end)
        code = f"import bench_spikes; bench_spikes.measure({str(root)!r}, {week_ending!r})"
        entry = common.child(code, timeout=3600)
        entry["users"] = users
        result["sizes"][str(users)] = entry
        ordinary = [w for w in entry["weeks"] if w["kind"] == "ordinary"]
        found = sum(c["found"] for c in entry["recall"])
        print(
            f"B7 {users} users: ordinary weeks {[w['findings'] for w in ordinary]} findings at the defaults, "
            f"{[w['absolute_rule'] for w in ordinary]} by the absolute rule alone; recall {found}/"
            f"{len(entry['recall'])}; rule {[w['rule_s'] for w in entry['weeks']]} s",
            flush=True,
        )
    common.save("spikes", result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
