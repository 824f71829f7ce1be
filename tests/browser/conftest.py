"""Fixtures for the browser test of the built book: a local HTTP server and headless
Chromium.

Runs after `make book-strict` (the HTML must exist in _build/html). Uses Debian's
`chromium` and `chromium-driver` (installed by .ci/run); nothing downloads a browser.
The browser is offline: every host name but localhost resolves to nothing
(OFFLINE_RULES), so a page works only with what the build itself serves, as a downloaded
copy would.
"""

import functools
import http.server
import pathlib
import shutil
import tempfile
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# Every request to a host other than the local server fails (name not resolved): the
# reader is offline.
OFFLINE_RULES = "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture(scope="session")
def site():
    if not (HTML / "index.html").exists():
        pytest.fail(
            "_build/html/index.html is missing: build the book first (make book-strict)"
        )
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.fail(
            "Chromium and chromedriver are needed (apt-get install chromium "
            "chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="fourpapers-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
        f"--host-resolver-rules={OFFLINE_RULES}",
        "--no-proxy-server",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        options=opts, service=Service(executable_path=CHROMEDRIVER)
    )
    driver.set_page_load_timeout(60)
    # Record uncaught errors of every page from its first script on.
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument",
        {
            "source": """
        window.__errors = [];
        window.addEventListener('error', e => window.__errors.push(
            String(e.message) + ' @ ' + (e.filename || '')));
        window.addEventListener('unhandledrejection', e => window.__errors.push(
            'unhandled rejection: ' + e.reason));
    """
        },
    )
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
