"""Coaching tips on the visit page in headless Chromium: the failed scorecard items as tips in the
page's language, each playing the rep's own moment and, where the library keeps one, an example."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.models import SegmentRow, Utterance, Visit, VisitResult
from tests.browser.conftest import (
    CHROMIUM,
    add_user,
    launch,
    screenshot,
    serve,
    sign_in,
    wait_until,
)
from tests.conftest import FIXTURES, settings_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)"),
]

LINES = [
    (0.0, 1.8, "rep", "Are you happy with the packing line?"),
    (2.0, 2.6, "customer", "Yes."),
    (2.8, 9.5, "rep", "Let me walk you through our new line: twice as fast, and we install it."),
]


def item(
    item_id: str,
    metric: str,
    value: float,
    passed: bool,
    moment: tuple[float, float] | None,
    weight: float,
) -> dict[str, Any]:
    span = moment and {"start": moment[0], "end": moment[1], "note": "stored note"}
    return {
        "id": item_id,
        "label": f"{item_id} 中文 / {item_id} English",
        "metric": metric,
        "value": value,
        "passed": passed,
        "score": 1.0 if passed else 0.0,
        "weight": weight,
        "evidence": [span] if span else [],
        "moment": None if passed else span,
    }


COACHING = {
    "duration_s": 10.0,
    "rep_speech_s": 8.5,
    "customer_speech_s": 0.6,
    "talk_ratio": 0.93,
    "longest_rep_monologue_s": 6.7,
    "longest_customer_story_s": 0.6,
    "patience_s": 0.2,
    "questions": [
        {"start": 0.0, "end": 1.8, "text": LINES[0][3], "spin": "situation", "open": False}
    ],
    "stages": [],
    "scorecard": {
        "total": 40.0,
        "items": [
            item("talk_ratio", "talk_ratio", 0.93, False, (2.8, 9.5), 20),
            item("open_questions", "open_question_share", 0.0, False, (0.0, 1.8), 15),
            item("monologue", "longest_rep_monologue_s", 6.7, True, (2.8, 9.5), 10),
        ],
    },
    "warnings": [],
}


def add_visit(sessions: sessionmaker[Session], audio: Path, coaching: dict[str, Any]) -> str:
    visit_id = uuid.uuid4().hex
    with sessions() as db:
        db.add(
            Visit(
                id=visit_id,
                title=f"Packing line visit {visit_id[:4]}",
                rep="林晓",
                visit_date=date(2026, 3, 10),
                language="en",
                source="audio",
                audio_path=str(audio),
                content_type="audio/wav",
                duration_s=10.0,
                content_sha256=visit_id * 2,
                status="done",
                progress=1.0,
                warnings=[],
            )
        )
        db.flush()
        for idx, (start, end, role, text) in enumerate(LINES):
            where = dict(visit_id=visit_id, idx=idx, start=start, end=end, text=text)
            db.add(SegmentRow(**where, role=role))
            db.add(Utterance(**where, role=role, language="en", labels=[], risk=[]))
        analysis = {"summary": "A pitch.", "actions": [], "alerts": [], "curve": []}
        db.add(VisitResult(visit_id=visit_id, kind="analysis", data=analysis))
        db.add(VisitResult(visit_id=visit_id, kind="coaching", data=coaching))
        db.commit()
    return visit_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A visit whose talk share and open questions failed, and another visit from which the
    library keeps a clip tagged talk_ratio."""
    tmp = tmp_path_factory.mktemp("tips")
    settings = settings_for(tmp, "embedded")
    migrate(settings.database_url)
    audio = tmp / "visit.wav"
    shutil.copy(FIXTURES / "silence_10s.wav", audio)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    visit = add_visit(sessions, audio, COACHING)
    model = add_visit(sessions, audio, {**COACHING, "scorecard": {"total": 90.0, "items": []}})
    engine.dispose()
    token = add_user(settings)
    with serve(settings) as url:
        import httpx

        clip = {"visit_id": model, "start": 0.0, "end": 1.8, "tags": ["talk_ratio", "best"]}
        res = httpx.post(
            f"{url}/api/library/clips",
            json={**clip, "note": "Asks first"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert res.status_code == 201, res.text
        yield {"url": url, "visit": visit, "model": model}


@pytest.fixture
def page(site: dict[str, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, site["url"])
        page.evaluate("localStorage.setItem('visitlens.labelLang', 'en')")
        yield page
        browser.close()
    assert errors == []


def test_the_recap_shows_tips_that_play_the_reps_moment_and_a_library_example(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#visit={site['visit']}")
    page.reload()  # the language stored above takes effect
    tips = page.locator("#recap #tips li.tip")
    expect(tips).to_have_count(2)
    talk = tips.nth(0)
    expect(talk).to_contain_text("talk_ratio English")
    expect(talk).to_contain_text("You did 93% of the talking (aim for at most 60%)")
    expect(talk).to_contain_text("Your longest stretch without a question")
    expect(talk).to_contain_text("Asks first")
    expect(tips.nth(1)).to_contain_text("No library example for this item yet.")
    talk.locator(".tip-moment button.play").click()
    wait_until(page, "Math.abs(document.querySelector('#player').currentTime - 2.8) < 0.5")
    talk.locator(".play-example").click()
    wait_until(page, "!document.querySelector('#tips .example-audio').paused")
    screenshot(page, "coaching-tips")


def test_tips_follow_the_page_language_and_show_on_the_coaching_tab(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#visit={site['visit']}")
    expect(page.locator("#recap #tips li.tip")).to_have_count(2)
    page.select_option("#label-lang", "zh")
    first = page.locator("#tips li.tip").first
    expect(first).to_contain_text("这次你说话占了 93% 的时间（目标不超过 60%）")
    expect(first).to_contain_text("你的这一刻")
    page.click("[data-tab=coaching]")
    expect(page.locator("#tab #tips li.tip")).to_have_count(2)
    expect(page.locator("#tab #tips li.tip").nth(1)).to_contain_text("开放式问题只占 0%")
    page.select_option("#label-lang", "en")
