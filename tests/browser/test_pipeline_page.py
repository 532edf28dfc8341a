"""The page over the real pipeline: a recording uploaded through the form is transcribed,
analysed and indexed by a Celery worker while the page watches, opens on its recap, and a
commitment the analysis found plays and goes to the ledger; then a nonsense search, the
interface in Chinese, and the visit opened from a link at phone width."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import (
    CHROMIUM,
    add_user,
    launch,
    screenshot,
    serve,
    sign_in,
    wait_until,
)
from tests.conftest import FIXTURES, make_stack

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)"),
]


def test_a_recording_uploaded_in_the_page_reaches_done_and_its_commitment_the_ledger(
    tmp_path: Path, chroma_url: str
) -> None:
    from playwright.sync_api import expect, sync_playwright

    stack = make_stack(tmp_path, "embedded", chroma_url=chroma_url)
    stack.start_worker()
    add_user(stack.settings, "pager")
    errors: list[Any] = []
    try:
        with serve(stack.settings) as url, sync_playwright() as p:
            browser = launch(p)
            page = browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            sign_in(page, url, "pager")
            page.set_input_files("#file", str(FIXTURES / "zh_short.mp3"))
            page.fill("#up-title", "备件回访")
            page.fill("#up-visit_date", "2026-03-03")
            page.select_option("#up-language", "zh")
            page.click("#upload button[type=submit]")
            expect(page.locator("#upload-msg")).to_have_text("Queued.")
            badge = page.locator("#detail h2 .badge")
            expect(badge).to_have_text("done", timeout=300_000)  # no reload: the page follows
            commitment = page.locator("#recap-actions li").first
            expect(commitment).to_contain_text("draft", timeout=30_000)
            commitment.locator("button.play").click()
            wait_until(page, "!document.querySelector('#player').paused")
            commitment.locator("[data-ledger]").click()
            expect(commitment).to_contain_text("in ledger")
            screenshot(page, "pipeline-recap")
            visit_id = page.evaluate("current")

            page.fill("#q", "xyzzyqwerty")
            page.click("#search button[type=submit]")
            expect(page.locator("#no-close")).to_contain_text("No close matches")

            page.select_option("#label-lang", "zh")
            expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            expect(page.locator("nav [data-view=visits]")).to_have_text("拜访")

            phone = browser.new_page(viewport={"width": 390, "height": 844})
            sign_in(phone, url, "pager")
            phone.goto(f"{url}/#visit={visit_id}")
            phone.reload()  # a deep link opened fresh
            title = phone.locator("#detail h2")
            expect(title).to_contain_text("备件回访")
            expect(phone.locator("#list-screen")).to_be_hidden()
            assert title.bounding_box()["y"] < 844 / 2
            screenshot(phone, "pipeline-phone")
            browser.close()
    finally:
        stack.stop()
        stack.client.__exit__(None, None, None)
    assert errors == []
