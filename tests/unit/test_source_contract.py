"""The one Source contract (sources/base.py): required methods, optional capabilities with defaults, sources
opened from the configuration, a clock and options, and a combined source answering each capability for the kind
asked about. Also the examples in the docstrings of the bottom layer (core/)."""

from __future__ import annotations

import asyncio
import doctest
import importlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sspr_review.core import config
from sspr_review.core.errors import ConfigError
from sspr_review.core.vocabulary import DATA_KINDS, SNAPSHOT_KINDS, TIMED_KINDS
from sspr_review.sources import PROVIDERS, SourceOptions, open_source
from sspr_review.sources.base import Pages, RoleData, Source, collect
from sspr_review.sources.combined import CombinedSource
from sspr_review.sources.demo.source import DemoSource
from sspr_review.sources.files import FilesSource
from tests.support.exports import write_export

END = datetime(2026, 11, 23, tzinfo=UTC)
SMALL = {"SSPR_REVIEW_DEMO_USERS": "60", "SSPR_REVIEW_DEMO_WEEKS": "2"}


@pytest.mark.parametrize("module", ["settings", "weeks", "timefmt"])
def test_core_docstring_examples_run(module: str) -> None:
    mod = importlib.import_module(f"sspr_review.core.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_kinds_of_data_are_defined_once() -> None:
    assert DATA_KINDS == (*TIMED_KINDS, *SNAPSHOT_KINDS) == ("audit", "risk", "registration", "roles", "policy")


def test_a_source_missing_a_required_method_cannot_be_made() -> None:
    class Partial(Source):
        name = "partial"

        def now(self) -> datetime:
            return END

        def audit(self, start: datetime, end: datetime) -> list[Pages]:
            return []

        def risk(self, since: datetime, end: datetime) -> list[Pages]:
            return []

        def registration(self) -> list[Pages]:
            return []

        async def tenant(self) -> dict[str, str]:
            return {}

        async def policy(self) -> dict[str, str]:
            return {}

    with pytest.raises(TypeError, match="roles"):
        Partial()  # type: ignore[abstract]


def test_the_optional_capabilities_have_defaults() -> None:
    source = open_source("demo", config.load(env=SMALL), clock=lambda: END)
    assert isinstance(source, DemoSource)
    start, end = END - timedelta(days=3), END
    assert source.windows() is None
    assert source.lookback_days("audit", 30) == 30
    assert asyncio.run(source.limit_window("audit", start, end)) == (start, end)
    assert source.notes("audit") == []
    assert source.set_aside() is None
    assert source.registration_parts() is None  # the demo tenant serves the whole report


def test_sources_are_opened_from_config_clock_and_options() -> None:
    cfg = config.load(env=SMALL)
    as_of = END - timedelta(days=2)
    demo = open_source("demo", cfg, clock=lambda: END + timedelta(days=3), options=SourceOptions(as_of=as_of))
    assert isinstance(demo, DemoSource)
    assert demo.tenant_data.end == END  # the last Monday of the clock, in [review] timezone
    assert demo.now() == as_of
    with pytest.raises(ConfigError, match="--files DIR"):
        open_source("files", cfg, clock=lambda: END)
    with pytest.raises(ConfigError, match=", ".join(PROVIDERS)):
        open_source("sharepoint", cfg, clock=lambda: END)


def test_a_combined_source_answers_each_capability_for_the_kind(tmp_path: Path) -> None:
    """Audit from a folder of exports, the rest from the demo tenant: each kind's records, windows, look-back and
    what was set aside come from the source serving it."""
    write_export(tmp_path / "export")
    (tmp_path / "export" / "broken.json").write_text("{not json")
    files = FilesSource(tmp_path / "export")
    demo = open_source("demo", config.load(env=SMALL), clock=lambda: END)
    combined = CombinedSource(demo, {"audit": files})
    assert combined.name == "demo" and combined.origin("audit") == "files" and combined.origin("risk") == "demo"
    assert combined.windows() is None  # the demo tenant is read over the fetch's own windows
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    audit = [r for pages in combined.audit(start, end) for r in asyncio.run(collect(pages))]
    assert sorted(r["id"] for r in audit) == [f"a{i}" for i in range(8)]  # the files' records, not the tenant's
    risk = [r for pages in combined.risk(END - timedelta(days=14), END) for r in asyncio.run(collect(pages))]
    assert risk and all(r["id"] != "r1" for r in risk)  # the demo tenant's detections
    assert isinstance(asyncio.run(combined.roles()), RoleData)
    set_aside = combined.set_aside()  # the base (demo) set nothing aside; the files' broken file is kept
    assert set_aside is not None
    assert [r.where for r in set_aside.unreadable] == [str(tmp_path / "export" / "broken.json")]
    assert demo.set_aside() is None
    with pytest.raises(ValueError, match="only audit, risk"):
        CombinedSource(demo, {"registration": files})
