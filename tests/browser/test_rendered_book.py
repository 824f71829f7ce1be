"""Open every page of the table of contents in headless Chromium and check what a reader would meet.

Per page: no JavaScript error of our own; every image decoded; no raw MyST roles, failed executions or tracebacks;
every citation links to an entry that exists on the references page; chapter pages launch Colab on that notebook
under the repository URL of _config.yml. Once: the light/dark switch works. A full-page screenshot of each page is
saved under _build/screenshots/.
"""
import json
import pathlib
import re
import urllib.parse

import pytest
import yaml

from fourpapers.book import toc_pages

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHOTS = ROOT / "_build" / "screenshots"


PAGES = toc_pages(ROOT)
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO = CONFIG["repository"]["url"].rstrip("/")
RAW_MARKERS = ["{cite", "{glue", "{term}", "{numref", "Executing notebook failed", "Traceback (most recent call last)",
               "NameError", "ModuleNotFoundError"]


def _own_errors(driver, base):
    """Console errors that come from our pages (external CDN scripts cannot load offline, and are not ours)."""
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    own = [e["message"] for e in errors if base in e["message"] or not re.search(r"https?://", e["message"])]
    own += [m for m in driver.execute_script("return window.__errors || []") if base in m or "@ " + base not in m
            and "http" not in m]
    return own


def _load(driver, url):
    driver.get(url)
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const imgs = Array.from(document.images);
        Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })))
               .then(() => setTimeout(done, 150));
    """)


def _screenshot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 30000)")
    driver.set_window_size(1280, max(900, height))
    driver.save_screenshot(str(SHOTS / f"{name.replace('/', '__')}.png"))
    driver.set_window_size(1280, 900)


@pytest.fixture(scope="module")
def bibliography_ids(site, browser):
    _load(browser, f"{site}/book/references.html")
    ids = browser.execute_script("return Array.from(document.querySelectorAll('[id]')).map(e => e.id)")
    assert ids, "the references page has no anchors"
    return set(ids)


@pytest.mark.parametrize("page", PAGES)
def test_page_as_a_reader_meets_it(page, site, browser, bibliography_ids):
    url = f"{site}/{page}.html"
    _load(browser, url)
    assert browser.title and "404" not in browser.title, f"{page}: no page at {url}"
    text = browser.find_element("css selector", "main").text
    for marker in RAW_MARKERS:
        assert marker not in text, f"{page}: the rendered page shows {marker!r}"

    images = browser.execute_script("""
        return Array.from(document.querySelectorAll('main img')).map(i => ({src: i.src, w: i.naturalWidth,
                                                                           alt: i.alt}))""")
    broken = [i["src"] for i in images if i["w"] <= 0]
    assert not broken, f"{page}: images that did not decode: {broken}"

    cites = browser.execute_script("""
        return Array.from(document.querySelectorAll('main a[href*="references.html#"]')).map(a => a.href)""")
    for href in cites:
        anchor = urllib.parse.urlparse(href).fragment
        assert anchor in bibliography_ids, f"{page}: citation {href} points to no entry on the references page"

    if page.startswith("notebooks/"):
        colab = browser.execute_script("""
            return Array.from(document.querySelectorAll('a[href*="colab.research.google.com"]')).map(a => a.href)""")
        expected = f"https://colab.research.google.com/github/{urllib.parse.urlparse(REPO).path.strip('/')}" \
                   f"/blob/{CONFIG['repository'].get('branch', 'main')}/{page}.ipynb"
        assert expected in colab, f"{page}: Colab link {colab} is not {expected}"
        figures = browser.execute_script("return document.querySelectorAll('main .cell_output img').length")
        assert figures, f"{page}: a chapter without a single figure"
        no_alt = browser.execute_script("""
            return Array.from(document.querySelectorAll('main .cell_output img')).filter(i => !i.alt.trim()).length""")
        assert not no_alt, f"{page}: {no_alt} figures without a text alternative (alt)"

    errors = _own_errors(browser, site)
    assert not errors, f"{page}: JavaScript errors: {errors}"
    _screenshot(browser, page)
    figures = browser.execute_script("return document.querySelectorAll('main .cell_output img').length")
    print(f"[browser] {page}: {figures} figures ({len(images)} images), {len(cites)} citation links, "
          f"screenshot _build/screenshots/{page.replace('/', '__')}.png")


def test_light_dark_switch(site, browser):
    _load(browser, f"{site}/{PAGES[0]}.html")
    seen = {browser.execute_script("return document.documentElement.dataset.theme")}
    button = browser.find_element("css selector", ".theme-switch-button")
    for _ in range(3):
        browser.execute_script("arguments[0].click()", button)
        seen.add(browser.execute_script("return document.documentElement.dataset.theme"))
    assert {"light", "dark"} <= seen, f"the theme switch only gave {seen}"
    bg = browser.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert bg, "no background colour after switching"
