"""``sspr-review init``'s configuration: the one template text, the app's ids filled in, nothing overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from sspr_review import starter
from sspr_review.core.errors import ConfigError

ROOT = Path(__file__).parents[2]
TENANT = "0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"
CLIENT = "11111111-2222-3333-4444-555555555555"


def test_the_template_is_the_projects_config_example() -> None:
    assert starter.template_text() == (ROOT / "config.example.toml").read_text(encoding="utf-8")


def test_init_fills_in_auth_and_keeps_every_comment(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "config.toml"
    cfg = starter.write_config(path, starter.AppIds(TENANT, CLIENT, "certificate"))
    assert (cfg.auth.tenant_id, cfg.auth.client_id, cfg.auth.mode) == (TENANT, CLIENT, "certificate")
    assert cfg.registration.mode == "auto"  # the other sections' `mode` stays the template's
    written, template = path.read_text().splitlines(), starter.template_text().splitlines()
    changed = [(a, b) for a, b in zip(template, written, strict=True) if a != b]
    assert [b.split("#")[0].strip() for _, b in changed] == [
        'mode = "certificate"',
        f'tenant_id = "{TENANT}"',
        f'client_id = "{CLIENT}"',
    ]
    assert all(a.split("#", 1)[1] == b.split("#", 1)[1] for a, b in changed if "#" in a)  # comments kept
    plain = starter.write_config(tmp_path / "plain.toml", starter.AppIds())
    assert (tmp_path / "plain.toml").read_text() == starter.template_text() and plain.auth.mode == "auto"


def test_init_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# mine\n")
    with pytest.raises(ConfigError, match=r"config.toml already exists; init never overwrites a configuration"):
        starter.write_config(path, starter.AppIds(TENANT, CLIENT, "browser"))
    assert path.read_text() == "# mine\n"
    with pytest.raises(ConfigError, match="is a folder"):
        starter.write_config(tmp_path, starter.AppIds())


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        (starter.AppIds(client_id="my-app"), "--client-id 'my-app' is not an application (client) ID"),
        (starter.AppIds(tenant_id="contoso"), "--tenant-id 'contoso' is neither a directory (tenant) ID"),
        (starter.AppIds(mode="password"), "--auth 'password': choose one of auto, token, browser"),
    ],
)
def test_a_value_that_cannot_be_right_is_named_and_nothing_is_written(
    tmp_path: Path, ids: starter.AppIds, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        starter.write_config(tmp_path / "c.toml", ids)
    assert not (tmp_path / "c.toml").exists()


def test_a_tenant_may_be_named_by_its_domain(tmp_path: Path) -> None:
    cfg = starter.write_config(tmp_path / "c.toml", starter.AppIds("contoso.onmicrosoft.com", CLIENT, "device_code"))
    assert cfg.auth.tenant_id == "contoso.onmicrosoft.com"


def test_next_steps_say_what_the_mode_still_needs(tmp_path: Path) -> None:
    cfg = starter.write_config(tmp_path / "c.toml", starter.AppIds(TENANT, CLIENT, "client_secret"))
    steps = "\n".join(starter.next_steps(tmp_path / "c.toml", cfg))
    assert "AZURE_CLIENT_SECRET" in steps and f"sspr-review doctor --config {tmp_path / 'c.toml'}" in steps
    assert "sspr-review run --source demo" in steps
    auto = starter.write_config(tmp_path / "a.toml", starter.AppIds())
    assert "choose [auth] mode" in "\n".join(starter.next_steps(tmp_path / "a.toml", auto))
