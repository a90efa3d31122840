"""The command line's setting-up parts, kept out of ``cli.py``: choices loaded only when needed, the options
several commands share (``--config``, ``--store``, ``--source``, ``--files``, ``--progress``, ``--verbose``), and
``sspr-review init`` (the commented configuration, :mod:`.starter`).

Nothing here imports the configuration (pydantic) or the source registry at import time: ``sspr-review --help``
loads this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from .core.errors import ConfigError, ToolchainMissing
from .exits import EXIT_CONFIG, VERBOSE_KEY, fail


def _remember_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    ctx.meta[VERBOSE_KEY] = value


#: ``--verbose`` for the commands that sign in: a failed sign-in shows each credential tried and why it failed.
verbose_option = click.option(
    "--verbose",
    "-v",
    is_flag=True,
    expose_value=False,
    callback=_remember_verbose,
    help="When signing in fails, show each credential azure-identity tried and why it failed.",
)


def quiet_azure() -> None:
    """azure-identity logs a failed credential chain as a warning, and the kit's own message says it again with the
    fix: its logger keeps errors only (``--verbose`` shows the chain, once, in the kit's message)."""
    logging.getLogger("azure.identity").setLevel(logging.ERROR)


class LazyChoice(click.Choice[str]):
    """Choices read only when an argument or a command's help needs them: the source registry and the
    configuration's modes load pydantic, which ``sspr-review --help`` must not wait for."""

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load
        super().__init__((), case_sensitive=True)

    @property  # type: ignore[override]
    def choices(self) -> Sequence[str]:
        return tuple(self._load())

    @choices.setter
    def choices(self, value: Sequence[str]) -> None:
        """click.Choice sets its choices on creation; these are loaded when asked for."""


def providers() -> Sequence[str]:
    """The registered sources (``--source``)."""
    from .sources import PROVIDERS  # lazy: the registry loads pydantic, which --help must not

    return PROVIDERS


def auth_modes() -> Sequence[str]:
    """The ``[auth] mode`` values (``init --auth``)."""
    from .starter import AUTH_MODES  # lazy: the modes come from the configuration (pydantic)

    return AUTH_MODES


@click.command("init")
@click.argument("path", type=click.Path(path_type=Path), default=Path("config.toml"), required=False)
@click.option(
    "--tenant-id", metavar="ID", help="Your app registration's Directory (tenant) ID, or the tenant's domain."
)
@click.option("--client-id", metavar="ID", help="Your app registration's Application (client) ID.")
@click.option(
    "--auth",
    "mode",
    type=LazyChoice(auth_modes),
    metavar="MODE",
    help="How to sign in ([auth] mode): certificate or client_secret for a scheduled job, browser or device_code "
    "for an analyst, managed_identity or workload_identity on Azure and in CI, azure_cli, token, auto.",
)
def init_command(path: Path, tenant_id: str | None, client_id: str | None, mode: str | None) -> None:
    """Write the commented configuration to PATH (default: config.toml in the current folder): every key with its
    default and meaning, [auth] filled in from the options. An existing file is never overwritten (exit 2).

    \b
    Then:  sspr-review doctor --config PATH    checks the sign-in and each permission
           sspr-review run --config PATH       the first fetch and the week's reports
    """
    from .starter import AppIds, next_steps, write_config  # lazy: the configuration loads pydantic

    try:
        cfg = write_config(path, AppIds(tenant_id, client_id, mode))
    except (ConfigError, ToolchainMissing) as exc:  # a missing template too: init's own usage error (exit 2)
        fail(str(exc), EXIT_CONFIG)
    for line in next_steps(path, cfg):
        click.echo(line)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="SSPR_REVIEW_CONFIG",
    help="TOML configuration file ('sspr-review init FILE' writes one). Env: SSPR_REVIEW_CONFIG.",
)
store_option = click.option(
    "--store",
    "store_path",
    type=click.Path(file_okay=False, path_type=Path),
    help="History store folder; overrides [store] path.",
)
progress_option = click.option(
    "--progress/--no-progress", default=None, help="Progress bars (default: on a terminal only)."
)


source_option = click.option(
    "--source",
    type=LazyChoice(providers),
    metavar="NAME",
    default="graph",
    show_default=True,
    help="graph: Microsoft Graph; demo: the built-in demo tenant; files: a folder of Graph JSON (--files); "
    "log-analytics: audit and risk from the [log_analytics] workspace, the rest from Graph.",
)
files_option = click.option(
    "--files",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of Graph JSON saved from Graph Explorer or 'az rest' (with --source files).",
)
