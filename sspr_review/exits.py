"""The command line's exit codes, and the one place the kit's errors and the machine's become them: a sentence on
stderr naming what failed and the fix, never a traceback (unless ``--verbose``).

0 success; 2 bad usage or configuration; 3 a source could not be fetched (the others landed); 4 the store is
unusable or damaged, input files or records cannot be read (each named; the readable ones landed), or a folder the
kit writes or reads cannot be used (a full disk, a read-only or missing folder, a file where a folder belongs);
5 authentication failed; 6 a report notebook failed, or a notebook, the report template or a Python kernel is
missing; 7 findings at or above ``run --fail-on`` exist; 8 the e-mail could not be sent; 1 ``doctor`` found a
problem.
"""

from __future__ import annotations

import contextlib
import sys
import traceback
from collections.abc import Iterator
from typing import Any, NoReturn

import click

from .core.errors import (
    AuthError,
    ConfigError,
    CopyRefused,
    InputError,
    NotebookFailed,
    SsprReviewError,
    StoreError,
    ToolchainMissing,
)
from .core.files import machine_problem
from .hints import auth_failure

EXIT_CONFIG, EXIT_FETCH, EXIT_STORE, EXIT_AUTH, EXIT_NOTEBOOK, EXIT_FINDINGS, EXIT_MAIL = 2, 3, 4, 5, 6, 7, 8
EXIT_INPUT = EXIT_STORE  # input files or records that cannot be read (named; the readable ones still land)
EXIT_MACHINE = EXIT_STORE  # a folder the kit uses cannot be (full disk, read-only, missing, a file)
EXIT_DOCTOR = 1  # doctor found a problem
EXIT_TENANTS = 9  # with --tenants: at least one tenant failed (the others' results stand)

#: Where the running command keeps the configuration it loaded, and --verbose (click's ``Context.meta``).
CONFIG_KEY = "sspr_review.config"
VERBOSE_KEY = "sspr_review.verbose"

#: Set by ``sspr-review --verbose``: a failure also prints its Python traceback.
verbose = False


def fail(message: str, code: int) -> NoReturn:
    """End the command with ``message`` on stderr and exit ``code``."""
    if verbose and sys.exc_info()[0] is not None:
        traceback.print_exc()
    click.echo(f"sspr-review: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def exit_codes(other: int = EXIT_FETCH, prefix: str = "") -> Iterator[None]:
    """Turn the kit's errors into the documented exit codes, with the message (and its fix) on stderr; a failure of
    the machine (an ``OSError``: a full disk, a read-only folder, ...) into a sentence naming the path and the fix."""
    try:
        yield
    except (ConfigError, CopyRefused) as exc:
        fail(str(exc), EXIT_CONFIG)
    except AuthError as exc:
        meta = ctx.meta if (ctx := click.get_current_context(silent=True)) is not None else {}
        fail(auth_failure(exc, meta.get(CONFIG_KEY), verbose=meta.get(VERBOSE_KEY, False)), EXIT_AUTH)
    except (StoreError, InputError) as exc:
        fail(str(exc), EXIT_STORE)
    except NotebookFailed as exc:
        fail(f"report notebook failed: {exc}", EXIT_NOTEBOOK)
    except ToolchainMissing as exc:
        fail(f"cannot build the reports: {exc} (sspr-review doctor checks the installation)", EXIT_NOTEBOOK)
    except SsprReviewError as exc:
        fail(f"{prefix}{exc}", other)
    except OSError as exc:
        fail(f"{prefix}{machine_problem(exc)}", EXIT_MACHINE)


def outcome(result: Any, ws: Any, tail: str) -> None:
    """Exit 5 once when Graph rejected the token part-way (a 401), else 4 when input records could not be read
    (listed; the others landed) or data of damaged files could not be recovered, else 3 when a source had no
    data."""
    rejected = [o.reason if o.kind == "auth" else o.rejected for o in result.outcomes.values()]
    if reason := next((r for r in rejected if r), ""):  # a 401 on a whole kind or on a part of one
        fail(f"authentication failed: {reason}", EXIT_AUTH)
    if result.unrecovered:
        fail(
            "data of damaged store files could not be recovered (each file is in "
            f"{ws.store.path / 'quarantine'} with a note):" + "".join(f"\n  {line}" for line in result.unrecovered),
            EXIT_STORE,
        )
    missing = ", ".join(name for name, o in result.outcomes.items() if not o.ok)
    unreadable = result.report.unreadable
    if unreadable:
        if missing:
            click.echo(f"sspr-review: no data from: {missing} ({tail})", err=True)
        shown = "".join(f"\n  {r.line()}" for r in unreadable[:20])
        more = f"\n  and {len(unreadable) - 20} more" if len(unreadable) > 20 else ""
        fail(
            f"{len(unreadable)} input {'record' if len(unreadable) == 1 else 'records'} could not be read and"
            f" {'was' if len(unreadable) == 1 else 'were'} not stored (the readable ones landed; each is kept in"
            f" {ws.store.path / 'rejects'} with the reason; fix or re-export them and fetch again):{shown}{more}",
            EXIT_INPUT,
        )
    if missing:
        fail(f"no data from: {missing} ({tail})", EXIT_FETCH)
