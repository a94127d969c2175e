"""Browser fixtures: headless Chromium driven by selenium through Debian's chromium-driver.

When Chromium or its driver is missing, the fixture installs Debian's ``chromium`` and
``chromium-driver`` packages (as root, with apt-get); only when they cannot be had is the test
skipped, with a message saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
DRIVERS = ("chromedriver", "/usr/lib/chromium/chromedriver")
PACKAGES = ("chromium", "chromium-driver")


@dataclass(frozen=True)
class ChromiumPaths:
    browser: str
    driver: str


def _find() -> ChromiumPaths | None:
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    driver = next((found for name in DRIVERS if (found := shutil.which(name))), None)
    return ChromiumPaths(browser, driver) if browser and driver else None


def _apt_install() -> str:
    """Install the Debian packages; returns what went wrong ("" when nothing did)."""
    if shutil.which("apt-get") is None:
        return "apt-get is not available"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return "not root, so apt-get cannot install them"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", *PACKAGES]
    if subprocess.run(install, env=env, capture_output=True).returncode == 0:
        return ""
    subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True)
    done = subprocess.run(install, env=env, capture_output=True, text=True)
    return "" if done.returncode == 0 else f"apt-get install failed: {done.stderr.strip()[-300:]}"


@pytest.fixture(scope="session")
def chromium() -> ChromiumPaths:
    paths = _find()
    if paths is None:
        problem = _apt_install()
        paths = _find()
        if paths is None:
            pytest.skip(
                "headless Chromium is not available: Debian's packages "
                f"{' and '.join(PACKAGES)} are needed ({problem or 'installed, yet not found'})"
            )
    return paths


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``$IMAGEJOBS_SCREENSHOT_DIR``, else a pytest temporary folder (printed either way)."""
    configured = os.environ.get("IMAGEJOBS_SCREENSHOT_DIR")
    folder = Path(configured) if configured else tmp_path_factory.mktemp("console-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nconsole screenshots go to {folder}")
    return folder


@pytest.fixture
def driver(chromium: ChromiumPaths) -> Iterator[Any]:
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])"
    )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium.browser
    for flag in (
        "--headless=new",
        "--no-sandbox",  # root in a container has no user namespaces for the sandbox
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1360,900",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--lang=en-GB",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=chromium.driver), options=options)
    browser.set_page_load_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()
