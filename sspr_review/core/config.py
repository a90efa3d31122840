"""Configuration: a TOML file, environment overrides, validation with messages that name the key.

Precedence, lowest first: built-in defaults, the TOML file, environment variables, command-line options.
Every key ``[section] key`` can be overridden by the environment variable ``SSPR_REVIEW_<SECTION>_<KEY>``
(upper case), e.g. ``SSPR_REVIEW_STORE_PATH``. ``SSPR_REVIEW_GRAPH_URL`` is a short alias of
``SSPR_REVIEW_GRAPH_BASE_URL``, ``SSPR_REVIEW_LOG_ANALYTICS_URL`` of ``SSPR_REVIEW_LOG_ANALYTICS_ENDPOINT``.
Secrets are never configuration values: the file names the *environment
variable* that holds a secret, never the secret itself.

Types are strict: a TOML value must have the key's type (``audit_overlap_hours = true`` is an error, not 1;
an integer is accepted where a number is expected). Environment variables are text, so their values are
converted first (``"6"`` → 6, ``"true"``/``"false"`` for switches), then checked the same way.

Relative paths follow one rule: a path written in the configuration file is relative to that file's folder;
a path from the command line or the environment is relative to the current folder (:data:`PATH_KEYS`).

See ``config.example.toml`` at the project root for every key with its default and meaning.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import string
import tomllib
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model, field_validator

from .errors import ConfigError
from .settings import AnalysisSettings

ENV_PREFIX = "SSPR_REVIEW_"
ENV_ALIASES = {
    "SSPR_REVIEW_GRAPH_URL": ("graph", "base_url"),
    "SSPR_REVIEW_LOG_ANALYTICS_URL": ("log_analytics", "endpoint"),
}
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

AuthMode = Literal[
    "auto",
    "token",
    "browser",
    "device_code",
    "azure_cli",
    "client_secret",
    "certificate",
    "managed_identity",
    "workload_identity",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True)


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


def _check_http_url(value: str, example: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL such as {example}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(f"{value!r} uses plain http; tokens may only travel unencrypted to localhost. Use https.")
    return value.rstrip("/")


class SourcesSettings(_Section):
    """``[sources]``: where each time-ranged kind of data comes from (registration, roles and policy always come
    from the run's source: graph, demo or files)."""

    audit: Literal["graph", "log_analytics"] = "graph"
    risk: Literal["graph", "log_analytics"] = "graph"


class LogAnalyticsSettings(_Section):
    """``[log_analytics]``: the Log Analytics workspace (Microsoft Sentinel's) that audit and risk may come from."""

    workspace_id: str = Field("", description="The workspace's Workspace ID (a GUID, on its Overview page)")
    endpoint: str = "https://api.loganalytics.io/v1"
    backfill_days: int = Field(180, ge=1, le=730)
    max_rows: int = Field(500_000, ge=10, le=500_000)
    max_bytes: int = Field(64_000_000, ge=100_000, le=100_000_000)
    ingestion_delay_minutes: float = Field(30.0, ge=0, le=24 * 60)
    timeout_seconds: int = Field(180, ge=1, le=600)
    max_retries: int = Field(6, ge=0, le=20)
    retry_backoff_seconds: float = Field(2.0, ge=0, le=300)
    concurrent_queries: int = Field(4, ge=1, le=5)

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        return _check_http_url(value, "https://api.loganalytics.io/v1")

    @field_validator("workspace_id")
    @classmethod
    def _check_workspace(cls, value: str) -> str:
        if value:
            try:
                uuid.UUID(value)
            except ValueError:
                raise ValueError(
                    f"{value!r} is not a workspace ID: copy the Workspace ID (a GUID such as "
                    "1b2c3d4e-0000-0000-0000-000000000000) from the workspace's Overview page"
                ) from None
        return value


class AuthSettings(_Section):
    """``[auth]``: which azure-identity credential to use. Secrets stay in the environment."""

    mode: AuthMode = "auto"
    tenant_id: str = ""
    client_id: str = ""
    client_secret_env: str = "AZURE_CLIENT_SECRET"
    certificate_path: str = ""
    certificate_password_env: str = "AZURE_CLIENT_CERTIFICATE_PASSWORD"


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

    @field_validator("timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone name such as 'Europe/London'") from None
        return value


class MailSettings(_Section):
    """``[mail]``: the emailed weekly review. Passwords and keys stay in the environment."""

    transport: Literal["smtp", "graph"] = "smtp"
    to: list[str] = []
    cc: list[str] = []
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
    """``[demo]``: size of the built-in demo tenant."""

    users: int = Field(2000, ge=50, le=1_000_000)
    weeks: int = Field(26, ge=2, le=104)
    seed: int = 7


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


#: Environment variable naming the folder for the default store when no config file is used.
HOME_ENV = "SSPR_REVIEW_HOME"


def default_home(env: Mapping[str, str] | None = None) -> Path:
    """Where the default ``store`` lives without a config file (the demo): ``$SSPR_REVIEW_HOME`` when set,
    else the project root of a git checkout (where ``make demo`` puts it), else the user data folder
    (``$XDG_DATA_HOME/sspr-review``, by default ``~/.local/share/sspr-review``) for a pip install."""
    env = os.environ if env is None else env
    if env.get(HOME_ENV):
        return Path(env[HOME_ENV]).expanduser().resolve()
    root = Path(__file__).resolve().parents[2]  # sspr_review/core/config.py → the checkout
    project = root / "pyproject.toml"
    if project.is_file() and 'name = "sspr-review"' in project.read_text(encoding="utf-8"):
        return root
    data = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser()
    return data / "sspr-review"


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


def load(path: str | Path | None = None, *, env: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Read ``path`` (TOML; optional), apply environment overrides, then ``overrides``.

    ``overrides`` are ``section__key=value`` pairs (for command-line options); ``None`` values are ignored.
    Raises :class:`ConfigError` naming the file, key and accepted values when anything is wrong.
    """
    env = os.environ if env is None else env
    data: dict[str, dict[str, Any]] = {}
    origin = "environment and defaults"
    if path is not None:
        file = Path(path).expanduser()
        origin = str(file)
        try:
            with file.open("rb") as fh:
                raw = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"config file {file} does not exist; copy config.example.toml there to start") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file} is not valid TOML: {exc}") from None
        for section, values in raw.items():
            if section not in SECTIONS:
                raise ConfigError(f"{file}: unknown section [{section}]{_suggest(section, SECTIONS)}")
            if not isinstance(values, dict):
                raise ConfigError(f"{file}: [{section}] must be a table of keys, got {values!r}")
            _check_keys(section, values, origin)
            data[section] = {key: _absolute(section, key, value, file.parent) for key, value in values.items()}
    for var, value in env.items():
        target = ENV_ALIASES.get(var) or _env_target(var)
        if target:
            data.setdefault(target[0], {})[target[1]] = _absolute(*target, _from_env(var, target, value))
    for key, value in overrides.items():
        if value is None:
            continue
        section, _, name = key.partition("__")
        _check_keys(section, {name: value}, "command line")
        data.setdefault(section, {})[name] = _absolute(section, name, value)
    try:
        cfg = Config.model_validate({**data, "source_path": str(path) if path is not None else None})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None
    try:
        cfg.analysis_settings()
    except ValueError as exc:
        raise ConfigError(f"invalid configuration ({origin}): [analysis] {exc}") from None
    return cfg


def _absolute(section: str, key: str, value: Any, folder: Path | None = None) -> Any:
    """A path key's value as an absolute path: a relative one is taken from ``folder`` (default: the current one)."""
    if (section, key) in PATH_KEYS and isinstance(value, str) and value:
        path = Path(value).expanduser()
        return str(path) if path.is_absolute() else os.path.abspath((folder or Path.cwd()) / path)
    return value


def _from_env(var: str, target: tuple[str, str], value: str) -> Any:
    """Environment values are text: convert them to the key's type (strictness applies after)."""
    model = SECTIONS[target[0]]
    annotation = model.model_fields[target[1]].annotation
    kinds: dict[Any, str] = {bool: "true or false", int: "a whole number", float: "a number"}
    if annotation is not None and annotation in kinds:
        try:
            return TypeAdapter(annotation).validate_python(value.strip(), strict=False)
        except ValidationError:
            kind = kinds[annotation]
            raise ConfigError(
                f"invalid configuration (environment): [{target[0]}] {target[1]}: {var}={value!r} is not {kind}"
            ) from None
    return value


def _env_target(var: str) -> tuple[str, str] | None:
    if not var.startswith(ENV_PREFIX):
        return None
    rest = var[len(ENV_PREFIX) :].lower()
    for section, model in SECTIONS.items():
        if rest.startswith(section + "_"):
            key = rest[len(section) + 1 :]
            if key in model.model_fields:
                return section, key
    return None


def _check_keys(section: str, values: Mapping[str, Any], origin: str) -> None:
    model = SECTIONS.get(section)
    if model is None:
        raise ConfigError(f"{origin}: unknown section [{section}]{_suggest(section, SECTIONS)}")
    for key in values:
        if key not in model.model_fields:
            raise ConfigError(
                f"{origin}: unknown key '{key}' in [{section}]{_suggest(key, model.model_fields)}"
                f" (known keys: {', '.join(model.model_fields)})"
            )


def _suggest(name: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" — did you mean '{close[0]}'?" if close else ""


def _toml_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)


def _describe(exc: ValidationError, origin: str) -> str:
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
        env_name = f"{ENV_PREFIX}{'_'.join(loc).upper()}"
        lines.append(f"  {where}: {msg}{shown}; set it in the config file or {env_name}")
    return "\n".join(lines)
