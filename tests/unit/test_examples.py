"""The scheduling examples and the README use commands and options the CLI really has."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from sspr_review.cli import main

ROOT = Path(__file__).parents[2]
SOURCES = [*sorted((ROOT / "examples").rglob("*.*")), ROOT / "README.md"]


def commands(text: str) -> list[list[str]]:
    out = []
    for match in re.finditer(
        r"sspr-review ((?:fetch|run|demo|status|review|email|doctor|reasons|notebooks|init)\b[^\n`;>|]*)", text
    ):
        args = shlex.split(match.group(1).replace("\\", " "), comments=True)
        out.append([a for a in args if not a.startswith("<")])
    return out


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_documented_command_parses(path: Path) -> None:
    found = commands(path.read_text())
    if path.suffix in (".cron", ".service", ".yml"):
        assert found, f"{path} shows no sspr-review command"
    for args in found:
        name, rest = args[0], args[1:]
        command = main.get_command(click.Context(main), name)
        assert command is not None, args
        if "--files" in rest:  # the folder must exist to parse; the files source is tested elsewhere
            at = rest.index("--files")
            rest = rest[:at] + rest[at + 2 :]
        try:
            command.make_context(name, rest, resilient_parsing=False)
        except click.exceptions.MissingParameter:
            pass  # e.g. `email FOLDER` shown without the folder
        except click.BadParameter as exc:
            assert "does not exist" in str(exc), exc  # an example report folder: only its existence fails
        except click.UsageError as exc:  # pragma: no cover - the assertion message is the point
            pytest.fail(f"{path.name}: 'sspr-review {' '.join(args)}' does not parse: {exc}")
