"""B5: the weekly run with a lean registration fetch against a full one, at Graph's documented throttles.

The test Graph server (``tests/support/graph_server/``, its own process, the same as B1/B2) enforces the reports
budget (5 requests / 10 s, shared by directoryAudits, userRegistrationDetails and the two count functions) and
Identity Protection's (1 request / s) on a clock scaled by ``--scale``, serving two weeks of a ``--users``
tenant. The store holds the first week (one full fetch, not measured); it is copied, and the second week's
fetch — the weekly run — is measured on each copy in a fresh process, once with ``[registration] mode =
"full"`` and once with ``"lean"``: every request the server answered, the throttled ones (reports and Identity
Protection buckets), 429s, wall time, and the throttle lower bound, at the scale and at the real budgets
(``(ceil(n / 5) - 1) × 10 s`` for the reports bucket's ``n`` requests).

Run: ``python benchmarks/bench_lean.py [--users 100000] [--scale 0.1]``.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import bench_fetch as bf
import common

#: The buckets Graph throttles (the directory endpoints: roles, policy, organization are not in them).
THROTTLED = ("reports", "identityProtection")


def measure(server: bf.Server, store: str, scale: float, as_of: Any, mode: str) -> dict[str, Any]:
    os.environ["SSPR_REVIEW_REGISTRATION_MODE"] = mode
    url = server.start("week2")
    kit = bf.in_child(bf.kit_fetch, url, store, scale, as_of.isoformat())
    figures = bf.server_figures(server.stop(), scale, kit)
    by_bucket = figures["requests_by_bucket"]
    reports = by_bucket.get("reports", 0)
    real_bound = max(
        (math.ceil(by_bucket.get(name, 0) / limit) - 1) * window if by_bucket.get(name, 0) else 0.0
        for name, (limit, window) in bf.LIMITS.items()
    )
    reg = kit["outcomes"]["registration"]
    return {
        "mode": mode,
        "ok": all(o["ok"] for o in kit["outcomes"].values()),
        "wall_s": round(kit["wall"], 2),
        "requests": figures["requests"],
        "throttled_requests": sum(by_bucket.get(b, 0) for b in THROTTLED),
        "reports_requests": reports,
        "registration_requests": reg["requests"],
        "registration_rows": reg["records"],
        "audit_requests": kit["outcomes"]["audit"]["requests"],
        "429": figures["429"],
        "lower_bound_s": round(figures["lower_bound_s"], 2),
        "real_lower_bound_s": round(real_bound, 1),
        # the measured wall time with its throttle-bound part grown to the real budgets (as B1's estimate)
        "real_estimate_s": round(kit["wall"] + figures["lower_bound_s"] * (1 / scale - 1), 1),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=0.1, help="time scale of the throttles (0.1: 10 s -> 1 s)")
    args = parser.parse_args(argv)
    from sspr_review.core.weeks import last_monday

    end = last_monday("UTC")
    week1 = end - timedelta(days=7)
    print(f"B5: {args.users} users, time scale {args.scale}; building the server's tenant ...", flush=True)
    server = bf.Server(args.users, end, args.scale)
    result: dict[str, Any] = {"users": args.users, "scale": args.scale}
    with tempfile.TemporaryDirectory(prefix="sspr-bench-lean-") as tmp:
        base = str(Path(tmp) / "store")
        try:
            os.environ["SSPR_REVIEW_REGISTRATION_MODE"] = "full"
            url = server.start("week1")
            first = bf.in_child(bf.kit_fetch, url, base, args.scale, week1.isoformat())
            server.stop()
            assert all(o["ok"] for o in first["outcomes"].values()), first["outcomes"]
            runs = {}
            for mode in ("full", "lean"):
                store = str(Path(tmp) / f"store-{mode}")
                shutil.copytree(base, store)
                bf.time.sleep(2 * 10 * args.scale)  # a fresh budget for each run
                runs[mode] = measure(server, store, args.scale, end, mode)
                r = runs[mode]
                print(
                    f"B5 {mode}: {r['wall_s']} s, {r['requests']} requests ({r['throttled_requests']} throttled: "
                    f"{r['registration_requests']} registration, {r['audit_requests']} audit), {r['429']} x 429, "
                    f"{r['registration_rows']} registration rows; at the real budgets at least "
                    f"{r['real_lower_bound_s']} s",
                    flush=True,
                )
        finally:
            server.close()
            os.environ.pop("SSPR_REVIEW_REGISTRATION_MODE", None)
    full, lean = runs["full"], runs["lean"]
    result["runs"] = runs
    result["throttled_ratio"] = round(full["throttled_requests"] / max(lean["throttled_requests"], 1), 2)
    result["wall_ratio"] = round(full["wall_s"] / lean["wall_s"], 2)
    result["real_ratio"] = round(full["real_estimate_s"] / lean["real_estimate_s"], 2)
    result["met"] = result["throttled_ratio"] >= 3
    common.save("lean", result)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
