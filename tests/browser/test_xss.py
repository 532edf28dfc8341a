"""The stored-XSS probe: transcript text, titles, names, notes and ledger entries carrying
<script> or onerror= show as text on every view and run nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from knowledge.db import make_engine, make_sessionmaker, migrate
from tests.browser.conftest import CHROMIUM, add_user, launch, serve, sign_in
from tests.browser.test_views import Said, add_visit
from tests.conftest import settings_for
from workers.index import index_visit

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs it)"),
]
SCRIPT = "<script>window.__xss = 1</script>"
IMG = '<img src=x onerror="window.__xss = 1">'
EVIL = f"{SCRIPT}{IMG}"
SAID = [
    Said("rep", 0.0, 2.0, f"Hello {IMG} how are the pallets?"),
    Said(
        "customer",
        2.5,
        6.0,
        f"The pallets arrive late every week {SCRIPT} and it hurts us {IMG}",
        labels=("pain.delivery",),
        sentiment="negative",
        score=-0.6,
    ),
]
ANALYSIS = {
    "summary": f"Summary {EVIL}",
    "label_counts": {"pain.delivery": 1},
    "sentiment_score": -0.3,
    "sentiment_counts": {"negative": 1, "neutral": 1},
    "curve": [],
    "alerts": [{"label": "risk.churn", "confidence": 0.8, "idx": 1, "start": 2.5, "quote": EVIL}],
    "actions": [{"owner": "rep", "text": f"Call {EVIL}", "due": None, "start": 3.0, "quote": EVIL}],
}
COACHING = {"talk_ratio": 0.4, "questions": [], "scorecard": {"total": 50.0, "items": []}}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, chroma_url: str) -> Iterator[dict[str, str]]:
    tmp = tmp_path_factory.mktemp("xss")
    settings = settings_for(tmp, "embedded", chroma_url=chroma_url)
    migrate(settings.database_url)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    visit_id = add_visit(
        sessions,
        title=f"{EVIL} visit",
        said=SAID,
        analysis=ANALYSIS,
        coaching=COACHING,
        language="en",
    )
    index_visit(settings, sessions, visit_id)
    engine.dispose()
    token = add_user(settings, display_name=f"Admin {IMG}")
    with TestClient(create_app(settings)) as api:
        api.headers["Authorization"] = f"Bearer {token}"
        api.patch(f"/api/visits/{visit_id}", json={"rep": EVIL, "customer": EVIL})
        api.post("/api/ledger", json={"visit_id": visit_id, "title": EVIL, "owner": EVIL})
        playlist = api.post("/api/library/playlists", json={"name": EVIL}).json()
        api.post(
            "/api/library/clips",
            json={
                "visit_id": visit_id,
                "start": 2.5,
                "end": 6.0,
                "note": EVIL,
                "tags": [EVIL],
                "playlist_id": playlist["id"],
            },
        )
    with serve(settings) as url:
        yield {"url": url, "visit": visit_id}


def test_stored_markup_shows_as_text_on_every_view(site: dict[str, str]) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(page, site["url"])
        expect(page.locator("#who-name")).to_contain_text("<img src=x")
        expect(page.locator(".visit").first).to_contain_text("<script>")
        page.goto(f"{site['url']}/#visit={site['visit']}")
        expect(page.locator("#detail")).to_contain_text("<script>window.__xss = 1</script>")
        for tab in ("recap", "transcript", "analysis", "coaching", "similar"):
            page.click(f'#detail [data-tab="{tab}"]')
            page.wait_for_timeout(300)
        page.fill("#q", "pallets arrive late")
        page.click("#search button[type=submit]")
        page.wait_for_timeout(800)
        for view in ("insights", "ledger", "library"):
            page.click(f'nav [data-view="{view}"]')
            page.wait_for_timeout(600)
            if view in ("ledger", "library"):
                expect(page.locator("#page")).to_contain_text("onerror=")
        assert page.evaluate("window.__xss") is None
        injected = "img[src=x], #page script, #detail script, #visits script, header script"
        assert page.locator(injected).count() == 0  # no element was made from stored text
        assert dialogs == []
        browser.close()
