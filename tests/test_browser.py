"""The web page in a real browser: Playwright drives Debian's Chromium against the real `vmr serve`,
each page point at desktop (1280x800) and phone (390x844, touch) sizes.

The set-up installs Chromium with apt-get when it is missing (as root); where no browser can be
had, the tests are skipped with the reason. `VMR_UPDATE_SCREENSHOT=1` refreshes docs/web.png
and docs/web-phone.png.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT
from serving import served

CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: without these Chromium keeps reaching for Google's servers.
QUIET = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CHROMIUM_ARGS = QUIET + ["--autoplay-policy=no-user-gesture-required"]  # a shared /watch link plays on opening
QUERY = "what is overfitting"
# Media events do not bubble: a capturing listener on the document sees the <video>'s seeks.
RECORD_SEEKS = "window.seeks = []; document.addEventListener('seeked', e => window.seeks.push(e.target.currentTime), true);"
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2},
}
PLAYING = "(v => !v.paused && v.currentTime > {t})(document.querySelector('video'))"
IN_VIEW = """(() => { const r = document.querySelector('video').getBoundingClientRect();
  return r.height > 0 && r.top >= 0 && r.bottom <= window.innerHeight; })()"""


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
def playwright():
    reason = install_chromium()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def strict_browser(playwright):
    """Chromium with the autoplay policy of a desktop Chrome (headless allows everything): a
    page may not start a video with sound before the user has interacted with it."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                         args=QUIET + ["--autoplay-policy=document-user-activation-required"])
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def base_url(samples_home):
    """The four sample lectures: a library with more than one video, as a student's is."""
    with served(samples_home) as url:
        yield url


@pytest.fixture(scope="module")
def lecture(base_url) -> dict:
    """The machine learning lecture, as /api/videos lists it."""
    return next(v for v in httpx.get(base_url + "api/videos").json() if v["title"] == "lecture.mp4")


@pytest.fixture(params=list(SIZES))
def size(request) -> str:
    return request.param


def open_page(browser, size: str):
    context = browser.new_context(**SIZES[size])
    # Waits long enough for a 2-core machine running other jobs (a search once took over
    # Playwright's 30 s default there); a page that never answers still fails.
    context.set_default_timeout(90_000)
    context.add_init_script(RECORD_SEEKS)
    return context, context.new_page()


@pytest.fixture
def page(browser, size):
    context, page = open_page(browser, size)
    yield page
    context.close()


def first_seek(page) -> float:
    page.wait_for_function("window.seeks.length > 0")
    return page.evaluate("window.seeks[0]")


def search(page, base_url: str, query: str) -> None:
    page.goto(base_url)
    # The box has the focus on arrival; keys typed before it has are lost (on a loaded machine
    # the page once showed another query's results).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'q'")
    page.keyboard.type(query)
    page.keyboard.press("Enter")
    page.wait_for_selector(".card-link")


def activate(page, size: str, locator) -> None:
    """A click on a desktop, a tap on a phone."""
    if size == "phone":
        locator.scroll_into_view_if_needed()
        locator.tap()
    else:
        locator.click()


def screenshot(page, name: str, tmp_path: Path) -> None:
    target = ROOT / "docs" / name if os.environ.get("VMR_UPDATE_SCREENSHOT") == "1" else tmp_path / name
    target.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(target))
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and target.stat().st_size > 20_000


def test_search_then_a_result_plays_from_the_moment_start(page, size, base_url, tmp_path):
    expected = httpx.get(base_url + "api/search", params={"q": QUERY, "k": 10}).json()
    search(page, base_url, QUERY)
    cards = page.locator(".card-link")
    assert cards.count() == len(expected)
    title = cards.first.locator(".title")
    assert title.evaluate("e => e.firstChild.textContent") == "lecture.mp4"
    assert title.locator(".lang").text_content() == "en"  # the video's language, beside its name
    start, end = (int(expected[0][key]) for key in ("start", "end"))  # the page shows m:ss
    assert cards.first.locator(".span").inner_text() == f"{start // 60}:{start % 60:02d}–{end // 60}:{end % 60:02d}"
    assert "overfitting" in [m.lower() for m in cards.first.locator("mark").all_inner_texts()]
    page.wait_for_function("(img => img.complete && img.naturalWidth > 0)(document.querySelector('.thumb'))")
    assert page.get_attribute(".thumb", "src") == expected[0]["thumbnail"]

    activate(page, size, cards.first)
    best = expected[0]
    assert abs(first_seek(page) - best["start"]) < 0.5
    # Playing from there: time moves on inside the moment.
    page.wait_for_function(PLAYING.format(t=best["start"] + 0.2))
    assert best["start"] <= page.evaluate("document.querySelector('video').currentTime") <= best["end"] + 0.5
    assert page.input_value("#share-url") == base_url.rstrip("/") + best["watch"]
    assert page.locator("#now-title").evaluate("e => e.firstChild.textContent") == "lecture.mp4"

    page.evaluate("document.querySelector('video').pause()")  # a still frame for the picture
    screenshot(page, "web.png" if size == "desktop" else "web-phone.png", tmp_path)


def test_a_result_far_down_plays_in_sight(page, size, base_url):
    """On a phone the player sits above the results: tapping the 7th must not play it off screen."""
    expected = httpx.get(base_url + "api/search", params={"q": QUERY, "k": 10}).json()
    assert len(expected) >= 7
    search(page, base_url, QUERY)
    seventh = page.locator(".card-link").nth(6)
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")  # the list's end
    assert page.evaluate("window.scrollY") > 0 or size == "desktop"
    activate(page, size, seventh)
    assert abs(first_seek(page) - expected[6]["start"]) < 0.5
    page.wait_for_function(PLAYING.format(t=expected[6]["start"] + 0.2))
    page.wait_for_function(IN_VIEW)
    assert page.evaluate(IN_VIEW)


def test_a_shared_link_opens_at_the_moment_and_plays(page, base_url, lecture):
    page.goto(base_url + f"watch/{lecture['video_id']}?t=100&end=108")
    assert abs(first_seek(page) - 100) < 0.5
    page.wait_for_function(PLAYING.format(t=100.2))
    assert page.locator("#now-span").inner_text() == "1:40–1:48"
    assert page.locator("#play-moment").is_hidden()


def test_a_shared_link_under_the_autoplay_policy_shows_a_play_control(strict_browser, size, base_url, lecture):
    """Chromium's default policy refuses to start a video with sound unasked: the page shows
    the moment, paused at its start, with a play button over the player."""
    context, page = open_page(strict_browser, size)
    # Every Playwright call that evaluates in the page counts as a user gesture (CDP's
    # userGesture), which would let the video start: wait for the button without one, told by
    # the page itself through a binding.
    shown: list[bool] = []
    page.expose_function("playButtonShown", lambda: shown.append(True))
    page.add_init_script("""new MutationObserver(() => {
        const b = document.getElementById('play-moment'); if (b && !b.hidden) window.playButtonShown(); })
        .observe(document, {subtree: true, attributes: true, attributeFilter: ['hidden']});""")
    try:
        page.goto(base_url + f"watch/{lecture['video_id']}?t=65.4&end=70.8")
        deadline = time.monotonic() + 60
        while not shown and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        assert shown, "no play button appeared"
        button = page.locator("#play-moment")
        assert button.inner_text().strip() == "▶ Play from 1:05"
        assert page.evaluate("document.querySelector('video').paused")
        assert abs(page.evaluate("document.querySelector('video').currentTime") - 65.4) < 0.5
        box, player = button.bounding_box(), page.locator("video").bounding_box()
        assert player["y"] <= box["y"] and box["y"] + box["height"] <= player["y"] + player["height"]
        activate(page, size, button)
        page.wait_for_function(PLAYING.format(t=65.5))
        assert button.is_hidden()
    finally:
        context.close()


def test_only_the_latest_query_is_answered(page, size, base_url):
    """A slow answer to an older search never replaces the newer one's."""
    held = []

    def hold_the_first(route):
        if "nobody+heard+this+first" in route.request.url or "nobody%20heard" in route.request.url:
            held.append(route)  # answered later, after the second search
        else:
            route.continue_()

    page.route("**/api/search?*", hold_the_first)
    page.goto(base_url)
    page.fill("#q", "nobody heard this first")
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#status').textContent === 'Searching…'")
    page.fill("#q", QUERY)
    page.keyboard.press("Enter")
    page.wait_for_selector(".card-link")
    first_text = page.locator(".card-link .text").first.inner_text()
    assert held, "the first search was never sent"
    try:
        held[0].continue_()  # the page aborted it: the answer may never come at all
    except Exception:  # noqa: BLE001 (Playwright: the request was cancelled)
        pass
    time.sleep(1.5)
    assert page.locator(".card-link .text").first.inner_text() == first_text
    assert "overfitting" in first_text.lower()
    assert page.input_value("#q") == QUERY


def test_the_first_screen_lists_the_videos_and_example_searches(page, size, base_url):
    videos = httpx.get(base_url + "api/videos").json()
    examples = httpx.get(base_url + "api/examples").json()
    assert examples and all(isinstance(e, str) and e for e in examples)
    page.goto(base_url)
    page.wait_for_selector("#library:not([hidden]) .video-link")
    assert page.locator(".video .title").all_inner_texts() == [v["title"] for v in videos]
    assert len(videos) == 4
    minutes, seconds = divmod(int(videos[0]["duration"]), 60)
    assert page.locator(".video .meta").first.inner_text().startswith(f"{minutes}:{seconds:02d} · ")
    assert len(examples) == 4  # one per lecture
    assert page.locator(".example").all_inner_texts() == examples
    assert page.locator("#library .video-link").first.is_visible()
    activate(page, size, page.locator(".example").first)
    page.wait_for_selector(".card-link")
    assert page.input_value("#q") == examples[0]
    assert page.locator("#library").is_hidden()


@pytest.mark.parametrize("query, message", [
    ("", "Type what you are looking for, then press Enter."),
    ("   ", "Type what you are looking for, then press Enter."),
    ("x" * 2000, "That search is 2,000 characters long; keep it under 1,000."),
])
def test_empty_and_over_long_queries_get_a_plain_message(page, base_url, query, message):
    page.goto(base_url)
    page.fill("#q", query)
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for(state="visible")
    assert alert.inner_text() == message
    assert page.locator(".card-link").count() == 0


def test_errors_are_announced_and_look_like_errors(page, size, base_url):
    page.goto(base_url + "watch/999?t=5")
    alert = page.get_by_role("alert")
    alert.wait_for(state="visible")
    assert alert.inner_text() == "video 999 is not in the index"
    look = page.evaluate("""(() => { const s = getComputedStyle(document.querySelector('#error'));
        const n = getComputedStyle(document.querySelector('#status'));
        return [s.color, n.color, s.borderLeftWidth, s.backgroundColor]; })()""")
    assert look[0] != look[1] and look[2] == "4px" and look[3] not in ("rgba(0, 0, 0, 0)", "transparent")
    # A new search clears it.
    page.fill("#q", QUERY)
    page.keyboard.press("Enter")
    page.wait_for_selector(".card-link")
    assert alert.is_hidden()


def test_the_player_has_the_transcript_as_captions(page, size, base_url):
    expected = httpx.get(base_url + "api/search", params={"q": QUERY, "k": 1}).json()[0]
    search(page, base_url, QUERY)
    activate(page, size, page.locator(".card-link").first)
    page.wait_for_function(PLAYING.format(t=expected["start"] + 0.5))
    page.evaluate("document.querySelector('video').pause()")
    assert page.evaluate("document.querySelector('video').textTracks[0].mode") == "disabled"  # off at first
    page.evaluate("document.querySelector('video').textTracks[0].mode = 'showing'")  # the player's CC
    page.wait_for_function("(v => v.textTracks.length && v.textTracks[0].cues && v.textTracks[0].cues.length > 20)"
                           "(document.querySelector('video'))")
    track = page.evaluate("""(() => { const t = document.querySelector('video').textTracks[0];
        return {kind: t.kind, mode: t.mode, active: [...t.activeCues].map(c => c.text).join(' ')}; })()""")
    assert track["kind"] == "captions" and track["mode"] == "showing"
    # Half a second into the moment, the cue on screen holds the moment's first words.
    first_words = " ".join(expected["speech_text"].split()[:3])
    assert first_words in " ".join(track["active"].split()), (track["active"], expected["speech_text"])


def test_weak_answers_and_a_quote_said_nowhere_say_so(page, size, base_url):
    weak = httpx.get(base_url + "api/search", params={"q": "causes of the french revolution", "k": 10}).json()
    assert weak and weak[0]["weak"]
    search(page, base_url, "causes of the french revolution")
    assert page.locator("#status").inner_text() == "No strong match — closest moments:"
    assert page.locator(".card.weak").count() == len([m for m in weak if m["weak"]])
    page.fill("#q", '"quantum chromodynamics"')
    page.keyboard.press("Enter")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('No moment')")
    assert page.locator("#status").inner_text() == "No moment says or shows “quantum chromodynamics”."
    assert page.locator(".card-link").count() == 0


def test_keyboard_alone_searches_and_plays(browser, base_url):
    context, page = open_page(browser, "desktop")
    try:
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
    finally:
        context.close()


def test_the_chapters_beside_the_player_mark_the_current_one_and_seek(page, size, base_url, lecture):
    """The playing video's chapters (as the API lists them), the one holding the playing time
    marked; a chapter's button plays from its start."""
    chapters = httpx.get(base_url + f"api/videos/{lecture['video_id']}/chapters").json()
    assert len(chapters) >= 2
    page.goto(base_url + f"watch/{lecture['video_id']}?t=5&end=9")
    page.wait_for_function(PLAYING.format(t=5.2))
    buttons = page.locator("#chapter-list .chapter")
    buttons.first.wait_for()
    assert page.locator("#chapters").is_visible() and buttons.count() == len(chapters)
    assert [t.strip() for t in page.locator("#chapter-list .chapter-title").all_inner_texts()] == \
        [c["title"] for c in chapters]
    assert buttons.first.get_attribute("aria-current") == "true"  # 5 s is in the first chapter
    from playwright.sync_api import expect

    activate(page, size, buttons.last)
    page.wait_for_function(f"document.querySelector('video').currentTime >= {chapters[-1]['start'] - 0.1}")
    expect(buttons.last).to_have_attribute("aria-current", "true")
    assert buttons.first.get_attribute("aria-current") is None


@pytest.fixture(scope="module")
def translated_url(tmp_path_factory):
    """An Italian lecture indexed with --translate."""
    from conftest import run_vmr

    home = tmp_path_factory.mktemp("translated-home")
    run_vmr("index", "--translate", ROOT / "samples" / "heldout" / "caffe.mp4", home=home)
    with served(home) as url:
        yield url


def test_a_translated_lecture_has_english_subtitles_beside_its_transcript(browser, translated_url):
    english = httpx.get(translated_url + "api/videos/1/transcript", params={"translation": "true"}).json()
    said = {w.strip(".,?!'\"").lower() for s in english["segments"] for w in s["text"].split()}
    context, page = open_page(browser, "desktop")
    try:
        page.goto(translated_url + "watch/1?t=42&end=46")
        page.wait_for_function(PLAYING.format(t=42.5))
        page.evaluate("document.querySelector('video').pause()")
        tracks = page.evaluate("""[...document.querySelector('video').textTracks].map(
            t => ({kind: t.kind, label: t.label, language: t.language, mode: t.mode}))""")
        assert tracks == [{"kind": "captions", "label": "Transcript", "language": "it", "mode": "disabled"},
                          {"kind": "subtitles", "label": "English (translated)", "language": "en", "mode": "disabled"}]
        page.evaluate("document.querySelector('video').textTracks[1].mode = 'showing'")  # the player's CC menu
        page.wait_for_function("(v => v.textTracks[1].activeCues && v.textTracks[1].activeCues.length > 0)"
                               "(document.querySelector('video'))")
        shown = page.evaluate("[...document.querySelector('video').textTracks[1].activeCues].map(c => c.text).join(' ')")
        words = {w.strip(".,?!'\"").lower() for w in shown.split()}
        assert words and words <= said, (shown, english["segments"])
    finally:
        context.close()
