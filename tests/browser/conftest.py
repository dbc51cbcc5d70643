"""A real headless Chromium (Debian `chromium` + `chromium-driver`) driven by Selenium, for the
web interface and the Bokeh dashboards. Nothing is downloaded: the driver and browser are the
Debian ones, named explicitly, so Selenium Manager never runs.

Where /usr/bin/chromium is absent these tests are skipped, with the reason, unless
VIEWFINDER_REQUIRE_BROWSER is set (scripts/test sets it), in which case they fail. A browser
that is present but cannot start always fails."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support import ARTIFACTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = ARTIFACTS / "screenshots"
FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
]
WAIT = 30  # seconds a page gets for what it shows straight away


def required() -> bool:
    return os.environ.get("VIEWFINDER_REQUIRE_BROWSER", "").strip() not in ("", "0")


def skip_unless_browser(module_level: bool = False) -> None:
    """Skip, saying why, only where there is no Chromium at all and none is required. Chromium
    without its driver or Selenium is a broken installation: that fails, like a browser that
    does not start."""
    if not CHROMIUM.exists():
        reason = (
            f"{CHROMIUM} is not installed (Debian packages chromium, chromium-driver; scripts/bootstrap installs them)"
        )
        if required():
            pytest.fail(f"browser tests required (VIEWFINDER_REQUIRE_BROWSER) but {reason}", pytrace=False)
        pytest.skip(f"no browser: {reason}", allow_module_level=module_level)
    if not CHROMEDRIVER.exists():
        pytest.fail(
            f"{CHROMIUM} is installed but {CHROMEDRIVER} is not (Debian package chromium-driver)", pytrace=False
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.fail("selenium is not installed (pip install -e '.[test]')", pytrace=False)


@pytest.fixture(scope="session")
def browser():
    skip_unless_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="viewfinder-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser, request):
    """The browser for one test; its last state is saved to test-artifacts/screenshots/<test>.png,
    passed or failed."""
    browser.get_log("browser")  # drop what earlier tests left
    yield browser
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture
def signed_in(browser, running_stack):
    """The browser signed in as the admin, by a one-time link such as `viewfinder up` prints. A
    fresh link for every test that asks: the browser is shared, and an earlier test may have signed
    out or signed in as someone else (`sign_in_link()` makes a new link each call)."""
    browser.get(running_stack.sign_in_link())  # sets the cookie, then redirects to the page
    wait(browser, lambda d: d.get_cookie("vf_session"), what="the session cookie")
    wait(
        browser,
        lambda d: d.execute_script(
            "return (document.body.dataset.ready === 'true' && document.getElementById('auth-who')?.textContent) || ''"
        ).startswith("Signed in as admin"),
        what="the page to say it is signed in as the admin",
    )
    return browser


def screenshot(browser, name: str) -> Path:
    """A screenshot of an intermediate step, next to the tests' own."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    browser.save_screenshot(str(path))
    return path


def wait(browser, condition, timeout: float = WAIT, what: str = "the page"):
    """WebDriverWait with a message that says what was awaited. The pages re-render what they
    refresh, so an element found a moment ago may be gone: that is one more try, not an error."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(
        browser,
        timeout,
        poll_frequency=0.2,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(condition, message=f"timed out after {timeout}s waiting for {what}")


def severe_errors(browser, network: bool = True) -> list[dict]:
    """SEVERE entries of the browser's console since the last call. With network=False, failed
    requests the page made on purpose (a 400 it shows, a 404 for a new user) are left out, and
    only script errors count."""
    return [
        entry
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and (network or entry.get("source") != "network")
    ]
