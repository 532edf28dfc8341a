"""`visitlens bench --page-visits N`: the web page's time to interactive over N stored visits, and
the time to open one, in headless Chromium against the app served on a free port."""

from __future__ import annotations

import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from sqlalchemy import insert

from api.app import create_app
from evals.kbbench import BATCH, UTTERANCES_PER_VISIT, _synthetic_rows
from knowledge import users
from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.models import Role, Utterance, UtteranceLabel, Visit, VisitResult
from knowledge.settings import Settings

PASSWORD = "page bench password"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
]


def _seed(database_url: str, n_visits: int) -> float:
    """n_visits analysed visits (40 utterances each, need and pain labels) and a signed-in admin,
    written straight to the database; returns the seconds it took."""
    started = time.perf_counter()
    migrate(database_url)
    visits, results, utterances, labels = _synthetic_rows(n_visits * UTTERANCES_PER_VISIT, "page-")
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as db:
        for table, rows in (
            (Visit, visits),
            (VisitResult, results),
            (Utterance, utterances),
            (UtteranceLabel, labels),
        ):
            for i in range(0, len(rows), BATCH):
                db.execute(insert(table), rows[i : i + BATCH])
        users.create(db, username="bench", role=Role.ADMIN, teams=(), password=PASSWORD)
        db.commit()
    engine.dispose()
    return time.perf_counter() - started


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    """The whole app (page and API) on a free local port, in a thread of this process."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _summary(times_ms: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(times_ms)), "max_ms": round(max(times_ms))}


def _measure(url: str, chromium: str, runs: int) -> dict[str, Any]:
    """Per run, a fresh page load of a signed-in browser: ms from navigation start until the visit
    list is rendered and its first visit can be clicked, then ms from that click until the
    visit's recap is shown."""
    from playwright.sync_api import sync_playwright

    tti, open_visit = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        page.fill("#login input[name=username]", "bench")
        page.fill("#login input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#visits .visit")
        for _ in range(runs + 1):  # the first run warms the server and the browser's cache
            page = context.new_page()
            page.goto(url, wait_until="commit")
            first = page.locator("#visits .visit a.open").first
            first.wait_for(state="visible")
            tti.append(page.evaluate("performance.now()"))  # since this page's navigation began
            clicked = page.evaluate("performance.now()")
            first.click()
            page.wait_for_selector("#recap", state="visible")
            open_visit.append(page.evaluate("performance.now()") - clicked)
            page.close()
        browser.close()
    return {"time_to_interactive": _summary(tti[1:]), "open_visit": _summary(open_visit[1:])}


def bench_page(base: Settings, n_visits: int, *, runs: int = 5) -> dict[str, Any]:
    """Seed n_visits into a fresh SQLite database, serve the app and time the page in Chromium."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise RuntimeError("The page benchmark needs Chromium: install the chromium package.")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/page.db"
        settings = base.model_copy(
            update={
                "database_url": url,
                "data_dir": Path(tmp),
                "audio_dir": Path(tmp) / "audio",
                "chroma_url": "http://127.0.0.1:1",  # no search index: the page does not need it
            }
        )
        seed_s = _seed(url, n_visits)
        with served(settings) as page_url:
            timings = _measure(page_url, chromium, runs)
    return {"visits": n_visits, "seed_s": round(seed_s, 1), "runs": runs, **timings}
