"""Races and faults: identical uploads at once, vectors left by a deletion mid-indexing, formula
cells in exports, oversized bodies refused up front, health of every part."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from alembic import command
from fastapi.testclient import TestClient

from api.app import create_app
from knowledge.db import SchemaBehind, make_engine, make_sessionmaker, migrate
from knowledge.search_types import UtteranceDoc, VisitDoc
from knowledge.vector_index import connect
from tests.browser.conftest import serve, wait_for_search
from tests.conftest import FIXTURES, make_user, settings_for
from tests.integration.test_migrations import alembic_config
from workers.index import reconcile

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    overrides: dict[str, Any] = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_database")
    settings = settings_for(tmp_path, "embedded", **overrides)
    migrate(settings.database_url)
    token = make_user(settings, f"racer-{request.param}")
    with serve(settings) as url:
        yield {"url": url, "auth": {"Authorization": f"Bearer {token}"}, "settings": settings}


@pytest.fixture(params=["sqlite", "postgresql"])
def served_with_index(
    request: pytest.FixtureRequest, tmp_path: Path, chroma_url: str
) -> Iterator[dict[str, Any]]:
    overrides: dict[str, Any] = {"chroma_url": chroma_url}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_database")
    settings = settings_for(tmp_path, "embedded", **overrides)
    migrate(settings.database_url)
    token = make_user(settings, f"busy-{request.param}")
    auth = {"Authorization": f"Bearer {token}"}
    with serve(settings) as url:
        wait_for_search(url, auth)
        yield {"url": url, "auth": auth}


def test_identical_uploads_at_once_give_one_visit_and_leave_no_file(
    served: dict[str, Any],
) -> None:
    audio = (FIXTURES / "en_short.mp3").read_bytes()
    answers: list[httpx.Response] = []

    def upload() -> None:
        answers.append(
            httpx.post(
                f"{served['url']}/api/visits",
                files={"file": ("same.mp3", audio)},
                headers=served["auth"],
                timeout=60,
            )
        )

    threads = [threading.Thread(target=upload) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted({a.status_code for a in answers}) in ([200, 202], [202])
    assert len({a.json()["id"] for a in answers}) == 1
    stored = [p for p in served["settings"].audio_dir.rglob("*") if p.is_file()]
    assert len(stored) == 1  # only the one visit's recording, nothing staged or orphaned


def test_fifty_uploads_with_a_hundred_searches_lose_and_double_nothing(
    served_with_index: dict[str, Any],
) -> None:
    served = served_with_index
    from concurrent.futures import ThreadPoolExecutor

    def upload(i: int) -> httpx.Response:
        transcript = f'[{{"start": 0, "end": 4, "text": "visit {i}: the pallets came late"}}]'
        return httpx.post(
            f"{served['url']}/api/visits",
            files={"file": (f"v{i}.json", transcript.encode())},
            data={"customer": f"Customer {i}"},
            headers=served["auth"],
            timeout=120,
        )

    def search(i: int) -> httpx.Response:
        return httpx.get(
            f"{served['url']}/api/search",
            params={"q": f"pallets late {i}"},
            headers=served["auth"],
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        uploads = [pool.submit(upload, i) for i in range(50)]
        searches = [pool.submit(search, i) for i in range(100)]
        answers = [f.result() for f in uploads + searches]
    assert all(a.status_code < 500 for a in answers), [
        a.text for a in answers if a.status_code >= 500
    ]
    ids = [f.result().json()["id"] for f in uploads]
    assert all(f.result().status_code == 202 for f in uploads)
    assert len(set(ids)) == 50  # none lost, none doubled
    listed = httpx.get(
        f"{served['url']}/api/visits", params={"limit": 200}, headers=served["auth"], timeout=60
    ).json()["items"]
    mine = [v["id"] for v in listed if v["id"] in set(ids)]  # the database may hold others'
    assert sorted(mine) == sorted(ids)


def test_reconciliation_removes_vectors_whose_visit_is_gone(
    tmp_path: Path, chroma_url: str
) -> None:
    settings = settings_for(tmp_path, "embedded", chroma_url=chroma_url)
    migrate(settings.database_url)
    index = connect(chroma_url)
    utterance = UtteranceDoc(visit_id="ghost", index=0, start=0, end=1, text="left behind")
    index.upsert_utterances([utterance], np.ones((1, 512), dtype=np.float32))
    index.upsert_visit(VisitDoc(visit_id="ghost2"), np.ones(512, dtype=np.float32))
    engine = make_engine(settings.database_url)
    try:
        assert reconcile(settings, make_sessionmaker(engine)) == 2
        assert reconcile(settings, make_sessionmaker(engine)) == 0
    finally:
        engine.dispose()
    assert not {"ghost", "ghost2"} & index.visit_ids()


def test_export_cells_that_would_run_as_formulas_are_escaped(client: TestClient) -> None:
    title = '=HYPERLINK("http://evil.example","click")'
    assert client.post("/api/ledger", json={"title": title, "owner": "@boss"}).status_code == 201
    exported = client.get("/api/ledger", params={"format": "csv"}).text
    assert "'=HYPERLINK" in exported and "'@boss" in exported
    assert "\n=" not in exported and ",=" not in exported


def test_a_body_over_the_limit_is_refused_before_it_is_read(api: TestClient) -> None:
    res = api.post(
        "/api/visits",
        content=b"x" * (3 * 1024 * 1024),
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert (res.status_code, res.json()["error"]["code"]) == (413, "file_too_large")


def test_health_reports_the_broker(client: TestClient) -> None:
    parts = client.get("/api/health").json()["parts"]
    assert parts["broker"] == "ok" and parts["database"] == "ok"


def test_a_malformed_document_in_the_index_is_skipped_when_read(chroma_url: str) -> None:
    index = connect(chroma_url)
    good = UtteranceDoc(visit_id="fine", index=0, start=0, end=1, text="the pumps leak")
    index.upsert_utterances([good], np.ones((1, 512), dtype=np.float32))
    broken = index._col(index._names[0])  # noqa: SLF001 (a row as a crash or old version left it)
    broken.upsert(
        ids=["broken:0"],
        embeddings=[[0.5] * 512],
        documents=["no times"],
        metadatas=[{"visit_id": "broken"}],
    )
    assert list(index.stored("utterance", ["fine:0", "broken:0"])) == ["fine:0"]
    index.delete_visit("fine")
    index.delete_visit("broken")


def test_the_api_does_not_start_on_a_database_behind_its_schema(tmp_path: Path) -> None:
    """Code upgraded before `visitlens migrate`: a sentence at start, not a 500 per search."""
    settings = settings_for(tmp_path, "embedded")
    migrate(settings.database_url)
    command.downgrade(alembic_config(settings.database_url), "0011")
    with (
        pytest.raises(SchemaBehind, match="run `visitlens migrate`"),
        TestClient(create_app(settings)),
    ):
        pass
