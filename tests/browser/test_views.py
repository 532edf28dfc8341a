"""The page's views in headless Chromium over stored analyses and a real Chroma index: analysis,
coaching, search with filters, a clip for the library, insights and the follow-up ledger."""

from __future__ import annotations

import re
import shutil
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from knowledge import ledger
from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.models import SegmentRow, Utterance, UtteranceLabel, Visit, VisitResult
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
from workers.index import index_visit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)"),
]


@dataclass(frozen=True)
class Said:
    """One transcript segment and the labels the analysis gave it."""

    role: str
    start: float
    end: float
    text: str
    labels: tuple[str, ...] = ()
    risk: tuple[str, ...] = ()
    sentiment: str = "neutral"
    score: float = 0.0


NORTHWIND = [
    Said("rep", 0.0, 1.8, "How has the new packing line been running?"),
    Said(
        "customer",
        2.0,
        4.8,
        "Every pallet of cartons reaches us a week late, and my team is tired of chasing them.",
        labels=("pain.delivery",),
        sentiment="negative",
        score=-0.7,
    ),
    Said(
        "customer",
        5.2,
        7.4,
        "A rival supplier offered next-day shipping at the same price, so we are weighing it.",
        risk=("risk.churn",),
        sentiment="negative",
        score=-0.5,
    ),
    Said("rep", 7.6, 9.6, "I will send you a recovery plan with fixed dates by Friday.", score=0.4),
]
NORTHWIND_ANALYSIS = {
    "summary": "Late carton deliveries hurt the customer; a rival offer puts the account at risk.",
    "label_counts": {"pain.delivery": 1},
    "sentiment_score": -0.27,
    "sentiment_counts": {"negative": 2, "neutral": 1, "positive": 1},
    "curve": [{"t": 3.0, "score": -0.6, "n": 2}, {"t": 8.0, "score": 0.4, "n": 1}],
    "alerts": [
        {
            "label": "risk.churn",
            "confidence": 0.81,
            "idx": 2,
            "start": 5.2,
            "quote": NORTHWIND[2].text,
        }
    ],
    "actions": [
        {
            "owner": "rep",
            "text": "Send a recovery plan with fixed dates",
            "due": "2026-03-13",
            "start": 7.6,
            "quote": NORTHWIND[3].text,
        }
    ],
    "alerted": False,
    "second_opinion": {
        "mode": "annotate",
        "asked": 2,
        "answered": 2,
        "utterances": [
            {"idx": 1, "labels": [{"id": "pain.delivery", "confidence": 0.9}], "risk": []},
            {"idx": 2, "labels": [{"id": "pain.price", "confidence": 0.7}], "risk": []},
        ],
        "disagreements": [
            {"idx": 2, "start": 5.2, "only_model": ["risk.churn"], "only_llm": ["pain.price"]}
        ],
        "merged": [],
    },
}
NORTHWIND_COACHING = {
    "duration_s": 10.0,
    "rep_speech_s": 3.8,
    "customer_speech_s": 5.0,
    "talk_ratio": 0.43,
    "longest_rep_monologue_s": 2.0,
    "longest_customer_story_s": 2.8,
    "patience_s": 0.4,
    "questions": [
        {"start": 0.0, "end": 1.8, "text": NORTHWIND[0].text, "spin": "situation", "open": True}
    ],
    "stages": [{"name": "discovery", "start": 0.0, "end": 7.6}],
    "scorecard": {
        "total": 72.5,
        "items": [
            {
                "id": "open_questions",
                "label": "开放式问题占比 / Share of open questions",
                "metric": "open_question_share",
                "value": 1.0,
                "passed": True,
                "score": 1.0,
                "weight": 15.0,
                "evidence": [{"start": 0.0, "end": 1.8, "note": "situation, open"}],
            }
        ],
    },
    "warnings": [],
}
HUADONG = [
    Said("rep", 0.0, 2.0, "王经理，最近仓库那边用得顺手吗？"),
    Said(
        "customer",
        2.5,
        6.0,
        "仓储系统和你们的接口三天两头断开，单据只能手工补录。",
        labels=("pain.integration",),
        sentiment="negative",
        score=-0.6,
    ),
    Said(
        "customer", 6.5, 9.0, "下个月想请你们来给新员工做一次上手培训。", labels=("need.training",)
    ),
]


def add_visit(
    sessions: sessionmaker[Session],
    *,
    title: str,
    said: list[Said],
    analysis: dict[str, Any],
    coaching: dict[str, Any] | None,
    language: str,
    audio: Path | None = None,
) -> str:
    """A finished visit whose analysis is as given (the worker's job in production)."""
    visit_id = uuid.uuid4().hex
    with sessions() as db:
        db.add(
            Visit(
                id=visit_id,
                title=title,
                rep="林晓",
                customer=title.split(" ")[0],
                industry="logistics",
                segment="strategic",
                visit_date=date(2026, 3, 10),
                language=language,
                source="audio" if audio else "transcript",
                audio_path=str(audio) if audio else None,
                content_type="audio/wav" if audio else None,
                duration_s=10.0,
                content_sha256=visit_id * 2,
                status="done",
                progress=1.0,
                warnings=[],
            )
        )
        db.flush()
        for idx, x in enumerate(said):
            where = dict(visit_id=visit_id, idx=idx, start=x.start, end=x.end, text=x.text)
            db.add(SegmentRow(**where, role=x.role))
            db.add(
                Utterance(
                    **where,
                    role=x.role,
                    language=language,
                    labels=[{"id": label, "confidence": 0.9} for label in x.labels],
                    risk=[{"id": label, "confidence": 0.8} for label in x.risk],
                    sentiment=x.sentiment,
                    sentiment_score=x.score,
                )
            )
            db.add_all(
                UtteranceLabel(visit_id=visit_id, idx=idx, label=label, confidence=0.9)
                for label in [*x.labels, *x.risk]  # as knowledge.analysis stores them
            )
        db.add(VisitResult(visit_id=visit_id, kind="analysis", data=analysis))
        if coaching is not None:
            db.add(VisitResult(visit_id=visit_id, kind="coaching", data=coaching))
        db.commit()
    return visit_id


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, chroma_url: str) -> Iterator[dict[str, str]]:
    """Two analysed visits (one English with a recording, one Chinese transcript), indexed."""
    tmp = tmp_path_factory.mktemp("views")
    settings = settings_for(tmp, "embedded", chroma_url=chroma_url)
    migrate(settings.database_url)
    audio = tmp / "northwind.wav"
    shutil.copy(FIXTURES / "silence_10s.wav", audio)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    northwind = add_visit(
        sessions,
        title="Northwind quarterly review",
        said=NORTHWIND,
        analysis=NORTHWIND_ANALYSIS,
        coaching=NORTHWIND_COACHING,
        language="en",
        audio=audio,
    )
    huadong = add_visit(
        sessions,
        title="华东仓储 季度回访",
        said=HUADONG,
        analysis={"summary": "接口断开，需要培训。", "actions": [], "alerts": [], "curve": []},
        coaching=None,
        language="zh",
    )
    with sessions() as db:  # the analysis step keeps action items as drafts
        ledger.draft_actions(db, visit_id=northwind, actions=NORTHWIND_ANALYSIS["actions"])
        db.commit()
    for visit_id in (northwind, huadong):
        index_visit(settings, sessions, visit_id)
    engine.dispose()
    token = add_user(settings)
    with serve(settings) as url:
        deadline = time.monotonic() + 30  # the API warms its copy of the index in a thread
        while True:
            try:
                ready = urllib.request.Request(
                    f"{url}/api/search?q=late", headers={"Authorization": f"Bearer {token}"}
                )
                with urllib.request.urlopen(ready) as res:
                    if res.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield {"url": url, "northwind": northwind, "huadong": huadong}


@pytest.fixture
def page(site: dict[str, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, site["url"])
        yield page
        browser.close()
    assert errors == []


def test_a_done_visit_opens_on_its_recap_which_plays_and_sends_to_the_ledger(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#visit={site['northwind']}")
    recap = page.locator("#recap")
    expect(recap).to_contain_text("Churn risk ×1")
    expect(recap).to_contain_text("2026-03-13")  # the next due date
    expect(recap).to_contain_text("Pain point: Delivery")
    commitment = page.locator("#recap-actions li", has_text="Send a recovery plan")
    expect(commitment).to_contain_text("draft")
    screenshot(page, "recap")
    commitment.locator(".discard").click()
    expect(commitment).to_contain_text("discarded")
    page.reload()
    expect(commitment.locator("[data-ledger]")).to_have_text("+ ledger")  # no draft any more
    commitment.locator("button.play").click()
    wait_until(page, "!document.querySelector('#player').paused")
    commitment.locator("[data-ledger]").click()
    expect(commitment).to_contain_text("in ledger")


def test_analysis_tab_shows_summary_alerts_actions_and_plays_from_a_quote(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#visit={site['northwind']}")
    page.click("[data-tab=analysis]")
    expect(page.locator("#summary")).to_contain_text("Late carton deliveries")
    alert = page.locator("#alerts .alert")
    expect(alert).to_have_count(1)
    expect(alert).to_contain_text("Churn risk")
    expect(alert).to_contain_text("A rival supplier offered")
    expect(page.locator("#actions")).to_contain_text("Send a recovery plan with fixed dates")
    expect(page.locator("#actions")).to_contain_text("2026-03-13")
    expect(page.locator(".bars")).to_contain_text("Pain point: Delivery")
    expect(page.locator("svg.curve circle")).to_have_count(2)
    expect(page.locator(".quote.disagree")).to_contain_text("LLM disagrees")

    alert.locator("button.play").click()
    wait_until(page, "Math.abs(document.querySelector('#player').currentTime - 5.2) < 0.3")

    actions = page.locator("#actions")
    expect(actions).to_contain_text(re.compile("in ledger|draft"))  # the recap may have added it
    if actions.locator("[data-ledger]").count():
        actions.locator("[data-ledger]").click()
    expect(actions).to_contain_text("in ledger")

    page.locator(".quote", has_text="week late").locator(".edit").click()
    page.check(".panel input[value='pain.quality']")
    page.click(".panel .save")
    expect(page.locator(".panel .msg")).to_contain_text("Saved")

    page.click("[data-tab=coaching]")
    expect(page.locator("#score-total")).to_have_text("73")
    expect(page.locator("#scorecard")).to_contain_text("Share of open questions")
    expect(page.locator("#questions")).to_contain_text("situation")


def test_search_with_a_filter_shows_hits_and_a_hit_becomes_a_library_clip(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(site["url"])
    page.fill("#q", "deliveries arrive late")
    page.select_option("#f-role", "customer")
    page.click("#search button[type=submit]")
    hits = page.locator("#hits .hit")
    expect(hits.first).to_be_visible()
    expect(page.locator("#hits")).to_contain_text("a week late")
    expect(page.locator("#hits .role-rep")).to_have_count(0)

    page.select_option("#f-label", "pain.integration")
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text("接口")
    expect(hits.first).to_contain_text("华东仓储")

    hits.first.locator(".add-clip").click()
    page.fill(".clip-form [name=new]", "接口问题 / integration")
    page.fill(".clip-form [name=note]", "Customer names the broken interface")
    page.click(".clip-form .save")
    expect(page.locator(".clip-form")).to_contain_text("Added to the library")

    hits.first.locator("a[data-t]").click()
    expect(page.locator("#detail h2")).to_contain_text("华东仓储")
    expect(page.locator("#tab .seg.playing")).to_contain_text("接口")

    page.click("nav [data-view=library]")
    expect(page.locator("#playlists")).to_contain_text("接口问题 / integration")
    expect(page.locator("#playlists")).to_contain_text("Customer names the broken interface")


def test_a_nonsense_search_says_no_close_matches(page: Any, site: dict[str, str]) -> None:
    from playwright.sync_api import expect

    page.goto(site["url"])
    page.fill("#q", "xyzzyqwerty")
    page.click("#search button[type=submit]")
    expect(page.locator("#no-close")).to_contain_text("No close matches")
    expect(page.locator("#s-total")).to_have_text("")
    expect(page.locator("#hits .hit").first).to_be_hidden()
    screenshot(page, "search-no-close-matches")


def test_the_ledger_lists_at_risk_visits_and_their_follow_up(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(site["url"])
    page.click("nav [data-view=ledger]")
    row = page.locator("#attention-table tr", has_text="Northwind")
    expect(row).to_contain_text("Churn")
    expect(row.locator(".badge")).to_have_text(re.compile("no follow-up|open|overdue|closed"))
    expect(page.locator(".attention-counts").first).to_contain_text("no follow-up")
    screenshot(page, "ledger-attention")
    row.locator("[data-open]").click()
    expect(page.locator("#recap")).to_be_visible()


def test_playbooks_show_how_an_objection_was_answered_and_suggest_answers(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(site["url"])
    page.click("nav [data-view=playbooks]")
    topics = page.locator("#pb-topics")
    expect(topics).to_contain_text("Pain point: Delivery")
    topics.locator("tr", has_text="Pain point: Delivery").locator("[data-topic]").click()
    answer = page.locator("#pb-groups .pb-answer").first
    expect(answer).to_be_visible()
    answer.locator(".pb-pin").click()
    expect(page.locator("#pb-groups .pb-answer").first).to_contain_text("pinned")
    page.click("#pb-playlist")
    expect(page.locator("#pb-msg")).to_contain_text("Saved to the library")
    page.fill("#pb-suggest [name=text]", "Your deliveries keep arriving late")
    page.click("#pb-suggest button[type=submit]")
    expect(page.locator("#pb-suggestions .pb-answer").first).to_be_visible()
    screenshot(page, "playbooks")


def test_insights_view_shows_topic_rows_with_a_quote(page: Any, site: dict[str, str]) -> None:
    from playwright.sync_api import expect

    page.goto(site["url"])
    page.click("nav [data-view=insights]")
    row = page.locator("#topics tr[data-label='pain.delivery']")
    expect(row).to_contain_text("Delivery")
    expect(row).to_contain_text("a week late")
    expect(page.locator("#topics tr[data-label='pain.integration']")).to_contain_text("接口")
    page.select_option("#ins-form [name=kind]", "needs")
    page.click("#ins-form button[type=submit]")
    expect(page.locator("#topics tr[data-label='need.training']")).to_contain_text("培训")
    csv = "/api/insights/needs?period=month&format=csv"
    expect(page.locator("#ins-csv")).to_have_attribute("href", csv)


def test_ledger_view_shows_the_closed_loop_rate_after_a_status_change(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#view=ledger")
    expect(page.locator("#loop-rate")).to_be_visible()
    page.fill("#ledger-add [name=title]", "给华东仓储发接口排查报告")
    page.fill("#ledger-add [name=owner]", "林晓")
    page.click("#ledger-add button[type=submit]")
    row = page.locator("#ledger-table tr", has_text="接口排查报告")
    expect(row).to_have_count(1)
    row.locator("select.status").select_option("done")
    expect(page.locator("#loop-rate")).to_have_text("100%")
    expect(page.locator("#report")).to_contain_text("林晓")


def test_a_question_across_visits_shows_an_answer_with_quotes_that_open(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(site["url"])
    page.select_option("#s-kind", "ask")
    page.fill("#q", "Do customers complain that deliveries arrive late?")
    page.click("#search button[type=submit]")
    detail = page.locator("#detail")
    expect(detail.locator(".answer")).to_contain_text("[1]")
    expect(detail).to_contain_text("a week late")
    detail.locator("[data-open]:not([data-t])").first.click()  # the visit: its recap
    expect(page.locator("#recap")).to_be_visible()


def tab_to(page: Any, selector: str, presses: int = 80) -> None:
    """Press Tab until the focused element matches a CSS selector (keyboard only)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"!!document.activeElement?.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_a_keyboard_alone_opens_a_visit_and_plays_a_line(page: Any, site: dict[str, str]) -> None:
    from playwright.sync_api import expect

    tab_to(page, f".visit a[href='#visit={site['northwind']}']")
    page.keyboard.press("Enter")
    expect(page.locator("#recap")).to_be_visible()
    tab_to(page, "[role=tab][aria-selected=true]")
    page.keyboard.press("ArrowRight")  # Recap → Transcript
    expect(page.locator("[role=tab][data-tab=transcript]")).to_have_attribute(
        "aria-selected", "true"
    )
    expect(page.locator("#tab .seg")).to_have_count(4)
    tab_to(page, "#tab .seg button.play")  # the first line's time
    page.keyboard.press("Tab")  # its "+ clip" shows while it has the focus
    expect(page.locator("#tab .seg").first.locator(".add-clip")).to_have_css("opacity", "1")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # the second line: play it
    wait_until(page, "!document.querySelector('#player').paused")
    expect(page.locator("#tab .seg.playing")).to_contain_text("a week late")
    screenshot(page, "keyboard-plays-a-line")


def test_the_transcript_merges_turns_with_label_chips_under_a_player_that_stays_in_view(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1100, "height": 420})
    page.goto(f"{site['url']}/#visit={site['northwind']}")
    page.click("[data-tab=transcript]")
    expect(page.locator("#tab .turn")).to_have_count(3)  # rep, customer (two lines), rep
    customer = page.locator("#tab .turn").nth(1)
    expect(customer.locator(".seg")).to_have_count(2)
    pains = customer.locator(".seg").first.locator(".chip.pain")  # the analysis test may add one
    expect(pains.first).to_contain_text("Delivery")
    expect(customer.locator(".seg").nth(1).locator(".chip.risk")).to_be_visible()

    customer.locator(".seg").nth(1).locator("button.play").click()  # each line still plays alone
    wait_until(page, "Math.abs(document.querySelector('#player').currentTime - 5.2) < 0.5")

    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    wait_until(page, "window.scrollY > 100")
    in_view = "(() => { const r = document.querySelector('#player').getBoundingClientRect();"
    in_view += " return r.top >= 0 && r.bottom <= innerHeight + 1; })()"
    assert page.evaluate(in_view)
    screenshot(page, "player-stays-in-view")


def test_a_timeline_mark_plays_from_its_moment(page: Any, site: dict[str, str]) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#visit={site['northwind']}")
    line = page.locator("#timeline")
    expect(line.locator("button.stage")).to_have_count(1)
    expect(line.locator("button.question")).to_have_count(1)
    pain = line.locator("button.pain")
    expect(pain).to_have_attribute("title", re.compile("Delivery and supply.* at 00:02"))
    risk = line.locator("button.risk")
    expect(risk).to_have_attribute("title", re.compile("Churn risk at 00:05"))
    risk.click()
    wait_until(page, "Math.abs(document.querySelector('#player').currentTime - 5.2) < 0.5")
    wait_until(page, "!document.querySelector('#player').paused")
    screenshot(page, "timeline")


def test_follow_playback_scrolls_to_the_playing_line_until_switched_off(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1100, "height": 360})
    page.goto(f"{site['url']}/#visit={site['northwind']}")
    page.click("[data-tab=transcript]")
    expect(page.locator("#tab .seg")).to_have_count(4)
    follow = page.get_by_label("Follow playback")
    expect(follow).to_be_checked()
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#timeline button.risk").click()
    expect(page.locator("#tab .seg.playing")).to_contain_text("A rival supplier")
    seen = "(() => { const r = document.querySelector('#tab .seg.playing').getBoundingClientRect();"
    seen += " return r.top >= 0 && r.bottom <= innerHeight + 1; })()"  # + 1: subpixel layout
    screenshot(page, "follow-playback")
    wait_until(page, seen)

    follow.uncheck()
    page.evaluate("window.scrollTo(0, 0)")
    page.evaluate("document.querySelector('#player').currentTime = 7.7")  # playback moves on
    expect(page.locator("#tab .seg.playing")).to_contain_text("recovery plan")  # still marked
    page.wait_for_timeout(500)
    assert page.evaluate("window.scrollY") == 0  # but the page did not scroll to it
    page.reload()
    expect(page.get_by_label("Follow playback")).not_to_be_checked()  # remembered
    page.get_by_label("Follow playback").check()


def test_back_and_forward_move_between_views_and_visits(page: Any, site: dict[str, str]) -> None:
    from playwright.sync_api import expect

    page.goto(site["url"])
    page.click("nav [data-view=ledger]")
    expect(page.locator("#loop-rate")).to_be_visible()
    page.locator("#attention-table [data-open]").first.click()
    expect(page.locator("#detail h2")).to_contain_text("Northwind")
    page.locator(".visit", has_text="华东仓储").click()
    expect(page.locator("#detail h2")).to_contain_text("华东仓储")

    page.go_back()
    expect(page.locator("#detail h2")).to_contain_text("Northwind")
    page.go_back()
    expect(page.locator("#loop-rate")).to_be_visible()
    expect(page.locator("#visits-view")).to_be_hidden()
    page.go_forward()
    expect(page.locator("#detail h2")).to_contain_text("Northwind")
    expect(page.locator("#visits-view")).to_be_visible()


UNNAMED_FIELDS = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter((el) => el.offsetParent !== null || el.type === 'file')
  .filter((el) => !(el.getAttribute('aria-label')?.trim()
    || [...(el.labels || [])].some((l) => l.textContent.trim())
    || el.getAttribute('aria-labelledby')))
  .map((el) => el.outerHTML.slice(0, 120))"""


def test_every_field_has_a_name_and_the_visit_tabs_are_aria_tabs(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#visit={site['northwind']}")
    tabs = page.get_by_role("tablist").get_by_role("tab")
    expect(tabs).to_have_count(5)
    expect(page.get_by_role("tab", name="Recap")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tabpanel")).to_have_attribute("aria-labelledby", "tab-recap")
    page.get_by_role("tab", name="Recap").focus()
    page.keyboard.press("ArrowLeft")  # wraps round to the last tab
    expect(page.get_by_role("tab", name="Similar cases")).to_be_focused()
    expect(page.get_by_role("tab", name="Similar cases")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Home")
    expect(page.get_by_role("tab", name="Recap")).to_have_attribute("aria-selected", "true")

    assert page.evaluate(UNNAMED_FIELDS) == []
    page.click("[data-tab=analysis]")
    expect(page.locator("#quotes .quote").first).to_be_visible()
    page.locator("#quotes .edit").first.click()
    assert page.evaluate(UNNAMED_FIELDS) == []
    for name in ("insights", "ledger", "library"):
        page.click(f"nav [data-view={name}]")
        expect(page.locator("#page section").first).to_be_visible()
        page.wait_for_timeout(300)  # the view's tables fill in
        assert page.evaluate(UNNAMED_FIELDS) == [], name


def test_muted_text_keeps_a_contrast_of_at_least_4_5_to_1(page: Any, site: dict[str, str]) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".visit .meta").first).to_be_visible()
    ratio = page.evaluate(
        """(() => {
      const rgb = (s) => s.match(/\\d+/g).slice(0, 3).map(Number);
      const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255;
        return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
      const fg = lum(rgb(getComputedStyle(document.querySelector('.visit .meta')).color));
      return Math.min(...['#fff', '#f6f7fb', '#f0f3fb', '#eef1f8'].map((bg) => {
        const probe = document.createElement('i');
        probe.style.color = bg; document.body.append(probe);
        const b = lum(rgb(getComputedStyle(probe).color)); probe.remove();
        return (Math.max(fg, b) + 0.05) / (Math.min(fg, b) + 0.05); }));
    })()"""
    )
    assert ratio >= 4.5


def test_a_visit_opened_from_low_in_the_list_shows_its_header_and_player(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1100, "height": 400})
    row = page.locator(".visit", has_text="Northwind")
    row.scroll_into_view_if_needed()
    assert page.evaluate("window.scrollY") > 200
    row.click()
    expect(page.locator("#detail h2")).to_be_in_viewport()
    expect(page.locator("#player")).to_be_in_viewport()


def test_library_suggests_scorecard_moments_and_plays_a_shared_playlist_in_order(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#view=library")
    moment = page.locator("#suggestions [data-moment]", has_text="Share of open questions")
    expect(moment.first).to_contain_text("best")
    moment.first.locator(".add-moment").click()
    expect(page.locator("#playlists")).to_contain_text("Share of open questions: best")

    name = f"Openings {uuid.uuid4().hex[:4]}"
    page.fill("#pl-form [name=name]", name)
    page.click("#pl-form button[type=submit]")
    card = page.locator("[data-playlist]", has_text=name)
    expect(card).to_be_visible()
    playlist = card.get_attribute("data-playlist")
    for start in (0.0, 2.0):
        page.evaluate(
            "(c) => send('POST', '/api/library/clips', c)",
            {
                "visit_id": site["northwind"],
                "start": start,
                "end": start + 1.5,
                "playlist_id": int(playlist or 0),
            },
        )
    page.evaluate("showLibrary()")
    card.locator(".play-all").click()
    wait_until(page, f"!document.querySelector('[data-playlist=\"{playlist}\"] audio').paused")
    expect(card.locator("[data-clip].playing")).to_have_count(1)
    expect(card.locator("[data-clip]").nth(1)).to_have_class(re.compile("playing"), timeout=10_000)
    card.locator(".share-pl").click()
    link = card.locator(".share-link").input_value()
    assert link.endswith(f"#view=library&playlist={playlist}")
    page.goto(link)
    expect(page.locator(f"[data-playlist='{playlist}']")).to_have_class(re.compile("shared"))
    screenshot(page, "library")


def test_search_within_one_visit_marks_and_plays_its_lines(page: Any, site: dict[str, str]) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#visit={site['northwind']}")
    page.click("#tab-transcript")
    page.fill("#in-visit [name=q]", "cartons arrive late")
    page.click("#in-visit button[type=submit]")
    expect(page.locator("#in-visit-hits li").first).to_contain_text("a week late")
    expect(page.locator("#tab .seg.found", has_text="a week late")).to_have_count(1)
    page.locator("#in-visit-hits button[data-t]").first.click()
    wait_until(page, "!document.querySelector('#player').paused")
    page.fill("#in-visit [name=q]", "xyzzyqwerty")
    page.click("#in-visit button[type=submit]")
    expect(page.locator("#in-visit-hits")).to_contain_text("No close matches")
    expect(page.locator("#tab .seg.found")).to_have_count(0)


def test_visits_sort_by_scorecard_and_show_it(page: Any, site: dict[str, str]) -> None:
    from playwright.sync_api import expect

    page.goto(site["url"])
    page.select_option("#visit-filter [name=sort]", "score_high")
    first = page.locator("#visits .visit").first
    expect(first).to_contain_text("Northwind")
    expect(first).to_contain_text("scorecard 73")
