"""Shared by the browser tests: the API served on a free port, and headless Chromium."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from evals.pagebench import served
from knowledge.settings import Settings
from tests.conftest import make_user

PASSWORD = "correct horse battery"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Under CI (`CI=true`, as .ci/run is run) a missing Chromium fails the browser tests; locally
# they skip (each test module's skipif).
IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.hookimpl(tryfirst=True)  # before the skipif marks are evaluated
def pytest_runtest_setup(item: pytest.Item) -> None:
    if IN_CI and CHROMIUM is None:
        pytest.fail(
            "Chromium is not installed, and CI must run the browser tests: install the chromium "
            "package (.ci/run does) or put chromium on PATH.",
            pytrace=False,
        )


serve = served  # the page bench's server: the whole app on a free port, in a thread


def wait_for_search(url: str, auth: dict[str, str], timeout_s: float = 60) -> None:
    """Until the served app's search index has loaded (a thread does it at start)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{url}/api/search?q=x", headers=auth).status_code != 200:
        assert time.monotonic() < deadline, "the search index never loaded"
        time.sleep(0.3)


def launch(p: Any) -> Any:
    """Headless Chromium that starts nothing on the network."""
    return p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def add_user(settings: Settings, username: str = "admin", **kwargs: Any) -> str:
    """A user who signs in with PASSWORD; returns an API token of theirs."""
    return make_user(settings, username, password=PASSWORD, **kwargs)


def sign_in(page: Any, url: str, username: str = "admin") -> None:
    """Open the page and sign in through its form; the session cookie stays with the page."""
    from playwright.sync_api import expect

    page.goto(url)
    page.fill("#login input[name=username]", username)
    page.fill("#login input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    expect(page.locator("#who")).to_be_visible()


# Screenshots of each view, kept after the run (CI can upload the folder).
ARTIFACTS = Path(os.environ.get("VISITLENS_TEST_ARTIFACTS", "test-artifacts"))


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def wait_until(page: Any, expression: str, timeout_s: float = 10) -> None:
    """Poll a JavaScript expression until it is true (the page's CSP forbids the eval that
    Playwright's wait_for_function needs)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout_s} s: {expression}")
        time.sleep(0.1)
