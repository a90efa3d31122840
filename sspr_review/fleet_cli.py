"""The command line's ``--tenants FILE`` and ``--parallel N`` (and, per command, the options that only apply with
them): given a tenants file, a command runs for every tenant (:func:`sspr_review.fleet_run.dispatch`, exit codes
in :mod:`sspr_review.fleet`); without one, exactly as before. Loaded with the command line: nothing heavy here,
and :mod:`sspr_review.fleet` (the tenants file, pydantic) only once ``--tenants`` is given."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import click


def tenants_option(command: str, *extra: Callable[[Any], Any]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--tenants FILE`` and ``--parallel N`` (and ``extra`` options, which apply with ``--tenants`` only) on a
    command: given a tenants file, the command runs for every tenant (:func:`dispatch`); without one, as before."""

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapper(*args: Any, tenants: Path | None, parallel: int, **kwargs: Any) -> Any:
            mine = {name: kwargs.pop(name) for name in _EXTRA_NAMES if name in kwargs}
            if tenants is None:
                given = [_flag(name) for name, value in mine.items() if value is not None]
                if given:
                    raise click.UsageError(f"{', '.join(given)} only applies with --tenants")
                return function(*args, **kwargs)
            _refuse_single_tenant_options()
            from .fleet import Options  # lazy: the tenants file's reading (pydantic) only with --tenants
            from .fleet_run import dispatch  # lazy: the tenants' commands load the portfolio and the mail composer

            sys.exit(dispatch(Options(command, tenants, parallel, **_options(kwargs | mine))))

        for option in reversed((*_TENANTS_OPTIONS, *extra)):
            wrapper = option(wrapper)
        return wrapper

    return decorate


_TENANTS_OPTIONS = (
    click.option(
        "--tenants",
        type=click.Path(dir_okay=False, path_type=Path),
        help="A tenants file (examples/tenants.toml): do this for every tenant in it, each with its own "
        "configuration, store and report folder; see the exit codes in the README.",
    ),
    click.option(
        "--parallel",
        type=click.IntRange(1, 64),
        default=4,
        show_default=True,
        help="With --tenants: how many tenants at once.",
    ),
)
notebook_jobs_option = click.option(
    "--notebook-jobs",
    type=click.IntRange(1, 16),
    default=None,
    help="With --tenants: at most this many report notebooks execute at once, across the tenants (default 2).",
)
out_option = click.option(
    "--out",
    "tenants_out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="With --tenants: the reports folder 'run --tenants' wrote (default reports).",
)
week_option = click.option(
    "--week-ending",
    "tenants_week",
    metavar="DATE",
    default=None,
    help="With --tenants: the portfolio of this week (default: the latest one written).",
)
_EXTRA_NAMES = ("notebook_jobs", "tenants_out", "tenants_week")
#: Options that choose one tenant's configuration or data: with --tenants, the tenants file does.
_SINGLE = ("config_path", "source", "files", "folder")


def _flag(name: str) -> str:
    return {"tenants_out": "--out", "tenants_week": "--week-ending"}.get(name, "--" + name.replace("_", "-"))


def _refuse_single_tenant_options() -> None:
    from click.core import ParameterSource  # lazy: only with --tenants (click's internals)

    ctx = click.get_current_context()
    for name in _SINGLE:
        source = ctx.get_parameter_source(name) if name in ctx.params else None
        if source is ParameterSource.COMMANDLINE:
            shown = "FOLDER" if name == "folder" else "--" + name.replace("_path", "").replace("_", "-")
            raise click.UsageError(f"{shown} does not go with --tenants: the tenants file gives each tenant's own")
        if source is ParameterSource.ENVIRONMENT:
            click.echo("note: SSPR_REVIEW_CONFIG is not used with --tenants (the tenants file gives each tenant's)")


def _options(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The command's own options, as :class:`Options` names them."""
    names = {
        "store_path": "store",
        "week_ending": "week_ending",
        "tenants_week": "week_ending",
        "out": "out",
        "tenants_out": "out",
        "fail_on": "fail_on",
        "do_fetch": "fetch",
        "do_email": "email",
        "dry_run": "dry_run",
        "json_path": "json_path",
        "as_json": "as_json",
        "no_graph": "no_graph",
        "notebook_jobs": "notebook_jobs",
    }
    return {names[k]: v for k, v in kwargs.items() if k in names and v is not None}
