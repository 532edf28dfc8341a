"""Insights as pictures in headless Chromium: topics by month, topic by segment, sentiment per
topic and three quotes each, drawn by the vendored chart library; a visit's mood curve with a
point per customer utterance."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.models import Visit
from tests.browser.conftest import CHROMIUM, add_user, launch, screenshot, serve, sign_in
from tests.browser.test_views import NORTHWIND_COACHING, Said, add_visit
from tests.conftest import settings_for

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)"),
]
# (month, segment, what the customer said: text, topic, sentiment, score)
VISITS = [
    (1, "strategic", [("Each invoice costs us an hour to check.", "pain.price", "negative", -0.5)]),
    (1, "basic", [("The forklift parts came ten days late.", "pain.delivery", "negative", -0.6)]),
    (2, "strategic", [("Parts came late twice this month.", "pain.delivery", "negative", -0.7)]),
    (2, "basic", [("Late again, though your driver phoned ahead.", "pain.delivery", "neutral", 0)]),
    (3, "basic", [("The spare kit was late but complete.", "pain.delivery", "positive", 0.3)]),
    (
        3,
        "strategic",
        [("Nobody answers the support line at night.", "pain.service", "negative", -0.8)],
    ),
    (3, "high_potential", [("Shipping slipped by a week.", "pain.delivery", "negative", -0.4)]),
]
MOOD_SCORES = [-0.6, -0.4, -0.7, -0.2, 0.0, 0.1, 0.3, 0.2, 0.5, 0.6]  # a 3:20 visit, every 20 s
DELIVERY = "Pain point: Delivery and supply"  # the label's name, as the charts show it
EMPTY_ANALYSIS = {"summary": "A short visit.", "actions": [], "alerts": [], "curve": []}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("insight-pictures")
    settings = settings_for(tmp, "embedded")
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    for i, (month, segment, said) in enumerate(VISITS):
        visit_id = add_visit(
            sessions,
            title=f"Depot{i} review",
            said=[
                Said("customer", 2.0, 6.0, text, labels=(label,), sentiment=mood, score=score)
                for text, label, mood, score in said
            ],
            analysis=EMPTY_ANALYSIS,
            coaching=None,
            language="en",
        )
        with sessions() as db:
            visit = db.get(Visit, visit_id)
            assert visit is not None
            visit.visit_date, visit.segment = date(2026, month, 5 + i), segment
            db.commit()
    mood = add_visit(
        sessions,
        title="Longhaul mood check",
        said=[
            said
            for k, score in enumerate(MOOD_SCORES)
            for said in (
                Said("rep", 20.0 * k, 20.0 * k + 8, f"Question number {k + 1}?"),
                Said("customer", 20.0 * k + 9, 20.0 * k + 18, f"Answer {k + 1}.", score=score),
            )
        ],
        analysis={
            **EMPTY_ANALYSIS,
            "curve": [{"t": 30.0 + 60 * k, "score": 0, "n": 3} for k in range(4)],
        },
        coaching={**NORTHWIND_COACHING, "duration_s": 200.0},  # none: the page logs a 409
        language="en",
    )
    with sessions() as db:
        visit = db.get(Visit, mood)
        assert visit is not None
        visit.duration_s = 200.0
        db.commit()
    engine.dispose()
    add_user(settings)
    with serve(settings) as url:
        yield {"url": url, "mood": mood}


@pytest.fixture
def page(site: dict[str, str]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        sign_in(page, site["url"])  # before it, /api/auth/me answers 401: expected
        page.on("console", lambda m: console_error(m, errors))
        yield page
        browser.close()
    assert errors == []


def console_error(message: Any, errors: list[str]) -> None:
    """Keep the page's console errors; the browser's own favicon request is not the page's."""
    if message.type == "error" and not message.location["url"].endswith("/favicon.ico"):
        errors.append(f"{message.text} at {message.location['url']}")


def drawn(page: Any, canvas: str) -> dict[str, Any]:
    """What the chart library drew on a canvas: its kind, x labels and datasets."""
    info: dict[str, Any] = page.evaluate(
        f"""(() => {{ const c = Chart.getChart(document.querySelector({canvas!r}));
        return c && {{type: c.config.type, labels: c.data.labels, width: c.width,
          datasets: c.data.datasets.map((d) => ({{label: d.label, data: d.data}}))}}; }})()"""
    )
    return info


def test_insights_draw_topics_by_month_by_segment_and_by_sentiment(
    page: Any, site: dict[str, str]
) -> None:
    from playwright.sync_api import expect

    page.click("nav [data-view=insights]")
    expect(page.locator("#ins-heat")).to_be_visible()
    over_time = drawn(page, "#ins-over-time")
    assert over_time["type"] == "line" and over_time["width"] > 200
    assert over_time["labels"] == ["2026-01", "2026-02", "2026-03"]
    delivery = next(d for d in over_time["datasets"] if d["label"] == DELIVERY)
    assert delivery["data"] == [1, 2, 2]  # visits raising it per month

    sentiment = drawn(page, "#ins-sentiment")
    assert sentiment["type"] == "bar" and sentiment["labels"][0] == DELIVERY
    by_mood = {d["label"]: d["data"][0] for d in sentiment["datasets"]}
    assert by_mood == {"negative": 60, "neutral": 20, "positive": 20}

    heat = page.locator("#ins-heat tr[data-label='pain.delivery'] td.heat-cell")
    expect(heat).to_have_text(["100%", "100%", "25%"])  # of 3 basic, 1 high_potential, 4 strategic
    expect(page.locator("#ins-heat")).to_contain_text("basic (3)")
    quotes = page.locator("#topics tr[data-label='pain.delivery'] .ins-quote")
    expect(quotes).to_have_count(3)
    expect(quotes.first.locator("a[data-open]")).to_contain_text("▶")
    expect(page.locator("#ins-out")).to_contain_text("at least 3 visits")
    screenshot(page, "insights-charts")


def test_the_mood_curve_has_a_point_per_customer_utterance(page: Any, site: dict[str, str]) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site['url']}/#visit={site['mood']}")
    page.click("[data-tab=analysis]")
    points = page.locator("svg.curve circle")
    expect(points).to_have_count(len(MOOD_SCORES))  # not the analysis's four 60 s windows
    expect(points.last).to_have_attribute("data-t", "189")
    screenshot(page, "mood-curve")
