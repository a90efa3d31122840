import difflib
import logging
import re
from pathlib import Path

import pytest

from sspr_review.core import config
from sspr_review.core.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file() -> None:
    cfg = config.load(env={})
    assert cfg.graph.base_url == "https://graph.microsoft.com/v1.0"
    assert cfg.review.timezone == "UTC"
    assert cfg.store.path == "store"


def test_file_values_and_relative_store_path(tmp_path: Path) -> None:
    path = write(tmp_path, '[review]\ntimezone = "Europe/London"\n[store]\npath = "history"\n')
    cfg = config.load(path, env={})
    assert cfg.review.timezone == "Europe/London"
    assert cfg.store_path() == tmp_path / "history"


def test_environment_overrides_file_and_alias(tmp_path: Path) -> None:
    path = write(tmp_path, '[graph]\nbase_url = "https://graph.microsoft.us/v1.0"\n')
    env = {"SSPR_REVIEW_GRAPH_URL": "http://127.0.0.1:8123/v1.0/", "SSPR_REVIEW_STORE_PATH": "/tmp/x"}
    cfg = config.load(path, env=env)
    assert cfg.graph.base_url == "http://127.0.0.1:8123/v1.0"  # trailing slash removed
    assert cfg.store.path == "/tmp/x"


def test_command_line_overrides_environment() -> None:
    cfg = config.load(env={"SSPR_REVIEW_STORE_PATH": "/env"}, store__path="/cli")
    assert cfg.store.path == "/cli"


def test_unknown_key_is_named_with_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, '[review]\ntimezon = "UTC"\n')
    with pytest.raises(ConfigError, match=r"unknown key 'timezon' in \[review\].*did you mean 'timezone'"):
        config.load(path, env={})


def test_unknown_section(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown section \[grpah\].*'graph'"):
        config.load(write(tmp_path, "[grpah]\n"), env={})


def test_bad_timezone_names_key_and_env_var(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(write(tmp_path, '[review]\ntimezone = "Europe/Londn"\n'), env={})
    text = str(err.value)
    assert "[review] timezone" in text and "IANA" in text and "SSPR_REVIEW_REVIEW_TIMEZONE" in text


def test_bad_number_from_environment() -> None:
    with pytest.raises(ConfigError, match=r"\[graph\] max_retries"):
        config.load(env={"SSPR_REVIEW_GRAPH_MAX_RETRIES": "many"})


def test_plain_http_only_for_loopback() -> None:
    assert config.load(env={"SSPR_REVIEW_GRAPH_URL": "http://localhost:9/v1.0"}).graph.base_url
    with pytest.raises(ConfigError, match="plain http"):
        config.load(env={"SSPR_REVIEW_GRAPH_URL": "http://graph.example.com/v1.0"})


def test_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigError, match="not valid TOML"):
        config.load(write(tmp_path, "[review\n"), env={})


def test_example_config_is_valid() -> None:
    example = Path(__file__).parents[2] / "config.example.toml"
    cfg = config.load(example, env={})
    assert cfg.auth.mode in ("auto", "client_secret", "certificate")


def test_reason_rules_path_is_relative_to_the_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "my_rules.csv").write_text("pattern,stage,method,end_state\npasskey,,app_code,\n")
    path = write(tmp_path, '[analysis]\nreason_rules = "rules/my_rules.csv"\n')
    monkeypatch.chdir(tmp_path / "rules")  # elsewhere than the config file's folder
    settings = config.load(path, env={}).analysis_settings()
    assert settings.reason_rules == str(tmp_path / "rules" / "my_rules.csv")
    assert settings.rules()[0].pattern == "passkey"
    env = config.load(env={"SSPR_REVIEW_ANALYSIS_REASON_RULES": "my_rules.csv"}).analysis_settings()
    assert env.rules()[0].pattern == "passkey"  # no config file: relative to the working directory


def test_a_bad_reason_rules_file_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "my_rules.csv").write_text("pattern,stage,method,end_state\nok,started,,\nre:(,gate_started,,\n")
    path = write(tmp_path, '[analysis]\nreason_rules = "my_rules.csv"\n')
    with pytest.raises(ConfigError) as err:
        config.load(path, env={})
    text = str(err.value)
    where = f"{tmp_path / 'my_rules.csv'} line 3, column pattern: bad regular expression"
    assert "[analysis]" in text and where in text
    with pytest.raises(ConfigError, match=r"nope\.csv does not exist"):
        config.load(write(tmp_path, '[analysis]\nreason_rules = "nope.csv"\n'), env={})


# ------------------------------------------------------------------------------------- the environment overlay
def test_environment_text_becomes_the_keys_type_then_is_checked_strictly(tmp_path: Path) -> None:
    cfg = config.load(
        env={
            "SSPR_REVIEW_GRAPH_MAX_RETRIES": " 6 ",
            "SSPR_REVIEW_GRAPH_TIMEOUT_SECONDS": "30",
            "SSPR_REVIEW_MAIL_CHARTS": "false",
            "SSPR_REVIEW_MAIL_TO": "a@example.com, b@example.com",
            "SSPR_REVIEW_REGISTRATION_MODE": "lean",
        }
    )
    assert cfg.graph.max_retries == 6 and cfg.graph.timeout_seconds == 30.0 and cfg.mail.charts is False
    assert cfg.mail.to == ["a@example.com", "b@example.com"] and cfg.registration.mode == "lean"
    with pytest.raises(
        ConfigError, match=r"\[graph\] max_retries: SSPR_REVIEW_GRAPH_MAX_RETRIES='6\.5' is not a whole"
    ):
        config.load(env={"SSPR_REVIEW_GRAPH_MAX_RETRIES": "6.5"})
    with pytest.raises(ConfigError, match=r"\[mail\] charts: SSPR_REVIEW_MAIL_CHARTS='maybe' is not true or false"):
        config.load(env={"SSPR_REVIEW_MAIL_CHARTS": "maybe"})
    # a value of the right type but out of range: the strict check names the variable that set it
    path = write(tmp_path, "[graph]\nmax_retries = 3\n")
    with pytest.raises(ConfigError) as err:
        config.load(path, env={"SSPR_REVIEW_GRAPH_MAX_RETRIES": "99"})
    assert "[graph] max_retries" in str(
        err.value
    ) and "from the environment variable SSPR_REVIEW_GRAPH_MAX_RETRIES" in str(err.value)
    with pytest.raises(ConfigError, match=r"\[registration\] mode.*SSPR_REVIEW_REGISTRATION_MODE"):
        config.load(env={"SSPR_REVIEW_REGISTRATION_MODE": "sometimes"})


def test_the_full_name_wins_over_its_short_alias() -> None:
    env = {"SSPR_REVIEW_GRAPH_URL": "http://127.0.0.1:1/v1.0", "SSPR_REVIEW_GRAPH_BASE_URL": "http://127.0.0.1:2/v1.0"}
    assert config.load(env=env).graph.base_url == "http://127.0.0.1:2/v1.0"
    la = config.load(env={"SSPR_REVIEW_LOG_ANALYTICS_URL": "http://127.0.0.1:3/v1"}).log_analytics
    assert la.endpoint == "http://127.0.0.1:3/v1"


def test_precedence_defaults_file_environment_command_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[demo]\nusers = 300\nweeks = 4\n")
    cfg = config.load(path, env={"SSPR_REVIEW_DEMO_WEEKS": "5", "SSPR_REVIEW_DEMO_SEED": "9"}, demo__seed=11)
    assert (cfg.demo.users, cfg.demo.weeks, cfg.demo.seed) == (300, 5, 11)
    assert config.load(env={}).demo.weeks == 26


@pytest.fixture
def warnings_seen(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The configuration's warnings from here on (``.messages``; the once-per-process memory starts empty)."""
    monkeypatch.setattr(config, "_warned", set())
    caplog.set_level(logging.WARNING, logger="sspr_review.core.config")
    return caplog


def test_an_unknown_variable_is_warned_about_once_with_a_suggestion_never_its_value(
    warnings_seen: pytest.LogCaptureFixture,
) -> None:
    env = {"SSPR_REVIEW_GRAPH_MAXRETRIES": "s3cr3t-value", "SSPR_REVIEW_GRAPH_MAX_RETRIES": "2"}
    assert config.load(env=env).graph.max_retries == 2
    config.load(env=env)
    assert warnings_seen.messages == [
        "sspr-review: the environment variable SSPR_REVIEW_GRAPH_MAXRETRIES is not a setting and is ignored; "
        "did you mean SSPR_REVIEW_GRAPH_MAX_RETRIES?"
    ]
    config.load(env={"SSPR_REVIEW_XYZZY": "1"})
    assert warnings_seen.messages[-1].endswith(
        "SSPR_REVIEW_XYZZY is not a setting and is ignored; see config.example.toml ('sspr-review init' writes it)"
    )
    assert not any("s3cr3t" in m for m in warnings_seen.messages)


def test_variables_the_kit_reads_outside_the_configuration_are_not_warned_about(
    warnings_seen: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    others = ["HOME", "STATE_DIR", "ACCESS_TOKEN", "CONFIG", "SMTP_USERNAME", "SMTP_PASSWORD", "PSEUDONYM_KEY"]
    env = {f"SSPR_REVIEW_{name}": "x" for name in others}
    env["SSPR_REVIEW_HOME"] = str(tmp_path)
    config.load(env=env)
    # a variable the configuration names for a secret is read too
    path = write(tmp_path, '[mail]\nsmtp_password_env = "SSPR_REVIEW_RELAY_SECRET"\n')
    config.load(path, env={"SSPR_REVIEW_RELAY_SECRET": "x", "SSPR_REVIEW_GRAPH_URL": "http://localhost:1/v1.0"})
    assert warnings_seen.messages == []


def test_every_sspr_review_variable_the_package_names_is_known() -> None:
    """A variable the kit starts to read must be a key's, or listed in ENV_OTHER, or an ``*_env`` default."""
    package = Path(config.__file__).parent
    named = {m for p in package.rglob("*.py") for m in re.findall(r"\bSSPR_REVIEW_[A-Z][A-Z_]*[A-Z]\b", p.read_text())}
    assert {"SSPR_REVIEW_STATE_DIR", "SSPR_REVIEW_ACCESS_TOKEN", "SSPR_REVIEW_SMTP_PASSWORD"} <= named
    assert config.Config().unknown_env(dict.fromkeys(named, "x")) == []


@pytest.mark.parametrize(
    ("variable", "meant"),
    [
        ("SSPR_REVIEW_GRAPH_MAXRETRIES", "SSPR_REVIEW_GRAPH_MAX_RETRIES"),
        (
            "SSPR_REVIEW_ANALYSIS_SPIKE_THRESHOLD",
            "SSPR_REVIEW_ANALYSIS_SPIKE_ACCOUNTS",
        ),  # a synonym, not rollup_threshold
        ("SSPR_REVIEW_SMTP_HOST", "SSPR_REVIEW_MAIL_SMTP_HOST"),  # the section's synonym
        ("SSPR_REVIEW_MAIL_RECIPIENTS", "SSPR_REVIEW_MAIL_TO"),
        ("SSPR_REVIEW_TIMEZONE", "SSPR_REVIEW_REVIEW_TIMEZONE"),  # the one section with this key
        ("SSPR_REVIEW_GRPAH_URL", "SSPR_REVIEW_GRAPH_URL"),
        ("SSPR_REVIEW_STATEDIR", "SSPR_REVIEW_STATE_DIR"),
        ("SSPR_REVIEW_XYZZY", None),
    ],
)
def test_suggestions_for_a_variable(variable: str, meant: str | None) -> None:
    assert config.suggest_env(variable) == meant


def test_a_file_key_suggestion_knows_synonyms_where_string_distance_misleads(tmp_path: Path) -> None:
    keys = config.SECTIONS["analysis"].model_fields
    assert difflib.get_close_matches("spike_threshold", list(keys), n=1) == ["rollup_threshold"]  # what distance says
    with pytest.raises(
        ConfigError, match=r"unknown key 'spike_threshold' in \[analysis\] — did you mean 'spike_accounts'"
    ):
        config.load(write(tmp_path, "[analysis]\nspike_threshold = 5\n"), env={})
    with pytest.raises(ConfigError, match=r"unknown section \[smtp\] — did you mean 'mail'"):
        config.load(write(tmp_path, '[smtp]\nhost = "relay"\n'), env={})


def test_every_synonym_leads_to_a_real_key_and_none_is_one() -> None:
    for section, words in config.SYNONYMS.items():
        known = config.SECTIONS if section == "" else config.SECTIONS[section].model_fields
        for word, meant in words.items():
            assert meant in known and word not in known, (section, word)


def test_snapshot_max_days_is_at_least_the_tolerance(tmp_path: Path) -> None:
    assert config.load(env={}).review.snapshot_max_days == 35
    with pytest.raises(
        ConfigError, match=r"\[review\] snapshot_max_days: 5 is less than snapshot_tolerance_days \(7\)"
    ):
        config.load(write(tmp_path, "[review]\nsnapshot_max_days = 5\n"), env={})


@pytest.mark.parametrize(
    ("section", "typed", "meant"),
    [
        ("mail", "smtp_server", "smtp_host"),  # string distance says smtp_security
        ("mail", "recipient", "to"),
        ("mail", "from_address", "sender"),
        ("auth", "application_id", "client_id"),
        ("auth", "directory_id", "tenant_id"),
        ("auth", "secret", "client_secret_env"),
        ("store", "location", "path"),
    ],
)
def test_synonyms_lead_where_string_distance_does_not(section: str, typed: str, meant: str) -> None:
    assert config.suggest(typed, config.SECTIONS[section].model_fields, section) == meant
    assert config.suggest_env(f"SSPR_REVIEW_{section}_{typed}".upper()) == config.env_name(section, meant)
