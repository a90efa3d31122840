"""A headless Chromium driven through selenium and Debian's chromedriver, and what the reader-facing tests ask
of a page: the text a reader sees on the first screen, all the text, and the colours of elements."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    import selenium  # noqa: F401

    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover
    HAVE_SELENIUM = False

#: Skip a module without the browser, saying why; in CI (CI=true) it must run.
NEEDS_BROWSER = pytest.mark.skipif(
    (CHROMIUM is None or CHROMEDRIVER is None or not HAVE_SELENIUM) and not os.environ.get("CI"),
    reason="needs chromium, chromium-driver (apt-get install chromium chromium-driver) and selenium ([dev])",
)
#: A quiet headless Chromium: no sandbox (CI containers run as root), no GPU, no updates, sync or first-run screens.
HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
CHROMIUM_FLAGS = (*HEADLESS, "--hide-scrollbars")
#: No host name resolves but localhost: a page cannot reach the network.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"


def driver(profile: str, width: int = 1400, height: int = 2000, *, offline: bool = True) -> Any:
    """A headless Chromium with its own profile folder and a window of ``width`` × ``height`` CSS pixels; ``offline``
    (the default) without the network (:data:`OFFLINE`), else free to reach a local server by its address."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options.binary_location = CHROMIUM
    flags = (*CHROMIUM_FLAGS, *([OFFLINE] if offline else []), f"--window-size={width},{height}")
    for flag in (*flags, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    # the viewport itself at that size (the window's own frame would take some of it)
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    chrome.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    return chrome


@contextmanager
def page(url: str, width: int = 1280, height: int = 800) -> Iterator[Any]:
    """``url`` open in a fresh headless Chromium of ``width`` × ``height``, its scripts run (charts drawn)."""
    with tempfile.TemporaryDirectory() as profile:
        chrome = driver(profile, width, height)
        try:
            chrome.set_page_load_timeout(120)
            chrome.get(url)
            chrome.execute_script("window.scrollTo(0, 0)")
            yield chrome
        finally:
            chrome.quit()


#: The text of every text node drawn at least partly inside the first screen (the viewport at scroll 0): what a
#: reader sees before scrolling. Text in closed <details>, hidden elements and scripts is not drawn.
FIRST_SCREEN_TEXT = """
const height = window.innerHeight, width = window.innerWidth, out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  const text = node.textContent.trim();
  if (!text) continue;
  const style = getComputedStyle(node.parentElement);
  if (style.visibility === 'hidden' || style.display === 'none' || style.opacity === '0') continue;
  const range = document.createRange();
  range.selectNodeContents(node);
  const seen = [...range.getClientRects()].some(
    r => r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < height && r.right > 0 && r.left < width);
  if (seen) out.push(text);
}
return out.join('\\n');
"""

#: All the text of the page a reader could see (outside scripts and styles), hidden or folded parts included.
ALL_TEXT = """
const out = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
for (let node = walker.nextNode(); node; node = walker.nextNode()) {
  if (node.parentElement.closest('script, style, noscript, template')) continue;
  const text = node.textContent.trim();
  if (text) out.push(text);
}
return out.join('\\n');
"""


def first_screen_text(chrome: Any) -> str:
    text: str = chrome.execute_script(FIRST_SCREEN_TEXT)
    return text


def all_text(chrome: Any) -> str:
    text: str = chrome.execute_script(ALL_TEXT)
    return text


def rgb(css: str) -> tuple[int, int, int]:
    """``rgb(r, g, b)`` or ``rgba(r, g, b, a)`` as numbers."""
    inside = css[css.index("(") + 1 : css.index(")")]
    r, g, b = (int(float(v)) for v in inside.split(",")[:3])
    return r, g, b
