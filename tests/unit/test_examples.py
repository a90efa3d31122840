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


def unit_settings(path: Path) -> dict[str, list[str]]:
    """``Key=value`` lines of a systemd unit, every value of a repeated key in order."""
    out: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_systemd_service_keeps_its_state_where_it_may_write() -> None:
    """ProtectHome=true hides the service user's home: the shared Graph request record (the state directory) and
    Jupyter's and IPython's files would fail there every run, so the unit points HOME and SSPR_REVIEW_STATE_DIR at
    a folder the sandbox leaves writable."""
    unit = unit_settings(ROOT / "examples" / "systemd" / "sspr-review.service")
    assert unit["ProtectHome"] == ["true"]
    env = dict(item.split("=", 1) for value in unit.get("Environment", []) for item in shlex.split(value))
    writable = [f"/var/lib/{d}" for v in unit["StateDirectory"] for d in v.split()]
    writable += [p for v in unit["ReadWritePaths"] for p in v.split()]
    for name in ("HOME", "SSPR_REVIEW_STATE_DIR"):
        assert name in env, f"the service sets no {name}"
        assert any(Path(env[name]).is_relative_to(w) for w in writable), (name, env[name], writable)
