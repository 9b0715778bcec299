"""A real user in a real browser: Playwright driving Debian's headless Chromium."""

import shutil

import pytest

import app
from imagesearch.serve.config import AppConfig
from testkit.factory import make_set
from testkit.ports import free_port

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium") and not __import__("os").path.exists(CHROMIUM):
        pytest.fail("chromium is not installed: apt-get install -y chromium")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def demo_url():
    config = AppConfig(port=free_port())
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    yield url, engine
    blocks.close()


def _serve(config):
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    return blocks, url


def _open(page, url):
    page.goto(url, wait_until="load")  # not networkidle: the session heartbeat stream stays open
    page.locator("#query textarea, #query input").first.wait_for(timeout=30_000)


def _wait_for_cards(page, count=1):
    page.wait_for_function(f"document.querySelectorAll('#results .cs-card').length >= {count}", timeout=30_000)
    page.wait_for_timeout(400)


def _search(page, url, query):
    _open(page, url)
    box = page.locator("#query textarea, #query input").first
    box.fill(query)
    box.press("Enter")
    _wait_for_cards(page)


def _layout(page):
    return page.evaluate("""() => {
        const cards = [...document.querySelectorAll('#results .cs-card')];
        return {
            docWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
            box: document.querySelector('#query').getBoundingClientRect().width,
            main: document.querySelector('#results').getBoundingClientRect().width,
            cards: cards.length,
            rows: new Set(cards.map(c => Math.round(c.getBoundingClientRect().top))).size,
            clipped: cards.filter(c => { const d = c.querySelector('.cs-description');
                                         return d.scrollHeight > d.clientHeight + 1 || d.scrollWidth > d.clientWidth + 1; }).length,
            alts: cards.map(c => c.querySelector('img').alt),
            descriptions: cards.map(c => c.querySelector('.cs-description').innerText),
        };
    }""")


def _full_descriptions(engine, layout):
    wanted = {r.description for r in engine.artifacts.records}
    return all(text in wanted for text in layout["descriptions"])


def test_typing_a_query_and_pressing_enter_shows_five_explained_cards(browser, demo_url, output_dir):
    url, engine = demo_url
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    _search(page, url, "a cat with green eyes")
    cards = page.locator("#results .cs-card")
    assert cards.count() == 5
    first = cards.first.inner_text()
    assert "tabby cat with green eyes" in first and "scikit-image" in first and "#1" in first
    assert "5 results" in page.locator("#status").inner_text()
    page.screenshot(path=str(output_dir / "search.png"), full_page=True)


@pytest.mark.parametrize("width", [400, 1280])
def test_layout_fits_the_screen_and_every_description_is_whole(browser, demo_url, output_dir, width):
    url, engine = demo_url
    page = browser.new_page(viewport={"width": width, "height": 900})
    _open(page, url + "?q=a+cat+with+green+eyes&k=8")
    _wait_for_cards(page, 8)
    layout = _layout(page)
    assert layout["docWidth"] <= layout["viewport"], layout  # nothing scrolls sideways
    assert layout["cards"] == 8 and layout["clipped"] == 0 and _full_descriptions(engine, layout)
    assert all(alt.strip() for alt in layout["alts"])  # every image has its description as alternative text
    if width == 400:
        assert layout["box"] >= 0.8 * layout["viewport"], layout  # the query box takes the width
        assert layout["rows"] == 8, "one card per row on a phone"
    else:
        assert layout["rows"] <= 2, "a gallery of cards on a desktop"
    page.screenshot(path=str(output_dir / f"search-{width}px.png"), full_page=True)


def test_strong_and_weak_matches_differ_in_words_not_only_colour(browser, demo_url):
    url, _ = demo_url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _open(page, url + "?q=a+cat+with+green+eyes")
    _wait_for_cards(page, 5)
    first = page.locator("#results .cs-card").first
    assert "strong match" in first.inner_text() and "cs-strong" in first.get_attribute("class")
    assert page.locator("#results .cs-weak").count() >= 1
    assert "weak match" in page.locator("#results .cs-weak").first.inner_text()


def test_a_deep_link_runs_its_search_on_load_and_fills_the_form(browser, demo_url):
    url, _ = demo_url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _open(page, url + "?q=a+rocket&k=3&mode=dense&dataset=scikit-image")
    _wait_for_cards(page, 3)
    assert page.locator("#results .cs-card").count() == 3
    assert page.locator("#query textarea, #query input").first.input_value() == "a rocket"
    assert "rocket" in page.locator("#results .cs-card").first.inner_text().lower()
    assert all("scikit-image" in t for t in page.locator("#results .cs-where").all_inner_texts())
    link = page.locator("#link textarea, #link input").first.input_value()
    assert "q=a+rocket" in link and "k=3" in link and "mode=dense" in link and "dataset=scikit-image" in link


def test_more_results_pages_through_the_ranking_and_its_link_carries_the_offset(browser, demo_url):
    url, engine = demo_url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _open(page, url + "?q=a+photo+-grayscale&k=3")
    _wait_for_cards(page, 3)
    assert "-word" not in page.locator("#query-help").inner_text() and "minus" in page.locator("#query-help").inner_text()
    first = [r.id for r in engine.search("a photo -grayscale", 6)]
    page.locator("#more-results").click()
    page.wait_for_function("(document.querySelector('#status')?.innerText || '').includes('Results 4–6')", timeout=30_000)
    shown = [int(i) for i in page.eval_on_selector_all("#results .cs-card", "cards => cards.map(c => c.dataset.id)")]
    assert shown == first[3:6] and "#4" in page.locator("#results .cs-card").first.inner_text()
    page.wait_for_function("location.search.includes('offset=3')", timeout=10_000)
    assert "offset=3" in page.locator("#link textarea, #link input").first.input_value()
    page.locator("#previous-results").click()
    page.wait_for_function("(document.querySelector('#status')?.innerText || '').startsWith('3 results')", timeout=30_000)
    box = page.locator("#query textarea, #query input").first
    box.fill("zxqv")
    box.press("Enter")
    page.wait_for_function("(document.querySelector('#status')?.innerText || '').includes('Nothing matches well')",
                           timeout=30_000)


def test_each_search_updates_the_link_and_clicking_an_example_runs_it(browser, demo_url):
    url, _ = demo_url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _search(page, url, "a red motorcycle")
    page.wait_for_function("location.search.includes('q=a+red+motorcycle')", timeout=10_000)
    assert page.locator("#link textarea, #link input").first.input_value().endswith("?q=a+red+motorcycle")
    page.get_by_text("galaxies in deep space", exact=True).first.click()
    page.wait_for_function("(document.querySelector('#status')?.innerText || '').includes('5 results') && "
                           "(document.querySelector('#link textarea, #link input')?.value || '').includes('galaxies')", timeout=30_000)
    assert "hubble" in page.locator("#results").inner_text().lower() or "galax" in page.locator("#results").inner_text().lower()


def test_the_page_works_with_the_keyboard_alone(browser, demo_url):
    url, _ = demo_url
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    _open(page, url)
    page.wait_for_timeout(1000)
    page.evaluate("document.activeElement && document.activeElement.blur()")
    visited = []
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#query') !== null"):
            break
        visited.append(page.evaluate("document.activeElement.outerHTML.slice(0, 80)"))
    else:
        pytest.fail(f"Tab never reached the query box; it went through {visited}")
    page.keyboard.type("a cat with green eyes")
    page.keyboard.press("Enter")
    _wait_for_cards(page, 5)
    reached = set()
    for _ in range(60):
        page.keyboard.press("Tab")
        href = page.evaluate("document.activeElement.classList.contains('cs-more') ? document.activeElement.getAttribute('href') : null")
        if href:
            reached.add(href)
        if len(reached) == 5:
            break
    assert len(reached) == 5, reached  # every result's link is reachable with Tab
    page.keyboard.press("Enter")  # follows the focused "More like this"
    page.wait_for_function("(document.querySelector('#status')?.innerText || '').includes(' like ')", timeout=30_000)


def test_descriptions_are_shown_as_text_never_as_html(browser, tmp_path, minilm):
    hostile = '<img src=x onerror="window.__injected = 1"><b>bold</b> a red dress with white dots'
    descriptions = [hostile, "a plain blue car", "a green tree"]
    vectors = minilm.encode(descriptions)
    sources = ["[Login](//evil.co)", "<img src=x onerror=\"window.__injected = 2\">", "**loud**"]
    folder = make_set(tmp_path / "set", vectors, descriptions=descriptions, model=minilm.model_id, probe=minilm.probe(),
                      sources=sources)
    blocks, url = _serve(AppConfig(artifacts_dir=folder, port=free_port()))
    try:
        page = browser.new_page()
        _search(page, url, "a red dress with white dots")
        assert page.evaluate("window.__injected") is None
        assert "<b>bold</b>" in page.locator("#results").inner_text()
        assert page.locator("#results b").count() == 0 and page.locator("#results .cs-card img").count() == 3
        for item, source in enumerate(sources):  # "more like" a record echoes its source in the status line
            _open(page, f"{url}?like={item}")
            _wait_for_cards(page)
            assert source in page.locator("#status").inner_text()
            assert page.locator("#status a, #status img, #status strong").count() == 0
        assert page.evaluate("window.__injected") is None
    finally:
        blocks.close()


def test_matched_words_are_marked_and_more_like_this_leaves_the_image_out(browser, demo_url, output_dir):
    url, _ = demo_url
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    _search(page, url, "a cat with green eyes")
    marked = [word.lower() for word in page.locator("#results mark").all_inner_texts()]
    assert "cat" in marked and "green" in marked
    page.locator("#results .cs-more").first.click()
    page.wait_for_function("(document.querySelector('#status')?.innerText || '').includes('like chelsea')", timeout=30_000)
    _wait_for_cards(page, 5)
    assert "chelsea" not in page.locator("#results").inner_text().lower()
    assert "tabby" not in page.locator("#results").inner_text().lower()  # the clicked image itself is left out
    page.screenshot(path=str(output_dir / "more_like_this.png"), full_page=True)


@pytest.mark.parametrize("asked", ["q=cat&mode=[Login](//evil.co)", "q=cat&k=[Login](//evil.co)",
                                   "like=[Login](//evil.co)", 'like=<img src=x onerror="window.__injected=1">'])
def test_values_echoed_from_a_deep_link_are_shown_as_text_never_as_markup(browser, demo_url, asked):
    from urllib.parse import quote

    url, _ = demo_url
    page = browser.new_page()
    name, value = asked.split("=", 1) if asked.startswith("like") else asked.rsplit("=", 1)
    _open(page, f"{url}?{name}={quote(value, safe='=&')}")
    page.wait_for_function("/⚠|result|No image/.test(document.querySelector('#status')?.innerText || '')",
                           timeout=30_000)
    status = page.locator("#status")
    assert status.locator("a, img").count() == 0 and page.evaluate("window.__injected") is None
    shown = status.inner_text()
    assert shown.startswith("⚠") and value[:12] in shown, shown  # the value, refused, shown as it was typed
