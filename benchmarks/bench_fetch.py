"""B1 and B2: fetch at Graph's documented throttles, the kit against the plain msgraph-sdk way, then the next week.

The test Graph server (``tests/support/graph_server/``) runs in its own process with the documented limits (reports:
5 requests / 10 s; Identity Protection: 1 request / s), time-scaled by ``--scale`` (ratio preserved), serving
one week of a ``--users`` tenant (the demo tenant's first week). Each client runs in a fresh process:

* **B1 kit**: what ``sspr-review fetch`` does (``GraphSource`` + ``fetch_into`` into an empty store), with the
  limiter at the same time scale.
* **B1 plain**: the way one would write it from Microsoft's samples: msgraph-sdk's typed request builders, the
  default page size, ``odata_next_link`` followed sequentially, one query after the other, the SDK's default
  retry handler (3 retries, honouring ``Retry-After``). Its delays are scaled like the server's clock (kiota
  only reads whole-second ``Retry-After`` values, the scaled server sends fractions; see ``_scale_sdk_retries``).
* **B2 kit**: a week later the server holds both weeks; the kit fetches again into the same store.

Run: ``python benchmarks/bench_fetch.py [--users 100000] [--scale 0.1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

TOKEN = "bench-token"
#: Documented limits: (requests, seconds) per bucket.
LIMITS = {"reports": (5, 10.0), "identityProtection": (1, 1.0)}
#: Largest page the server gives per endpoint (directoryAudits $top max, riskDetections $top max,
#: userRegistrationDetails' fixed page).
MAX_PAGE = {"audit": 999, "risk": 500, "registration": 1000}


def endpoint_of(path: str) -> str:
    path = path.lower()
    for suffix, name in (
        ("/directoryaudits", "audit"),
        ("/riskdetections", "risk"),
        ("/userregistrationdetails", "registration"),
    ):
        if path.endswith(suffix):
            return name
    return "other"


def bucket_of(path: str) -> str:
    path = path.lower()
    if path.endswith(("/directoryaudits", "/userregistrationdetails")) or "/usersregisteredby" in path:
        return "reports"
    if path.endswith("/riskdetections"):
        return "identityProtection"
    return "directory"


# -------------------------------------------------------------------------------------------- server process
def serve(conn: Any, users: int, end_iso: str, scale: float) -> None:
    """Server process: build the tenant, then answer ``("start", phase)``, ``("stop",)`` and ``("quit",)``."""
    from sspr_review.sources.demo.tenant import DemoTenant
    from tests.support.graph_server import GraphData, GraphServer

    end = datetime.fromisoformat(end_iso)
    tenant = DemoTenant(users=users, weeks=2, end=end)
    week1 = end - timedelta(days=7)
    first = GraphData.from_demo(tenant, as_of=week1)
    cut = week1.strftime("%Y-%m-%dT%H:%M:%S")
    first.directory_audits = [r for r in first.directory_audits if str(r["activityDateTime"]) < cut]
    data = {"week1": first, "week2": GraphData.from_demo(tenant, as_of=end)}
    conn.send({"audit_records": {k: len(v.directory_audits) for k, v in data.items()}})
    server: GraphServer | None = None
    while True:
        command = conn.recv()
        if command[0] == "start":
            server = GraphServer(data[command[1]], time_scale=scale, token=TOKEN).start()
            conn.send(server.url)
        elif command[0] == "stop":
            assert server is not None
            log = [(r.time, r.path, r.status, "$skiptoken" in r.query) for r in server.requests]
            throttled = server.throttled
            server.stop()
            server = None
            conn.send({"log": log, "throttled": throttled})
        else:
            return


class Server:
    def __init__(self, users: int, end: datetime, scale: float) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        self.proc = ctx.Process(target=serve, args=(child_conn, users, end.isoformat(), scale), daemon=True)
        self.proc.start()
        self.info = self.conn.recv()

    def start(self, phase: str) -> str:
        self.conn.send(("start", phase))
        url: str = self.conn.recv()
        return url

    def stop(self) -> dict[str, Any]:
        self.conn.send(("stop",))
        summary: dict[str, Any] = self.conn.recv()
        return summary

    def close(self) -> None:
        self.conn.send(("quit",))
        self.proc.join(10)


# ------------------------------------------------------------------------------------------------- kit client
def kit_fetch(conn: Any, url: str, store_root: str, scale: float, as_of_iso: str, split: int = 1) -> None:
    """Client process: the kit's fetch, as ``sspr-review fetch`` runs it, with the clock fixed at ``as_of``.

    ``split`` > 1 is the experiment of splitting the audit window into parallel sub-windows: the last week
    (where the records are) in ``split`` equal parts, each with the four queries.
    """
    os.environ.update(
        {
            "SSPR_REVIEW_GRAPH_URL": url,
            "SSPR_REVIEW_ACCESS_TOKEN": TOKEN,
            "SSPR_REVIEW_GRAPH_THROTTLE_TIME_SCALE": str(scale),
            "SSPR_REVIEW_STORE_PATH": store_root,
        }
    )
    from sspr_review.core import config
    from sspr_review.ingest.fetch import fetch_into
    from sspr_review.ingest.store.history import Store
    from sspr_review.sources.base import Pages
    from sspr_review.sources.graph.auth import build_credential
    from sspr_review.sources.graph.source import GraphSource

    as_of = datetime.fromisoformat(as_of_iso)
    seen: dict[str, list[tuple[str, str, int]]] = {"audit": [], "risk": []}
    per_query: dict[str, list[int]] = {"audit": [], "risk": [], "registration": []}

    async def tap(pages: Pages, source: str, time_key: str, query: int) -> Pages:
        async for page in pages:
            per_query[source][query] += len(page)
            if source in seen:
                seen[source].extend((str(r.get("id")), str(r.get(time_key)), query) for r in page)
            yield page

    class Source(GraphSource):
        def now(self) -> datetime:
            return as_of

        def _tapped(self, source: str, key: str, streams: list[Pages]) -> list[Pages]:
            base = len(per_query[source])
            per_query[source].extend([0] * len(streams))
            return [tap(s, source, key, base + i) for i, s in enumerate(streams)]

        def audit(self, start: datetime, end: datetime) -> list[Pages]:
            return self._tapped("audit", "activityDateTime", super().audit(start, end))

        def risk(self, since: datetime, end: datetime) -> list[Pages]:
            return self._tapped("risk", "lastUpdatedDateTime", super().risk(since, end))

        def registration(self) -> list[Pages]:
            return self._tapped("registration", "id", super().registration())

    if split > 1:
        import sspr_review.sources.graph.source as sources_mod

        whole = sources_mod.audit_filters

        def split_filters(start: datetime, end: datetime) -> list[str]:
            week = end - timedelta(days=7)
            cuts = [start, *(week + (end - week) * j / split for j in range(1, split)), end]
            return [f for a, b in itertools.pairwise(cuts) for f in whole(a, b)]

        sources_mod.audit_filters = split_filters
    cfg = config.load(env=dict(os.environ))
    store = Store(cfg.store_path(), "graph")

    async def go() -> Any:
        source = Source(cfg, build_credential(cfg.auth))
        try:
            with store.writing():
                info = await source.tenant()
                if info:
                    store.write_tenant(info)
                return await fetch_into(store, source, cfg, progress=False)
        finally:
            await source.aclose()

    started = time.perf_counter()
    began = time.monotonic()  # system-wide on Linux: comparable with the server process's request times
    result = asyncio.run(go())
    wall = time.perf_counter() - started
    ended = time.monotonic()
    outcomes = {
        name: {
            "ok": o.ok,
            "start": o.start.isoformat() if o.start else None,
            "end": o.end.isoformat() if o.end else None,
            "records": o.records,
            "new": o.new,
            "requests": o.stats.requests if o.stats else 0,
            "pages": o.stats.pages if o.stats else 0,
            "throttled": o.stats.throttled if o.stats else 0,
            "retries": o.stats.retries if o.stats else 0,
            "reason": o.reason,
        }
        for name, o in result.outcomes.items()
    }
    conn.send(
        {
            "wall": wall,
            "began": began,
            "ended": ended,
            "outcomes": outcomes,
            "per_query": per_query,
            "seen": seen,
            "peak_rss_mb": common.peak_rss_mb(),
        }
    )


# ----------------------------------------------------------------------------------------------- plain client
def _scale_sdk_retries(scale: float) -> None:
    """Keep kiota's default retry policy but on the server's scaled clock.

    Real Graph sends ``Retry-After`` in whole seconds, which kiota honours; the time-scaled server sends
    fractions (``"0.9"`` for 9 s at scale 0.1), which kiota would ignore in favour of its 3-5 s backoff, i.e.
    30-50 s of scaled Graph time. So: honour the fractional ``Retry-After`` as sent (already scaled), and
    scale kiota's own backoff (default 3 s base delay + 0.5 * 2^n + up to 1 s jitter) by ``scale``.
    """
    from kiota_http.middleware.retry_handler import RetryHandler

    original = RetryHandler.get_delay_time

    def get_delay_time(self: Any, retry_count: int, response: Any = None, delay: float = 3.0) -> float:
        value = response.headers.get("retry-after") if response is not None else None
        if value:
            try:
                seconds = float(value)
            except ValueError:
                seconds = 0.0
            if seconds > 0:
                return seconds
        return float(original(self, retry_count, None, delay)) * scale

    RetryHandler.get_delay_time = get_delay_time  # type: ignore[method-assign]


def plain_fetch(conn: Any, url: str, scale: float, as_of_iso: str, audit_start_iso: str, risk_start_iso: str) -> None:
    """Client process: msgraph-sdk the plain way (typed models, default page size, sequential paging)."""
    _scale_sdk_retries(scale)
    from kiota_abstractions.base_request_configuration import RequestConfiguration
    from msgraph.generated.audit_logs.directory_audits.directory_audits_request_builder import (
        DirectoryAuditsRequestBuilder,
    )
    from msgraph.generated.identity_protection.risk_detections.risk_detections_request_builder import (
        RiskDetectionsRequestBuilder,
    )
    from msgraph.graph_service_client import GraphServiceClient

    from sspr_review.sources.graph.auth import StaticToken
    from sspr_review.sources.graph.endpoints import audit_filters, risk_filter

    as_of = datetime.fromisoformat(as_of_iso)
    audit_start = datetime.fromisoformat(audit_start_iso)
    risk_start = datetime.fromisoformat(risk_start_iso)

    async def go() -> dict[str, Any]:
        client = GraphServiceClient(credentials=StaticToken(TOKEN), scopes=["https://graph.microsoft.com/.default"])
        client.request_adapter.base_url = url
        records: Counter[str] = Counter()
        errors: list[str] = []
        segments: dict[str, float] = {}
        mark = time.perf_counter()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.perf_counter()
            segments[name] = round(now - mark, 2)
            mark = now

        try:
            audits = client.audit_logs.directory_audits
            for flt in audit_filters(audit_start, as_of):
                query = DirectoryAuditsRequestBuilder.DirectoryAuditsRequestBuilderGetQueryParameters(filter=flt)
                page = await audits.get(request_configuration=RequestConfiguration(query_parameters=query))
                while page is not None:
                    records["audit"] += len(page.value or [])
                    if not page.odata_next_link:
                        break
                    page = await audits.with_url(page.odata_next_link).get()
            lap("audit")
            risky = client.identity_protection.risk_detections
            rquery = RiskDetectionsRequestBuilder.RiskDetectionsRequestBuilderGetQueryParameters(
                filter=risk_filter(risk_start, as_of)
            )
            rpage = await risky.get(request_configuration=RequestConfiguration(query_parameters=rquery))
            while rpage is not None:
                records["risk"] += len(rpage.value or [])
                if not rpage.odata_next_link:
                    break
                rpage = await risky.with_url(rpage.odata_next_link).get()
            lap("risk")
            details = client.reports.authentication_methods.user_registration_details
            dpage = await details.get()
            while dpage is not None:
                records["registration"] += len(dpage.value or [])
                if not dpage.odata_next_link:
                    break
                dpage = await details.with_url(dpage.odata_next_link).get()
            lap("registration")
        except Exception as exc:  # the SDK gives up after its retries: report it, as a user would see it
            errors.append(f"{type(exc).__name__}: {getattr(exc, 'response_status_code', '')} {exc}"[:300])
        return {"records": dict(records), "errors": errors, "segments": segments}

    started = time.perf_counter()
    out = asyncio.run(go())
    out["wall"] = time.perf_counter() - started
    out["cpu_s"] = round(time.process_time(), 1)
    out["peak_rss_mb"] = common.peak_rss_mb()
    conn.send(out)


def in_child(target: Any, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=target, args=(child, *args))
    proc.start()
    result: dict[str, Any] = parent.recv()
    proc.join(30)
    return result


# ---------------------------------------------------------------------------------------------------- figures
def server_figures(summary: dict[str, Any], scale: float, client: dict[str, Any] | None = None) -> dict[str, Any]:
    log = summary["log"]
    by_bucket: dict[str, list[float]] = {}
    statuses: Counter[int] = Counter()
    by_endpoint: Counter[str] = Counter()
    for when, path, status, _follow in log:
        statuses[status] += 1
        if status == 200:
            by_bucket.setdefault(bucket_of(path), []).append(when)
            by_endpoint[endpoint_of(path)] += 1
    first = min((r[0] for r in log), default=0.0)
    bounds = {}
    for name, (limit, window) in LIMITS.items():
        times = sorted(by_bucket.get(name, []))
        n = len(times)
        bounds[name] = {
            "requests": n,
            "lower_bound_s": (math.ceil(n / limit) - 1) * window * scale if n else 0.0,
            "span_s": (times[-1] - times[0]) if n else 0.0,
            "first_at_s": (times[0] - first) if n else None,
        }
    return {
        "requests": len(log),
        "requests_by_bucket": {k: len(v) for k, v in by_bucket.items()},
        "answered_by_endpoint": dict(by_endpoint),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "429": sum(summary["throttled"].values()),
        "429_by_bucket": summary["throttled"],
        "buckets": bounds,
        "lower_bound_s": max(b["lower_bound_s"] for b in bounds.values()),
        **_phases(by_bucket, client),
    }


def _phases(by_bucket: dict[str, list[float]], client: dict[str, Any] | None) -> dict[str, Any]:
    """Where the wall time went: before the first report request, the report span, after the last one."""
    times = sorted(by_bucket.get("reports", []))
    if client is None or not times:
        return {}
    return {
        "before_first_report_request_s": round(times[0] - client["began"], 3),
        "report_span_s": round(times[-1] - times[0], 3),
        "after_last_report_request_s": round(client["ended"] - times[-1], 3),
    }


def unscaled(kit: dict[str, Any], plain: dict[str, Any], scale: float) -> dict[str, Any]:
    """Both runs projected to the real (unscaled) limits.

    CPU time does not shrink with the time scale, so at scale < 1 the plain run's CPU-bound parts weigh more
    than they would against real Graph. Kit: the measured wall time with its throttle-bound part grown to
    scale 1 (windows plus the limiter's margin). Plain, a lower estimate: each part (audit, risk,
    registration, run one after the other) takes at least its measured time (mostly CPU: typed models) and at
    least its own throttle bound at scale 1.
    """
    from sspr_review.sources.graph.ratelimit import MARGIN_FRACTION

    kit_s = kit["wall_s"] + kit["lower_bound_s"] * (1 / scale - 1) * (1 + MARGIN_FRACTION)
    buckets = {"audit": "reports", "registration": "reports", "risk": "identityProtection"}
    plain_s = 0.0
    for part, measured in plain["segments_s"].items():
        limit, window = LIMITS[buckets[part]]
        n = plain["answered_by_endpoint"].get(part, 0)
        bound = (math.ceil(n / limit) - 1) * window if n else 0.0
        plain_s += max(measured, bound)
    return {
        "kit_s": round(kit_s, 1),
        "plain_at_least_s": round(plain_s, 1),
        "speedup_at_least": round(plain_s / kit_s, 2),
    }


def min_requests(per_query: dict[str, list[int]]) -> dict[str, int]:
    return {
        source: sum(max(1, math.ceil(n / MAX_PAGE[source])) for n in counts) for source, counts in per_query.items()
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=0.1, help="time scale of the throttles (0.1: 10 s -> 1 s)")
    parser.add_argument("--skip-plain", action="store_true", help="skip the plain msgraph-sdk run")
    parser.add_argument(
        "--audit-split",
        type=int,
        default=1,
        help="experiment: split the audit window into this many parallel sub-windows (B1 only; saved apart)",
    )
    args = parser.parse_args(argv)
    from sspr_review.core.weeks import last_monday

    end = last_monday("UTC")
    week1 = end - timedelta(days=7)
    print(f"B1/B2: {args.users} users, time scale {args.scale}; building the server's tenant ...", flush=True)
    server = Server(args.users, end, args.scale)
    result: dict[str, Any] = {"users": args.users, "scale": args.scale, "server": server.info}
    with tempfile.TemporaryDirectory(prefix="sspr-bench-") as tmp:
        store = str(Path(tmp) / "store")
        try:
            # ---- B1, the kit
            url = server.start("week1")
            kit = in_child(kit_fetch, url, store, args.scale, week1.isoformat(), args.audit_split)
            figures = server_figures(server.stop(), args.scale, kit)
            paged = {k: v["requests"] for k, v in kit["outcomes"].items() if k in ("audit", "risk", "registration")}
            minimum = min_requests(kit["per_query"])
            records = {k: kit["outcomes"][k]["records"] for k in ("audit", "risk", "registration")}
            b1 = {
                "wall_s": round(kit["wall"], 2),
                "records": records,
                "requests": figures["requests"],
                "paged_requests": paged,
                "paged_requests_total": sum(paged.values()),
                "minimum_paged_requests": minimum,
                "minimum_paged_requests_total": sum(minimum.values()),
                "queries": {k: len(v) for k, v in kit["per_query"].items()},
                "429": figures["429"],
                "lower_bound_s": round(figures["lower_bound_s"], 2),
                "buckets": figures["buckets"],
                "statuses": figures["statuses"],
                "phases": {k: v for k, v in figures.items() if k.endswith("_s") and k != "lower_bound_s"},
                "peak_rss_mb": kit["peak_rss_mb"],
                "outcomes": kit["outcomes"],
            }
            b1["ratio_to_lower_bound"] = round(kit["wall"] / figures["lower_bound_s"], 3)
            b1["requests_over_minimum"] = round(b1["paged_requests_total"] / b1["minimum_paged_requests_total"], 3)
            result["b1"] = b1
            print(
                f"B1 kit: {b1['wall_s']} s, {b1['requests']} requests ({b1['paged_requests_total']} paged, minimum "
                f"{b1['minimum_paged_requests_total']}), {sum(records.values())} records {records}, "
                f"{b1['429']} x 429, throttle lower bound {b1['lower_bound_s']} s "
                f"(ratio {b1['ratio_to_lower_bound']})",
                flush=True,
            )

            if args.audit_split > 1:
                result["audit_split"] = args.audit_split
                common.save(f"fetch-split{args.audit_split}", result)
                return result
            # ---- B1, the plain way
            if not args.skip_plain:
                audit_start = datetime.fromisoformat(kit["outcomes"]["audit"]["start"])
                risk_start = datetime.fromisoformat(kit["outcomes"]["risk"]["start"])
                time.sleep(2 * 10 * args.scale)
                url = server.start("week1")
                plain = in_child(
                    plain_fetch, url, args.scale, week1.isoformat(), audit_start.isoformat(), risk_start.isoformat()
                )
                pf = server_figures(server.stop(), args.scale)
                result["plain"] = {
                    "wall_s": round(plain["wall"], 2),
                    "records": plain["records"],
                    "errors": plain["errors"],
                    "requests": pf["requests"],
                    "requests_by_bucket": pf["requests_by_bucket"],
                    "429": pf["429"],
                    "429_by_bucket": pf["429_by_bucket"],
                    "lower_bound_s": round(pf["lower_bound_s"], 2),
                    "peak_rss_mb": plain["peak_rss_mb"],
                    "cpu_s": plain["cpu_s"],
                    "segments_s": plain["segments"],
                    "answered_by_endpoint": pf["answered_by_endpoint"],
                    "speedup": round(plain["wall"] / kit["wall"], 2),
                }
                result["plain"]["unscaled"] = unscaled(b1, result["plain"], args.scale)
                p = result["plain"]
                print(
                    f"B1 plain: {p['wall_s']} s, {p['requests']} requests, {p['429']} x 429, records "
                    f"{p['records']}, errors {p['errors']}; the kit is {p['speedup']} x faster "
                    f"(at the unscaled limits: {p['unscaled']})",
                    flush=True,
                )

            # ---- B2: the following week, incrementally
            time.sleep(2 * 10 * args.scale)
            url = server.start("week2")
            kit2 = in_child(kit_fetch, url, store, args.scale, end.isoformat())
            f2 = server_figures(server.stop(), args.scale, kit2)
            result["b2"] = second_week(kit, kit2, f2, week1)
            b2 = result["b2"]
            print(
                f"B2 kit: {b2['wall_s']} s, {b2['requests']} requests; per source {b2['sources']}; "
                f"fetched again outside the overlap: {b2['refetched_outside_overlap']}",
                flush=True,
            )
        finally:
            server.close()
    common.save("fetch", result)
    return result


def second_week(kit: dict[str, Any], kit2: dict[str, Any], figures: dict[str, Any], week1: datetime) -> dict[str, Any]:
    """Requests against new records per source, and records fetched twice outside the overlap."""
    out: dict[str, Any] = {
        "wall_s": round(kit2["wall"], 2),
        "requests": figures["requests"],
        "429": figures["429"],
        "lower_bound_s": round(figures["lower_bound_s"], 2),
        "sources": {},
    }
    outside = 0
    for source in ("audit", "risk"):
        before = {i for i, _t, _q in kit["seen"][source]}
        start2 = datetime.fromisoformat(kit2["outcomes"][source]["start"])
        again = [(i, t) for i, t, _q in kit2["seen"][source] if i in before]
        outside += sum(1 for _i, t in again if _parse(t) < start2)
        queries = len(kit2["per_query"][source])
        o = kit2["outcomes"][source]
        new = o["new"]
        out["sources"][source] = {
            "requests": o["requests"],
            "records": o["records"],
            "new": new,
            "fetched_again_in_overlap": len(again),
            "overlap_from": start2.isoformat(),
            "queries": queries,
            # one partial last page per query, plus one for the overlap's records
            "bound": round(new / MAX_PAGE[source] + queries + 1, 1),
            "within_bound": o["requests"] <= new / MAX_PAGE[source] + queries + 1,
        }
    reg = kit2["outcomes"]["registration"]
    out["sources"]["registration"] = {
        "requests": reg["requests"],
        "records": reg["records"],
        "new": reg["records"],
        "note": "a snapshot: every row is read again each week",
        "bound": round(reg["records"] / MAX_PAGE["registration"] + 1, 1),
        "within_bound": reg["requests"] <= reg["records"] / MAX_PAGE["registration"] + 1,
    }
    out["refetched_outside_overlap"] = outside
    return out


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")[:26].rstrip("+")).replace(tzinfo=UTC)


if __name__ == "__main__":
    main(sys.argv[1:])
