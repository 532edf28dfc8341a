"""Deleting a visit, every visit of a customer, or the visits past the retention period
removes them from everywhere: database, recordings, Chroma, search, insights, library, ledger
and exports; the deletions themselves stay in the audit log."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from knowledge.db import make_engine, make_sessionmaker
from knowledge.models import (
    Clip,
    LedgerEntry,
    SegmentRow,
    Utterance,
    UtteranceLabel,
    Visit,
    VisitResult,
)
from knowledge.vector_index import connect
from tests.conftest import FIXTURES, Stack, make_stack
from workers import retention
from workers.celery_app import make_celery

pytestmark = [pytest.mark.integration, pytest.mark.slow]
SAID = (
    "Rep: How are the blast freezers holding up?\n"
    "Customer: The blast freezers lose temperature every weekend and the seafood spoils.\n"
)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, chroma_url: str) -> Iterator[Stack]:
    stack = make_stack(tmp_path_factory.mktemp("erase"), "embedded", chroma_url=chroma_url)
    stack.start_worker()
    yield stack
    stack.stop()
    stack.client.__exit__(None, None, None)


def _upload(kb: Stack, path: Path, customer: str) -> str:
    res = kb.upload(path, customer=customer, language="en")
    assert res.status_code == 202, res.text
    visit_id: str = res.json()["id"]
    assert kb.wait(visit_id, timeout=300)["status"] == "done"
    return visit_id


def _searchable(kb: Stack, visit_id: str, query: str) -> bool:
    found = kb.client.get("/api/search", params={"q": query, "limit": 50}).json()
    return visit_id in {r["visit_id"] for r in found.get("results", [])}


def _rows(kb: Stack, visit_id: str) -> dict[str, int]:
    engine = make_engine(kb.settings.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            return {
                table.__tablename__: db.scalar(
                    select(func.count()).select_from(table).where(table.visit_id == visit_id)
                )
                or 0
                for table in (SegmentRow, Utterance, UtteranceLabel, VisitResult, LedgerEntry, Clip)
            } | {"visits": db.scalar(select(func.count()).where(Visit.id == visit_id)) or 0}
    finally:
        engine.dispose()


def test_deleting_a_customer_removes_their_visits_from_everywhere(
    kb: Stack, tmp_path: Path
) -> None:
    transcript = tmp_path / "frostline.txt"
    transcript.write_text(SAID, encoding="utf-8")
    spoken = _upload(kb, transcript, "Frostline")
    recorded = _upload(kb, FIXTURES / "en_short.mp3", "Frostline")
    deadline = time.monotonic() + 60
    while not _searchable(kb, spoken, "blast freezers lose temperature"):
        assert time.monotonic() < deadline, "never searchable"
        time.sleep(1)
    c = kb.client
    assert c.post("/api/ledger", json={"visit_id": spoken, "title": "send a technician"}).is_success
    assert c.post("/api/library/clips", json={"visit_id": spoken, "start": 0, "end": 3}).is_success
    assert _rows(kb, spoken)["clips"] == 1
    stored = [p for p in kb.settings.audio_dir.rglob(f"{recorded}*") if p.is_file()]
    assert stored

    res = c.delete("/api/customers/Frostline/visits")
    assert res.json() == {"deleted": 2}
    for visit_id in (spoken, recorded):
        assert set(_rows(kb, visit_id).values()) == {0}
        assert c.get(f"/api/visits/{visit_id}").status_code == 404
        docs, _ = connect(kb.settings.chroma_url).visit_documents(visit_id)
        assert docs == []
    assert not any(p.exists() for p in stored)
    assert not _searchable(kb, spoken, "blast freezers lose temperature")
    everywhere = [
        c.get("/api/insights/pain-points").text,
        c.get("/api/library").text,
        c.get("/api/ledger", params={"format": "csv"}).text,
        c.post("/api/similar", json={"text": "freezers lose temperature"}).text,
    ]
    assert not any(spoken in text or recorded in text for text in everywhere)
    deletions = c.get("/api/audit", params={"action": "delete"}).json()
    assert {e["object_id"] for e in deletions} >= {spoken, recorded}
    again = c.delete("/api/customers/Frostline/visits")
    assert (again.status_code, again.json()["error"]["code"]) == (404, "customer_not_found")


def test_visits_past_the_retention_period_are_deleted_by_the_scheduled_task(
    kb: Stack, tmp_path: Path
) -> None:
    transcript = tmp_path / "old.txt"
    transcript.write_text(SAID.replace("weekend", "night"), encoding="utf-8")
    visit_id = _upload(kb, transcript, "Oldco")
    engine = make_engine(kb.settings.database_url)
    sessions = make_sessionmaker(engine)
    forget = connect(kb.settings.chroma_url).delete_visit
    try:
        kept = retention.expire(
            kb.settings.model_copy(update={"retention_days": 30}), sessions, forget
        )
        assert kept == 0 and _rows(kb, visit_id)["visits"] == 1
        assert retention.expire(kb.settings, sessions, forget) == 0  # no period: nothing goes
        gone = retention.expire(
            kb.settings.model_copy(update={"retention_days": 0}), sessions, forget
        )
        assert gone >= 1 and _rows(kb, visit_id)["visits"] == 0
    finally:
        engine.dispose()
    events = kb.client.get("/api/audit", params={"object_id": visit_id}).json()
    assert events[0]["username"] == "retention" and "retention" in events[0]["detail"]
    schedule: dict[str, Any] = make_celery(kb.settings).conf.beat_schedule
    assert schedule["expire-visits"]["task"] == "maintenance.expire_visits"
