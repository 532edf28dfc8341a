"""The page in one language or the other (every word, codes as words, `<html lang>`), and at phone
width (list and visit as two screens, a deep link opens the visit, the scorecard as cards)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import pytest

from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.models import Visit
from tests.browser.conftest import CHROMIUM, add_user, launch, screenshot, serve, sign_in
from tests.browser.test_views import NORTHWIND, NORTHWIND_ANALYSIS, NORTHWIND_COACHING, add_visit
from tests.conftest import settings_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)"),
]

# What the API sends as codes and must never reach the reader as such; in Chinese, not even the
# codes that read as English words.
RAW_CODES = re.compile(r"need_payoff|high_potential|low_efficiency|pain\.\w+|risk\.\w+")
ENGLISH_CODES = re.compile(r"\b(rep|customer|situation|open|closed|pass|fail|discovery|done)\b")
COACHING: dict[str, Any] = copy.deepcopy(NORTHWIND_COACHING)
COACHING["questions"].append(
    {"start": 7.6, "end": 9.6, "text": NORTHWIND[3].text, "spin": "need_payoff", "open": False}
)
COACHING["scorecard"]["items"][0]["evidence"].append(
    {"start": 7.6, "end": 9.6, "note": "need_payoff, closed"}
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One analysed English visit (a transcript) of a high-potential customer."""
    tmp = tmp_path_factory.mktemp("language")
    settings = settings_for(tmp, "embedded")
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    visit_id = add_visit(
        sessions,
        title="Northwind quarterly review",
        said=NORTHWIND,
        analysis=NORTHWIND_ANALYSIS,
        coaching=COACHING,
        language="en",
    )
    with sessions() as db:
        db.get_one(Visit, visit_id).segment = "high_potential"
        db.commit()
    engine.dispose()
    add_user(settings)
    with serve(settings) as url:
        yield {"url": url, "visit": visit_id}


def browse(site: dict[str, str], **context: Any) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_context(**context).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, site["url"])
        yield page
        browser.close()
    assert errors == []


@pytest.fixture
def page(site: dict[str, str]) -> Iterator[Any]:
    yield from browse(site)


@pytest.fixture
def phone(site: dict[str, str]) -> Iterator[Any]:
    yield from browse(site, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)


def visible_codes(page: Any) -> list[str]:
    return RAW_CODES.findall(page.locator("#detail").inner_text())


def test_one_switch_turns_the_whole_interface_into_chinese_and_back(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#visit={site['visit']}")
    expect(page.locator("#recap")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#detail .muted").first).to_contain_text("high potential")
    page.click("#tab-coaching")
    expect(page.locator("#scorecard")).to_contain_text("Share of open questions")
    expect(page.locator("#questions")).to_contain_text("need-payoff")
    expect(page.locator("#scorecard")).to_contain_text("need-payoff, closed")
    assert visible_codes(page) == []

    page.select_option("#label-lang", "zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("nav [data-view=visits]")).to_have_text("拜访")
    expect(page.locator("#search button[type=submit]")).to_have_text("搜索")
    expect(page.locator("#upload-box h2")).to_have_text("上传拜访")
    expect(page.locator("#who-name")).to_have_text("admin (管理员)")
    expect(page.locator("#tab-coaching")).to_have_text("辅导")
    expect(page.locator("#scorecard")).to_contain_text("开放式问题占比")
    expect(page.locator("#scorecard")).to_contain_text("达标")
    expect(page.locator("#questions")).to_contain_text("需求效益问题")
    expect(page.locator("#questions")).to_contain_text("封闭式")
    expect(page.locator("#detail .muted").first).to_contain_text("高潜客户")
    expect(page.locator("#outcome-save")).to_have_text("保存")
    assert visible_codes(page) == []
    assert ENGLISH_CODES.findall(page.locator("#detail").inner_text()) == []
    screenshot(page, "lang-zh-coaching")

    for tab, words in [
        ("recap", "承诺"),
        ("transcript", "销售"),
        ("analysis", "风险提醒"),
    ]:
        page.click(f"#tab-{tab}")
        expect(page.locator("#tab")).to_contain_text(words)
        assert visible_codes(page) == []
        screenshot(page, f"lang-zh-{tab}")
        if tab == "transcript":
            expect(page.locator("#tab .turn .who").first).to_have_text("销售")

    for view, heading in [
        ("insights", "洞察：客户在说什么"),
        ("ledger", "跟进台账"),
        ("library", "最佳实践案例库"),
        ("playbooks", "异议应答手册"),
        ("admin", "用户"),
    ]:
        page.click(f"nav [data-view={view}]")
        expect(page.locator("#page h2").first).to_have_text(heading)
        expect(page.locator("#page")).not_to_contain_text("Loading…")
        screenshot(page, f"lang-zh-{view}")
    page.click("nav [data-view=visits]")

    page.reload()  # the choice is remembered
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#label-lang")).to_have_value("zh")
    expect(page.locator("#tab-recap")).to_have_text("概要")
    page.select_option("#label-lang", "en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("nav [data-view=visits]")).to_have_text("Visits")
    expect(page.locator("#tab-recap")).to_have_text("Recap")


def test_at_phone_width_a_deep_link_opens_the_visit_on_its_own_screen(
    phone: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page = phone
    page.goto(f"{site['url']}/#visit={site['visit']}")
    page.reload()  # a deep link opened fresh
    title = page.locator("#detail h2")
    expect(title).to_contain_text("Northwind quarterly review")
    expect(page.locator("#list-screen")).to_be_hidden()
    expect(page.locator("#to-list")).to_be_visible()
    assert title.bounding_box()["y"] < 844 / 2  # the visit at the top, not below list and upload
    screenshot(page, "phone-visit")

    page.click("#tab-transcript")
    line = page.locator("#tab .seg span").first
    expect(line).to_be_visible()
    assert line.bounding_box()["width"] > 240  # 190 px before, beside a speaker column
    screenshot(page, "phone-transcript")

    page.click("#tab-coaching")
    card = page.locator("#scorecard tr").nth(1)
    expect(card).to_be_visible()
    box = card.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # a card that fits the width
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "phone-scorecard")

    page.click("#to-list")
    expect(page.locator("#visits .visit")).to_have_count(1)
    expect(page.locator("#detail")).to_be_hidden()
    expect(page.locator("#upload")).to_be_hidden()  # upload behind its button
    screenshot(page, "phone-list")
    page.click("#upload-toggle")
    expect(page.locator("#upload")).to_be_visible()
    screenshot(page, "phone-upload")
    page.click("#visits .visit a.open")
    expect(page.locator("#detail h2")).to_be_visible()
    expect(page.locator("#list-screen")).to_be_hidden()
    page.go_back()  # Back returns to the list screen
    expect(page.locator("#list-screen")).to_be_visible()
