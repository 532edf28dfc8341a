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
    commitment.locator("button.play").click()
    wait_until(page, "!document.querySelector('#player').paused")
    commitment.locator("[data-ledger]").click()
    expect(commitment).to_contain_text("in ledger")
    screenshot(page, "recap")


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

    page.locator("#actions [data-ledger]").click()  # the recap may have sent it already
    expect(page.locator("#actions")).to_contain_text(re.compile("in ledger|already"))

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
