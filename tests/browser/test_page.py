"""The web page in headless Chromium: upload a transcript, see it listed, read it, delete it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.db import migrate
from tests.browser.conftest import CHROMIUM, launch, serve
from tests.conftest import settings_for

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = settings_for(tmp_path, "embedded")
    migrate(settings.database_url)
    with serve(settings) as url:
        yield url


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_upload_list_read_and_delete_in_the_page(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    transcript = tmp_path / "花园酒店回访.srt"
    transcript.write_text(
        "1\n00:00:00,000 --> 00:00:04,000\n销售: 您好，最近设备用得怎么样？\n\n"
        "2\n00:00:04,500 --> 00:00:09,000\n客户: 售后响应太慢了，工程师三天才来。\n",
        encoding="utf-8",
    )
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server)
        expect(page.locator("h1")).to_have_text("visitlens")

        page.set_input_files("#file", str(transcript))
        page.fill("input[name=rep]", "王磊")
        page.select_option("select[name=segment]", "strategic")
        page.click("#upload button[type=submit]")
        expect(page.locator("#upload-msg")).to_have_text("Queued.")
        expect(page.locator(".visit")).to_have_count(1)
        expect(page.locator(".visit")).to_contain_text("花园酒店回访")

        expect(page.locator("#detail .seg")).to_have_count(2)
        expect(page.locator("#detail .seg").nth(1)).to_contain_text("售后响应太慢了")
        expect(page.locator("#detail .role-customer")).to_have_count(1)
        page.select_option("#outcome", "won")
        expect(page.locator("#outcome-msg")).to_have_text("Saved.")
        expect(page.locator(".visit")).to_contain_text("won")
        page.screenshot(path=str(tmp_path / "page.png"))

        page.set_input_files("#file", str(transcript))
        page.click("#upload button[type=submit]")
        expect(page.locator("#upload-msg")).to_contain_text("Already uploaded")
        expect(page.locator(".visit")).to_have_count(1)

        page.on("dialog", lambda d: d.accept())
        page.click("#delete")
        expect(page.locator("#detail")).to_contain_text("Deleted.")
        expect(page.locator(".visit")).to_have_count(0)

        page.set_input_files("#file", str(tmp_path / "花园酒店回访.srt"))
        bad = tmp_path / "fake.mp3"
        bad.write_bytes(b"%PDF-1.4 not audio")
        page.set_input_files("#file", str(bad))
        page.click("#upload button[type=submit]")
        expect(page.locator("#upload-msg .error")).to_contain_text("not audio")
        browser.close()
    assert errors == []


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_with_a_token_the_page_plays_the_recording_through_its_signed_link(
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient
    from playwright.sync_api import expect, sync_playwright

    from api.app import create_app
    from tests.conftest import FIXTURES

    settings = settings_for(tmp_path, "embedded", api_token="s3cret")
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as client:
        audio = {"file": ("call.mp3", (FIXTURES / "en_short.mp3").read_bytes(), "audio/mpeg")}
        client.post("/api/visits", files=audio, headers={"Authorization": "Bearer s3cret"})
    with serve(settings) as url, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.goto(f"{url}/#token=s3cret")
        page.locator(".visit").first.click()
        player = page.locator("#player")
        expect(player).to_have_attribute("src", re.compile(r"/audio\?expires=\d+&sig=\w+$"))
        page.wait_for_function("document.querySelector('#player').readyState >= 1")
        assert page.evaluate("document.querySelector('#player').duration") > 2
        browser.close()
