"""The demo's reports read as a new user reads them, in a real headless Chromium at 1280×800: the verdict and the
top actions on the first screen, a page title that names the review, tiles coloured by what a change means, no
identifier where words belong, a contents list whose links all land, dates that never wrap, and the e-mail's
first screen carrying the same verdict."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sspr_review import mail
from sspr_review.app.workspace import Workspace
from sspr_review.core import config
from sspr_review.core.labels import METRICS, identifiers
from sspr_review.report.run import run
from tests.support.browser import NEEDS_BROWSER, all_text, first_screen_text, page, rgb

pytestmark = [pytest.mark.browser, pytest.mark.notebook, pytest.mark.slow, NEEDS_BROWSER]


@pytest.fixture(scope="module")
def folder(demo_store: Path, small_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = Workspace(config.load(small_config, store__path=str(demo_store)), "demo")
    return run(ws, fetch=False, out=tmp_path_factory.mktemp("reports")).folder


@pytest.fixture(scope="module")
def doc(folder: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((folder / "findings.json").read_text())
    return loaded


def squash(text: str) -> str:
    return " ".join(text.split())


def week_words(doc: dict[str, Any]) -> str:
    day = date.fromisoformat(doc["window"]["week_ending"])
    return f"{day.day} {day:%B %Y}"


def test_first_screen_states_the_verdict_with_the_top_actions(folder: Path, doc: dict[str, Any]) -> None:
    assert "verdict" in doc, "findings.json carries no verdict"
    verdict = doc["verdict"]
    urgent = [f for f in doc["findings"] if f["severity"] in ("critical", "high")]
    assert verdict["counts"]["high"] + verdict["counts"]["critical"] == len(urgent) >= 3
    with page((folder / "weekly-review.html").resolve().as_uri()) as chrome:
        first = squash(first_screen_text(chrome))
        assert squash(verdict["sentence"]) in first
        for severity in ("critical", "high"):
            assert re.search(rf"\b{verdict['counts'][severity]} {severity}\b", first), first[:600]
        shown = [a for a in verdict["actions"] if squash(a["headline"]) in first and squash(a["do"]) in first]
        assert len(shown) >= 3, (first, verdict["actions"])
        # the urgent findings among them: at least three, each with what to do, and a link to its detail below
        covered = {fp for a in shown for fp in a["fingerprints"]} & {f["fingerprint"] for f in urgent}
        assert len(covered) >= 3
        by_print = {f["fingerprint"]: f for f in doc["findings"]}
        for action in shown:
            detail = chrome.execute_script(
                "const a = document.querySelector(`a[href='#${arguments[0]}']`);"
                "const target = document.getElementById(arguments[0]);"
                "return [a !== null && a.getBoundingClientRect().top < window.innerHeight,"
                " target === null ? null : target.textContent,"
                " target === null ? 0 : target.getBoundingClientRect().top];",
                action["anchor"],
            )
            assert detail[0], f"no link to #{action['anchor']} on the first screen"
            assert detail[1] is not None and detail[2] > 800, f"#{action['anchor']} is not a detail below"
            text = squash(detail[1])
            for fp in action["fingerprints"]:
                assert squash(by_print[fp]["action"]) in text


def test_page_titles_name_the_review(folder: Path, doc: dict[str, Any]) -> None:
    tenant = doc["tenant"]["name"]
    with page((folder / "weekly-review.html").resolve().as_uri()) as chrome:
        assert chrome.title == f"SSPR weekly review — {tenant} — week ending {week_words(doc)}"
    with page((folder / "adoption-trends.html").resolve().as_uri()) as chrome:
        assert chrome.title.startswith(f"SSPR adoption trends — {tenant} — ")
        assert week_words(doc) in chrome.title


def _colour(css: str) -> str:
    r, g, _ = rgb(css)
    return "good" if g > r + 40 else "bad" if r > g + 40 else "neutral"


def test_tiles_colour_what_a_change_means(folder: Path, doc: dict[str, Any]) -> None:
    tiles = []
    with page((folder / "weekly-review.html").resolve().as_uri()) as chrome:
        for tile in chrome.find_elements("css selector", ".sspr-tile"):
            label = tile.find_element("css selector", ".l").text
            delta = tile.find_element("css selector", ".d")
            tiles.append((label, delta.text, delta.value_of_css_property("color")))
    names = {m.label.lower(): name for name, m in METRICS.items()} | {n.replace("_", " "): n for n in METRICS}
    checked = {"rising, lower is better": 0, "falling, lower is better": 0}
    for label, text, colour in tiles:
        name = names.get(re.sub(r"\s*\(.*\)$", "", label).strip().lower())
        assert name is not None, f"tile {label!r} names no metric"
        metric = doc["metrics"][name]
        if metric["value"] is None or metric["previous"] is None or metric["value"] == metric["previous"]:
            continue
        if metric["unit"] == "ratio":  # a rate's change is in percentage points
            assert re.search(r"\d pp\b", text), (label, text)
        rising = metric["value"] > metric["previous"]
        better = METRICS[name].better
        expected = "neutral" if better == "neither" else "good" if rising == (better == "higher") else "bad"
        assert _colour(colour) == expected, (label, text, colour)
        if better == "lower":
            checked["rising, lower is better" if rising else "falling, lower is better"] += 1
    assert all(checked.values()), checked  # the demo has both: the check above was not vacuous


def test_no_identifier_is_shown_where_words_belong(folder: Path) -> None:
    keys = identifiers()
    for name in ("weekly-review.html", "adoption-trends.html"):
        with page((folder / name).resolve().as_uri()) as chrome:
            text = all_text(chrome)
        shown = sorted(k for k in keys if re.search(rf"(?<![\w.@-]){re.escape(k)}(?![\w@-])", text))
        assert not shown, f"{name} shows identifiers: {shown}"


def test_contents_links_all_land_and_dates_never_wrap(folder: Path) -> None:
    with page((folder / "weekly-review.html").resolve().as_uri()) as chrome:
        links = chrome.execute_script(
            "return [...document.querySelectorAll('nav.sspr-contents a')].map(a => a.getAttribute('href'))"
        )
        assert len(links) >= 10, links
        missing = chrome.execute_script(
            "return [...document.querySelectorAll('a[href^=\"#\"]')].map(a => a.getAttribute('href').slice(1))"
            ".filter(id => id && document.getElementById(id) === null)"
        )
        assert missing == []
    with page((folder / "adoption-trends.html").resolve().as_uri()) as chrome:
        wrapped = chrome.execute_script(
            """
            const out = [];
            for (const cell of document.querySelectorAll('td, th')) {
              if (!/^\\d{4}-\\d{2}-\\d{2}$/.test(cell.textContent.trim())) continue;
              const range = document.createRange();
              range.selectNodeContents(cell);
              if (range.getClientRects().length > 1) out.push(cell.textContent);
            }
            return out;
            """
        )
        assert wrapped == []


def test_email_first_screen_carries_the_verdict(folder: Path, doc: dict[str, Any], tmp_path: Path) -> None:
    to, sender = ["secops@northgate-eng.example"], "sspr@northgate-eng.example"
    settings = config.MailSettings(to=to, sender=sender, charts=False)
    composed = mail.compose(mail.ReportFolder.load(folder), settings, env={})
    body = composed.message.get_body(("html",))
    assert body is not None
    (tmp_path / "mail.html").write_text(body.get_content())
    verdict = doc["verdict"]
    with page((tmp_path / "mail.html").as_uri(), width=650, height=800) as chrome:
        first = squash(first_screen_text(chrome))
    assert squash(verdict["sentence"]) in first
    assert f"{verdict['counts']['high']} high" in first
    assert [a for a in verdict["actions"][:3] if squash(a["do"]) in first] == verdict["actions"][:3]


def test_the_demo_verdict_is_the_planted_story(folder: Path, doc: dict[str, Any]) -> None:
    """Every critical or high finding of the demo's week is about planted cases: the background users produce
    none (the verdict tells the story the README lists)."""
    from datetime import UTC, datetime

    from sspr_review.sources.demo.tenant import DemoTenant, Planted, PlantedUser

    planted: Planted = DemoTenant(
        users=600, weeks=6, end=datetime.fromisoformat(folder.name).replace(tzinfo=UTC)
    ).planted
    names: set[str] = set()
    for value in vars(planted).values():
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, PlantedUser):
                names |= {item.upn.lower(), item.display_name.lower()}
    urgent = [f for f in doc["findings"] if f["severity"] in ("critical", "high")]
    unplanted = [f["title"] for f in urgent if not {u.lower() for u in f["users"]} <= names]
    assert urgent and unplanted == []
