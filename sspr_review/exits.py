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
from typing import NoReturn

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

EXIT_CONFIG, EXIT_FETCH, EXIT_STORE, EXIT_AUTH, EXIT_NOTEBOOK, EXIT_FINDINGS, EXIT_MAIL = 2, 3, 4, 5, 6, 7, 8
EXIT_INPUT = EXIT_STORE  # input files or records that cannot be read (named; the readable ones still land)
EXIT_MACHINE = EXIT_STORE  # a folder the kit uses cannot be (full disk, read-only, missing, a file)

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
        fail(f"authentication failed: {exc}", EXIT_AUTH)
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
