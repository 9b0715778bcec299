"""A real user in a real browser: Playwright driving Debian's headless Chromium."""

import shutil

import numpy as np
import pytest

import app
from imagesearch.config import AppConfig
from tests.factory import make_set, unit_rows
from tests.ports import free_port

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


def _serve(config):
    blocks, engine = app.build_app(config)
    _, url, _ = app.launch(blocks, engine, config, prevent_thread_lock=True, quiet=True)
    return blocks, url


def _search(page, url, query):
    page.goto(url, wait_until="load")  # not networkidle: the session heartbeat stream stays open
    box = page.locator("#query textarea, #query input").first
    box.fill(query)
    box.press("Enter")
    page.wait_for_function("document.querySelectorAll('#results img').length >= 1", timeout=30_000)
    page.wait_for_timeout(500)


def test_typing_a_query_and_pressing_enter_shows_five_images_with_descriptions(browser, output_dir):
    blocks, url = _serve(AppConfig(port=free_port()))
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        _search(page, url, "a cat with green eyes")
        assert page.locator("#results img").count() == 5
        details = page.locator("#details").inner_text()
        assert "tabby cat with green eyes" in details
        assert "scikit-image" in details
        assert "5 results" in page.locator("#status").inner_text()
        page.screenshot(path=str(output_dir / "search.png"), full_page=True)
    finally:
        blocks.close()


def test_descriptions_are_shown_as_text_never_as_html(browser, tmp_path, minilm):
    hostile = '<img src=x onerror="window.__injected = 1"><b>bold</b> a red dress with white dots'
    descriptions = [hostile, "a plain blue car", "a green tree"]
    vectors = minilm.encode(descriptions)
    folder = make_set(tmp_path / "set", vectors, descriptions=descriptions, model=minilm.model_id, probe=minilm.probe())
    blocks, url = _serve(AppConfig(artifacts_dir=folder, port=free_port()))
    try:
        page = browser.new_page()
        _search(page, url, "a red dress with white dots")
        assert page.evaluate("window.__injected") is None
        assert "<b>bold</b>" in page.locator("#details").inner_text()
        assert page.locator("#details b").count() == 0
    finally:
        blocks.close()


def test_matched_words_are_marked_and_clicking_a_result_shows_more_like_it(browser, output_dir):
    blocks, url = _serve(AppConfig(port=free_port()))
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        _search(page, url, "a cat with green eyes")
        marked = page.locator("#details strong").all_inner_texts()
        assert "cat" in [word.lower() for word in marked] and "green" in [word.lower() for word in marked]
        page.locator("#results button img, #results img").first.click()
        page.wait_for_function("document.querySelector('#status').innerText.includes('like #1, chelsea')", timeout=30_000)
        page.wait_for_timeout(500)
        details = page.locator("#details").inner_text()
        assert "chelsea" not in details  # the clicked image itself is left out
        assert page.locator("#results img").count() == 5
        page.screenshot(path=str(output_dir / "more_like_this.png"), full_page=True)
    finally:
        blocks.close()
