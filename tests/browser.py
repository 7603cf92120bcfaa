"""Headless Chromium for the page tests: Debian's chromium and chromedriver through Selenium,
studio hosts mapped to the live server with ``--host-resolver-rules``, screenshots kept in
``var/test-artifacts/browser/``."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(settings.BASE_DIR) / "var" / "test-artifacts" / "browser"

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"
)


def chromium(
    *,
    hosts: list[str],
    window: str = "1280,900",
    downloads: Path | None = None,
    console_log: bool = False,
):
    """A headless Chromium that reaches each of ``hosts`` on this machine; the caller quits it."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    rules = ", ".join(f"MAP {host} 127.0.0.1" for host in hosts)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        f"--window-size={window}",
        f"--host-resolver-rules={rules}",
    ):
        options.add_argument(argument)
    if downloads is not None:
        options.add_experimental_option(
            "prefs",
            {"download.default_directory": str(downloads), "download.prompt_for_download": False},
        )
    if console_log:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return driver


def shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def wait_for(condition, timeout: float = 15.0, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {message}")
