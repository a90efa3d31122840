"""``sspr-review``: fetch SSPR data into the history store, review the week, build and e-mail the reports.

Exit codes: 0 success; 2 bad usage or configuration; 3 a source could not be fetched (the others landed);
4 the store is unusable, or input files or records cannot be read (each named; the readable ones landed);
5 authentication failed; 6 a report notebook failed, or a notebook,
the report template or a Python kernel is missing;
7 findings at or above ``run --fail-on`` exist; 8 the e-mail could not be sent; 1 ``doctor`` found a problem;
9 with ``--tenants``: one or more tenants failed or returned a partial result (:mod:`.fleet`).

Each command imports the heavy machinery it uses when it runs (the workspace and the analyses with pandas,
papermill and nbconvert, the mail composer), so that ``--help``, a usage error or ``sspr-review lab`` does not
first load what only another command needs.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import exits
from .cli_setup import (
    config_option,
    files_option,
    init_command,
    progress_option,
    quiet_azure,
    source_option,
    store_option,
    verbose_option,
)
from .core.errors import (
    ConfigError,
)
from .core.vocabulary import SEVERITIES
from .exits import (
    CONFIG_KEY,
    EXIT_FETCH,
    EXIT_FINDINGS,
    EXIT_MAIL,
    EXIT_STORE,
    VERBOSE_KEY,
)
from .exits import exit_codes as _exit_codes
from .exits import fail as _fail
from .fleet_cli import notebook_jobs_option, out_option, tenants_option
from .fleet_cli import week_option as portfolio_week_option
from .hints import demo_beside, held_line, holds_nothing, nothing_to_review
from .report.notebooks import copy_notebooks

if TYPE_CHECKING:
    from .core.config import Config


def _config(config_path: Path | None, store_path: Path | None = None, **overrides: Any) -> Config:
    from .core import config as config_mod  # lazy: pydantic takes 0.2 s to import, which --help must not wait for

    with _exit_codes():
        cfg = config_mod.load(config_path, store__path=str(store_path) if store_path else None, **overrides)
        click.get_current_context().meta[CONFIG_KEY] = cfg  # for the messages that depend on it
        return cfg
    raise AssertionError("unreachable")  # pragma: no cover - _exit_codes exits


def _workspace(config_path: Path | None, store_path: Path | None, source: str, files: Path | None = None) -> Any:
    from .app.workspace import Workspace  # lazy: the workspace loads pandas, which --help must not

    cfg = _config(config_path, store_path)
    with _exit_codes():
        return Workspace(cfg, source, files=files)
    raise AssertionError("unreachable")  # pragma: no cover - _exit_codes exits


def _report(result: Any, ws: Any) -> None:
    for line in result.lines():
        click.echo(line)
    for line in result.report.lines():
        click.echo(f"note: {line}")
    click.echo(held_line(ws))
    click.echo("")
    with _exit_codes():
        _summary(ws, None)


def _summary(ws: Any, week_ending: str | None) -> Any:
    from .report.summary import review_lines  # lazy: the report loads pandas, which --help must not

    review = ws.review(week_ending)
    if ws.week_note:
        click.echo(f"Week: {ws.week_note}")
    for line in review_lines(review):
        click.echo(line)
    return review


def _store_damage(ws: Any, review: Any) -> None:
    """Exit 4 when this command found the store damaged, or the week lacks data a damaged file held (named)."""
    from .app.store_health import damage_message  # lazy: the store loads pandas, which --help must not

    if message := damage_message(ws.store, review.coverage.values()):
        _fail(message, EXIT_STORE)


week_option = click.option(
    "--week-ending",
    metavar="DATE",
    help="Review the week ending at 00:00 on DATE (YYYY-MM-DD, normally a Monday) in [review] timezone. "
    "Default: the most recent Monday; with --source files, the last complete week the files cover.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="sspr-review")
@click.option("--verbose", is_flag=True, help="Also print the Python traceback of a failure.")
def main(verbose: bool) -> None:
    """Weekly review of Microsoft Entra ID self-service password reset (SSPR).

    Fetches SSPR audit events, risk detections, registration state and administrator roles from
    Microsoft Graph into a local history store (Graph keeps audit logs 30 days at most).

    \b
    The demo tenant's reports:    sspr-review run --source demo
    A configuration to edit:      sspr-review init config.toml --tenant-id ID --client-id ID --auth MODE
    Check your set-up:            sspr-review doctor --config config.toml
    Fetch from your tenant:       sspr-review fetch --config config.toml
    The weekly reports (+ mail):  sspr-review run --config config.toml --email
    What the store holds:         sspr-review status --config config.toml
    How reason texts classify:    sspr-review reasons --from-store --config config.toml
    The notebooks, for JupyterLab: sspr-review notebooks DIR
    Explore in JupyterLab:        sspr-review lab
    Check the store's files:      sspr-review store verify --config config.toml
    """
    exits.verbose = verbose
    quiet_azure()


@main.command()
@tenants_option("fetch")
@config_option
@store_option
@source_option
@files_option
@progress_option
@verbose_option
def fetch(
    config_path: Path | None, store_path: Path | None, source: str, files: Path | None, progress: bool | None
) -> None:
    """Fetch new data from SOURCE into the history store, then print the last week's summary.

    Incremental: each source resumes at the store's high-water mark minus an overlap, so a fetch killed
    part-way is completed by the next one. A source the app may not read (missing permission or licence)
    is recorded as "no data" with the reason and the others still land; the exit code is then 3 (5, with one
    message, when Graph rejected the token).

    Graph access: set [graph] base_url or SSPR_REVIEW_GRAPH_URL for national clouds or a test server,
    and [auth] mode (or SSPR_REVIEW_ACCESS_TOKEN for a ready token).
    """
    ws = _workspace(config_path, store_path, source, files)
    with _exit_codes():
        result = ws.fetch(progress=progress)
    _report(result, ws)
    exits.outcome(result, ws, "see the reasons above")


@main.command()
@config_option
@store_option
@click.option("--users", type=click.IntRange(50, 1_000_000), help="Demo tenant size (default: [demo] users, 2000).")
@click.option("--weeks", type=click.IntRange(2, 104), help="Weeks of history (default: [demo] weeks, 26).")
@progress_option
def demo(
    config_path: Path | None,
    store_path: Path | None,
    users: int | None,
    weeks: int | None,
    progress: bool | None,
) -> None:
    """Build the demo tenant "Northgate Engineering" into the store and print the last week's summary.

    The demo store is rebuilt as weekly scheduled fetches would have filled it, through the same
    normalisation and store code as Microsoft Graph data. Needs no tenant and no configuration.
    """
    from .app.workspace import Workspace  # lazy: the workspace loads pandas, which --help must not

    cfg = _config(config_path, store_path, demo__users=users, demo__weeks=weeks)
    with _exit_codes():
        ws = Workspace(cfg, "demo")
        results = ws.build_demo_history(progress=progress)
    click.echo(f"Demo tenant: {len(results)} weekly fetches into {ws.store.path}; the last one:")
    _report(results[-1], ws)


@main.command()
@tenants_option("run", notebook_jobs_option)
@config_option
@store_option
@source_option
@files_option
@week_option
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Reports go to OUT/<week ending>/ (owner-only: they hold user names and IPs).",
)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES),
    help="Exit 7 when findings of this severity or worse exist (for schedulers).",
)
@click.option(
    "--fetch/--no-fetch", "do_fetch", default=True, help="Fetch before reporting (default) or use the store as is."
)
@click.option(
    "--email", "do_email", is_flag=True, help="E-mail the review as configured in [mail] when the reports are done."
)
@click.option(
    "--dry-run", is_flag=True, help="With --email: write the message as weekly-review.eml instead of sending."
)
@progress_option
@click.option("--notebook-slots", type=click.Path(file_okay=False, path_type=Path), hidden=True)  # run --tenants
@verbose_option
def run(
    config_path: Path | None,
    store_path: Path | None,
    source: str,
    files: Path | None,
    week_ending: str | None,
    out: Path,
    fail_on: str | None,
    do_fetch: bool,
    do_email: bool,
    dry_run: bool,
    progress: bool | None,
    notebook_slots: Path | None,
) -> None:
    """Fetch, then build the week's reports: weekly-review.html, adoption-trends.html, the executed
    notebooks and findings.json, in OUT/<week ending>/.

    The HTML hides code and draws every chart offline (plotly.js embedded once per report). The folder is
    built next to OUT/<week ending>/ and replaces it only when complete.
    Exit codes: 0 done; 3 a source returned no data (reports still written, gaps shown);
    4 store unusable or input records unreadable (named);
    5 authentication failed; 6 a notebook failed, or a notebook, the report
    template or the kernel is missing; 7 --fail-on matched; 8 the e-mail could not be sent.

    With --tenants FILE: every tenant's reports in OUT/<name>/<week ending>/, then the portfolio
    (OUT/portfolio/<week ending>/portfolio.html and .json, most urgent tenant first); exit 9 when a tenant
    failed or returned a partial result, else 8, else 7 (--fail-on over all tenants), else 0.
    """
    from .report.run import run as run_reports  # lazy: papermill and nbconvert are heavy

    ws = _workspace(config_path, store_path, source, files)
    with _exit_codes():
        if week_ending:  # a bad date is an error before the fetch (which may fill the store), not after it
            ws.window(week_ending, within_history=not do_fetch)
        result = run_reports(
            ws,
            week_ending=week_ending,
            out=out,
            fetch=do_fetch,
            progress=progress,
            log=lambda msg: click.echo(msg, err=True),
            notebook_slots=notebook_slots,
        )
    if result.fetch is not None:
        for line in result.fetch.lines():
            click.echo(line)
        click.echo(held_line(ws))
    if ws.week_note:
        click.echo(f"Week: {ws.week_note}")
    click.echo(f"Reports for the week ending {result.folder.name}:")
    for path in [*result.html, result.folder / "findings.json"]:
        click.echo(f"  {path.resolve()}")
    from .report.summary import document_verdict_lines  # lazy: the report loads pandas, which --help must not

    for line in document_verdict_lines(result.findings):
        click.echo(line)
    if do_email:
        _email(ws.config, result.folder, dry_run)
    if result.fetch is not None:
        exits.outcome(result.fetch, ws, "the reports show the gap")
    if fail_on and (matched := result.at_or_above(fail_on)):
        _fail(f"{len(matched)} findings at or above {fail_on}", EXIT_FINDINGS)


def _email(cfg: Config, folder: Path, dry_run: bool) -> None:
    from .mail import ReportFolder, send  # lazy: the mail composer loads pandas and Jinja2, which --help must not

    with _exit_codes(EXIT_MAIL, "e-mail not sent: "):
        where, notes = send(ReportFolder.load(folder), cfg, dry_run=dry_run)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"E-mail {where}")


@main.command()
@tenants_option("email", out_option, portfolio_week_option)
@config_option
@store_option
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False)
@click.option("--dry-run", is_flag=True, help="Write the message as FOLDER/weekly-review.eml instead of sending.")
@verbose_option
def email(config_path: Path | None, store_path: Path | None, folder: Path | None, dry_run: bool) -> None:
    """E-mail the review in FOLDER (a report folder of 'sspr-review run') as configured in [mail].

    The body holds the data coverage, the findings that need attention with their actions, the KPIs against
    last week and the charts as inline images (rendered through a local Chromium; without one the body goes
    without images). The interactive HTML reports are attached unless configured off or pseudonymised.
    Transports: SMTP (STARTTLS by default; login from SSPR_REVIEW_SMTP_USERNAME/PASSWORD) or Microsoft Graph
    sendMail (Mail.Send). With --tenants: the portfolio run --tenants wrote, to [portfolio] to, and each
    tenant's report to that tenant's own [mail] to.
    """
    if folder is None:
        raise click.UsageError("missing FOLDER: the report folder to e-mail (or --tenants FILE)")
    _email(_config(config_path, store_path), folder, dry_run)


@main.command()
@tenants_option("review")
@config_option
@store_option
@source_option
@week_option
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write findings.json (the machine-readable review; see docs/findings-json.md) to this file.",
)
def review(
    config_path: Path | None, store_path: Path | None, source: str, week_ending: str | None, json_path: Path | None
) -> None:
    """Review one week from the store (no fetch): coverage, metrics against last week, findings and actions.

    With --source demo the demo store is built first when missing (or, when another process is building it,
    the review waits for that build).
    """
    from .report.outputs import write_findings  # lazy: the report loads pandas, which --help must not

    ws = _workspace(config_path, store_path, source)
    with _exit_codes():
        ws.ensure_store()  # as the notebooks do: build the demo store, or wait for the build in flight
        if holds_nothing(ws.status()):
            _fail(nothing_to_review(ws), EXIT_FETCH)
        result = _summary(ws, week_ending)
    if json_path is not None:
        with _exit_codes():
            write_findings(result, json_path)
        click.echo(f"findings.json written to {json_path}")
    _store_damage(ws, result)


main.add_command(init_command)


@main.command("notebooks")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite copies edited since they were copied.")
def notebooks_command(folder: Path, force: bool) -> None:
    """Copy the report notebooks (weekly_review, adoption_trends, user_investigation) into FOLDER, to open
    them in JupyterLab (pip install 'sspr-review[lab]'; then: jupyter lab FOLDER).

    Running it again updates copies you did not change. A copy you edited is never overwritten unless you
    pass --force: nothing is copied and the exit code is 2.
    """
    with _exit_codes():
        done = copy_notebooks(folder, force=force)
    for path, action in done:
        click.echo(f"{action:<12} {path}")


@main.command()
@tenants_option("doctor")
@config_option
@click.option("--no-graph", is_flag=True, help="Skip the Microsoft Graph checks (e.g. to test only the mail relay).")
@verbose_option
def doctor(config_path: Path | None, no_graph: bool) -> None:
    """Check that a scheduled run will work: configuration, a token, each Graph source (ok, missing
    permission or missing licence, named), each Log Analytics table when a workspace is configured (ok,
    missing role or missing table), the SMTP relay (connect, TLS, login; nothing is sent),
    kaleido and Chromium for the e-mail's charts (with recipients), and the report notebooks, their template and a
    Python kernel.
    Exits 1 when something is wrong, with the fix under each problem.
    """
    from .core import config as config_mod  # lazy: pydantic takes 0.2 s to import, which --help must not wait for
    from .doctor import run_checks  # lazy: the checks load the mail composer and pandas, which --help must not

    if config_path is not None and not config_path.expanduser().exists():
        click.echo(f"[FAIL] configuration: {config_path} does not exist")
        click.echo(f"       fix: sspr-review init {config_path} writes a commented one to edit")
        sys.exit(exits.EXIT_DOCTOR)
    try:
        cfg = config_mod.load(config_path)
    except ConfigError as exc:
        click.echo(f"[FAIL] configuration: {exc}\n       fix: correct the key named above")
        sys.exit(exits.EXIT_DOCTOR)
    checks = run_checks(cfg, dict(os.environ), graph=not no_graph)
    verbose = click.get_current_context().meta.get(VERBOSE_KEY, False)
    for check in checks:
        click.echo(check.line(verbose=verbose))
    failed = [c for c in checks if not c.ok]
    click.echo(f"{len(checks) - len(failed)} ok, {len(failed)} to fix")
    if failed:
        sys.exit(exits.EXIT_DOCTOR)


@main.command()
@tenants_option("status")
@config_option
@store_option
@source_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def status(config_path: Path | None, store_path: Path | None, source: str, as_json: bool) -> None:
    """Show what the history store covers: time ranges, snapshots and the last failure of each source."""
    ws = _workspace(config_path, store_path, source)
    with _exit_codes():
        info = ws.status()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    from .app.store_health import status_lines  # lazy: the store loads pandas, which --help must not

    for line in status_lines(info):
        click.echo(line)
    if holds_nothing(info) and (hint := demo_beside(ws)):
        click.echo(f"Hint: {hint}")


@main.group("store")
def store_group() -> None:
    """Check the history store's files (verify), or quarantine the damaged ones and rebuild what can be (repair)."""


@store_group.command("verify")
@config_option
@store_option
@source_option
def store_verify(config_path: Path | None, store_path: Path | None, source: str) -> None:
    """Check every file of the store against its manifest (size, checksum, rows, columns); change nothing.
    Exit 4 when a file is damaged, each named: 'sspr-review store repair' repairs the store."""
    from .app.store_health import verify_store  # lazy: the store loads pandas, which --help must not

    ws = _workspace(config_path, store_path, source)
    with _exit_codes():
        lines, damaged = verify_store(ws.store)
    click.echo("\n".join(lines))
    if damaged:
        _fail("the store is damaged: 'sspr-review store repair' quarantines the damaged files and rebuilds", EXIT_STORE)


@store_group.command("repair")
@config_option
@store_option
@source_option
@files_option
@click.option("--fetch/--no-fetch", "do_fetch", default=True, help="Fetch afterwards (default).")
@progress_option
def store_repair(
    config_path: Path | None, store_path: Path | None, source: str, files: Path | None, do_fetch: bool, **kw: Any
) -> None:
    """Move every damaged file to the store's quarantine/ folder (with a note), rebuild coverage.json from the
    files when it is damaged, then fetch: what the source still holds of the damaged files' data is read again
    and new snapshots are taken; what it no longer holds is named (exit 4)."""
    from .app.store_health import repair_store  # lazy: the store loads pandas, which --help must not

    ws = _workspace(config_path, store_path, source, files)
    with _exit_codes():
        click.echo("\n".join(repair_store(ws.store)))
        result = ws.update(progress=kw["progress"]) if do_fetch else None
    if result is not None:
        click.echo("\n".join(result.lines()))
        exits.outcome(result, ws, "see the reasons above")


def _tsv_field(value: object) -> str:
    """Tenant text as one TSV field: tabs, newlines and other control or invisible characters escaped."""
    named = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
    text = "" if value is None else str(value)
    return "".join(
        ch if ch.isprintable() else named.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        for ch in text
    )


@main.command()
@config_option
@store_option
@source_option
@click.option(
    "--from-store", is_flag=True, help="Classify every distinct resultReason the review classifies in the store."
)
@click.option(
    "--reason-rules",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your rules CSV (columns pattern,stage,method,end_state,note), tried before the packaged table; "
    "overrides [analysis] reason_rules.",
)
def reasons(
    config_path: Path | None, store_path: Path | None, source: str, from_store: bool, reason_rules: Path | None
) -> None:
    """Show how resultReason texts are classified, to check a new string or test a rule before the review.

    Reads texts one per line on standard input (or, with --from-store, every distinct resultReason the review
    classifies in the store: flow progress steps and failed resets, changes and unlocks) and prints a TSV with
    a header: string, stage, method, outcome (the flow end state) and rule, the rules that set them as
    'pattern (file:line)'. An empty rule means the text is unrecognised: the review lists it under "what the
    kit could not classify". The rules are your [analysis] reason_rules file (or --reason-rules), then the
    packaged table; in each of stage, method and outcome the first matching rule wins. A pattern is a
    case-insensitive substring, or a regular expression after 're:'. Tabs, newlines and other control
    characters in tenant text are printed escaped (\\t, \\n, \\x1b), so the TSV stays parseable.

    \b
    Check a new string:   echo "User completed the passkey verification option" | sspr-review reasons
    Test your rules:      sspr-review reasons --from-store --config config.toml --reason-rules my_rules.csv
    Unrecognised only:    sspr-review reasons --from-store --config config.toml | awk -F'\\t' '$5 == ""'
    """
    import pandas as pd  # lazy: --help must not load pandas

    from .analysis.reasons import explain_reasons  # lazy: the analyses load pandas, which --help must not
    from .app.workspace import Workspace  # lazy: the workspace loads pandas, which --help must not

    rules_file = str(reason_rules.resolve()) if reason_rules else None
    cfg = _config(config_path, store_path, analysis__reason_rules=rules_file)
    with _exit_codes():
        rules = cfg.analysis_settings().rules()
        if from_store:
            ws = Workspace(cfg, source)
            stored = ws.reason_texts(rules)
            if stored is None:
                _fail(
                    f"no data: the store {ws.store.path} holds no audit events yet; "
                    "run 'sspr-review fetch' first (or pass --store / --source)",
                    EXIT_FETCH,
                )
            texts = stored
        else:
            stdin = sys.stdin.buffer
            if stdin.isatty():
                click.echo("Reading resultReason texts from standard input, one per line (end with Ctrl-D).", err=True)
            raw = stdin.read().decode("utf-8", errors="replace").removeprefix("\ufeff")
            texts = [line.removesuffix("\r") for line in raw.split("\n") if line.strip()]
        found = explain_reasons(pd.Series(texts, dtype="string"), rules)
    click.echo("string\tstage\tmethod\toutcome\trule")
    for text, row in zip(texts, found.itertuples(index=False), strict=True):
        fields = (text, row.stage, row.method, row.end_state, row.rule)
        click.echo("\t".join(_tsv_field(f) for f in fields))
    unrecognised = int((found["rule"] == "").sum())
    click.echo(f"{len(texts)} texts, {unrecognised} unrecognised", err=True)


@main.command(
    "lab",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["--help"]},
)
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Working folder (default: lab/ in a git checkout, which git ignores; else lab/ in the user data folder).",
)
@click.argument("jupyter_options", nargs=-1, type=click.UNPROCESSED)
def lab(folder: Path | None, jupyter_options: tuple[str, ...]) -> None:
    """Open JupyterLab on private working copies of the notebooks (needs pip install 'sspr-review[lab]').

    The working folder is owner-only (700) and holds copies (600) of weekly_review, adoption_trends and
    user_investigation: new ones are copied in, the ones you edited or ran are kept. Everything JupyterLab
    saves there is owner-only. JUPYTER_OPTIONS go to JupyterLab as given, e.g.
    sspr-review lab --no-browser --port 8899 --IdentityProvider.token=...
    """
    from . import lab as jupyter  # lazy: the working folder's lookup loads the configuration (pydantic)

    target = (folder or jupyter.working_folder()).expanduser().absolute()
    with _exit_codes():
        jupyter.check_jupyterlab()
        done = jupyter.sync_working_copies(target)
    click.echo(f"Working folder: {target}")
    for path, action in done:
        click.echo(f"  {action:<14} {path.name}")
    sys.stdout.flush()
    command = jupyter.lab_command(target, jupyter_options)
    # JupyterLab replaces this process: Ctrl-C and a service manager's SIGTERM reach the server itself.
    os.execve(command[0], command, jupyter.lab_environment())


if __name__ == "__main__":  # pragma: no cover
    main()
