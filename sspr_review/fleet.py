"""Many tenants, one command: ``--tenants FILE`` on ``run``, ``fetch``, ``review``, ``status``, ``doctor`` and
``email`` (the tenants file: :mod:`sspr_review.core.tenants`).

Each tenant runs as its own ``sspr-review`` process: the single-tenant command, unchanged, with the tenant's
configuration (layered from the tenants file, written owner-only to a private temporary folder that is removed
afterwards; it names environment variables, never holds a secret), its own store (``<store>/<name>/``) and its own
report folder (``OUT/<name>/<week ending>/``). So a tenant's run is exactly ``sspr-review run --config <its
configuration>``, and a tenant that fails (authentication, a permission, a missing source, a crash of its review,
even of its interpreter) is recorded with its reason while the others go on. Up to ``--parallel`` tenants run at
once: Graph's budgets are per application and tenant, and the kit's record of recent requests is kept per host,
tenant and client, so parallel tenants never share a budget. At most ``--notebook-jobs`` report notebooks
execute at a time across the tenants, each holding a slot (:mod:`sspr_review.report.slots`). Each tenant's
process ends with its tenant, so the memory in use at any time is that of ``--parallel`` tenants, however many
the file holds.

The environment's ``SSPR_REVIEW_<SECTION>_<KEY>`` settings are part of each tenant's configuration as layered (a
row's ``tenant_id`` and ``client_id`` win over them) and are not passed on again; everything else in the
environment (a ready token, the secrets the configuration names) is.

Exit codes with ``--tenants``: 0 every tenant's command succeeded; 2 the tenants file is unusable (nothing ran);
9 one or more tenants failed or returned a partial result (each named with its reason; the others completed);
else 8 an e-mail could not be sent; else 7 ``--fail-on`` matched in some tenant. ``doctor --tenants`` exits 1 when
any tenant has something to fix.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import click

from .core import config as config_mod
from .core import tenants as tenants_mod
from .core.errors import ConfigError
from .core.files import write_private_text
from .exits import EXIT_FETCH, EXIT_STORE
from .sources import source_kind

#: What a command exits with for "the tenant returned part of a result" (its single-tenant exit codes).
PARTIAL_CODES = frozenset({EXIT_FETCH, EXIT_STORE})
#: The command line each tenant's process runs.
CLI = (sys.executable, "-m", "sspr_review.cli")
WEEK_FOLDER = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass
class Options:
    """What ``--tenants`` needs of the command line."""

    command: str
    tenants: Path
    parallel: int = 4
    notebook_jobs: int = 2
    store: Path | None = None
    week_ending: str | None = None
    out: Path = Path("reports")
    fail_on: str | None = None
    fetch: bool = True
    email: bool = False
    dry_run: bool = False
    json_path: Path | None = None
    as_json: bool = False
    no_graph: bool = False


@dataclass
class Done:
    """One tenant's process: its exit code (``None``: not started, see ``message``), output and time."""

    tenant: tenants_mod.Tenant
    code: int | None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    started: float = 0.0
    message: str = ""


# ------------------------------------------------------------------------------------------------ the tenants
@dataclass
class Plan:
    """The tenants file, each tenant's configuration, and the tenants that failed before starting."""

    file: tenants_mod.TenantsFile
    configs: dict[str, config_mod.Config]
    failed: list[Done]

    @property
    def runnable(self) -> list[tenants_mod.Tenant]:
        """The tenants whose configuration is sound, in the file's order."""
        return [t for t in self.file.tenants if t.name in self.configs]


def plan(options: Options, env: Mapping[str, str]) -> Plan:
    """Read the tenants file (:class:`ConfigError`: unusable, nothing runs) and layer each tenant's
    configuration; a tenant whose configuration is wrong fails alone, with the reason."""
    file = tenants_mod.load(options.tenants, env=env)
    configs: dict[str, config_mod.Config] = {}
    failed: list[Done] = []
    for tenant in file.tenants:
        try:
            kind = source_kind(tenant.source)
        except ConfigError as exc:
            raise ConfigError(f"{file.path}: tenant {tenant.name!r}: {exc}") from None
        try:
            cfg = file.config(tenant, env=env, store_root=options.store)
            if kind.tenant_bound and not cfg.auth.tenant_id:
                raise ConfigError(
                    f"tenant {tenant.name!r}: the {tenant.source} source reads the tenant [auth] tenant_id names, and "
                    "none is set: add tenant_id (the tenant's Directory ID, a GUID) to its row"
                )
        except ConfigError as exc:
            failed.append(Done(tenant, None, message=str(exc)))
            continue
        configs[tenant.name] = cfg
    return Plan(file, configs, failed)


def child_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a tenant's process: without the variables that set configuration keys (they are in
    each tenant's configuration already, under its row's ids), with everything else."""
    return {k: v for k, v in env.items() if k.upper() not in config_mod.ENV_KEYS and k.upper() != "SSPR_REVIEW_CONFIG"}


def message(stderr: str) -> str:
    """What a tenant's process said when it failed: its last ``sspr-review: ...`` message (with the lines that
    belong to it), else its last line (a crash's exception)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(lines) if line.startswith("sspr-review: ")]
    if starts:
        return "\n".join(lines[starts[-1] :]).removeprefix("sspr-review: ")
    return lines[-1] if lines else ""


def run_jobs(
    jobs: Sequence[tuple[tenants_mod.Tenant, list[str]]], parallel: int, env: Mapping[str, str]
) -> Iterator[Done]:
    """Run each tenant's command line, ``parallel`` at once; yield each as it finishes."""

    def one(tenant: tenants_mod.Tenant, argv: list[str]) -> Done:
        started, t0 = time.time(), time.perf_counter()
        try:
            done = subprocess.run(argv, capture_output=True, text=True, env=dict(env), stdin=subprocess.DEVNULL)
        except OSError as exc:
            return Done(tenant, None, message=f"could not start: {exc}", started=started)
        seconds = time.perf_counter() - t0
        text = message(done.stderr) if done.returncode != 0 else ""
        return Done(tenant, done.returncode, done.stdout, done.stderr, seconds, started, text)

    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="tenant") as pool:
        futures = [pool.submit(one, tenant, argv) for tenant, argv in jobs]
        for future in as_completed(futures):
            yield future.result()


def show(done: Done, status: str) -> None:
    """A tenant's output as one block: its name and status, then what its command printed, indented."""
    took = f" in {done.seconds:.0f} s" if done.code is not None else ""
    click.echo(f"── {done.tenant.name} ({done.tenant.source}): {status}{took}")
    for line in done.stdout.splitlines():
        click.echo(f"   {line}")
    for line in done.stderr.splitlines():
        click.echo(f"   {line}", err=True)
    if done.code is None and done.message:
        click.echo(f"   {done.message}", err=True)


def status_of(done: Done) -> str:
    if done.code == 0:
        return "ok"
    if done.code in PARTIAL_CODES:
        return f"partial (exit {done.code})"
    return "failed" if done.code is None else f"failed (exit {done.code})"


def argv(command: str, planned: Plan, tenant: tenants_mod.Tenant, work: Path, *extra: str) -> list[str]:
    """The command line of ``command`` for ``tenant``: its configuration written into ``work``, its source."""
    path = work / f"{tenant.name}.toml"
    write_private_text(path, tenants_mod.config_text(planned.configs[tenant.name]))
    line = [*CLI, command, "--config", str(path)]
    if command != "doctor":
        line += ["--source", tenant.source]
    if tenant.files and command in ("fetch", "run"):
        line += ["--files", tenant.files]
    return [*line, *extra]
