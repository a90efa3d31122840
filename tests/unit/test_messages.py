"""Messages that read well (issue 27, reproductions 6 and 7): the service named right, no pydantic internals, CSV
syntax errors as syntax errors, a config file that is not UTF-8, and the machine's failures as sentences."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from sspr_review.core import config
from sspr_review.core.errors import ConfigError, ReasonRulesError
from sspr_review.core.files import machine_problem
from sspr_review.core.reason_rules import parse_rules
from sspr_review.ingest.fetch import Outcome

PYDANTIC = ("ArgsKwargs", "errors.pydantic.dev", "type=value_error", "input_value")


def test_a_rejected_token_is_not_said_to_be_graphs() -> None:
    line = Outcome("audit", kind="auth", reason="the Log Analytics endpoint rejected the access token (…)").line()
    assert "Graph" not in line and "access token was rejected" in line


def test_a_partial_source_is_never_ok() -> None:
    line = Outcome("roles", ok=True, records=10, partial=["role assignments are not included (HTTP 401)"]).line()
    assert " ok" not in line and "PARTIAL" in line and "role assignments are not included" in line


@pytest.mark.parametrize(
    ("rules", "said"),
    [
        ("pattern,stage,method,end_state,note\nabc,,,,x\n", "the rule sets nothing"),
        ("pattern,stage,method,end_state,note\nre:(,gate_verified,,,x\n", "bad regular expression"),
        ("pattern,stage,method,end_state,note\nabc,gate_verfied,,,x\n", "gate_verfied"),
    ],
)
def test_reason_rule_errors_carry_no_pydantic_internals(tmp_path: Path, rules: str, said: str) -> None:
    (tmp_path / "rules.csv").write_text(rules)
    (tmp_path / "c.toml").write_text('[analysis]\nreason_rules = "rules.csv"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(tmp_path / "c.toml", env={})
    message = str(caught.value)
    assert said in message and "rules.csv line 2" in message, message
    assert not any(p in message for p in PYDANTIC), message


def test_an_unterminated_quote_is_a_csv_syntax_error_on_its_line() -> None:
    with pytest.raises(ReasonRulesError) as caught:
        parse_rules('pattern,stage,method,end_state,note\nok,gate_verified,,,x\n"abc,gate_verified,,,x\n', "my.csv")
    message = str(caught.value)
    assert message.startswith("my.csv line 3: CSV syntax error") and "double quote" in message, message
    assert "sets nothing" not in message


def test_a_config_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_bytes(b"\xff\xfe[store]\n")
    with pytest.raises(ConfigError, match=r"c.toml is not UTF-8 text \(byte 0: 0xff\); save it as UTF-8"):
        config.load(tmp_path / "c.toml", env={})


@pytest.mark.parametrize(
    ("code", "fix"),
    [
        (errno.ENOSPC, "the disk holding it is full"),
        (errno.EROFS, "read-only file system"),
        (errno.EACCES, "chmod"),
        (errno.ENOTDIR, "is a file, not a folder"),
    ],
)
def test_the_machines_failures_name_the_path_and_the_fix(code: int, fix: str) -> None:
    text = machine_problem(OSError(code, "strerror text", "/srv/store/t/audit/.tmp-1234.parquet"))
    assert text.startswith("cannot use /srv/store/t/audit: strerror text; ") and fix in text, text
