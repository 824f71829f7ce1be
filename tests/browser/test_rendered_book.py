"""Open every page of the table of contents in headless Chromium and check what a reader
would meet.

Per page: no JavaScript error of our own; every image decoded; no raw MyST roles, failed
executions or tracebacks; every citation links to an entry that exists on the references
page; chapter pages launch Colab on that notebook under the repository URL of
_config.yml; every formula is typeset by MathJax, which the build serves itself (the
browser is offline, see conftest.py). Once: the light/dark switch works; on a phone (390
px) the menu button opens the chapter list and the contents button the page contents; on
a desktop the menu button hides the chapter list. A full-page screenshot of each page is
saved under _build/screenshots/, and the phone panels as phone__*.png.
"""

import pathlib
import re
import time
import urllib.parse

import pytest
import yaml

from fourpapers.book import toc_pages

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHOTS = ROOT / "_build" / "screenshots"


PAGES = toc_pages(ROOT)
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO = CONFIG["repository"]["url"].rstrip("/")
RAW_MARKERS = [
    "{cite",
    "{glue",
    "{term}",
    "{numref",
    "Executing notebook failed",
    "Traceback (most recent call last)",
    "NameError",
    "ModuleNotFoundError",
]


def _own_errors(driver, base):
    """Console errors that come from our pages (external CDN scripts cannot load
    offline, and are not ours)."""
    errors = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
    own = [
        e["message"]
        for e in errors
        if base in e["message"] or not re.search(r"https?://", e["message"])
    ]
    own += [
        m
        for m in driver.execute_script("return window.__errors || []")
        if base in m or "@ " + base not in m and "http" not in m
    ]
    return own


def _load(driver, url):
    driver.get(url)
    driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const imgs = Array.from(document.images);
        const typeset = window.MathJax && MathJax.startup && MathJax.startup.promise;
        Promise.all(imgs.map(i => i.complete ? null : new Promise(r =>
            { i.onload = i.onerror = r; }))
                        .concat([typeset ? typeset.catch(() => null) : null]))
               .then(() => setTimeout(done, 150));
    """)


def _math_report(driver):
    """Formulas on the page (Sphinx's .math elements), how many MathJax rendered
    (mjx-container), and any raw TeX delimiters left in the text a reader sees (code
    blocks excepted)."""
    return driver.execute_script(r"""
        const main = document.querySelector('main');
        const maths = Array.from(main.querySelectorAll('.math'));
        const prose = main.cloneNode(true);
        prose.querySelectorAll('pre, code, .highlight, script, mjx-container')
            .forEach(e => e.remove());
        const text = prose.textContent;
        return {formulas: maths.length,
                typeset: maths.filter(m => m.querySelector('mjx-container') ||
                    m.closest('mjx-container')).length,
                containers: main.querySelectorAll('mjx-container').length,
                raw: ['$$', '\\(', '\\[', '\\frac', '\\mathrm'].filter(d =>
                    text.includes(d)),
                version: (window.MathJax && MathJax.version) || null};
    """)


def _screenshot(driver, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script(
        "return Math.min(document.documentElement.scrollHeight, 30000)"
    )
    driver.set_window_size(1280, max(900, height))
    driver.save_screenshot(str(SHOTS / f"{name.replace('/', '__')}.png"))
    driver.set_window_size(1280, 900)


@pytest.fixture(scope="module")
def bibliography_ids(site, browser):
    _load(browser, f"{site}/book/references.html")
    ids = browser.execute_script(
        "return Array.from(document.querySelectorAll('[id]')).map(e => e.id)"
    )
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
        return Array.from(document.querySelectorAll('main img'))
            .map(i => ({src: i.src, w: i.naturalWidth, alt: i.alt}))""")
    broken = [i["src"] for i in images if i["w"] <= 0]
    assert not broken, f"{page}: images that did not decode: {broken}"

    cites = browser.execute_script("""
        return Array.from(document.querySelectorAll('main a[href*="references.html#"]'))
            .map(a => a.href)""")
    for href in cites:
        anchor = urllib.parse.urlparse(href).fragment
        assert anchor in bibliography_ids, (
            f"{page}: citation {href} points to no entry on the references page"
        )

    if page.startswith("notebooks/"):
        colab = browser.execute_script("""
            const sel = 'a[href*="colab.research.google.com"]';
            return Array.from(document.querySelectorAll(sel)).map(a => a.href)""")
        repo_path = urllib.parse.urlparse(REPO).path.strip("/")
        expected = (
            f"https://colab.research.google.com/github/{repo_path}"
            f"/blob/{CONFIG['repository'].get('branch', 'main')}/{page}.ipynb"
        )
        assert expected in colab, f"{page}: Colab link {colab} is not {expected}"
        figures = browser.execute_script(
            "return document.querySelectorAll('main .cell_output img').length"
        )
        assert figures, f"{page}: a chapter without a single figure"
        no_alt = browser.execute_script("""
            return Array.from(document.querySelectorAll('main .cell_output img'))
                .filter(i => !i.alt.trim()).length""")
        assert not no_alt, f"{page}: {no_alt} figures without a text alternative (alt)"
        # an output box that takes room but shows nothing (a stored progress widget
        # reads as output that failed)
        empty = browser.execute_script("""
            return Array.from(document.querySelectorAll('main .cell_output > *'))
                .filter(o => {
                const r = o.getBoundingClientRect();
                return r.height > 0 && !o.innerText.trim() &&
                    !o.matches('img, svg, canvas, table')
                       && !o.querySelector('img, svg, canvas, table');
            }).map(o => o.className + ' '
                        + Math.round(o.getBoundingClientRect().height) + 'px')""")
        assert not empty, f"{page}: {len(empty)} empty output boxes: {empty}"
        # a stored widget view renders as an empty box wherever the widget scripts load
        # (online); offline it is invisible, so look for the residue itself
        views = browser.execute_script(
            "return document.querySelectorAll('main "
            'script[type*="widget-view"]\').length'
        )
        assert not views, (
            f"{page}: {views} stored widget views (progress bars?): blank boxes for "
            f"online readers"
        )

    if page == "book/compute":  # the notebook, attention, delta-rule and norm timings
        tables = browser.execute_script(
            "return document.querySelectorAll('main table').length"
        )
        assert tables == 4, (
            f"{page}: {tables} tables rendered, expected 4 (raw pipes in a text block?)"
        )

    math = _math_report(browser)
    assert not math["raw"], (
        f"{page}: raw TeX visible to the reader: {math['raw']} ({math})"
    )
    assert math["typeset"] == math["formulas"], (
        f"{page}: MathJax typeset only some formulas: {math}"
    )

    # punctuation after inline math stays on the formula's line
    # (book/_ext/math_punctuation.py)
    loose = browser.execute_script("""
        return Array.from(document.querySelectorAll('main span.math')).filter(m => {
            const next = m.nextSibling;
            return !m.closest('.math-nowrap') && next &&
                next.nodeType === Node.TEXT_NODE
                   && /^[.,;:!?)]/.test(next.textContent);
        }).map(m => m.textContent.slice(0,
            40) + ' ' + m.nextSibling.textContent.slice(0, 3))""")
    assert not loose, (
        f"{page}: punctuation after inline math can wrap to the next line: {loose[:5]}"
    )

    errors = _own_errors(browser, site)
    assert not errors, f"{page}: JavaScript errors: {errors}"
    _screenshot(browser, page)
    figures = browser.execute_script(
        "return document.querySelectorAll('main .cell_output img').length"
    )
    print(
        f"[browser] {page}: {figures} figures ({len(images)} images), {len(cites)} "
        f"citation links, "
        f"{math['formulas']} formulas typeset offline (MathJax {math['version']}),\n"
        f"          screenshot _build/screenshots/{page.replace('/', '__')}.png"
    )


def test_light_dark_switch(site, browser):
    _load(browser, f"{site}/{PAGES[0]}.html")
    seen = {browser.execute_script("return document.documentElement.dataset.theme")}
    button = browser.find_element("css selector", ".theme-switch-button")
    for _ in range(3):
        browser.execute_script("arguments[0].click()", button)
        seen.add(
            browser.execute_script("return document.documentElement.dataset.theme")
        )
    assert {"light", "dark"} <= seen, f"the theme switch only gave {seen}"
    bg = browser.execute_script(
        "return getComputedStyle(document.body).backgroundColor"
    )
    assert bg, "no background colour after switching"


def test_the_browser_is_offline(site, browser):
    """The offline checks mean something only if the outside world is unreachable: a CDN
    fetch must fail."""
    _load(browser, f"{site}/{PAGES[0]}.html")
    outcome = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-chtml.js',
            {mode: 'no-cors'})
            .then(() => done('reached'), e => done('failed: ' + e));
    """)
    assert outcome.startswith("failed"), (
        f"the browser reached the network ({outcome}): the offline test is void"
    )
    local = [
        s
        for s in browser.execute_script(
            "return Array.from(document.scripts).map(s => s.src)"
        )
        if "mathjax" in s.lower()
    ]
    assert local and all(s.startswith(site) for s in local), (
        f"MathJax is not served by the book itself: {local}"
    )


# : The chapter page used for the phone checks (it has sections, so it has page
# contents).
PHONE_PAGE = next(p for p in PAGES if p.startswith("notebooks/01"))
PHONE = (390, 844)

# Where a panel is on screen: the fraction of its links that a tap at their centre would
# reach (elementFromPoint finds the link itself, not the page behind or an overlay), and
# the panel's box.
_PANEL_STATE = """
    const panel = document.querySelector(arguments[0]);
    if (!panel) return null;
    const links = Array.from(panel.querySelectorAll('a[href]'));
    const reachable = links.filter(a => {
        const r = a.getBoundingClientRect();
        if (r.width <= 0 || r.height <= 0 || r.bottom <= 0 ||
            r.top >= innerHeight) return false;
        const x = r.left + Math.min(r.width / 2, 20), y = r.top + r.height / 2;
        if (x < 0 || x >= innerWidth) return false;
        const hit = document.elementFromPoint(x, y);
        return hit && (hit === a || a.contains(hit));
    });
    const box = panel.getBoundingClientRect();
    return {links: links.length, reachable: reachable.length, left: box.left,
        right: box.right,
            visibility: getComputedStyle(panel).visibility};
"""


def _panel(driver, selector):
    return driver.execute_script(_PANEL_STATE, selector)


def _wait_for(driver, selector, opened, timeout=3.0):
    """Wait until the panel's links can (opened) or cannot (not opened) be tapped;
    return the last state."""
    deadline = time.monotonic() + timeout
    while True:
        state = _panel(driver, selector)
        if state and (state["reachable"] > 0) == opened or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


@pytest.mark.parametrize(
    "button, panel, what, shot",
    [
        (
            ".primary-toggle",
            ".bd-sidebar-primary",
            "the chapter list",
            "phone__menu_open",
        ),
        (
            ".secondary-toggle",
            ".bd-sidebar-secondary",
            "the page contents",
            "phone__contents_open",
        ),
    ],
)
def test_phone_reader_opens_panel(site, browser, button, panel, what, shot):
    """At 390 px both sidebars start hidden; tapping the visible header button (a real
    click, as a finger would) must make the panel's links tappable. A button that only
    shows its tooltip leaves them unreachable."""
    browser.set_window_size(*PHONE)
    try:
        _load(browser, f"{site}/{PHONE_PAGE}.html")
        before = _panel(browser, panel)
        assert before and before["links"], (
            f"{PHONE_PAGE}: no {what} ({panel}) on the page"
        )
        assert before["reachable"] == 0, (
            f"at {PHONE[0]} px {what} should start hidden: {before}"
        )
        buttons = [
            b for b in browser.find_elements("css selector", button) if b.is_displayed()
        ]
        assert len(buttons) == 1, (
            f"expected one visible {button} button at {PHONE[0]} px, found "
            f"{len(buttons)}"
        )
        buttons[0].click()
        _wait_for(browser, panel, opened=True)
        time.sleep(0.6)  # let the slide-in transition finish
        after = _panel(browser, panel)
        SHOTS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SHOTS / f"{shot}.png"))
        assert after["reachable"] >= min(3, after["links"]), (
            f"tapping {button} at {PHONE[0]} px did not open {what}: {after} "
            f"(screenshot {shot}.png)"
        )
        assert after["left"] >= -5 and after["right"] <= PHONE[0] + 5, (
            f"{what} opened partly off screen: {after}"
        )
        print(
            f"[browser] phone {PHONE[0]} px: {button} opens {what} "
            f"({after['reachable']} of {after['links']} "
            f"links tappable), screenshot _build/screenshots/{shot}.png"
        )
    finally:
        browser.set_window_size(1280, 900)


def test_desktop_menu_button_hides_chapter_list(site, browser):
    """On a desktop the chapter list starts open and the menu button collapses it."""
    _load(browser, f"{site}/{PHONE_PAGE}.html")
    before = _panel(browser, ".bd-sidebar-primary")
    assert before and before["reachable"] > 0, (
        f"the chapter list is not open on a desktop: {before}"
    )
    browser.find_element("css selector", ".primary-toggle").click()
    after = _wait_for(browser, ".bd-sidebar-primary", opened=False)
    assert after["reachable"] == 0, (
        f"the menu button did not hide the chapter list on a desktop: {after}"
    )


def test_desktop_has_one_search_box_and_no_second_top_bar(site, browser):
    """One search field (in the sidebar) and no extra header bar above the article with
    a second one."""
    _load(browser, f"{site}/{PHONE_PAGE}.html")
    fields = browser.execute_script("""
        const sel = '.search-button-field, form.bd-search, input[type=search]';
        return Array.from(document.querySelectorAll(sel))
            .filter(e => { const r = e.getBoundingClientRect();
                           return r.width > 0 && r.height > 0 &&
                               getComputedStyle(e).visibility !== 'hidden'; })
            .map(e => e.className || e.tagName)""")
    assert len(fields) == 1, f"expected one search box on a desktop, found {fields}"
    bars = browser.execute_script("""
        return Array.from(document.querySelectorAll('header, .bd-header'))
            .filter(h => h.getBoundingClientRect().height > 1)
            .map(h => h.className + ' '
                      + Math.round(h.getBoundingClientRect().height) + 'px')""")
    assert not bars, f"a top bar above the article on a desktop: {bars}"


def test_contents_highlight_reaches_the_last_section(site, browser):
    """Scrolled to the end of a chapter, the page contents highlight its last section,
    not an earlier one."""
    _load(browser, f"{site}/{PHONE_PAGE}.html")
    last = browser.execute_script(
        "return Array.from(document.querySelectorAll('.bd-toc-nav a')).pop().hash"
    )
    browser.execute_script("window.scrollTo(0, document.documentElement.scrollHeight)")
    active = None
    for _ in range(30):
        time.sleep(0.1)
        active = browser.execute_script("""
            const sel = '.bd-toc-nav a.active, .bd-toc-nav .active > a';
            return Array.from(document.querySelectorAll(sel))
                        .map(a => a.hash)""")
        if active and active[-1] == last:
            break
    assert active and active[-1] == last, (
        f"at the end of {PHONE_PAGE} the contents highlight {active}, not {last}"
    )


def test_claims_ledger_shows_one_table_per_chapter_and_each_chapter_links_its_own(
    site, browser
):
    """The ledger page ("What this book shows"): one table per chapter, each under its
    chapter's anchor, every row with a status; the intro links the page, and each
    chapter's "Where the miniature departs" box its own table."""
    chapters = sorted(p for p in PAGES if p.startswith("notebooks/"))
    _load(browser, f"{site}/book/claims.html")
    tables = browser.execute_script("""
        return Array.from(document.querySelectorAll('main [id^="ledger-chapter-"]'))
            .map(a => {
            const s = a.closest('section');
            return {id: a.id, tables: s.querySelectorAll('table').length,
                    statuses: Array.from(s.querySelectorAll('table tbody tr'))
                                   .map(r => r.cells[r.cells.length - 1].innerText)};
        })""")
    assert [t["id"] for t in tables] == [
        f"ledger-chapter-{i}" for i in range(len(chapters))
    ], tables
    for t in tables:
        assert t["tables"] == 1 and t["statuses"], (
            f"{t['id']}: expected one table with rows, got {t}"
        )
        for status in t["statuses"]:
            assert re.match(
                r"(shown|not shown|FAILED|not run|no outcome|skipped)", status
            ), (t["id"], status)
    _load(browser, f"{site}/{PAGES[0]}.html")
    first_screen = browser.execute_script("""
        return Array.from(document.querySelectorAll('main a[href*="claims.html"]'))
                    .some(a => a.getBoundingClientRect().top < window.innerHeight)""")
    assert first_screen, "the intro does not link the claims ledger in its first screen"
    for i, page in enumerate(chapters):
        _load(browser, f"{site}/{page}.html")
        links = browser.execute_script("""
            return Array.from(document.querySelectorAll('main .admonition.note a'))
                        .map(a => a.getAttribute('href')).filter(h =>
                            h.includes('claims.html'))""")
        if i > 0:  # chapter 0 has no "Where the miniature departs" box
            assert f"../book/claims.html#ledger-chapter-{i}" in links, (
                f"{page}: its note links {links}"
            )


# The exercises: each solution is a code cell tagged hide-cell, followed by its answer
# in a dropdown admonition.
_EXERCISES = """
    const visible = el => { const r = el.getBoundingClientRect(),
        s = getComputedStyle(el);
                            return r.height > 0 && r.width > 0 &&
                                s.visibility !== 'hidden' && s.display !== 'none'
                                   && el.innerText.trim().length > 0; };
    const section = Array.from(document.querySelectorAll('main section'))
        .find(s => /^Exercises?\\b/.test((s.querySelector(':scope > h2') ||
            {}).innerText || ''));
    if (!section) return null;
    return Array.from(section.querySelectorAll('.cell.tag_hide-cell')).map(cell => {
        const next = cell.nextElementSibling;
        const answer = next && next.matches('.admonition.dropdown') ? next : null;
        const body = answer ? Array.from(answer.children).filter(c =>
            !c.matches('.admonition-title, button')) : [];
        const io = Array.from(cell.querySelectorAll('.cell_output, .cell_input'));
        return {solution_shown: io.some(visible),
                answer: !!answer, answer_shown: body.some(visible),
                after: next ? next.tagName + '.' + next.className : null};
    });
"""


def test_exercise_answers_stay_folded_until_clicked(site, browser):
    """A teacher can set "predict first": before a click no solution code, output or
    answer text is visible; every solution cell is followed by its answer in a dropdown,
    and a click on the dropdown shows the answer."""
    for page in (p for p in PAGES if p.startswith("notebooks/")):
        _load(browser, f"{site}/{page}.html")
        before = browser.execute_script(_EXERCISES)
        assert before, f"{page}: no Exercises section with folded solutions"
        for i, ex in enumerate(before, 1):
            assert not ex["solution_shown"], (
                f"{page}: solution {i} is visible before a click"
            )
            assert ex["answer"], (
                f"{page}: solution {i} is followed by {ex['after']}, not a folded "
                f"answer"
            )
            assert not ex["answer_shown"], (
                f"{page}: answer {i} is visible before a click"
            )
        for title in browser.find_elements(
            "css selector", "main .admonition.dropdown > .admonition-title"
        ):
            browser.execute_script(
                "arguments[0].scrollIntoView({block: 'center'}); arguments[0].click()",
                title,
            )
        time.sleep(0.5)
        after = browser.execute_script(_EXERCISES)
        assert all(ex["answer_shown"] for ex in after), (
            f"{page}: a click does not open every answer: {after}"
        )
