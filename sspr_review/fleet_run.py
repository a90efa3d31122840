"""The commands with ``--tenants``: :func:`dispatch` runs one for every tenant. ``run`` writes every tenant's reports,
then the portfolio of the week (:mod:`sspr_review.report.portfolio`) and, with ``--email``, its e-mail; ``review``
prints the week's rows; ``fetch``, ``status`` and ``doctor`` each tenant's output. How tenants run, and the exit
codes: :mod:`sspr_review.fleet`."""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .core.errors import ConfigError, InputError, SsprReviewError
from .core.files import private_dir, write_private_text
from .core.vocabulary import SEVERITIES
from .core.weeks import last_monday
from .exits import EXIT_CONFIG, EXIT_DOCTOR, EXIT_FINDINGS, EXIT_MAIL, EXIT_TENANTS
from .fleet import (
    WEEK_FOLDER,
    Done,
    Options,
    Plan,
    argv,
    child_env,
    plan,
    run_jobs,
    show,
    status_of,
)
from .mail import ReportFolder, send
from .mail.portfolio import send_portfolio
from .report import portfolio
from .report.slots import make_slots


def dispatch(options: Options) -> int:
    """Run ``options.command`` for every tenant; the exit code (see the module's doc)."""
    env = dict(os.environ)
    try:
        planned = plan(options, env)
    except ConfigError as exc:
        click.echo(f"sspr-review: {exc}", err=True)
        return EXIT_CONFIG
    if options.command == "email":
        return email_tenants(planned, options, env)
    work = Path(tempfile.mkdtemp(prefix="sspr-review-tenants-"))  # owner-only (0700)
    try:
        return COMMANDS[options.command](planned, options, work, env)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def simple(command: str, planned: Plan, options: Options, work: Path, env: dict[str, str]) -> int:
    """``fetch``, ``status`` or ``doctor`` for every tenant: each tenant's output in a block as it finishes, then
    one line per tenant."""
    extra = {"fetch": ["--no-progress"], "status": ["--json"] if options.as_json else [], "doctor": []}[command]
    if command == "doctor" and options.no_graph:
        extra.append("--no-graph")
    jobs = [(t, argv(command, planned, t, work, *extra)) for t in planned.runnable]
    results = list(planned.failed)
    for done in planned.failed:
        show(done, "failed")
    for done in run_jobs(jobs, options.parallel, child_env(env)):
        show(done, status_of(done))
        results.append(done)
    order = {t.name: i for i, t in enumerate(planned.file.tenants)}
    summary(sorted(results, key=lambda d: order[d.tenant.name]), command)
    bad = [d for d in results if d.code != 0]
    if command == "doctor":
        return EXIT_DOCTOR if bad else 0
    return EXIT_TENANTS if bad else 0


def summary(results: Sequence[Done], what: str) -> None:
    """One line per tenant, in the tenants file's order, then the count."""
    click.echo("")
    click.echo(f"{what} for {len(results)} {'tenant' if len(results) == 1 else 'tenants'}:")
    for done in results:
        reason = f": {done.message.splitlines()[0]}" if done.message else ""
        click.echo(f"  {done.tenant.name:<24} {status_of(done)}{reason}")
    failed = sum(1 for d in results if d.code != 0)
    click.echo(f"{len(results) - failed} ok, {failed} not" if failed else f"all {len(results)} ok")


def run_tenants(planned: Plan, options: Options, work: Path, env: dict[str, str]) -> int:
    """``run --tenants``: each tenant's reports into ``OUT/<name>/<week>/``, then the portfolio; the exit code."""
    out = options.out.absolute()
    private_dir(out)
    slots = make_slots(work / "notebook-slots", options.notebook_jobs)
    extra = ["--no-progress", "--notebook-slots", str(slots)]
    extra += ["--week-ending", options.week_ending] if options.week_ending else []
    extra += [] if options.fetch else ["--no-fetch"]
    jobs = [(t, argv("run", planned, t, work, "--out", str(out / t.name), *extra)) for t in planned.runnable]
    rows = [_failed(done) for done in planned.failed]
    codes = [done.code for done in planned.failed]
    for done in run_jobs(jobs, options.parallel, child_env(env)):
        codes.append(done.code)
        folder = produced(out / done.tenant.name, done.started, options.week_ending)
        findings = _read(folder / "findings.json") if folder else None
        link = portfolio.report_link(done.tenant.name, folder.name) if folder else None
        row = portfolio.tenant_row(_outcome(done, folder), findings, link)
        show(done, _label(row))
        rows.append(row)
    doc = _document(planned, options, rows)
    folder = portfolio.write(doc, out)
    _print(doc)
    click.echo(f"  {(folder / 'portfolio.html').resolve()}\n  {(folder / 'portfolio.json').resolve()}")
    mailed = email_rows(planned, doc, out, folder, options.dry_run, env) if options.email else 0
    matched = [r["name"] for r in rows if options.fail_on and _at_or_above(r, options.fail_on)]
    if matched:
        click.echo(f"sspr-review: findings at or above {options.fail_on} in: {', '.join(matched)}", err=True)
    return exit_code(codes, mailed, bool(matched))


def exit_code(codes: Sequence[int | None], mailed: int, matched: bool) -> int:
    """``run --tenants``' exit code: 9 when a tenant's run did not exit 0 (or did not start), else 8 when an e-mail
    could not be sent (``mailed``), else 7 when ``--fail-on`` matched in some tenant, else 0."""
    if any(code != 0 for code in codes):
        return EXIT_TENANTS
    return mailed or (EXIT_FINDINGS if matched else 0)


def review_tenants(planned: Plan, options: Options, work: Path, env: dict[str, str]) -> int:
    """``review --tenants``: each tenant's review from its store, then the week's rows most urgent first (``--json
    PATH``: as portfolio.json); the exit code."""
    extra = ["--week-ending", options.week_ending] if options.week_ending else []
    jobs = [
        (t, argv("review", planned, t, work, *extra, "--json", str(work / f"{t.name}.json"))) for t in planned.runnable
    ]
    rows = [_failed(done) for done in planned.failed]
    codes = [done.code for done in planned.failed]
    for done in run_jobs(jobs, options.parallel, child_env(env)):
        codes.append(done.code)
        path = work / f"{done.tenant.name}.json"
        findings = _read(path) if done.code == 0 and path.is_file() else None
        row = portfolio.tenant_row(_outcome(done, None), findings)
        show(done, _label(row))
        rows.append(row)
    doc = _document(planned, options, rows)
    _print(doc)
    if options.json_path is not None:
        write_private_text(options.json_path, json.dumps(doc, indent=2) + "\n")
        click.echo(f"portfolio.json written to {options.json_path}")
    return EXIT_TENANTS if any(c != 0 for c in codes) else 0


def email_tenants(planned: Plan, options: Options, env: dict[str, str]) -> int:
    """``email --tenants``: the portfolio ``run --tenants`` wrote (the week given, else the latest) to the provider,
    each tenant's report to that tenant's recipients."""
    out = options.out.absolute()
    weeks = sorted(p.name for p in (out / portfolio.FOLDER).glob("*") if WEEK_FOLDER.fullmatch(p.name))
    week = options.week_ending or (weeks[-1] if weeks else None)
    folder = out / portfolio.FOLDER / str(week)
    try:
        doc = portfolio.load(folder)
    except (OSError, ValueError) as exc:
        click.echo(f"sspr-review: no portfolio in {folder} ({exc}); run 'sspr-review run --tenants' first", err=True)
        return EXIT_CONFIG
    return email_rows(planned, doc, out, folder, options.dry_run, env)


def email_rows(
    planned: Plan, doc: Mapping[str, Any], out: Path, folder: Path, dry_run: bool, env: Mapping[str, str]
) -> int:
    """Send the portfolio to ``[portfolio] to`` and each tenant's report to its own ``[mail] to``; 8 when one could
    not be sent (each is tried; each failure named)."""
    failures = 0
    provider = planned.file.provider_config(env=env)
    if provider.mail.to:
        try:
            click.echo(f"Portfolio e-mail {send_portfolio(doc, folder, provider, dry_run=dry_run)}")
        except SsprReviewError as exc:
            click.echo(f"sspr-review: portfolio e-mail not sent: {exc}", err=True)
            failures += 1
    else:
        click.echo("note: the portfolio is not e-mailed: [portfolio] to is empty in the tenants file", err=True)
    for row in doc["tenants"]:
        cfg = planned.configs.get(row["name"])
        if row["status"] == "failed" or cfg is None or not row["week_ending"]:
            click.echo(f"note: {row['name']}: no report to e-mail", err=True)
            continue
        if not cfg.mail.to:
            click.echo(f"note: {row['name']}: not e-mailed ([mail] to is empty in its configuration)", err=True)
            continue
        try:
            where, notes = send(ReportFolder.load(out / row["name"] / row["week_ending"]), cfg, dry_run=dry_run)
        except SsprReviewError as exc:
            click.echo(f"sspr-review: {row['name']}: e-mail not sent: {exc}", err=True)
            failures += 1
            continue
        for note in notes:
            click.echo(f"note: {row['name']}: {note}", err=True)
        click.echo(f"{row['name']}: e-mail {where}")
    return EXIT_MAIL if failures else 0


# --------------------------------------------------------------------------------------------------- helpers
def produced(root: Path, started: float, week: str | None) -> Path | None:
    """The report folder a tenant's ``run`` wrote (its findings.json written after ``started``), if any."""
    if not root.is_dir():
        return None
    candidates = [root / week] if week else [d for d in root.iterdir() if WEEK_FOLDER.fullmatch(d.name)]
    fresh = [
        d
        for d in candidates
        if (d / "findings.json").is_file() and (d / "findings.json").stat().st_mtime >= started - 1
    ]
    return max(fresh, key=lambda d: (d / "findings.json").stat().st_mtime) if fresh else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} cannot be read ({exc})") from None
    return loaded


def _outcome(done: Done, folder: Path | None) -> portfolio.Outcome:
    return portfolio.Outcome(done.tenant.name, done.tenant.source, done.code, done.message, folder, done.seconds)


def _failed(done: Done) -> dict[str, Any]:
    show(done, "failed")
    return portfolio.tenant_row(_outcome(done, None), None)


def _label(row: Mapping[str, Any]) -> str:
    return row["status"] if row["status"] == "ok" else f"{row['status']}: {str(row['reason']).splitlines()[0]}"


def _at_or_above(row: Mapping[str, Any], severity: str) -> bool:
    counts = row["findings"] or {}
    return any(counts.get(s) for s in SEVERITIES[: SEVERITIES.index(severity) + 1])


def _document(planned: Plan, options: Options, rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    default = options.week_ending or last_monday(planned.file.provider_config().review.timezone).date().isoformat()
    week = options.week_ending or portfolio.portfolio_week(rows, default)
    return portfolio.document(rows, week=week, title=planned.file.portfolio.title, generated_at=datetime.now(UTC))


def _print(doc: Mapping[str, Any]) -> None:
    """The portfolio in a few lines: one per tenant, most urgent first."""
    c = doc["counts"]
    click.echo("")
    click.echo(
        f"{doc['title']}, week ending {doc['week_ending']}: {c['tenants']} tenants, {c['attention']} need attention "
        f"({c['ok']} ok, {c['partial']} partial, {c['failed']} failed)"
    )
    for row in doc["tenants"]:
        counts = ", ".join(f"{n} {s}" for s, n in (row["findings"] or {}).items() if n) or "no findings"
        new = "" if row["new"] is None else f", {row['new']} new"
        what = row["reason"] if row["status"] == "failed" else f"{counts}{new} — {row['headline']}"
        click.echo(f"  {row['status']:<8} {row['name']:<24} {str(what).splitlines()[0]}")


#: What each command does with ``--tenants``.
COMMANDS: dict[str, Callable[[Plan, Options, Path, dict[str, str]], int]] = {
    "run": run_tenants,
    "fetch": functools.partial(simple, "fetch"),
    "review": review_tenants,
    "status": functools.partial(simple, "status"),
    "doctor": functools.partial(simple, "doctor"),
}
