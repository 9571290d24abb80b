"""The web page in a real browser: Playwright drives Debian's Chromium against the real `vmr serve`.

The set-up installs Chromium with apt-get when it is missing (as root); where no browser can be
had, the tests are skipped with the reason. `VMR_UPDATE_SCREENSHOT=1` refreshes docs/web.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import ROOT
from serving import served

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: without these Chromium keeps reaching for Google's servers.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",  # a shared /watch link plays on opening
]
QUERY = "what is overfitting"
# Media events do not bubble: a capturing listener on the document sees the <video>'s seeks.
RECORD_SEEKS = "window.seeks = []; document.addEventListener('seeked', e => window.seeks.push(e.target.currentTime), true);"


def install_chromium() -> str | None:
    """None once /usr/bin/chromium exists, else why it cannot: apt-get as root, best effort."""
    if CHROMIUM.exists():
        return None
    if not shutil.which("apt-get") or os.geteuid() != 0:
        return f"{CHROMIUM} is missing and cannot be installed here (needs apt-get, as root)"
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    # Package lists may be empty on a fresh machine: install, else refresh them and retry.
    for commands in ([["apt-get", "install", "-y", "-q", "chromium"]],
                     [["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]]):
        try:
            for command in commands:
                result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return "apt-get install chromium timed out"
        if CHROMIUM.exists():
            return None
    lines = (result.stderr or result.stdout).strip().splitlines()
    return f"apt-get install chromium failed: {lines[-1] if lines else f'exit {result.returncode}'}"


@pytest.fixture(scope="session")
def browser():
    reason = install_chromium()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def base_url(sample_home):
    with served(sample_home) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_init_script(RECORD_SEEKS)
    yield context.new_page()
    context.close()


def first_seek(page) -> float:
    page.wait_for_function("window.seeks.length > 0")
    return page.evaluate("window.seeks[0]")


def search(page, base_url: str, query: str) -> None:
    page.goto(base_url)
    page.keyboard.type(query)  # the box has the focus on arrival
    page.keyboard.press("Enter")
    page.wait_for_selector(".card-link")


def test_search_click_plays_from_the_moment_start(page, base_url, tmp_path):
    expected = httpx.get(base_url + "api/search", params={"q": QUERY, "k": 10}).json()
    search(page, base_url, QUERY)
    cards = page.locator(".card-link")
    assert cards.count() == len(expected)
    assert cards.first.locator(".title").inner_text() == "lecture.mp4"
    start, end = (int(expected[0][key]) for key in ("start", "end"))  # the page shows m:ss
    assert cards.first.locator(".span").inner_text() == f"{start // 60}:{start % 60:02d}–{end // 60}:{end % 60:02d}"
    assert "overfitting" in [m.lower() for m in cards.first.locator("mark").all_inner_texts()]
    page.wait_for_function("(img => img.complete && img.naturalWidth > 0)(document.querySelector('.thumb'))")

    cards.first.click()
    best = expected[0]
    assert abs(first_seek(page) - best["start"]) < 0.5
    # Playing from there: time moves on inside the moment.
    page.wait_for_function(f"(v => !v.paused && v.currentTime > {best['start']} + 0.2)(document.querySelector('video'))")
    assert best["start"] <= page.evaluate("document.querySelector('video').currentTime") <= best["end"] + 0.5
    assert page.input_value("#share-url") == base_url.rstrip("/") + best["watch"]
    assert page.locator("#now-title").inner_text() == "lecture.mp4"

    page.evaluate("document.querySelector('video').pause()")  # a still frame for the picture
    target = ROOT / "docs" / "web.png" if os.environ.get("VMR_UPDATE_SCREENSHOT") == "1" else tmp_path / "web.png"
    target.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(target))
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and target.stat().st_size > 20_000


def test_shared_link_opens_playing_at_t(page, base_url):
    video_id = httpx.get(base_url + "api/videos").json()[0]["video_id"]
    page.goto(base_url + f"watch/{video_id}?t=100&end=108")
    assert abs(first_seek(page) - 100) < 0.5
    page.wait_for_function("(v => !v.paused && v.currentTime > 100.2)(document.querySelector('video'))")
    assert page.locator("#now-span").inner_text() == "1:40–1:48"


def test_shared_link_to_an_unknown_video_says_so(page, base_url):
    page.goto(base_url + "watch/999?t=5")
    page.wait_for_function("document.querySelector('#status').textContent !== ''")
    assert page.locator("#status").inner_text() == "video 999 is not in the index"


def test_keyboard_alone_searches_and_plays(page, base_url):
    expected = httpx.get(base_url + "api/search", params={"q": QUERY, "k": 10}).json()
    search(page, base_url, QUERY)
    page.keyboard.press("Tab")  # the Search button
    page.keyboard.press("Tab")  # the first result
    assert page.evaluate("document.activeElement === document.querySelector('.card-link')")
    page.keyboard.press("ArrowDown")  # the second result
    page.keyboard.press("Enter")
    assert abs(first_seek(page) - expected[1]["start"]) < 0.5
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
