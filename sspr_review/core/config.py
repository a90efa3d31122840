"""Configuration: a TOML file, environment overrides, validation with messages that name the key.

Precedence, lowest first: built-in defaults, the TOML file, environment variables, command-line options.
Every key ``[section] key`` can be overridden by the environment variable ``SSPR_REVIEW_<SECTION>_<KEY>``
(upper case), e.g. ``SSPR_REVIEW_STORE_PATH``. ``SSPR_REVIEW_GRAPH_URL`` is a short alias of
``SSPR_REVIEW_GRAPH_BASE_URL``, ``SSPR_REVIEW_LOG_ANALYTICS_URL`` of ``SSPR_REVIEW_LOG_ANALYTICS_ENDPOINT`` (the
full name wins when both are set); pydantic-settings reads them (:func:`_env_values`). Any other ``SSPR_REVIEW_*``
variable the kit does not read is warned about once, on this module's logger, with a suggestion (:func:`suggest_env`;
suggestions consult :data:`SYNONYMS` before string distance). Secrets are never configuration values: the file
names the *environment variable* that holds a secret, never the secret itself.

Types are strict: a TOML value must have the key's type (``audit_overlap_hours = true`` is an error, not 1;
an integer is accepted where a number is expected). Environment variables are text, so their values are
converted first (``"6"`` → 6, ``"true"``/``"false"`` for switches), then checked the same way, naming the variable.

Relative paths follow one rule: a path written in the configuration file is relative to that file's folder;
a path from the command line or the environment is relative to the current folder (:data:`PATH_KEYS`).

See ``config.example.toml`` at the project root (what ``sspr-review init`` writes) for every key with its default and
meaning.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
import string
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, ConfigDict, Field, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from .errors import ConfigError
from .home import HOME_ENV, default_home
from .plain import unreadable_config, validation_errors
from .sections import LOOPBACK_HOSTS as LOOPBACK_HOSTS
from .sections import ArchiveSettings as ArchiveSettings
from .sections import LogAnalyticsSettings as LogAnalyticsSettings
from .sections import SourcesSettings as SourcesSettings
from .sections import _check_http_url, _Section
from .settings import AnalysisSettings

log = logging.getLogger(__name__)

ENV_PREFIX = "SSPR_REVIEW_"
#: Short names of two keys' variables (the full name wins when both are set).
ENV_ALIASES = {
    "SSPR_REVIEW_GRAPH_URL": ("graph", "base_url"),
    "SSPR_REVIEW_LOG_ANALYTICS_URL": ("log_analytics", "endpoint"),
}

# fmt: off
AuthMode = Literal[
    "auto", "token", "browser", "device_code", "azure_cli", "client_secret", "certificate", "managed_identity",
    "workload_identity",
]
# fmt: on


class TenantSettings(_Section):
    """``[tenant]``: how the tenant is named in reports."""

    name: str = Field("", description="Display name; empty = read from Graph /organization")


class GraphSettings(_Section):
    """``[graph]``: where and how to talk to Microsoft Graph."""

    base_url: str = "https://graph.microsoft.com/v1.0"
    timeout_seconds: float = Field(60.0, gt=0, le=600)
    max_retries: int = Field(6, ge=0, le=20)
    audit_lookback_days: int = Field(30, ge=1, le=30)
    risk_lookback_days: int = Field(90, ge=1, le=90)
    throttle_time_scale: float = Field(1.0, gt=0, le=1.0)

    @field_validator("base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _check_http_url(value, "https://graph.microsoft.com/v1.0")


class AuthSettings(_Section):
    """``[auth]``: which azure-identity credential to use. Secrets stay in the environment."""

    mode: AuthMode = "auto"
    tenant_id: str = ""
    client_id: str = ""
    client_secret_env: str = "AZURE_CLIENT_SECRET"
    certificate_path: str = ""
    certificate_password_env: str = "AZURE_CLIENT_CERTIFICATE_PASSWORD"
    token_env: str = "SSPR_REVIEW_ACCESS_TOKEN"  # a ready token for mode auto or token (one per tenant: its own)


class StoreSettings(_Section):
    """``[store]``: the local history store."""

    path: str = "store"
    audit_overlap_hours: float = Field(6.0, ge=0, le=24 * 7)
    risk_overlap_hours: float = Field(48.0, ge=0, le=24 * 14)


class ReviewSettings(_Section):
    """``[review]``: how the review week is defined."""

    timezone: str = "UTC"
    #: A week uses the registration, roles and policy snapshot nearest to its end; one further away than this is
    #: used but shown as approximate.
    snapshot_tolerance_days: float = Field(7.0, ge=0, le=366)
    #: One further away than this is not used: the week has no such data (a data gap), not an approximate one.
    snapshot_max_days: float = Field(35.0, ge=0, le=3660)

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name such as 'Europe/London'") from None
        return value

    @field_validator("snapshot_max_days")
    @classmethod
    def _check_max(cls, value: float, info: Any) -> float:  # info: pydantic's ValidationInfo
        if value < (tolerance := info.data.get("snapshot_tolerance_days", 0)):
            raise ValueError(
                f"{value:g} is less than snapshot_tolerance_days ({tolerance:g}): it must be at least that"
            )
        return value


class MailSettings(_Section):
    """``[mail]``: the emailed weekly review. Passwords and keys stay in the environment."""

    transport: Literal["smtp", "graph"] = "smtp"
    to: list[str] = Field(default_factory=list)
    cc: list[str] = Field(default_factory=list)
    sender: str = Field("", description="From address; with transport graph, the mailbox that sends")
    subject: str = "SSPR review {tenant}, week ending {week_ending}: {high_count} high or critical findings"
    attach_html: bool = True
    attach_trends: bool = True
    charts: bool = True
    pseudonymise: bool = False
    pseudonym_key_env: str = "SSPR_REVIEW_PSEUDONYM_KEY"
    smtp_host: str = "localhost"
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_allow_plain: bool = False
    smtp_ca_file: str = ""
    smtp_username_env: str = "SSPR_REVIEW_SMTP_USERNAME"
    smtp_password_env: str = "SSPR_REVIEW_SMTP_PASSWORD"
    smtp_timeout_seconds: float = Field(30.0, gt=0, le=600)

    @field_validator("to", "cc", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @field_validator("to", "cc")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if "@" not in v or any(c in v for c in " <>,;\r\n")]
        if bad:
            raise ValueError(f"not plain e-mail addresses: {', '.join(map(repr, bad))}")
        return value

    @field_validator("subject")
    @classmethod
    def _subject(cls, value: str) -> str:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name}
        unknown = fields - SUBJECT_FIELDS
        if unknown:
            raise ValueError(f"unknown field {{{sorted(unknown)[0]}}}; use {', '.join(sorted(SUBJECT_FIELDS))}")
        return value


SUBJECT_FIELDS = frozenset({"tenant", "week_ending", "high_count", "critical_count", "findings_count"})


RegistrationMode = Literal["full", "lean", "auto"]


class RegistrationSettings(_Section):
    """``[registration]``: how much of the userRegistrationDetails report a fetch reads.

    ``full`` reads the whole report; ``lean`` reads Graph's counts, the members who are not SSPR-capable, the
    administrators and the capable guests in full, and looks up the other users the week's findings need one
    by one; ``auto`` is lean for tenants above ``lean_above_users`` users, with a full snapshot at least every
    ``full_every_days`` days (and always on a store's first fetch)."""

    mode: RegistrationMode = "auto"
    lean_above_users: int = Field(50_000, ge=0, le=100_000_000)
    full_every_days: int = Field(30, ge=1, le=366)


class DemoSettings(_Section):
    """``[demo]``: the built-in demo tenant: its size, seed and name (a second demo tenant: another seed and name)."""

    users: int = Field(2000, ge=50, le=1_000_000)
    weeks: int = Field(26, ge=2, le=104)
    seed: int = 7
    name: str = Field("Northgate Engineering", min_length=1, max_length=256)


#: ``[analysis]``: thresholds and windows of the findings, one key per :class:`AnalysisSettings` field
#: (the time zone comes from ``[review]``). Built from the dataclass so the two never drift apart.
AnalysisSection: type[_Section] = create_model(  # type: ignore[call-overload]
    "AnalysisSection",
    __base__=_Section,
    **{
        f.name: (get_type_hints(AnalysisSettings, include_extras=True)[f.name], f.default)
        for f in dataclasses.fields(AnalysisSettings)
        if f.name != "timezone"
    },
)


class Config(_Section):
    """The whole configuration. ``source_path`` is the file it was read from, if any."""

    tenant: TenantSettings = TenantSettings()
    graph: GraphSettings = GraphSettings()
    auth: AuthSettings = AuthSettings()
    store: StoreSettings = StoreSettings()
    review: ReviewSettings = ReviewSettings()
    registration: RegistrationSettings = RegistrationSettings()
    demo: DemoSettings = DemoSettings()
    mail: MailSettings = MailSettings()
    sources: SourcesSettings = SourcesSettings()
    log_analytics: LogAnalyticsSettings = LogAnalyticsSettings()
    archive: ArchiveSettings = ArchiveSettings()
    analysis: AnalysisSection = AnalysisSection()
    source_path: str | None = Field(None, exclude=True)

    def analysis_settings(self) -> AnalysisSettings:
        """The analyses' thresholds, with the review time zone. :func:`load` has made ``reason_rules`` absolute;
        a relative one in a directly built :class:`Config` is taken from the config file's folder (else the CWD)."""
        values = self.analysis.model_dump()
        if values["reason_rules"]:
            rules = Path(values["reason_rules"]).expanduser()
            if not rules.is_absolute() and self.source_path:
                rules = Path(self.source_path).parent / rules
            values["reason_rules"] = str(rules)
        return AnalysisSettings(timezone=self.review.timezone, **values)

    def unknown_env(self, env: Mapping[str, str]) -> list[str]:
        """The ``SSPR_REVIEW_*`` variables in ``env`` that the kit does not read: none sets a key (:data:`ENV_KEYS`),
        none is in :data:`ENV_OTHER`, no ``*_env`` key names it (by default or in this configuration)."""
        named = {
            str(value).upper()
            for section, model in SECTIONS.items()
            for key, field in model.model_fields.items()
            if key.endswith("_env")
            for value in (field.default, getattr(getattr(self, section), key))
        }
        known = ENV_KEYS.keys() | ENV_OTHER | named
        return sorted(name for name in env if name.upper().startswith(ENV_PREFIX) and name.upper() not in known)

    def store_path(self) -> Path:
        """The store folder, the same from the CLI, ``make lab`` and a notebook opened from any folder.

        :func:`load` has already made a path from the file, the environment or the command line absolute; only
        the default ``store`` is still relative: it is taken from the config file's folder, and without a config
        file it is in :func:`default_home` (never the kernel's or the shell's working folder)."""
        path = Path(self.store.path).expanduser()
        if path.is_absolute():
            return path
        if self.source_path:
            return Path(self.source_path).expanduser().resolve().parent / path
        return default_home() / path


#: Keys that name a file or folder. Written in the configuration file, a relative one is taken from the file's
#: folder; from the command line or the environment, from the current folder. Empty means "not set".
PATH_KEYS: frozenset[tuple[str, str]] = frozenset(
    {
        ("store", "path"),
        ("auth", "certificate_path"),
        ("mail", "smtp_ca_file"),
        ("analysis", "reason_rules"),
    }
)

SECTIONS: dict[str, type[_Section]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Config.model_fields.items()
    if name != "source_path"
}


#: ``SSPR_REVIEW_*`` variables the kit reads that are no configuration key: the default store's folder, the state
#: folder (the shared Graph request record), a ready token, the CLI's ``--config``. The defaults of the ``*_env`` keys
#: (``SSPR_REVIEW_SMTP_PASSWORD``, ...) and the variables a configuration names in them are read too.
ENV_OTHER = frozenset({HOME_ENV, "SSPR_REVIEW_STATE_DIR", "SSPR_REVIEW_ACCESS_TOKEN", "SSPR_REVIEW_CONFIG"})

#: What people write for a section or key that string distance does not lead to, or leads astray (difflib offers
#: ``rollup_threshold`` for ``spike_threshold``). Consulted before difflib, for file keys and environment variables
#: alike; ``""`` holds the sections.
SYNONYMS: dict[str, dict[str, str]] = {
    "": {"smtp": "mail", "email": "mail", "sentinel": "log_analytics", "workspace": "log_analytics"},
    "analysis": {"spike_threshold": "spike_accounts", "spike_users": "spike_accounts", "rollup": "rollup_threshold"},
    "review": {"tz": "timezone", "zone": "timezone"},
    "graph": {"url": "base_url", "endpoint": "base_url", "retries": "max_retries", "timeout": "timeout_seconds"},
    "log_analytics": {"url": "endpoint", "workspace": "workspace_id", "retries": "max_retries"},
    "archive": {"url": "account_url", "account": "account_url", "container": "audit_container"},
    "mail": {"recipients": "to", "recipient": "to", "from": "sender", "from_address": "sender", "host": "smtp_host"}
    | {"port": "smtp_port", "server": "smtp_host", "smtp_server": "smtp_host"},
    "store": {"folder": "path", "dir": "path", "directory": "path", "location": "path"},
    "auth": {"tenant": "tenant_id", "client": "client_id", "app_id": "client_id", "certificate": "certificate_path"}
    | {"application_id": "client_id", "directory_id": "tenant_id", "secret": "client_secret_env"},
}


def load(
    path: str | Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    base: Mapping[str, Mapping[str, Any]] | None = None,
    **overrides: Any,
) -> Config:
    """Read ``path`` (TOML; optional) over ``base`` (sections it overrides key by key: a tenants file's
    ``[defaults]``), apply environment overrides, then ``overrides`` (``section__key=value`` pairs, for command-line
    options; ``None`` values are ignored). Raises :class:`ConfigError` naming the file, key and accepted values when
    anything is wrong. ``SSPR_REVIEW_*`` variables the kit does not read are warned about (once per process).
    """
    env = os.environ if env is None else env
    data: dict[str, dict[str, Any]] = {section: dict(values) for section, values in (base or {}).items()}
    origin = "environment and defaults"
    if path is not None:
        file = Path(path).expanduser()
        origin = str(file)
        try:
            with file.open("rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            hint = f"write a commented one with 'sspr-review init {file}' (or try the kit without one: --source demo)"
            raise ConfigError(f"config file {file} does not exist: {hint}") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(unreadable_config(file, exc)) from None
        for section, values in sections(raw, origin, file.parent).items():
            data.setdefault(section, {}).update(values)
    from_env, variables = _env_values(env)
    for section, values in from_env.items():
        data.setdefault(section, {}).update({key: _absolute(section, key, v) for key, v in values.items()})
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, name = key.partition("__")
        _check_keys(section, {name: value}, "command line")
        data.setdefault(section, {})[name] = _absolute(section, name, value)
        variables.pop((section, name), None)
    try:
        cfg = Config.model_validate({**data, "source_path": str(path) if path is not None else None})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin, variables)) from None
    try:
        cfg.analysis_settings()
    except ValueError as exc:  # pydantic's wording (types, ArgsKwargs, links) is not for users: plain words
        raise ConfigError(f"invalid configuration ({origin}): [analysis] {validation_errors(exc)}") from None
    _warn_unknown(env, cfg)
    return cfg


def sections(raw: Mapping[str, Any], origin: str, folder: Path) -> dict[str, dict[str, Any]]:
    """TOML tables as sections: unknown ones and unknown keys refused (named), paths made absolute from ``folder``."""
    out: dict[str, dict[str, Any]] = {}
    for section, values in raw.items():
        if section not in SECTIONS:
            raise ConfigError(f"{origin}: unknown section [{section}]{_suggest(section, SECTIONS)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{origin}: [{section}] must be a table of keys, got {values!r}")
        _check_keys(section, values, origin)
        out[section] = {key: _absolute(section, key, value, folder) for key, value in values.items()}
    return out


def _absolute(section: str, key: str, value: Any, folder: Path | None = None) -> Any:
    """A path key's value as an absolute path: a relative one is taken from ``folder`` (default: the current one)."""
    if (section, key) in PATH_KEYS and isinstance(value, str) and value:
        path = Path(value).expanduser()
        return str(path) if path.is_absolute() else os.path.abspath((folder or Path.cwd()) / path)
    return value


# ---------------------------------------------------------------------- the environment (pydantic-settings)
def env_name(section: str, key: str) -> str:
    """The environment variable that sets ``[section] key``."""
    return f"{ENV_PREFIX}{section}_{key}".upper()


#: Every variable that sets a key → the key (the short aliases too).
ENV_KEYS: dict[str, tuple[str, str]] = {
    **{env_name(section, key): (section, key) for section, model in SECTIONS.items() for key in model.model_fields},
    **ENV_ALIASES,
}
#: What an environment variable's text is converted to before the strict check (other keys stay text).
_ENV_KINDS: dict[Any, str] = {bool: "true or false", int: "a whole number", float: "a number"}


def _env_section(section: str, model: type[_Section]) -> Any:
    """``[section]`` as the environment gives it: every key optional, its text converted to the key's type in
    pydantic's lax mode (``"6"`` → 6, ``"true"`` → True); names, choices and lists stay text for the strict check."""
    short = {to: name.removeprefix(f"{ENV_PREFIX}{to[0].upper()}_").lower() for name, to in ENV_ALIASES.items()}
    fields: dict[str, Any] = {}
    for key, field in model.model_fields.items():
        kind: Any = field.annotation if field.annotation in _ENV_KINDS else str
        names = (key, short[(section, key)]) if (section, key) in short else (key,)
        fields[key] = (kind | None, Field(None, validation_alias=AliasChoices(*names)))
    return create_model(f"{model.__name__}FromEnvironment", __config__=ConfigDict(extra="ignore"), **fields)


class _EnvironmentBase(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="_", env_nested_max_split=1, case_sensitive=False, extra="ignore"
    )


_Environment: type[BaseSettings] = create_model(  # type: ignore[call-overload]
    "_Environment",
    __base__=_EnvironmentBase,
    **{section: (_env_section(section, model) | None, None) for section, model in SECTIONS.items()},
)


class _EnvironmentSource(EnvSettingsSource):
    """pydantic-settings' environment source over the given variables (``load(env=...)``) rather than ``os.environ``."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.given = env
        super().__init__(_Environment)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self.given.items()}


def _env_values(env: Mapping[str, str]) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], str]]:
    """The keys the environment sets, as ``{section: {key: value}}`` converted to each key's type, and the variable
    that set each. Raises :class:`ConfigError` naming the variable whose text is not of its key's type."""
    setting = {name: value for name, value in env.items() if name.upper() in ENV_KEYS}
    variables: dict[tuple[str, str], str] = {}
    for name in sorted(setting, key=lambda n: n.upper() in ENV_ALIASES):  # a full name wins over an alias
        variables.setdefault(ENV_KEYS[name.upper()], name)
    try:
        parsed = _Environment.model_validate(_EnvironmentSource(setting)())
    except ValidationError as exc:
        err = exc.errors()[0]
        section, key = str(err["loc"][0]), str(err["loc"][-1])
        kind = _ENV_KINDS.get(SECTIONS[section].model_fields[key].annotation, "valid")
        var = variables[(section, key)]
        raise ConfigError(
            f"invalid configuration (environment): [{section}] {key}: {var}={env[var]!r} is not {kind}"
        ) from None
    return parsed.model_dump(exclude_unset=True), variables


_warned: set[str] = set()


def _warn_unknown(env: Mapping[str, str], cfg: Config) -> None:
    """Warn once per process about each ``SSPR_REVIEW_*`` variable the kit does not read (never its value)."""
    for name in cfg.unknown_env(env):
        if name not in _warned:
            _warned.add(name)
            close = suggest_env(name)
            hint = f"did you mean {close}?" if close else "see config.example.toml ('sspr-review init' writes it)"
            log.warning("sspr-review: the environment variable %s is not a setting and is ignored; %s", name, hint)


def suggest_env(name: str) -> str | None:
    """The variable ``name`` (an unknown ``SSPR_REVIEW_*``) most likely meant: the section's key by
    :func:`suggest`, else the one section that has this key, else the nearest variable by string distance."""
    rest = name.upper().removeprefix(ENV_PREFIX).lower()
    sections = {**{s: s for s in SECTIONS}, **SYNONYMS[""]}
    for word in sorted(sections, key=len, reverse=True):
        if rest.startswith(word + "_"):
            section = sections[word]
            key = suggest(rest[len(word) + 1 :], SECTIONS[section].model_fields, section)
            if key:
                return env_name(section, key)
    owners = [env_name(s, rest) for s, model in SECTIONS.items() if rest in model.model_fields]
    if len(owners) == 1:
        return owners[0]
    close = difflib.get_close_matches(rest.upper(), [n.removeprefix(ENV_PREFIX) for n in ENV_KEYS.keys() | ENV_OTHER])
    return ENV_PREFIX + close[0] if close else None


def suggest(name: str, known: Iterable[str], section: str = "") -> str | None:
    """The key of ``section`` (the section, with ``section=""``) that ``name`` most likely meant: a synonym from
    :data:`SYNONYMS`, else the nearest by string distance, else ``None``."""
    options = list(known)
    synonym = SYNONYMS.get(section, {}).get(name.lower())
    if synonym in options:
        return synonym
    close = difflib.get_close_matches(name.lower(), options, n=1)
    return close[0] if close else None


def _check_keys(section: str, values: Mapping[str, Any], origin: str) -> None:
    model = SECTIONS.get(section)
    if model is None:
        raise ConfigError(f"{origin}: unknown section [{section}]{_suggest(section, SECTIONS)}")
    for key in values:
        if key not in model.model_fields:
            raise ConfigError(
                f"{origin}: unknown key '{key}' in [{section}]{_suggest(key, model.model_fields, section)}"
                f" (known keys: {', '.join(model.model_fields)})"
            )


def _suggest(name: str, known: Iterable[str], section: str = "") -> str:
    close = suggest(name, known, section)
    return f" — did you mean '{close}'?" if close else ""


def _toml_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)


def _describe(exc: ValidationError, origin: str, variables: Mapping[tuple[str, str], str]) -> str:
    """The errors of the strict check, each naming its key and the variable that set it or would set it."""
    lines = [f"invalid configuration ({origin}):"]
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        where = f"[{loc[0]}] {'.'.join(loc[1:])}" if len(loc) > 1 else ".".join(loc)
        msg = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if isinstance(value, bool) and err["type"] in ("int_type", "float_type"):
            msg = f"expected a number, not the boolean {str(value).lower()}"
        elif err["type"] in ("int_type", "float_type", "bool_type", "string_type", "list_type"):
            msg = f"{msg} (the value's type is {_toml_type(value)})"
        shown = f" (got {value!r})" if value is not None and not isinstance(value, dict | bool) else ""
        var = variables.get((loc[0], loc[1])) if len(loc) > 1 else None
        fix = f"from the environment variable {var}" if var else "set it in the config file"
        fix += f" or {env_name(loc[0], loc[1])}" if len(loc) > 1 and not var else ""
        lines.append(f"  {where}: {msg}{shown}; {fix}")
    return "\n".join(lines)
