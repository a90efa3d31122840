"""``sspr-review init``: the commented configuration, written where the user asks, with their app's ids filled in.

The template is ``config.example.toml``, one text: a wheel carries it as package data of ``sspr_review.data``
(``setup.py`` copies it there at build time), and a checkout (an editable install) reads the file at the project
root. ``init`` never overwrites a file, and checks what it wrote by loading it.
"""

from __future__ import annotations

import importlib.resources
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from .core import config as config_mod
from .core.errors import ConfigError, ToolchainMissing

TEMPLATE = "config.example.toml"
#: The modes ``--auth`` accepts: those of ``[auth] mode``.
AUTH_MODES: tuple[str, ...] = get_args(config_mod.AuthMode)
#: A tenant named by its domain (``contoso.onmicrosoft.com``) rather than its id.
DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$", re.IGNORECASE)


def template_text() -> str:
    """The commented configuration: the packaged copy, else (a checkout) the project root's file."""
    packaged = importlib.resources.files("sspr_review.data").joinpath(TEMPLATE)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    checkout = Path(__file__).resolve().parents[1] / TEMPLATE
    if checkout.is_file():
        return checkout.read_text(encoding="utf-8")
    raise ToolchainMissing(
        f"the configuration template {TEMPLATE} is missing from this installation; reinstall sspr-review"
        " (pip install --force-reinstall sspr-review)"
    )


@dataclass(frozen=True)
class AppIds:
    """What ``init`` fills in: ``[auth] tenant_id``, ``client_id`` and ``mode`` (``None``: the template's)."""

    tenant_id: str | None = None
    client_id: str | None = None
    mode: str | None = None

    def check(self) -> None:
        """:class:`ConfigError` naming the option whose value cannot be right."""
        if self.client_id is not None and not _is_guid(self.client_id):
            raise ConfigError(
                f"--client-id {self.client_id!r} is not an application (client) ID: copy the GUID from the app"
                " registration's Overview page"
            )
        if self.tenant_id is not None and not (_is_guid(self.tenant_id) or DOMAIN.match(self.tenant_id)):
            raise ConfigError(
                f"--tenant-id {self.tenant_id!r} is neither a directory (tenant) ID (a GUID, on the app registration's"
                " Overview page) nor a domain such as contoso.onmicrosoft.com"
            )
        if self.mode is not None and self.mode not in AUTH_MODES:
            raise ConfigError(f"--auth {self.mode!r}: choose one of {', '.join(AUTH_MODES)}")


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return len(text) == 36


def fill(text: str, ids: AppIds) -> str:
    """``text`` (the template) with the ``[auth]`` values of ``ids`` set; every line keeps its comment."""
    values = {"tenant_id": ids.tenant_id, "client_id": ids.client_id, "mode": ids.mode}
    auth = re.search(r"(?ms)^\[auth\]\n(.*?)(?=^\[|\Z)", text)
    if auth is None:  # pragma: no cover - the template is checked by the tests
        raise ToolchainMissing(f"the configuration template {TEMPLATE} has no [auth] section")
    section = auth.group(1)
    for key, value in values.items():
        if value is not None:
            section, found = re.subn(rf'(?m)^({key}\s*=\s*)("[^"]*")( *)(?=#|$)', _setter(value), section)
            if not found:  # pragma: no cover - the template is checked by the tests
                raise ToolchainMissing(f"the configuration template {TEMPLATE} has no [auth] {key}")
    return text[: auth.start(1)] + section + text[auth.end(1) :]


def _setter(value: str) -> Callable[[re.Match[str]], str]:
    """The replacement of a ``key = "..."   # comment`` line's value, the comment kept in its column."""

    def put(match: re.Match[str]) -> str:
        quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        pad = len(match.group(2)) + len(match.group(3)) - len(quoted)
        return f"{match.group(1)}{quoted}{' ' * max(pad, 1) if match.group(3) else ''}"

    return put


def write_config(path: Path, ids: AppIds) -> config_mod.Config:
    """Write the commented configuration to ``path`` with ``ids`` filled in, and load it back (the check that it is
    valid). :class:`ConfigError` when ``path`` exists (never overwritten) or a value cannot be right."""
    ids.check()
    text = fill(template_text(), ids)
    path = path.expanduser()
    if path.is_dir():
        raise ConfigError(f"{path} is a folder: give the configuration file's name, such as {path / 'config.toml'}")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8") as out:
            out.write(text)
    except FileExistsError:
        raise ConfigError(
            f"{path} already exists; init never overwrites a configuration: edit it, or give another file name"
        ) from None
    return config_mod.load(path, env={})


def next_steps(path: Path, cfg: config_mod.Config) -> list[str]:
    """What to do after ``init``: the settings the chosen mode still needs, then check and fetch."""
    auth = cfg.auth
    todo = []
    if auth.mode in ("client_secret", "certificate", "browser", "device_code", "workload_identity"):
        todo += [f"set [auth] {key}" for key in ("tenant_id", "client_id") if not getattr(auth, key)]
    if auth.mode == "certificate" and not auth.certificate_path:
        todo.append("set [auth] certificate_path to the certificate file (README: Your own tenant, certificate)")
    if auth.mode == "client_secret":
        todo.append(f"put the client secret in the environment variable {auth.client_secret_env}, never in the file")
    if auth.mode == "auto":
        todo.append(
            "choose [auth] mode (certificate for a scheduled job, browser or device_code for an analyst), or"
            " rerun init with --auth"
        )
    quoted = _shell(path)
    return [
        f"Wrote {path} (every key with its default and meaning; edit it to change them).",
        *(f"  next: {step}" for step in todo),
        f"  then: sspr-review doctor --config {quoted}   (checks the sign-in and each permission)",
        f"        sspr-review run --config {quoted}      (the first fetch and the week's reports)",
        "  or try the kit first: sspr-review run --source demo",
    ]


def _shell(path: Path) -> str:
    text = str(path)
    return text if re.fullmatch(r"[\w@%+=:,./~-]+", text) else "'" + text.replace("'", "'\\''") + "'"
