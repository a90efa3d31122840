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
    example = Path(__file__).parent.parent / "config.example.toml"
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
