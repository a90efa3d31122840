"""The tenants file (``tenants.toml``): the tenants a provider reviews, each with its layered configuration.

::

    [portfolio]            the provider's page and mail: title, to, cc (who receives the portfolio)
    [defaults.<section>]   any configuration section every tenant starts from (paths relative to tenants.toml)
    [[tenants]]            one table per tenant: name, source, config, files, tenant_id, client_id

A tenant's configuration is layered, lowest first: the built-in defaults, ``[defaults]``, the tenant's own
``config`` file (key by key: setting ``[analysis] spike_accounts`` there keeps every other ``[analysis]`` key of
``[defaults]``), the environment, then the row's ``tenant_id`` and ``client_id`` (a row's tenant id always wins:
an environment variable cannot point every row at one tenant). Each tenant has its own store,
``<[store] path>/<name>`` (``[store] path`` defaults to ``store`` beside tenants.toml), so no two tenants share one.

A ``name`` is the tenant's folder (``OUT/<name>/``, ``<store>/<name>/``): letters, digits, ``-``, ``_`` and
``.``, starting with a letter or digit, at most 64 characters, unique ignoring case, not ``portfolio`` (the
portfolio's folder) and not a name Windows reserves. Anything else is refused with the reason.
"""

from __future__ import annotations

import re
import tomllib
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from . import config as config_mod
from .errors import ConfigError

#: The longest tenant name (a folder name, with room for the week folders below it).
MAX_NAME = 64
#: The folder below the output folder that holds the portfolio: no tenant may be called so.
PORTFOLIO = "portfolio"
#: Names Windows reserves for devices, in any case and with any extension.
WINDOWS_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
)
_ALLOWED = re.compile(r"[A-Za-z0-9._-]")
_TABLES = ("portfolio", "defaults", "tenants")


def name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a tenant's name (its folder), or ``None`` when it can."""
    if not isinstance(name, str):
        return f"must be a string, not {name!r}"
    if not name:
        return "is empty"
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long; at most {MAX_NAME}"
    bad = next((ch for ch in name if not _ALLOWED.fullmatch(ch)), None)
    if bad is not None:
        return f"holds {bad!r}: use only letters, digits, '-', '_' and '.' (it names the tenant's folders)"
    if not name[0].isalnum():
        return "must start with a letter or a digit"
    if name.endswith("."):
        return "must not end with '.' (Windows drops it from folder names)"
    if name.lower() == PORTFOLIO:
        return f"'{PORTFOLIO}' is the portfolio's own folder (OUT/{PORTFOLIO}/)"
    if name.split(".")[0].lower() in WINDOWS_RESERVED:
        return "is a device name Windows reserves"
    return None


def _guid(value: str, key: str) -> str:
    if value:
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValueError(
                f"{key} {value!r} is not a GUID (the Directory (tenant) ID or the Application (client) ID "
                "on the app registration's overview page)"
            ) from None
    return value


class Tenant(BaseModel):
    """One ``[[tenants]]`` row. ``config`` and ``files`` are absolute once loaded (relative to tenants.toml)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: str
    #: Where its records come from (a registered source: graph, demo, files, log-analytics).
    source: str = "graph"
    #: Its own configuration file, layered over ``[defaults]`` (empty: none).
    config: str = ""
    #: The folder of Graph JSON exports (the files source).
    files: str = ""
    tenant_id: str = ""
    client_id: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        problem = name_problem(value)
        if problem:
            raise ValueError(f"the name {value!r} {problem}")
        return value

    @field_validator("tenant_id")
    @classmethod
    def _tenant(cls, value: str) -> str:
        return _guid(value, "tenant_id")

    @field_validator("client_id")
    @classmethod
    def _client(cls, value: str) -> str:
        return _guid(value, "client_id")


class PortfolioSettings(BaseModel):
    """``[portfolio]``: the provider's own settings. The portfolio e-mail goes through ``[defaults.mail]``'s
    transport and sender to ``to`` and ``cc`` (each tenant's report goes to that tenant's own ``[mail] to``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    title: str = "SSPR portfolio"
    to: list[str] = []
    cc: list[str] = []


@dataclass(frozen=True)
class TenantsFile:
    """A loaded tenants file: where it is, the ``[defaults]`` sections (checked, paths absolute), the
    ``[portfolio]`` settings and the tenants in the file's order."""

    path: Path
    defaults: Mapping[str, Mapping[str, Any]]
    portfolio: PortfolioSettings
    tenants: tuple[Tenant, ...]

    def tenant(self, name: str) -> Tenant:
        """The tenant called ``name`` (ignoring case); :class:`ConfigError` naming the ones there are."""
        for tenant in self.tenants:
            if tenant.name.lower() == name.lower():
                return tenant
        known = ", ".join(t.name for t in self.tenants)
        raise ConfigError(f"{self.path}: no tenant called {name!r} (the tenants: {known})")

    def config(
        self, tenant: Tenant, *, env: Mapping[str, str] | None = None, store_root: Path | None = None
    ) -> config_mod.Config:
        """``tenant``'s configuration, layered (see the module's doc), with its own store below ``store_root``
        (default: the layered ``[store] path``). :class:`ConfigError` names the tenant and what is wrong."""
        row = {"auth__tenant_id": tenant.tenant_id or None, "auth__client_id": tenant.client_id or None}
        try:
            cfg = config_mod.load(tenant.config or None, env=env, base=self.defaults, **row)
        except ConfigError as exc:
            raise ConfigError(f"tenant {tenant.name!r}: {exc}") from None
        root = store_root if store_root is not None else cfg.store_path()
        store = cfg.store.model_copy(update={"path": str(Path(root).absolute() / tenant.name)})
        return cfg.model_copy(update={"store": store})

    def provider_config(self, *, env: Mapping[str, str] | None = None) -> config_mod.Config:
        """The provider's own configuration: ``[defaults]`` with the portfolio's recipients as ``[mail] to`` and
        ``cc`` (what the portfolio e-mail is sent with)."""
        mail = {"to": self.portfolio.to, "cc": self.portfolio.cc}
        base = {**self.defaults, "mail": {**self.defaults.get("mail", {}), **mail}}
        try:
            return config_mod.load(env=env, base=base)
        except ConfigError as exc:
            raise ConfigError(f"{self.path} [defaults]: {exc}") from None


def load(path: str | Path, *, env: Mapping[str, str] | None = None) -> TenantsFile:
    """Read and check a tenants file. :class:`ConfigError` names the file, the row and what is wrong: an unknown
    table or key (with a suggestion), a bad or duplicate name, a malformed id, ``[defaults]`` that do not make a
    valid configuration. A tenant's own config file is read by :meth:`TenantsFile.config`."""
    file = Path(path).expanduser().absolute()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"tenants file {file} does not exist (examples/tenants.toml shows one)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file} is not valid TOML: {exc}") from None
    for table in raw:
        if table not in _TABLES:
            close = config_mod.suggest(table, _TABLES)
            hint = f" — did you mean '{close}'?" if close else ""
            raise ConfigError(f"{file}: unknown table [{table}]{hint} (a tenants file holds {', '.join(_TABLES)})")
    defaults = _defaults(raw.get("defaults", {}), file)
    try:
        portfolio = PortfolioSettings.model_validate(raw.get("portfolio", {}))
        config_mod.MailSettings(to=portfolio.to, cc=portfolio.cc)
    except ValidationError as exc:
        raise ConfigError(f"{file} [portfolio]: {_errors(exc)}") from None
    rows = raw.get("tenants")
    if not isinstance(rows, list) or not rows:
        raise ConfigError(f"{file}: no tenants; add a [[tenants]] table with a name for each tenant")
    tenants = tuple(_row(row, i, file) for i, row in enumerate(rows, 1))
    _unique(tenants, file)
    loaded = TenantsFile(file, defaults, portfolio, tenants)
    loaded.provider_config(env=env)  # [defaults] alone must make a valid configuration
    return loaded


def _defaults(raw: Any, file: Path) -> dict[str, dict[str, Any]]:
    """``[defaults]`` as configuration sections, with ``[store] path`` defaulting to ``store`` beside the file."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{file}: [defaults] must be a table of configuration sections")
    defaults = config_mod.sections(raw, f"{file} [defaults]", file.parent)
    store = defaults.setdefault("store", {})
    store.setdefault("path", str(file.parent / "store"))
    return defaults


def _row(row: Any, index: int, file: Path) -> Tenant:
    where = f"{file}: [[tenants]] #{index}"
    if not isinstance(row, dict):
        raise ConfigError(f"{where} must be a table")
    if "name" in row:
        where += f" ({row['name']!r})"
    unknown = [key for key in row if key not in Tenant.model_fields]
    if unknown:
        close = config_mod.suggest(unknown[0], Tenant.model_fields)
        hint = f" — did you mean '{close}'?" if close else ""
        raise ConfigError(f"{where}: unknown key '{unknown[0]}'{hint} (known keys: {', '.join(Tenant.model_fields)})")
    try:
        tenant = Tenant.model_validate(row)
    except ValidationError as exc:
        raise ConfigError(f"{where}: {_errors(exc)}") from None
    paths = {key: str(file.parent / value) for key in ("config", "files") if (value := getattr(tenant, key))}
    return tenant.model_copy(update=paths)


def _unique(tenants: Iterable[Tenant], file: Path) -> None:
    """No two rows with one name (ignoring case: folders on Windows and macOS) or one tenant id."""
    names: dict[str, str] = {}
    ids: dict[str, str] = {}
    for tenant in tenants:
        if tenant.name.lower() in names:
            raise ConfigError(
                f"{file}: the name {tenant.name!r} is used twice ({names[tenant.name.lower()]!r} is the first; names "
                "are compared ignoring case, as folders are on Windows and macOS)"
            )
        names[tenant.name.lower()] = tenant.name
        if tenant.tenant_id.lower() in ids:
            raise ConfigError(
                f"{file}: tenants {ids[tenant.tenant_id.lower()]!r} and {tenant.name!r} have the same tenant_id "
                f"{tenant.tenant_id}: one customer's data would be reported under two names"
            )
        if tenant.tenant_id:
            ids[tenant.tenant_id.lower()] = tenant.name


def _errors(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {str(err['msg']).removeprefix('Value error, ')}"
        for err in exc.errors()
    )


def config_text(cfg: config_mod.Config) -> str:
    """``cfg`` as a configuration file (TOML) that loads back to it: the values that differ from the defaults,
    paths absolute. It holds no secret (the configuration names environment variables, never their values)."""
    return tomli_w.dumps(cfg.model_dump(exclude_defaults=True))
