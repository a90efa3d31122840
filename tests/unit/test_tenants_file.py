"""The tenants file (issue 26): names that are folders, the layered configuration, one store per tenant."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomli_w

from sspr_review.core import config, tenants
from sspr_review.core.errors import ConfigError

A = "11111111-1111-1111-1111-111111111111"
B = "22222222-2222-2222-2222-222222222222"
APP = "99999999-0000-0000-0000-000000000001"


def write(folder: Path, text: str, name: str = "tenants.toml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", ["contoso", "Contoso-EU", "fabrikam_2", "tailspin.uk", "a", "9lives", "x" * 64])
def test_folder_safe_names_are_accepted(name: str) -> None:
    assert tenants.name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "is empty"),
        ("x" * 65, "65 characters long; at most 64"),
        ("con toso", "holds ' '"),
        ("../etc", "holds '/'"),
        ("a\\b", "holds '\\\\'"),
        ("café", "holds 'é'"),
        (".hidden", "must start with a letter or a digit"),
        ("-rf", "must start with a letter or a digit"),
        ("contoso.", "must not end with '.'"),
        ("portfolio", "the portfolio's own folder"),
        ("Portfolio", "the portfolio's own folder"),
        ("CON", "device name Windows reserves"),
        ("lpt1.txt", "device name Windows reserves"),
    ],
)
def test_names_that_are_not_folder_safe_are_refused_with_the_reason(name: str, reason: str, tmp_path: Path) -> None:
    problem = tenants.name_problem(name)
    assert problem is not None and reason in problem
    path = write(tmp_path, tomli_w.dumps({"tenants": [{"name": name, "source": "demo"}]}))
    with pytest.raises(ConfigError, match=r"\[\[tenants\]\] #1") as err:
        tenants.load(path, env={})
    assert reason in str(err.value)


def test_a_name_used_twice_ignoring_case_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, '[[tenants]]\nname = "Contoso"\n[[tenants]]\nname = "contoso"\n')
    with pytest.raises(ConfigError, match=r"'contoso' is used twice \('Contoso' is the first; .*ignoring case"):
        tenants.load(path, env={})


def test_one_tenant_id_on_two_rows_is_refused(tmp_path: Path) -> None:
    text = f'[[tenants]]\nname = "a"\ntenant_id = "{A}"\n[[tenants]]\nname = "b"\ntenant_id = "{A.upper()}"\n'
    with pytest.raises(ConfigError, match=r"tenants 'a' and 'b' have the same tenant_id .* under two names"):
        tenants.load(write(tmp_path, text), env={})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('name = "a"\ntenant_id = "contoso.onmicrosoft.com"', r"tenant_id 'contoso.onmicrosoft.com' is not a GUID"),
        ('name = "a"\nclient_id = "my-app"', r"client_id 'my-app' is not a GUID"),
        ('name = "a"\ntenantid = "x"', r"unknown key 'tenantid' — did you mean 'tenant_id'\?"),
        ('source = "demo"', r"name: Field required"),
        ("name = 7", r"name: Input should be a valid string"),
    ],
)
def test_a_bad_row_is_named_with_what_is_wrong(row: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        tenants.load(write(tmp_path, f"[[tenants]]\n{row}\n"), env={})
    assert "tenants.toml: [[tenants]] #1" in str(err.value)


def test_the_file_itself_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"does not exist"):
        tenants.load(tmp_path / "missing.toml", env={})
    with pytest.raises(ConfigError, match=r"no tenants; add a \[\[tenants\]\] table"):
        tenants.load(write(tmp_path, "[portfolio]\n"), env={})
    with pytest.raises(ConfigError, match=r"unknown table \[default\] — did you mean 'defaults'"):
        tenants.load(write(tmp_path, '[default.review]\ntimezone = "UTC"\n[[tenants]]\nname = "a"\n'), env={})
    with pytest.raises(ConfigError, match=r"\[defaults\]: unknown key 'timezon' in \[review\]"):
        tenants.load(write(tmp_path, '[defaults.review]\ntimezon = "UTC"\n[[tenants]]\nname = "a"\n'), env={})
    with pytest.raises(ConfigError, match=r"(?s)\[defaults\].*\[review\] timezone.*IANA"):
        tenants.load(write(tmp_path, '[defaults.review]\ntimezone = "Mars/Olympus"\n[[tenants]]\nname = "a"\n'), env={})
    with pytest.raises(ConfigError, match=r"\[portfolio\]: .*not plain e-mail addresses"):
        tenants.load(write(tmp_path, '[portfolio]\nto = ["soc at msp"]\n[[tenants]]\nname = "a"\n'), env={})


def test_a_tenants_config_overrides_the_defaults_key_by_key(tmp_path: Path) -> None:
    """[defaults] < the tenant's own file (key by key, within a section) < environment < the row's ids."""
    write(tmp_path, '[analysis]\nspike_accounts = 25\n[mail]\nto = ["it@tailspin.example"]\n', "tailspin/config.toml")
    path = write(
        tmp_path,
        f"""
[defaults.review]
timezone = "Europe/London"
[defaults.analysis]
spike_accounts = 5
rollup_threshold = 4
[defaults.auth]
mode = "certificate"
client_id = "{APP}"
certificate_path = "certs/msp.pem"

[[tenants]]
name = "contoso"
tenant_id = "{A}"

[[tenants]]
name = "tailspin"
tenant_id = "{B}"
config = "tailspin/config.toml"
""",
    )
    loaded = tenants.load(path, env={})
    contoso = loaded.config(loaded.tenant("contoso"), env={})
    tailspin = loaded.config(loaded.tenant("TAILSPIN"), env={"SSPR_REVIEW_AUTH_TENANT_ID": A})
    assert contoso.analysis.spike_accounts == 5 and tailspin.analysis.spike_accounts == 25  # type: ignore[attr-defined]
    assert tailspin.analysis.rollup_threshold == 4  # type: ignore[attr-defined]  # the rest of [analysis] kept
    assert contoso.review.timezone == tailspin.review.timezone == "Europe/London"
    # the MSP set-up: one app and certificate from [defaults], a tenant id per row, no file per tenant
    assert (contoso.auth.mode, contoso.auth.client_id, contoso.auth.tenant_id) == ("certificate", APP, A)
    assert contoso.auth.certificate_path == str(tmp_path / "certs" / "msp.pem")  # relative to tenants.toml
    assert tailspin.auth.tenant_id == B  # the row wins over the environment
    assert contoso.mail.to == [] and tailspin.mail.to == ["it@tailspin.example"]
    # each tenant its own store, below [store] path (default: store beside tenants.toml)
    assert contoso.store_path() == tmp_path / "store" / "contoso"
    assert tailspin.store_path() == tmp_path / "store" / "tailspin"
    assert loaded.config(loaded.tenant("contoso"), env={}, store_root=tmp_path / "x").store_path() == (
        tmp_path / "x" / "contoso"
    )


def test_a_tenant_whose_config_is_broken_fails_alone(tmp_path: Path) -> None:
    path = write(tmp_path, '[[tenants]]\nname = "a"\nconfig = "a.toml"\n[[tenants]]\nname = "b"\nsource = "demo"\n')
    loaded = tenants.load(path, env={})
    with pytest.raises(ConfigError, match=r"tenant 'a': config file .*a\.toml does not exist"):
        loaded.config(loaded.tenant("a"), env={})
    assert loaded.config(loaded.tenant("b"), env={}).store_path() == tmp_path / "store" / "b"
    with pytest.raises(ConfigError, match=r"no tenant called 'c' \(the tenants: a, b\)"):
        loaded.tenant("c")


def test_the_provider_config_sends_the_portfolio_to_the_provider(tmp_path: Path) -> None:
    text = (
        '[portfolio]\ntitle = "Blue Harbour MSP"\nto = ["soc@msp.example"]\n'
        '[defaults.mail]\nsender = "sspr@msp.example"\nto = ["nobody@msp.example"]\n[[tenants]]\nname = "a"\n'
    )
    loaded = tenants.load(write(tmp_path, text), env={})
    provider = loaded.provider_config(env={})
    assert loaded.portfolio.title == "Blue Harbour MSP"
    assert provider.mail.to == ["soc@msp.example"] and provider.mail.sender == "sspr@msp.example"


def test_a_tenants_config_is_written_so_that_it_loads_back_the_same(tmp_path: Path) -> None:
    write(tmp_path, "pattern,stage,method,end_state,note\n", "rules.csv")
    path = write(
        tmp_path,
        '[defaults.analysis]\nhelpdesk_reset_cost = 40\nreason_rules = "rules.csv"\n'
        '[defaults.mail]\nto = ["a@b.example"]\n'
        f'[defaults.demo]\nname = "Harbour \\"Freight\\"\\n"\n[[tenants]]\nname = "a"\ntenant_id = "{A}"\n',
    )
    loaded = tenants.load(path, env={})
    cfg = loaded.config(loaded.tenant("a"), env={})
    copy = write(tmp_path, tenants.config_text(cfg), "copy.toml")
    again = config.load(copy, env={})
    assert again.model_dump() == cfg.model_dump()
    assert again.analysis_settings().reason_rules == str(tmp_path / "rules.csv")
