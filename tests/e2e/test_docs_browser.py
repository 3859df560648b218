"""GET /docs in a real browser: Debian's headless Chromium on a real `scaffold run`.

Chromium starts with the flags that keep it off the network by itself (no background
networking, component updates, sync or QUIC) and an empty profile; Selenium drives it through
Debian's chromedriver, given by path, so nothing is downloaded. Chrome's performance log (the
DevTools Network events) lists every request the page made.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from serving import ServerProcess, request

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1600",
)
WAIT = 30.0
# Schemes that never leave the browser: inline data, and Chromium's own pages (the new tab
# page chromedriver opens before the first navigation).
LOCAL_SCHEMES = {"data", "blob", "about", "chrome", "chrome-untrusted"}


def _processes_using(profile: Path) -> list[int]:
    """Pids of the processes whose arguments name ``profile`` (Chromium's and its helpers')."""
    marker = str(profile).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(marker in arg for arg in argv):
            pids.append(int(entry.name))
    return pids


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """Headless Chromium with a new empty profile; it and its driver are stopped afterwards."""
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not tool.is_file():
            pytest.fail(f"{tool} is required (Debian's chromium and chromium-driver; .ci/run)")
    profile = tmp_path / "profile"
    profile.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver_service = DriverService(
        executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log")
    )
    driver = webdriver.Chrome(options=options, service=driver_service)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()  # closes Chromium, then stops chromedriver by its own process
        for pid in _processes_using(profile):  # any Chromium process quit left behind
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def app_url(serve: Callable[..., ServerProcess]) -> str:
    """The base URL of a rendered service served by `scaffold run` on an OS-chosen port."""
    server = serve("--workers", "1")
    assert server.app is not None
    host, port = server.app
    return f"http://{host}:{port}"


def _operations(app_url: str) -> set[tuple[str, str]]:
    host, port = urlsplit(app_url).hostname, urlsplit(app_url).port
    assert host is not None and port is not None
    status, _, body = request((host, port), "GET", "/openapi.json")
    assert status == 200
    return {
        (method.upper(), path)
        for path, item in json.loads(body)["paths"].items()
        for method in item
        if method != "parameters"
    }


def _shown_operations(driver: WebDriver) -> set[tuple[str, str]]:
    shown = set()
    for summary in driver.find_elements(By.CSS_SELECTOR, ".opblock .opblock-summary"):
        method = summary.find_element(By.CSS_SELECTOR, ".opblock-summary-method").text
        path = summary.find_element(By.CSS_SELECTOR, ".opblock-summary-path")
        shown.add((method.strip().upper(), path.get_attribute("data-path") or ""))
    return shown


def _requested_urls(driver: WebDriver) -> list[str]:
    """Every URL the browser asked for since it started (DevTools Network events)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            urls.append(params["url"])
    return urls


def _operation_block(driver: WebDriver, method: str, path: str) -> WebElement:
    xpath = (
        f'//div[contains(@class, "opblock-{method.lower()}")]'
        f'[.//*[contains(@class, "opblock-summary-path")][@data-path="{path}"]]'
    )
    return driver.find_element(By.XPATH, xpath)


def _shown(wait: WebDriverWait[WebDriver], parent: WebElement, css: str) -> WebElement:
    """The first element under ``parent`` matching ``css``, once it is displayed."""

    def find(_: WebDriver) -> WebElement | None:
        found = parent.find_elements(By.CSS_SELECTOR, css)
        return found[0] if found and found[0].is_displayed() else None

    element: WebElement = wait.until(find)
    return element


def _clickable(wait: WebDriverWait[WebDriver], parent: WebElement, css: str) -> WebElement:
    """Like :func:`_shown`, once the element is also enabled."""
    element = _shown(wait, parent, css)
    wait.until(ec.element_to_be_clickable(element))
    return element


def test_docs_page_lists_every_operation_and_tries_one_offline(
    browser: WebDriver, app_url: str
) -> None:
    """The page loads, shows each operation, runs GET /v1/greetings/{name}, asks no other host."""
    operations = _operations(app_url)
    assert ("GET", "/v1/greetings/{name}") in operations
    wait = WebDriverWait(browser, WAIT)

    browser.get(f"{app_url}/docs")
    wait.until(lambda driver: _shown_operations(driver) >= operations)
    assert _shown_operations(browser) == operations
    assert browser.title == "acme-widgets API"

    block = _operation_block(browser, "GET", "/v1/greetings/{name}")
    block.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    _clickable(wait, block, "button.try-out__btn").click()
    _clickable(wait, block, 'tr[data-param-name="name"] input').send_keys("Ada")
    _clickable(wait, block, "button.execute").click()
    response = ".live-responses-table tbody .response"
    status = _shown(wait, block, f"{response} .response-col_status")
    assert status.text.strip() == "200"
    body = _shown(wait, block, f"{response} .response-col_description pre")
    assert json.loads(body.text) == {"greeting": "Hello, Ada!", "language": "en"}

    urls = _requested_urls(browser)
    origin = urlsplit(app_url).netloc
    paths = {urlsplit(url).path for url in urls if urlsplit(url).netloc == origin}
    assert {"/docs", "/openapi.json", "/v1/greetings/Ada"} <= paths
    assert any(path.startswith("/docs/swagger-ui-bundle.") for path in paths)
    foreign = [
        url
        for url in urls
        if urlsplit(url).scheme not in LOCAL_SCHEMES and urlsplit(url).netloc != origin
    ]
    assert foreign == []
    problems = [entry["message"] for entry in browser.get_log("browser")]
    assert problems == [], "the page logged errors (a CSP violation, a failed request?)"
