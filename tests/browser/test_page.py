"""The web page in headless Chromium: upload a transcript, see it listed, read it, delete it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from knowledge.db import migrate
from knowledge.models import Role
from tests.browser.conftest import CHROMIUM, add_user, launch, serve, sign_in, wait_until
from tests.conftest import settings_for

pytestmark = pytest.mark.browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = settings_for(tmp_path, "embedded")
    migrate(settings.database_url)
    add_user(settings, "lin", role=Role.REP, display_name="林")
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
        expect(page.locator("#login")).to_be_visible()  # nothing shows before sign-in
        expect(page.locator("#visits-view")).to_be_hidden()
        page.fill("#login input[name=username]", "lin")
        page.fill("#login input[name=password]", "wrong password")
        page.click("#login button[type=submit]")
        expect(page.locator("#login-msg .error")).to_contain_text("Wrong username or password")
        sign_in(page, server, "lin")
        expect(page.locator("#who-name")).to_have_text("林 (rep)")

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
        page.select_option("#outcome", "won")  # chosen, not yet saved
        expect(page.locator(".visit")).not_to_contain_text("won")
        page.click("#outcome-save")
        expect(page.locator("#outcome-msg")).to_have_text("Saved.")
        expect(page.locator(".visit")).to_contain_text("won")
        page.screenshot(path=str(tmp_path / "page.png"))

        page.set_input_files("#file", str(transcript))
        page.click("#upload button[type=submit]")
        expect(page.locator("#upload-msg")).to_contain_text("Already uploaded")
        expect(page.locator(".visit")).to_have_count(1)

        expect(page.locator("#delete")).to_be_hidden()  # in the visit's menu
        page.click("#visit-menu summary")
        expect(page.locator("#delete")).to_be_visible()
        page.click("#detail h2")  # a click elsewhere closes it
        expect(page.locator("#delete")).to_be_hidden()
        page.once("dialog", lambda d: d.dismiss())
        page.click("#visit-menu summary")
        page.click("#delete")
        expect(page.locator(".visit")).to_have_count(1)  # not confirmed: kept
        page.once("dialog", lambda d: d.accept())
        page.click("#visit-menu summary")
        page.click("#delete")
        expect(page.locator("#detail")).to_contain_text("Deleted.")
        expect(page.locator(".visit")).to_have_count(0)

        page.set_input_files("#file", str(tmp_path / "花园酒店回访.srt"))
        bad = tmp_path / "fake.mp3"
        bad.write_bytes(b"%PDF-1.4 not audio")
        page.set_input_files("#file", str(bad))
        page.click("#upload button[type=submit]")
        expect(page.locator("#upload-msg .error")).to_contain_text("not audio")

        page.click("#sign-out")
        expect(page.locator("#login")).to_be_visible()
        page.reload()
        expect(page.locator("#login")).to_be_visible()
        browser.close()
    assert errors == []


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_the_page_plays_the_recording_through_a_link_signed_for_its_user(
    tmp_path: Path,
) -> None:
    from fastapi.testclient import TestClient
    from playwright.sync_api import expect, sync_playwright

    from api.app import create_app
    from tests.conftest import FIXTURES

    settings = settings_for(tmp_path, "embedded")
    migrate(settings.database_url)
    token = add_user(settings)
    with TestClient(create_app(settings)) as client:
        audio = {"file": ("call.mp3", (FIXTURES / "en_short.mp3").read_bytes(), "audio/mpeg")}
        client.post("/api/visits", files=audio, headers={"Authorization": f"Bearer {token}"})
    with serve(settings) as url, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        sign_in(page, url)
        page.locator(".visit").first.click()
        player = page.locator("#player")
        expect(player).to_have_attribute("src", re.compile(r"/audio\?u=\d+&expires=\d+&sig=\w+$"))
        wait_until(page, "document.querySelector('#player').readyState >= 1")
        assert page.evaluate("document.querySelector('#player').duration") > 2
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_an_admin_adds_a_user_and_reads_the_audit_log_and_roles_see_their_views(
    tmp_path: Path,
) -> None:
    from playwright.sync_api import expect, sync_playwright

    settings = settings_for(tmp_path, "embedded")
    migrate(settings.database_url)
    add_user(settings)
    add_user(settings, "pat", role=Role.PRODUCT)
    with serve(settings) as url, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        sign_in(page, url)
        page.click('nav [data-view="admin"]')
        page.fill("#user-add input[name=username]", "mei")
        page.select_option("#user-add select[name=role]", "trainer")
        page.fill("#user-add input[name=password]", "a long enough password")
        page.click("#user-add button[type=submit]")
        expect(page.locator("#users")).to_contain_text("mei")
        expect(page.locator("#audit")).to_contain_text("created mei as trainer")
        expect(page.locator("#audit")).to_contain_text("sign in")  # words, not the code sign_in
        expect(page.locator("#audit-csv")).to_have_attribute("href", re.compile("format=csv"))

        product = browser.new_context().new_page()
        sign_in(product, url, "pat")
        expect(product.locator('nav [data-view="insights"]')).to_be_visible()
        for hidden in ("visits", "ledger", "library", "admin"):
            expect(product.locator(f'nav [data-view="{hidden}"]')).to_be_hidden()
        expect(product.locator("#search")).to_be_hidden()
        browser.close()


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)")
def test_an_open_visit_shows_its_new_status_when_processing_ends(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from playwright.sync_api import expect
    from sqlalchemy import update

    from api.app import create_app
    from knowledge.db import make_engine, make_sessionmaker
    from knowledge.models import Visit

    settings = settings_for(tmp_path, "embedded")
    migrate(settings.database_url)
    token = add_user(settings)
    with TestClient(create_app(settings)) as client:
        files = {"file": ("call.txt", b"Customer: the pumps leak\n", "text/plain")}
        visit_id = client.post(
            "/api/visits", files=files, headers={"Authorization": f"Bearer {token}"}
        ).json()["id"]
    from playwright.sync_api import sync_playwright

    with serve(settings) as url, sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        sign_in(page, url)
        page.goto(f"{url}/#visit={visit_id}")
        badge = page.locator("#detail h2 .badge")
        expect(badge).not_to_have_text("done")
        engine = make_engine(settings.database_url)
        with make_sessionmaker(engine)() as db:  # what the worker does when it finishes
            db.execute(update(Visit).where(Visit.id == visit_id).values(status="done"))
            db.commit()
        engine.dispose()
        expect(badge).to_have_text("done", timeout=10_000)
        browser.close()
