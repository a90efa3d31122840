"""Render ``docs/benchmarks.md`` from ``benchmarks/results/*.json`` (written by the bench_*.py scripts).

Run alone (``python benchmarks/render.py``) to re-render from the last results without measuring again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import common
import render_spikes
from render_tenants import tenants_missed, tenants_section

from sspr_review.ingest.fetch import FLUSH_RECORDS


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _verdict(ok: bool | None) -> str:
    return common.verdict(ok)


def _machine(results: list[dict[str, Any]]) -> list[str]:
    machine = next((r["machine"] for r in results if r), None)
    if machine is None:
        return []
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
    dates = sorted({r["machine"]["date"] for r in results if r})
    return [
        "| | |",
        "|---|---|",
        f"| CPU | {machine['cpu']}, {machine['cores']} cores available |",
        f"| memory | {machine['memory_gb']} GB |",
        f"| system | {machine['os']} |",
        f"| Python | {machine['python']} |",
        f"| packages | {packages} |",
        f"| measured | {', '.join(dates)} |",
        "",
    ]


def _fetch(r: dict[str, Any]) -> list[str]:
    b1, b2, plain = r["b1"], r["b2"], r.get("plain")
    scale = r["scale"]
    records = b1["records"]
    out = [
        "## B1 Fetch against the documented throttles",
        "",
        "The test Graph server (`tests/support/graph_server/`, its own process) enforces Graph's documented "
        f"limits — reports 5 requests / 10 s, Identity Protection 1 request / s — on a clock scaled by **{scale}** "
        f"(10 s windows last {10 * scale:g} s; the ratio of the two limits is kept), serving one week of a "
        f"{r['users']:,}-user demo tenant. The client's limiter runs at the same scale "
        f"(`[graph] throttle_time_scale`). Each client runs in a fresh process; its wall time is the whole fetch "
        "as `sspr-review fetch` does it (tenant, audit, risk, registration, roles, policy, normalised and written "
        "to the store).",
        "",
        "| | the kit | target | |",
        "|---|---|---|---|",
        f"| records | {records['audit']:,} audit, {records['risk']:,} risk detections, "
        f"{records['registration']:,} registration rows | | |",
        f"| requests | {b1['requests']} ({b1['paged_requests_total']} paged: "
        f"{b1['paged_requests']['audit']} audit in {b1['queries']['audit']} queries, "
        f"{b1['paged_requests']['risk']} risk, {b1['paged_requests']['registration']} registration; "
        f"{b1['requests'] - b1['paged_requests_total']} roles, settings, policy, tenant) | | |",
        f"| paged requests / minimum the page sizes allow | {b1['paged_requests_total']} / "
        f"{b1['minimum_paged_requests_total']} = {b1['requests_over_minimum']:.3f} | ≤ 1.05 | "
        f"{_verdict(b1['requests_over_minimum'] <= 1.05)} |",
        f"| 429 received | {b1['429']} | 0 | {_verdict(b1['429'] == 0)} |",
        f"| wall time | {b1['wall_s']:.2f} s | | |",
        f"| throttle lower bound | {b1['lower_bound_s']:.2f} s | | |",
        f"| wall time / lower bound | {b1['ratio_to_lower_bound']:.3f} | ≤ 1.15 | "
        f"{_verdict(b1['ratio_to_lower_bound'] <= 1.15)} |",
    ]
    if plain:
        un = plain["unscaled"]
        out += [
            f"| the plain way (see below) | {plain['wall_s']:.1f} s, {plain['requests']} requests, "
            f"{plain['429']} × 429 | | |",
            f"| speed-up over the plain way, as measured | {plain['speedup']:.1f} × | ≥ 3 × | "
            f"{_verdict(plain['speedup'] >= 3)} |",
            f"| speed-up at the real (unscaled) limits, lower estimate | {un['speedup_at_least']:.2f} × "
            f"(kit ≈ {un['kit_s']:.0f} s, plain ≥ {un['plain_at_least_s']:.0f} s) | ≥ 3 × | "
            f"{_verdict(un['speedup_at_least'] >= 3)} |",
        ]
    phases = b1.get("phases", {})
    out += [
        "",
        "**Lower bound**: for each bucket, `(ceil(n / limit) - 1) × window` for the `n` requests it answered — "
        "the earliest moment the last request may start — and the maximum over the buckets (here the reports "
        f"bucket: {b1['buckets']['reports']['requests']} requests; Identity Protection had "
        f"{b1['buckets']['identityProtection']['requests']}). The wall time adds what no throttle "
        f"imposes: {_fmt(phases.get('before_first_report_request_s'))} s before the first report request "
        f"(start-up, the tenant request), {_fmt(phases.get('after_last_report_request_s'))} s after the last "
        "one (its answer, the last normalisation, the snapshot files, roles and coverage), and the limiter's "
        f"margin between (report requests spanned {_fmt(phases.get('report_span_s'))} s against "
        f"{b1['lower_bound_s']:.2f} s). At scale {scale:g} these fixed costs weigh {1 / scale:g} × more than "
        "against real Graph.",
        "",
        "**Requests**: every query asks for the largest page (`$top=999` audit, 500 risk; the registration "
        "report's page is fixed at 1,000), so the paged requests are the minimum: one per full page plus one "
        "partial last page per query. The four directoryAudits queries and the registration report share the "
        "reports bucket and run concurrently, so while any of them has a page to fetch the bucket is never idle. "
        "Splitting the audit window into parallel sub-windows would add parallel streams, but the registration "
        "report (100 of the 130 report requests at 100,000 users) already keeps the bucket saturated, and each "
        "sub-window adds a partial last page to each of the four queries, which raises the requests and the "
        "lower bound alike." + _split_note(b1),
        "",
    ]
    if plain:
        segs = plain["segments_s"]
        out += [
            "**The plain way** is msgraph-sdk as Microsoft's samples use it: the typed request builders "
            "(`client.audit_logs.directory_audits.get()` with a `$filter` for the window, then "
            "`with_url(page.odata_next_link).get()` until the last page), the default page size (100 audit, "
            "20 risk), the four audit queries, the risk query and the registration report one after the other, "
            "and the SDK's default retry handler (3 retries, honouring `Retry-After`). Because kiota reads "
            "`Retry-After` only in whole seconds and the scaled server sends fractions, its retry delays are "
            "scaled like the server's clock (`_scale_sdk_retries`): the policy is the SDK's, the clock the "
            f"benchmark's. It made {plain['requests']} requests and received {plain['429']} × 429 "
            f"({plain['429_by_bucket']}); it spent {segs.get('audit', 0):.0f} s on the audit queries, "
            f"{segs.get('risk', 0):.0f} s on risk and {segs.get('registration', 0):.0f} s on the registration "
            f"report, {plain['cpu_s']:.0f} s of it CPU: turning JSON into typed models costs about 2.5 ms per "
            "record in Python, against about 0.02 ms for the kit's raw JSON.",
            "",
            "Because that CPU time does not shrink with the time scale, the measured speed-up overstates what "
            "a user sees against real Graph. The unscaled estimate takes the kit's measured time with its "
            "throttle-bound part grown to scale 1, and for the plain way, per part run in sequence, the larger "
            "of its measured time and its own throttle bound at scale 1 (a lower estimate: real runs add the "
            "retry waits on top).",
            "",
        ]
    out += [
        "## B2 The second weekly run",
        "",
        "A week later the server holds both weeks; the kit fetches again into the same store (from the "
        "store's high-water mark minus the overlap: 6 h for audit events, 48 h for risk detections, whose "
        "state changes after the fact).",
        "",
        "| source | requests | records read | new | read again (in the overlap) | bound: new / page + queries + 1 | |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s in b2["sources"].items():
        again = s.get("fetched_again_in_overlap", "all (snapshot)")
        out.append(
            f"| {name} | {s['requests']} | {s['records']:,} | {s['new']:,} | {_fmt(again)} | {s['bound']} | "
            f"{_verdict(bool(s['within_bound']))} |"
        )
    out += [
        "",
        f"Records fetched twice outside the overlap: **{b2['refetched_outside_overlap']}** (target 0: "
        f"{_verdict(b2['refetched_outside_overlap'] == 0)}). 429 received: {b2['429']}. Wall time "
        f"{b2['wall_s']:.2f} s against a lower bound of {b2['lower_bound_s']:.2f} s. The registration report "
        "has no delta query and no documented `$top`: it is read whole every week (a snapshot is what the "
        "adoption trend is made of), and is most of the weekly run's requests.",
        "",
    ]
    return out


def _split_note(b1: dict[str, Any]) -> str:
    runs = []
    for k in (2, 3, 4, 8):
        split = common.load(f"fetch-split{k}")
        if split:
            s = split["b1"]
            runs.append(
                f"{k} sub-windows: {s['paged_requests_total']} paged requests "
                f"(+{s['paged_requests_total'] / b1['paged_requests_total'] - 1:.1%}), lower bound "
                f"{s['lower_bound_s']:.1f} s, wall time {s['wall_s']:.1f} s"
            )
    if not runs:
        return " Not done: it only adds requests while the bucket is saturated."
    return (
        f" Measured (`bench_fetch.py --audit-split K`) against one window ({b1['paged_requests_total']} paged "
        f"requests, wall time {b1['wall_s']:.1f} s): " + "; ".join(runs) + ". So the kit keeps one window."
    )


def _analysis(r: dict[str, Any]) -> list[str]:
    sizes = r["sizes"]
    out = [
        "## B3 Analyses over a year of history",
        "",
        "A year of store history is built per size (`benchmarks/synth.py`, cached in `benchmarks/.cache`, not "
        "timed): two weeks of the demo tenant at that size, normalised by the kit, repeated back over 52 weeks "
        "with unique record and correlation ids; one registration and one roles snapshot per week, with "
        "adoption growing over the year. A fresh process then runs `Workspace.review()` for the last week: it "
        "reads the store, prepares events, flows and resets, computes the weekly metrics over the whole year "
        "(the adoption trend), this week's findings and last week's (for new / continuing / resolved), and the "
        "flow summary — what the weekly review and adoption-trends notebooks show. Peak memory is the process's "
        "peak resident set size (Linux's `VmHWM`: pandas and Arrow allocate outside Python's heap; `ru_maxrss` "
        "would also count the benchmark parent's memory at the fork).",
        "",
        "| | " + " | ".join(f"{int(u):,} users" for u in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]

    def row(label: str, values: list[str]) -> None:
        out.append(f"| {label} | " + " | ".join(values) + " |")

    entries = list(sizes.values())
    row("audit events in the store", [f"{e['store']['audit']:,}" for e in entries])
    row("registration rows (52 snapshots)", [f"{e['store']['registration']:,}" for e in entries])
    row("risk detections", [f"{e['store']['risk']:,}" for e in entries])
    row("store on disk", [f"{e['store']['bytes_on_disk'] / 2**20:,.0f} MB" for e in entries])
    row("review wall time", [f"{e['wall_s']:.2f} s (runs: {', '.join(map(str, e['runs_wall_s']))})" for e in entries])
    row("target (issue 24)", [f"≤ {e['target_s']:g} s, ≤ {e['target_mb']:,.0f} MB" for e in entries])
    row("peak RSS", [f"{e['peak_rss_mb_max']:,.0f} MB (baseline {e['baseline_rss_mb']:.0f} MB)" for e in entries])
    row(
        "verdict",
        [
            f"time {_verdict(e['time_met'])}, memory {_verdict(e['memory_met'])}"
            if "time_met" in e
            else _verdict(e["met"])
            for e in entries
        ],
    )
    row("time per audit event", [f"{e['us_per_audit_row']:.2f} µs" for e in entries])
    row("memory per million audit events", [f"{e['mb_per_million_audit_rows']:,.0f} MB" for e in entries])
    row("flows read / in the week", [f"{e['rows']['flows']:,} / {e['flows_in_week']:,}" for e in entries])
    row("findings", [f"{e['findings']}" for e in entries])
    row("machine load average (1 min) at the end", [_fmt(e.get("load_average"), 1) for e in entries])
    _phase_rows(entries, row)
    out += [
        "",
        "Cost grows linearly with the records: time per audit event and memory per million audit events stay "
        "about the same from the smaller tenant to the larger one (the registration snapshots grow with the "
        "users and are streamed, see below).",
        "",
        "The runs start without the cache of the SSPR configuration's events (`cache/policy-events.parquet` in the "
        "tenant's folder): the first run picks them out of every month file, decoding the records (`raw`) of "
        "the files that hold one; the next finds them in the cache and reads only the month files changed since "
        "(after a fetch, the current month's). The fastest run is the one reported.",
        "",
        "What makes it fit (`Workspace.review`, `Store.read(..., compact=True)`, `analysis/`): the review reads "
        "about three weeks of audit events (the week, the week before and the few days its rules look at around "
        "them: a quarter of the 15 weeks it read before); the 90 days of IP history that decide whether an IP is "
        "new to an account and the reset-spike baseline's 8 weeks come from per-week summaries kept in the store "
        "(each account's last use of each IP, its last SSPR flow begun, every completed reset: "
        "`aggregates/weeks/`, one file per week), the trend's earlier weeks from the weekly aggregates. What it "
        "reads is read once, with the string columns whose values repeat (activity, reason, service, user ids "
        "and UPNs on events, IPs) as categoricals — each distinct text held once — and record and correlation "
        "ids as Arrow strings (a year of audit events at 500,000 users would be about 1.1 GB in memory instead "
        "of about 4.2 GB). Files are read a few columns at a time, releasing Arrow's memory between groups. The "
        "events are "
        "classified and grouped into flows once for both weeks (last week's findings reuse the prepared data). "
        "Registration snapshots are loaded in full only for the two the weeks chose (the one nearest each "
        "week's end); all 52 are streamed one at a time through Arrow into the per-snapshot counts the trend "
        "needs (`analysis.metrics.registration_counts_arrow`), so 26 million registration rows are never in "
        "memory together. The rules pick rows out of the big tables before converting them, and decode the "
        "categorical columns of the rows they pick with Arrow (the categories taken by their codes), not through "
        "Python objects; the registration rows of the week's snapshot are picked once per week for every lookup, "
        "and what the week's findings and its figures both read (the resets, their privilege) is built once. "
        "So is what several rules of a week read: the leaked-credentials detections with their fixes (two rules "
        "and the tally), the takeover chains (the security-info rule and the spike rule's usual shares), the IP "
        "history (the phone-only rule takes its accounts' rows from the spike rule's answer); every reset of the "
        "tables once for both weeks. The opt-in trap's check looks at the audit rows the review read, not at the "
        "store again. The files read are checked against the store's manifest (their SHA-256: about 40 MB at "
        "100,000 users, 35 ms) on a thread of their own while the review plans and reads. The review runs with "
        "the objects that existed before it (the imports: about 85,000) out of the reach of Python's cyclic "
        "garbage collector (`gc.freeze`, undone at its end): a full collection over them cost about 40 ms. "
        "Each text column read (record and correlation ids) is joined into one piece once: read from many row "
        "groups it came in pieces, and every pick of rows from it made Arrow join the whole column again (15 ms "
        "for 500 rows at 100,000 users, against 0.01 ms in one piece). "
        "Arrow allocates from jemalloc from the process's first byte (`sspr_review` sets "
        "`ARROW_DEFAULT_MEMORY_POOL` on Linux): Parquet decoding and dataset scans otherwise took pyarrow's "
        "mimalloc, which kept about 300 MB after the audit read (at 100,000 users the review's peak was about "
        "580 MB with it); a review's freed pages go back within 100 ms rather than a second, so the pieces and the "
        "temporaries it frees are not all held at once (about 60 MB less at 100,000 users, 100 MB at 500,000).",
        "",
        "Note: `Review.data.registration` therefore holds the recent snapshots only (the trend's counts cover "
        "them all).",
        "",
    ]
    return out


def _run(r: dict[str, Any]) -> list[str]:
    run, imports = r["run"], r["imports"]
    out = [
        "## B4 Run and report",
        "",
        "`sspr-review run --source demo` (the real command in a fresh interpreter; the demo tenant at its "
        "defaults, 2,000 users and 26 weeks), with the share of each phase:",
        "",
        "| phase | seconds | share |",
        "|---|---|---|",
    ]
    for name, seconds in run["phases_s"].items():
        out.append(f"| {name} | {seconds:.2f} | {run['shares'][name]:.0%} |")
    out += [
        f"| **total** | **{run['wall_s']:.2f}** | |",
        "",
        *_notebook_work(run),
        f"Peak RSS of the command: {run['peak_rss_mb']:,.0f} MB (the kernels are separate processes).",
        "",
        "| report | size | plotly.js copies | charts | target | |",
        "|---|---|---|---|---|---|",
    ]
    for name, h in run["html"].items():
        ok = h["mb"] < run["html_target_mb"] and h["plotly_js_copies"] == 1
        out.append(
            f"| {name} | {h['mb']:.2f} MB | {h['plotly_js_copies']} | {h['charts']} | "
            f"< {run['html_target_mb']:g} MB, plotly.js once | {_verdict(ok)} |"
        )
    heavy = ", ".join(imports["heavy_modules_loaded_by_import"]) or "none of msgraph, kiota, azure.identity, " + (
        "pandas, pyarrow, numpy, plotly, papermill, nbconvert"
    )
    out += [
        "",
        f'`python -c "import sspr_review"`: **{imports["import_sspr_review_s"]:.3f} s** (median of 7; a bare '
        f"interpreter takes {imports['python_s']:.3f} s; target < {imports['target_s']:g} s: "
        f"{_verdict(imports['met'])}). Heavy modules it loads: {heavy}. For comparison, "
        f"`import sspr_review.app.workspace` (pandas, pyarrow) takes {imports['import_workspace_s']:.2f} s and "
        f"`import sspr_review.cli` {imports['import_cli_s']:.2f} s; msgraph loads only when a Graph source is "
        "created.",
        "",
        "Plotly.js (about 4.6 MB of the page) is embedded once per report; the rest of each report is well under 1 MB.",
        "",
    ]
    large = r.get("large")
    if large:
        out += [
            f"`sspr-review run --no-fetch` of the last week on the store of B3 at {large['users']:,} users (a year of "
            "history, its weekly aggregates already kept):",
            "",
            "| phase | seconds |",
            "|---|---|",
            *(f"| {name} | {seconds:.2f} |" for name, seconds in large["phases_s"].items() if seconds >= 0.05),
            f"| **total** | **{large['wall_s']:.2f}** (target ≤ {large['target_s']:g} s: {_verdict(large['met'])}) |",
            "",
            "The fastest of "
            + (
                f"{len(large['runs_wall_s'])} runs (each: {', '.join(f'{w:.2f}' for w in large['runs_wall_s'])} s)."
                if large.get("runs_wall_s")
                else "one run."
            ),
            "",
            *_notebook_work(large),
            "What a run spends on its notebooks besides their cells, and what it no longer does: papermill saves "
            "each executed notebook once, when its last cell ran (saving after every cell validated and wrote the "
            "whole notebook, plotly.js included, twice per cell: about 4 s of the run's own process at 100,000 "
            "users); a kernel is stopped at once after its last output (a graceful stop spent 0.7 s freeing its "
            "memory); the run's process and kernels skip two optional imports no run uses, jsonschema's "
            "rfc3987-syntax (a second of compiling grammars, in each process) and papermill's Azure Blob Storage "
            "handler (a quarter of a second); the saved review is written without an fsync (it lives for the run).",
            "",
        ]
    return out


def _notebook_work(run: dict[str, Any]) -> list[str]:
    """What the notebooks' phase of a B4 run spent, summed over both notebooks (results of before the notebooks
    ran side by side have their phases in the table instead: nothing)."""
    work = run.get("notebook_work_s")
    if not work:
        return []
    how = (
        "side by side, so the sums exceed the phase's wall time"
        if run["notebooks_side_by_side"]
        else "one after the other"
    )
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in work.items())
    return [f"Inside the notebooks' phase, summed over the two notebooks ({how}): {parts}.", ""]


def _lean(r: dict[str, Any]) -> list[str]:
    full, lean = r["runs"]["full"], r["runs"]["lean"]
    rows = [
        ("throttled requests (reports + Identity Protection)", "throttled_requests"),
        ("— registration (report pages, counts, lookups)", "registration_requests"),
        ("— audit", "audit_requests"),
        ("all requests (with roles, policy, tenant)", "requests"),
        ("registration rows stored", "registration_rows"),
        ("429 received", "429"),
        (f"wall time at scale {r['scale']:g}", "wall_s"),
        (f"throttle lower bound at scale {r['scale']:g}", "lower_bound_s"),
        ("throttle lower bound at the real budgets", "real_lower_bound_s"),
        ("wall time at the real budgets, estimate", "real_estimate_s"),
    ]
    out = [
        "## B5 The weekly run with a lean registration fetch",
        "",
        f"The B1/B2 server process (Graph's documented budgets on a clock scaled by **{r['scale']:g}**) serves two "
        f"weeks of a {r['users']:,}-user demo tenant. The store holds the first week (a full fetch, not measured); "
        "it is copied and the second week's fetch, the weekly run, is measured on each copy in a fresh process, "
        '`[registration] mode = "full"` against `"lean"`. Throttled requests are those of the reports bucket '
        "(directoryAudits, userRegistrationDetails, usersRegisteredByFeature/Method) and Identity Protection; the "
        "real-budget figures grow the measured throttle-bound part to scale 1 (`(ceil(n / 5) − 1) × 10 s` for "
        "the reports bucket's n requests), as in B1.",
        "",
        "| | full | lean | full / lean |",
        "|---|---|---|---|",
    ]
    for label, key in rows:
        a, b = full[key], lean[key]
        ratio = f"{a / b:.2f} ×" if isinstance(a, int | float) and b else ""
        out.append(f"| {label} | {_fmt(a)} | {_fmt(b)} | {ratio} |")
    out += [
        "",
        f"Target: at least 3 × fewer throttled requests with lean: {r['throttled_ratio']:.2f} × "
        f"({_verdict(r['met'])}). Both runs received the same records; the lean snapshot's rows are the "
        "administrators, the members who are not SSPR-capable, the SSPR-capable guests and the users the "
        "week's rules looked up; its metrics come from Graph's counts (see the README's lean registration fetch).",
        "",
        "The wall times are measured; what lies above the throttle lower bound is CPU time (normalising the rows; "
        "for lean also reading the store and running the registration rules to find whom to look up, and the "
        "lookups, which wait for the week's audit events), so it weighs more on a shared machine and at a time "
        "scale below 1 than against real Graph.",
        "",
    ]
    return out


def _loaded(load: float | None, cores: int) -> str:
    """The end of a missed target's note: the machine's load when it was measured above its cores."""
    if load is None or load <= cores:
        return "."
    return f", measured with a load average of {load:.1f} on {cores} cores: to be measured again on a quiet machine."


def _missed(results: dict[str, dict[str, Any] | None]) -> list[str]:
    notes: list[str] = []
    fetch, analysis, run, lean = (results[name] for name in ("fetch", "analysis", "run", "lean"))
    if lean and not lean["met"]:
        notes.append(f"B5: lean registration saves {lean['throttled_ratio']:.2f} × throttled requests, not 3 ×.")
    if fetch:
        b1, plain = fetch["b1"], fetch.get("plain")
        if b1["429"]:
            notes.append(
                "B1 received 429s: the server counted requests the limiter did not (it holds each slot until the "
                "request's answer plus the window): another client of the same tenant and app, or a request in "
                "flight longer than `ratelimit.MAX_TRANSIT_SECONDS`."
            )
        if b1["ratio_to_lower_bound"] > 1.15:
            notes.append(
                "B1 wall time is above 1.15 × the lower bound: at this time scale the fixed start-up and tail "
                "costs weigh more than against real Graph; a larger scale (e.g. `--scale 0.2`) measures the "
                "limiter itself."
            )
        if plain and (plain["speedup"] < 3 or plain["unscaled"]["speedup_at_least"] < 3):
            notes.append(
                "B1: the speed-up over the plain way at the unscaled limits is under 3 ×. The plain way's "
                "default page of 100 audit events costs it about 10 × more audit requests; the rest of the gap "
                "is the registration report, whose 1,000-row pages both ways must read (no `$top`, no delta)."
            )
    if analysis:
        for users, e in analysis["sizes"].items():
            if e["met"] is False:
                notes.append(
                    f"B3 at {int(users):,} users: {e['wall_s']:.1f} s and {e['peak_rss_mb_max']:,.0f} MB against "
                    f"≤ {e['target_s']:g} s and ≤ {e['target_mb']:,.0f} MB"
                    + _loaded(e.get("load_average"), analysis["machine"]["cores"])
                )
    if run and run.get("large") and not run["large"]["met"]:
        large = run["large"]
        notes.append(
            f"B4: `run --no-fetch` at {large['users']:,} users takes {large['wall_s']:.1f} s (target ≤ "
            f"{large['target_s']:g} s)."
        )
    if run and not run["run"]["html_met"]:
        notes.append("B4: a report is over 6 MB or embeds plotly.js more than once.")
    if run and not run["imports"]["met"]:
        notes.append("B4: `import sspr_review` takes 0.5 s or more.")
    notes += render_spikes.missed(results["spikes"])
    first = results["first_contact"]
    if first and not first["start_up"]["met"]:
        up = first["start_up"]
        heavy = sorted({h for name in up["commands"] for h in up[name]["heavy"]})
        notes.append(
            f"B8: a start-up question takes 0.3 s or more (bare interpreter {up['python_s']:.3f} s, load average "
            f"{up['load_average']})" + (f", or imports {', '.join(heavy)}" if heavy else "") + "."
        )
    history = results["history"]
    if not history:
        notes.append(
            "B9 (review cost against the history's length at 100,000 users) has not been run on this machine "
            "yet: `python benchmarks/bench_history.py` writes its section."
        )
    else:
        if history.get("growth_met") is False:
            notes.append(
                f"B9: the review at the longest history takes {history['growth']} × the review at the shortest "
                f"(target ≤ {history['growth_target']:g} ×)."
            )
        if history.get("target_met") is False:
            worst = max(history["lengths"].values(), key=lambda e: e["wall_s"])
            notes.append(
                f"B9: a review at {int(history['users']):,} users takes up to {worst['wall_s']:.2f} s and "
                f"{max(e['peak_rss_mb_max'] for e in history['lengths'].values()):,.0f} MB "
                f"(target ≤ {history['target_s']:g} s and ≤ {history['target_mb']:g} MB)."
            )
        if history.get("equivalence") and not history["equivalence"]["identical"]:
            notes.append("B9: a sampled week of the large store reviews differently from its full tables.")
    notes += tenants_missed(results["tenants"])
    imports = results["import"]
    at_a_million = _import_at_a_million(imports) if imports else 0.0
    if imports and (not all(x["ok"] for x in imports["runs"]) or at_a_million > imports["target_mb"]):
        notes.append(
            f"B11: importing 10^6 records with the files source peaks at about {at_a_million:,.0f} MB "
            "(measured or extrapolated), not under 1 GB."
        )
    runs = imports["runs"] if imports else []
    over = [x for x in runs if imports and x.get("command", {}).get("peak_rss_mb", 0) >= imports["target_mb"]]
    if over:
        big = max(over, key=lambda x: x["command"]["peak_rss_mb"])
        notes.append(
            f"B11: the whole `sspr-review fetch --source files` command peaks at {big['command']['peak_rss_mb']:,.0f} "
            f"MB at {big['records']:,} records ({big['format']}; the import itself {big['peak_rss_mb']:,.0f} MB): "
            "its closing summary reviews the week, here all of those events at once, and the review's memory "
            "grows with the week's events."
        )
    archive = results["archive"]
    for run in archive["runs"] if archive else []:
        if not run["ok"]:
            notes.append(
                f"B11: importing a {run['archive']['megabytes']:,.0f} MB archive from the {run['source']} peaks at "
                f"{run['peak_rss_mb']:,.0f} MB, not under 1 GB."
            )
    out = ["## Targets missed", ""]
    out += [f"- {n}" for n in notes] if notes else ["None in this run: every target above is met.", ""]
    return [*out, ""]


def _log_analytics(r: dict[str, Any]) -> list[str]:
    tables = r["tables"]
    out = [
        "## B6 Backfill from a Log Analytics workspace",
        "",
        f"A year ({r['weeks']} weeks) of a {r['users']:,}-user tenant in the test Log Analytics endpoint "
        "(`tests/support/log_analytics_server.py`, its own process: two weeks of the demo tenant repeated back in "
        "time, every query evaluated, answers capped at 500,000 rows and 64 MB like the service), read by the kit's "
        "first run (`backfill_days = 365`) with the real azure-monitor-query client into an empty store "
        "(`benchmarks/bench_log_analytics.py`). The wall time includes the endpoint evaluating each query on the "
        "same machine.",
        "",
        "| | |",
        "|---|---|",
        f"| rows read and stored | {_fmt(r['rows'])} |",
        f"| wall time | {_fmt(r['seconds'])} s |",
        f"| rows per second | {_fmt(r['rows_per_second'])} |",
        f"| queries sent | {_fmt(r['queries'])} ({_fmt(r['throttled'])} throttled) |",
        f"| peak memory (kit) | {_fmt(r['peak_rss_mb'], 0)} MB |",
        f"| complete | {_fmt(r['ok'])} |",
        *(
            [f"| machine load average (1 min) at the end | {_fmt(r['load_average'], 1)} |"]
            if "load_average" in r
            else []
        ),
        "",
        "| table | rows | data queries | fewest the caps allow | fewest the row cap alone allows | other queries "
        "| truncated answers |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in tables.values():
        cap = f"{_fmt(t['fewest_by_cap'])} (≤ {_fmt(t['cap'])} rows each)"
        out.append(
            f"| {t['table']} | {_fmt(t['rows_fetched'])} | {_fmt(t['data_queries'])} | {cap} "
            f"| {_fmt(t['fewest_by_row_cap'])} | {_fmt(t['queries'] - t['data_queries'])} | {_fmt(t['truncated'])} |"
        )
    out += [
        "",
        "The byte cap binds before the row cap: at about 2.5 kB an audit row (the kit's generous estimate), "
        "64 MB hold 25,600 rows. The other queries are the histogram that plans the windows and the oldest-row "
        "query that bounds the backfill. Risk rows the workspace received after the run's moment are not read. "
        "Rows per second depend on the machine and what else runs on it (the endpoint's pure-Python KQL "
        "evaluation runs beside the kit); the query counts do not.",
        "",
    ]
    return out


def _phase_rows(entries: list[dict[str, Any]], row: Any) -> None:
    """A row per phase any entry timed (``—`` where one did not)."""
    for phase in sorted({p for e in entries for p in e["phases_s"]}):
        row(f"— {phase}", [f"{v:.2f} s" if (v := e["phases_s"].get(phase)) is not None else "—" for e in entries])


def _history(r: dict[str, Any]) -> list[str]:
    entries = sorted(r["lengths"].values(), key=lambda e: e["weeks"])
    out = [
        "## B9 Review cost against the length of the history",
        "",
        f"`benchmarks/bench_history.py`: the store of B3 (`synth.py`) at {int(r['users']):,} users with "
        f"{', '.join(str(e['weeks']) for e in entries)} weeks of history. A first review computes and keeps the "
        "store's weekly aggregates (a one-off cost per store, shown apart); then fresh processes time "
        "`Workspace.review()` of the last week, which reads the week, the week before and the windows its rules "
        "declare and takes the trend's earlier weeks from the aggregates (the accounts' history from the "
        "summary kept up to the newest week reviewed, the IP history and the spike baseline's resets from the "
        "weeks' summaries). The timed runs go round the lengths in turn, one run of "
        "each per round, so that the machine's drift over the minutes of the benchmark falls on every length alike; "
        "the fastest run of each length is reported.",
        "",
        "| | " + " | ".join(f"{e['weeks']} weeks" for e in entries) + " |",
        "|---|" + "---|" * len(entries),
    ]

    def row(label: str, values: list[str]) -> None:
        out.append(f"| {label} | " + " | ".join(values) + " |")

    row("audit events in the store", [f"{e['store']['audit']:,}" for e in entries])
    row("review wall time", [f"{e['wall_s']:.2f} s (runs: {', '.join(map(str, e['runs_wall_s']))})" for e in entries])
    row("peak RSS", [f"{e['peak_rss_mb_max']:,.0f} MB (baseline {e['baseline_rss_mb']:.0f} MB)" for e in entries])
    row("weeks in the trend", [f"{e['weeks_in_trend']}" for e in entries])
    row("first review (aggregates computed)", [f"{e['first_review_s']:.2f} s" for e in entries])
    row("machine load average (1 min) after", [_fmt(e.get("load_average"), 1) for e in entries])
    _phase_rows(entries, row)
    growth = r.get("growth")
    out += [
        "",
        f"The review at {entries[-1]['weeks']} weeks takes {_fmt(growth)} × the review at {entries[0]['weeks']} "
        f"weeks (target ≤ {r['growth_target']:g} ×): {_verdict(r.get('growth_met'))}."
        + (
            f" Target at {int(r['users']):,} users: ≤ {r['target_s']:g} s and ≤ {r['target_mb']:g} MB at every "
            f"length: {_verdict(r.get('target_met'))}."
            if r.get("target_s") is not None
            else ""
        ),
        "",
    ]
    eq = r.get("equivalence")
    if eq:
        out += [
            f"**The same findings** (issue 24): on the {eq['weeks']}-week store, the review of each of "
            f"{len(eq['compared'])} weeks (ending {', '.join(eq['compared'])}) compared with a review of the store's "
            "full tables (`tests/support/reference.py`, the computation before issue 24): findings.json, the trend "
            f"and the leaked-credential trend {'identical for every week' if eq['identical'] else 'DIFFER for '}"
            + ", ".join(w for w, same in eq["compared"].items() if not same)
            + ".",
            "",
        ]
    return out


def _first_contact(r: dict[str, Any]) -> list[str]:
    up = r["start_up"]
    out = [
        "## B8 First contact: start-up and a tenant's first run",
        "",
        "`benchmarks/bench_first_contact.py`. **Start-up**: each question in fresh processes, the median of several "
        f"runs (a bare interpreter: {up['python_s']:.3f} s); the modules it imports, counted with "
        "`python -X importtime`, and any of pandas, numpy, pyarrow, azure, msgraph, kiota, plotly, papermill, "
        "nbconvert or pydantic among them.",
        "",
        "| command | median | modules imported | heavy ones | target | |",
        "|---|---|---|---|---|---|",
    ]
    for name, args in up["commands"].items():
        q = up[name]
        ok = q["median_s"] < up["target_s"] and not q["heavy"]
        out.append(
            f"| `sspr-review {' '.join(args)}`{'' if name == ' '.join(args) else f' ({name})'} | "
            f"{q['median_s']:.3f} s | {q['modules']} | "
            f"{', '.join(q['heavy']) or 'none'} | < {up['target_s']:g} s, none heavy | {_verdict(ok)} |"
        )
    out += [
        "",
        f"Measured at {up['measured']} with the load average at {up['load_average']} (2 cores).",
        "",
        "**A tenant's first run**: the test Graph server serves a demo tenant with five weeks of history at Graph's "
        "documented budgets (reports 5 requests / 10 s, Identity Protection 1 / s) on a clock scaled as shown; "
        "`sspr-review fetch` into an empty store (30 days of audit events, 90 of risk detections, the whole "
        "registration report, roles and policy), then `sspr-review run --no-fetch` (the reports). At real budgets: "
        "the measured fetch with its throttle-bound part grown to scale 1, as in B1.",
        "",
        "| users | scale | audit events served | requests (reports bucket) | 429 | fetch, measured | throttle "
        "bound | fetch at real budgets | reports (`run --no-fetch`) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for f in r["first_runs"]:
        out.append(
            f"| {f['users']:,} | {f['scale']:g} | {f['audit_records_served']:,} | {f['requests']:,} "
            f"({f['requests_by_bucket'].get('reports', 0):,}) | {f['429']} | {f['fetch_s']:.1f} s | "
            f"{f['lower_bound_s']:.1f} s | **{f['fetch_real_s']:.0f} s** | {f['run_no_fetch_s']:.1f} s |"
        )
    out += [
        "",
        f"The first runs were measured with the load average at {r['load_average']} (after: "
        f"{r['load_average_after']}), on the 2-core machine shared with other jobs: the reports' CPU time and the "
        "fetch's time beyond its throttle bound are the loaded machine's.",
        "",
    ]
    return out


def _import(r: dict[str, Any]) -> list[str]:
    runs = r["runs"]
    out = [
        "## B11 Peak memory of a big import (files source)",
        "",
        "One export of Graph directoryAudit events (about 650 bytes each, a week's span) is imported into an empty "
        "store in a fresh process (`benchmarks/bench_import.py`), once as JSON Lines and once as one `.json` Graph "
        "response, twice each: the import alone (what `sspr-review fetch --source files` does before its closing "
        "summary) and the whole command, whose summary reviews the week: here every event of the export. The peak "
        "resident set size is the process's own (`wait4`). Machine load average when measured: "
        f"{', '.join(f'{x:g}' for x in r['load'])} (another test suite may have been running on this 2-core "
        "machine: the wall times are noisy, the memory figures are not).",
        "",
        "| records | format | file | import: peak memory | import: wall time | under 1 GB | whole command "
        "(with the week's review): peak memory |",
        "|---:|---|---:|---:|---:|---|---:|",
    ]
    for run in runs:
        command = run.get("command")
        whole = f"{command['peak_rss_mb']:,.0f} MB" if command else "not measured"
        out.append(
            f"| {run['records']:,} | {run['format']} | {run['file_mb']:,.1f} MB | {run['peak_rss_mb']:,.0f} MB | "
            f"{run['wall_s']:.1f} s | {_verdict(run['ok'])} | {whole} |"
        )
    for fmt in ("jsonl", "json"):
        slope = _import_slope(runs, fmt)
        if slope is not None:
            per, _at = slope
            out += ["", f"{fmt} import: {per:,.0f} MB more per 100,000 records between the two largest runs."]
    out += [
        "",
        f"Target: an import's peak under {r['target_mb'] / 1024:g} GB whatever the input size (issue 27, point 8). "
        "The files source streams: it indexes the folder 5,000 records at a time (a hash of each id, its times; no "
        "record kept), a JSON Lines file a line at a time (UTF-16 too) and a `.json` file a record at a time by "
        "ijson (after one read-through that checks it parses as a whole read would; one object, or what ijson "
        "reads otherwise than Python's json, is read whole, as before), then "
        f"hands the records on in pages of 5,000; the fetch writes them every {FLUSH_RECORDS:,}, the store merges "
        "them into a "
        "month file a row group at a time (the new ids counted against its id column a row group at a time), and "
        "Arrow's allocator (jemalloc) gives each merge's buffers back at once. What the import holds live is one flush "
        f"({FLUSH_RECORDS:,} records, normalised) and one merge, and of every record a few columns of the folder's "
        "index (a hash and its times: about 25 bytes). With flushes of 50,000 records the peak climbed with the "
        "input (813 MB at 10^6 records, 961 MB at 2·10^6, the Python heap flat: the allocators' fragmentation over "
        "the larger flushes); with 25,000 it stayed flat over a 10^6-record import (sampled every 5 s: 665 MB, "
        "its merges the slower part). The whole command's closing "
        "summary is a review of the week, which reads the week's events (without their JSON) at once: its memory "
        "grows with the events of the week reviewed (the review's, B3), not with the import.",
        "",
    ]
    return out


def _archive(r: dict[str, Any]) -> list[str]:
    """B11's second part: a diagnostic-setting archive, from a downloaded tree and from Azure Storage (Azurite)."""
    runs = r["runs"]
    out = [
        "### B11, archive: a diagnostic-setting archive (files source and archive source)",
        "",
        f"A synthetic archive of hourly `PT1H.json` blobs over {r['days']} days (`benchmarks/bench_archive.py`), "
        "written as reference `archive-format.md` describes a storage account's: the containers "
        "`insights-logs-auditlogs` (documented `resourceId=/tenants/<id>/providers/microsoft.aadiam/y=…/m=00/` "
        "layout) and `insights-logs-userriskevents` (live `tenantId=<id>/` layout), one envelope a line with CRLF, "
        "busy working hours and quiet nights and weekends. Most AuditLogs lines are other services' directory "
        "events of 1-3 KB (users, groups, devices, applications, policies; some name passwords, so the reader's byte "
        f"pre-filter passes them and they are parsed and dropped); {r['sspr_share']:.0%} are SSPR and "
        "authentication-methods events the kit keeps; 3 % of lines are delivered again (the same `properties`, a "
        "newer envelope `time`) in the same or the next hour's blob. Each size is imported into an empty store in a "
        "fresh process: from the tree with `sspr-review fetch --source files --files <tree>`, and from the same "
        'blobs uploaded to Azurite as append blobs (4 MiB appends) with `[sources] audit = risk = "archive"` '
        "and a connection string (the files source then holds only an `organization` export); twice each, the "
        "import alone and the whole command (its closing summary reviews the week). Peak resident set size from "
        "`wait4`. Machine load average when measured: "
        f"{', '.join(f'{x:g}' for x in r['load'])}, after: {', '.join(f'{x:g}' for x in r['load_after'])} (a "
        "2-core machine shared with other jobs: the wall times are noisy, the memory figures are not).",
        "",
        "| read from | archive | blobs | lines | events kept (audit + risk) | import: peak memory | import: wall time "
        "| under 1 GB | whole command: peak memory | whole command: wall time |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    where = {"tree": "downloaded tree", "storage": "Azurite"}
    for run in runs:
        held, kept, whole = run["archive"], run["stored"], run["command"]
        label = where[run["source"]] + (f" ({run['share']:.1%} kept)" if run.get("control") else "")
        out.append(
            f"| {label} | {held['megabytes']:,.0f} MB | {held['blobs']:,} | {held['lines']:,} | "
            f"{kept['audit']:,} + {kept['risk']:,} | {run['peak_rss_mb']:,.0f} MB | {run['wall_s']:.0f} s | "
            f"{_verdict(run['ok'])} | {whole['peak_rss_mb']:,.0f} MB | {whole['wall_s']:.0f} s |"
        )
    for source in ("tree", "storage"):
        mine = sorted(
            (x for x in runs if x["source"] == source and not x.get("control")), key=lambda x: x["archive"]["megabytes"]
        )
        if len(mine) >= 2 and mine[-1]["archive"]["megabytes"] > mine[-2]["archive"]["megabytes"]:
            small, big = mine[-2], mine[-1]
            events = sum(big["stored"].values()) - sum(small["stored"].values())
            per = (big["peak_rss_mb"] - small["peak_rss_mb"]) / max(events, 1) * 1000
            out += ["", f"{where[source]}: {per:+,.1f} MB of peak per 1,000 events kept between the two sizes."]
    uploads = [f"{x['archive']['megabytes']:,.0f} MB in {x['upload_s']:,.0f} s" for x in runs if "upload_s" in x]
    out += [
        "",
        f"Target: an import's peak under {r['target_mb'] / 1024:g} GB whatever the archive's size (issue 27). The "
        "reader never reads a blob whole: a tree's blob is read a line at a time, a storage blob a download chunk "
        "at a time (requests of at most 4 MiB: azure-storage-blob's first request would take up to 32 MiB), "
        "the lines of other "
        "services are skipped on a byte test before any JSON parse, and what it holds beyond a page of 5,000 "
        "records is the ids of the records kept (for the repeated deliveries) and the hours present. The peak "
        "grows with the events kept, not with the archive's bytes (the control row: the largest archive with "
        "almost no event kept peaks below the smallest one): the fetch holds the records it normalised until "
        f"it writes them, every {FLUSH_RECORDS:,}, so what the events add is bounded by one such batch (the "
        "files export above holds the same batches, at 10^6 records). Uploading into "
        "Azurite: "
        f"{', '.join(uploads) or 'not measured'}.",
        "",
    ]
    return out


def _import_slope(runs: list[dict[str, Any]], fmt: str) -> tuple[float, float] | None:
    """MB more per 100,000 records between the two largest sizes of ``fmt``, and the peak at 10^6 (below one
    flush an import holds every record until its one write, so the smallest sizes climb faster)."""
    mine = sorted((x for x in runs if x["format"] == fmt), key=lambda x: x["records"])
    if len(mine) < 2 or mine[-2]["records"] == mine[-1]["records"]:
        return None
    small, big = mine[-2], mine[-1]
    per = (big["peak_rss_mb"] - small["peak_rss_mb"]) / (big["records"] - small["records"]) * 1e5
    at = big["peak_rss_mb"] + per * (1e6 - big["records"]) / 1e5
    return per, at


def _import_at_a_million(r: dict[str, Any]) -> float:
    """The highest peak at 10^6 records, measured (a run of that size) or extrapolated."""
    measured = [x["peak_rss_mb"] for x in r["runs"] if x["records"] >= 1_000_000]
    slopes = [s[1] for fmt in ("jsonl", "json") if (s := _import_slope(r["runs"], fmt)) is not None]
    return max(measured or slopes or [0.0])


#: Each benchmark's result file (``benchmarks/results/<name>.json``) and its section, in the page's order.
SECTIONS: tuple[tuple[str, Callable[[dict[str, Any]], list[str]]], ...] = (
    ("fetch", _fetch),
    ("analysis", _analysis),
    ("run", _run),
    ("lean", _lean),
    ("log_analytics", _log_analytics),
    ("spikes", render_spikes.section),
    ("first_contact", _first_contact),
    ("history", _history),
    ("tenants", tenants_section),
    ("import", _import),
    ("archive", _archive),
)


def render() -> str:
    results = {name: common.load(name) for name, _ in SECTIONS}  # each file read once: sections and notes share it
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benchmarks/bench_fetch.py`, `bench_analysis.py`, `bench_run.py`, "
        "`bench_lean.py`, `bench_log_analytics.py`, `bench_spikes.py`, `bench_first_contact.py`, "
        "`bench_history.py`, `bench_tenants.py`, `bench_import.py`, `bench_archive.py`; each can "
        "be run alone and updates its section). These are measurements, not tests: the test suite stays fast "
        "and never times anything. Expect about 10 minutes for all of them, most of it the plain msgraph-sdk "
        "fetch of B1 and building the 500,000-user store the first time (cached afterwards).",
        "",
        "## Machine",
        "",
        *_machine([r for name in ("fetch", "analysis", "run", "log_analytics") if (r := results[name])]),
    ]
    for name, section in SECTIONS:
        if result := results[name]:
            lines += section(result)
    lines += _missed(results)
    text = "\n".join(lines).rstrip() + "\n"
    common.DOCS.parent.mkdir(parents=True, exist_ok=True)
    common.DOCS.write_text(text, encoding="utf-8")
    return text


if __name__ == "__main__":
    render()
    print(common.DOCS)
