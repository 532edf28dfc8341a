"""Two API processes on one database and Chroma: a delete through one leaves the other's search;
visits indexed before keyword search are indexed again."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete

from api.app import create_app
from knowledge import keyword_index
from knowledge.case_store import CaseProfileRow
from knowledge.db import make_engine, make_sessionmaker, session_scope
from knowledge.search_tables import SearchDocument
from tests.conftest import make_stack
from workers.consistency import find, repair

pytestmark = [pytest.mark.integration]


def _visits_total(client: TestClient, query: str) -> int | None:
    """How many visits the API process's index holds for the query (None while warming up)."""
    res = client.get("/api/search", params={"q": query, "kind": "visit"})
    return res.json()["total"] if res.status_code == 200 else None


def _eventually(check: Callable[[], bool], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def test_a_visit_deleted_through_one_api_process_leaves_the_others(
    tmp_path: Path, chroma_url: str
) -> None:
    stack = make_stack(tmp_path, "embedded", chroma_url=chroma_url)
    other = TestClient(create_app(stack.settings))
    other.__enter__()
    other.headers["Authorization"] = stack.client.headers["Authorization"]
    try:
        stack.start_worker()
        transcript = tmp_path / "visit.txt"
        transcript.write_text(
            "Rep: How are the forklifts doing this quarter?\n"
            "Customer: The hydraulic pumps on the forklifts leak oil every week.\n",
            encoding="utf-8",
        )
        res = stack.upload(transcript, language="en")
        visit_id = res.json()["id"]
        assert stack.wait(visit_id, timeout=120)["status"] == "done"
        query = "hydraulic pumps leak oil"
        for client in (stack.client, other):
            assert _eventually(lambda c=client: _visits_total(c, query) == 1)

        assert stack.client.delete(f"/api/visits/{visit_id}").status_code == 204
        assert _visits_total(stack.client, query) == 0  # at once where it was deleted
        assert _eventually(lambda: _visits_total(other, query) == 0, timeout=15)
        similar = other.post("/api/similar", json={"text": "pumps leak oil"}).json()
        assert similar["results"] == []
    finally:
        stack.stop()
        other.__exit__(None, None, None)
        stack.client.__exit__(None, None, None)


def test_visits_indexed_before_keyword_search_are_indexed_again_by_the_hourly_repair(
    tmp_path: Path, chroma_url: str
) -> None:
    stack = make_stack(tmp_path, "embedded", chroma_url=chroma_url)
    try:
        stack.start_worker()
        transcript = tmp_path / "visit.txt"
        transcript.write_text(
            "Rep: How is the packaging line?\n"
            "Customer: The carton sealer jams twice a shift and nobody comes to fix it.\n",
            encoding="utf-8",
        )
        visit_id = stack.upload(transcript, language="en").json()["id"]
        assert stack.wait(visit_id, timeout=120)["status"] == "done"
        engine = make_engine(stack.settings.database_url)
        sessions = make_sessionmaker(engine)
        with session_scope(sessions) as db:  # as a database from before migrations 0008-9 is
            keyword_index.reset(db)
            db.execute(delete(CaseProfileRow))
        query = {"q": "carton sealer jams", "mode": "bm25"}
        assert stack.client.get("/api/search", params=query).json()["total"] == 0
        assert find(stack.settings, sessions, older_than_s=0).indexed_without_keywords == {visit_id}
        assert repair(stack.settings, sessions, older_than_s=3600) == 1
        found = stack.client.get("/api/search", params=query).json()
        assert visit_id in {r["visit_id"] for r in found["results"]}
        with sessions() as db:
            assert db.get(CaseProfileRow, visit_id) is not None
        with session_scope(sessions) as db:  # as a database from before migration 0010 is
            db.execute(delete(SearchDocument))
        assert find(stack.settings, sessions, older_than_s=0).indexed_without_keywords == {visit_id}
        assert repair(stack.settings, sessions, older_than_s=3600) == 1
        with sessions() as db:
            assert db.get(SearchDocument, (visit_id, "visit")) is not None
        engine.dispose()
    finally:
        stack.stop()
        stack.client.__exit__(None, None, None)
