"""What users read of a library's errors: a configuration file that cannot be read, and pydantic's validation
errors, in plain words (the message and the field; never pydantic's types, ``ArgsKwargs`` or links)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .files import machine_problem


def unreadable_config(file: Path, exc: OSError | UnicodeDecodeError | tomllib.TOMLDecodeError) -> str:
    """Why the configuration ``file`` cannot be read, with the fix."""
    if isinstance(exc, tomllib.TOMLDecodeError):
        return f"{file} is not valid TOML: {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return (
            f"config file {file} is not UTF-8 text (byte {exc.start}: 0x{exc.object[exc.start]:02x}); save it as "
            "UTF-8 (in Notepad: Save As, Encoding UTF-8)"
        )
    return f"config file {file} cannot be read: {machine_problem(exc)}"


def validation_errors(exc: ValueError) -> str:
    """A pydantic ``ValidationError`` as ``field: message`` items joined by ``; `` (another error as it is)."""
    errors: Any = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc)
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) + ': ' if e['loc'] else ''}{str(e['msg']).removeprefix('Value error, ')}"
        for e in errors()
    )
