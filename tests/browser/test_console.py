"""The results console in a real browser: headless Chromium against a real API server (uvicorn),
a real worker process and the Gemini emulator, on this run's Postgres and Redis.

A person signs in with an API key, submits a detect job through the form with a PNG file, sees
its status change on the job page without reloading it (htmx polling), and sees the overlay
image and the detections table; screenshots of each page go to the screenshot folder.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from api.app import create_app
from imagejobs.settings import get_settings
from imagejobs.store.db import Database
from imagejobs.store.producers import NewKey, create_key
from tests.api.conftest import LocalHTTP, api_settings, serve
from tests.e2e.test_tasks import scene_a
from tests.services import WorkerProcess

WIDTH = 1360


@pytest.fixture(scope="module")
def console_url(worker: WorkerProcess) -> Iterator[str]:
    settings = api_settings(
        console_secret=SecretStr("browser-test-console-secret"),
        console_admin=SecretStr("operator:browser-test-password"),
    )
    with serve(create_app(settings)) as url:
        yield url


@pytest.fixture
def receiver() -> Iterator[LocalHTTP]:
    """A webhook receiver that refuses the first delivery attempt, then accepts."""
    http = LocalHTTP(post_script=[(500, {}, b"not now")])
    yield http
    http.close()


@pytest.fixture
def producer(database_url: str) -> NewKey:
    with Database(get_settings().effective_database_url).session() as session:
        return create_key(session, f"browser-{uuid.uuid4().hex[:6]}")


def wait_until(predicate: Callable[[], Any], what: str, timeout_s: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def shoot(driver: Any, folder: Path, name: str) -> Path:
    """A screenshot of the whole page (the window is made as tall as the page first)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    chrome = driver.execute_script("return window.outerHeight - window.innerHeight")
    driver.set_window_size(WIDTH, max(700, min(int(height) + int(chrome), 6000)))
    path = folder / name
    assert driver.save_screenshot(str(path)), path
    driver.set_window_size(WIDTH, 900)
    return path


# The job page swaps its live part while it polls, so elements are read in one script each
# (an element found in one call may be gone by the next).
def text_of(driver: Any, css: str) -> str:
    script = "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : ''"
    return str(driver.execute_script(script, css))


def texts_of(driver: Any, css: str) -> list[str]:
    script = "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent.trim())"
    return list(driver.execute_script(script, css))


def click(driver: Any, css: str) -> None:
    """A real click on the element, found again if the page swapped it meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for _ in range(10):
        try:
            driver.find_element(By.CSS_SELECTOR, css).click()
            return
        except StaleElementReferenceException:
            time.sleep(0.1)
    raise AssertionError(f"{css} kept being replaced")


def sign_in_with(driver: Any, url: str, key: NewKey, shots: Path) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url + "/")
    assert "/console/sign-in" in driver.current_url
    shoot(driver, shots, "sign-in.png")
    driver.find_element(By.NAME, "api_key").send_keys(key.api_key)
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_until(lambda: driver.current_url.endswith("/console/jobs"), "the jobs list")
    assert key.producer.name in text_of(driver, "header.top .who")


def submit_detect_job(driver: Any, url: str, image: Path, webhook: str, shots: Path) -> str:
    """Fill in and send the submit form; returns the job id from the page it leads to."""
    from selenium.webdriver.common.by import By

    driver.get(url + "/console/submit")
    driver.find_element(By.CSS_SELECTOR, "input[name=task][value=detect]").click()
    assert driver.find_element(By.NAME, "target").is_displayed()  # the detect inputs show,
    assert not driver.find_element(By.NAME, "question").is_displayed()  # the ask ones do not
    driver.find_element(By.NAME, "images").send_keys(str(image))
    driver.find_element(By.NAME, "webhook_url").send_keys(webhook)
    shoot(driver, shots, "submit.png")
    driver.find_element(By.CSS_SELECTOR, "form.submit button[type=submit]").click()
    wait_until(lambda: "/console/jobs/" in driver.current_url, "the job page")
    return str(driver.current_url).rsplit("/", 1)[1]


def check_results(driver: Any) -> None:
    """The job finishes on the open page (no reload), its overlay loads, its boxes are listed."""
    driver.execute_script("window.sameDocument = true")  # gone if the page were reloaded
    status = wait_until(
        lambda: (s := text_of(driver, "h1 .status")) in ("succeeded", "failed", "canceled") and s,
        "the job to finish",
    )
    assert status == "succeeded", text_of(driver, ".alert")
    assert driver.execute_script("return window.sameDocument === true"), "the page was reloaded"
    natural = wait_until(
        lambda: driver.execute_script(
            "const i = document.querySelector('img.overlay'); return i && i.complete && "
            "i.naturalWidth"
        ),
        "the overlay image to load",
    )
    assert natural == 640  # the upright original's width
    labels = texts_of(driver, "table.marks tbody tr td:nth-child(2)")
    assert len(labels) == len(scene_a().objects), labels
    assert "purple rectangle" in labels  # the tiny 8x8 one is found and listed
    assert text_of(driver, "table.usage tr.cost td:last-child").startswith("$")


def check_webhook_and_replay(driver: Any, receiver: LocalHTTP) -> None:
    """Refused once, then accepted (the page follows the delivery live); Replay sends it a
    third time and the page shows that attempt too."""
    wait_until(lambda: text_of(driver, ".delivery .status") == "succeeded", "the webhook")
    assert len(texts_of(driver, "table.attempts tbody tr")) == 2
    click(driver, ".delivery form button")
    wait_until(lambda: len(receiver.posts()) == 3, "the replayed delivery")
    wait_until(
        lambda: (
            len(texts_of(driver, "table.attempts tbody tr")) == 3
            and text_of(driver, ".delivery .status") == "succeeded"
        ),
        "the replay's attempt on the page",
    )


def test_sign_in_submit_a_detect_job_and_see_its_overlay(
    driver: Any,
    console_url: str,
    producer: NewKey,
    receiver: LocalHTTP,
    screenshot_dir: Path,
    tmp_path: Path,
    fresh_emulator: None,
) -> None:
    from selenium.webdriver.common.by import By

    image = tmp_path / "shapes.png"
    image.write_bytes(scene_a().encode("PNG"))
    sign_in_with(driver, console_url, producer, screenshot_dir)
    webhook = receiver.url("/hooks/imagejobs")
    job_id = submit_detect_job(driver, console_url, image, webhook, screenshot_dir)
    check_results(driver)
    check_webhook_and_replay(driver, receiver)
    shoot(driver, screenshot_dir, "job.png")

    driver.get(console_url + "/console/jobs")
    listed = driver.find_element(By.CSS_SELECTOR, f"a[href='/console/jobs/{job_id}']")
    assert "succeeded" in listed.find_element(By.XPATH, "./ancestor::tr").text
    shoot(driver, screenshot_dir, "jobs.png")

    driver.get(console_url + "/console/spend")
    assert text_of(driver, "table.spend tbody tr td:nth-child(2)") == "1"
    shoot(driver, screenshot_dir, "spend.png")
