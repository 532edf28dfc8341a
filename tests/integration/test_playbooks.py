"""Objection playbooks through the API: topics, grouped answers ranked by what followed,
trainers' curation, suggestions in Chinese and English, and each caller's scope."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from knowledge import playbooks
from knowledge.db import migrate
from knowledge.models import Role, User, Utterance, Visit, VisitResult
from knowledge.vector_index import shared
from nlp.embed import load_embedder
from tests.conftest import make_user, settings_for, signed_in

pytestmark = pytest.mark.integration

PRICE = "pain.price"
SERVICE_EN = "Our fee includes on-site service within 48 hours, so the total cost is lower."
SERVICE_ZH = "我们的服务费包含48小时上门响应，算下来总成本其实更低。"
DISCOUNT = "I can give you five percent off if you sign this week."


def utterance(idx: int, role: str, text: str, score: float, labels: tuple[str, ...] = ()) -> Any:
    sentiment = "positive" if score > 0.2 else "negative" if score < -0.2 else "neutral"
    return dict(
        idx=idx,
        start=idx * 10.0,
        end=idx * 10.0 + 9.0,
        role=role,
        text=text,
        sentiment=sentiment,
        sentiment_score=score,
        labels=[{"id": x, "confidence": 0.9} for x in labels if not x.startswith("risk.")],
        risk=[{"id": x, "confidence": 0.9} for x in labels if x.startswith("risk.")],
    )


def add_visit(
    client: TestClient, owner_id: int, lines: list[Any], *, outcome: str, action_at: float | None
) -> str:
    """A visit analysed as the pipeline would leave it, its answers stored as indexing does."""
    visit_id = uuid.uuid4().hex
    app: Any = client.app
    report = {
        "actions": [{"owner": "rep", "text": "send", "start": action_at}] if action_at else []
    }
    with app.state.sessionmaker() as db:
        db.add(
            Visit(
                id=visit_id,
                title="Renewal call",
                content_sha256=visit_id * 2,
                status="done",
                outcome=outcome,
                owner_id=owner_id,
                warnings=[],
                contacts=["Dan"],
            )
        )
        db.flush()
        rows = [Utterance(visit_id=visit_id, corrected=False, language="en", **x) for x in lines]
        db.add_all(rows)
        db.add(VisitResult(visit_id=visit_id, kind="analysis", data=report))
        db.flush()
        answers = playbooks.answers_of_visit(rows, report)
        embedder = load_embedder(app.state.settings.embedding_model)
        objection_vectors = embedder.encode([a.objection_text for a in answers])
        playbooks.replace_answers(
            db,
            visit_id=visit_id,
            answers=answers,
            objection_vectors=objection_vectors,
            answer_vectors=embedder.encode([a.text for a in answers]),
        )
        db.commit()
    keys = [(a.label, a.answer_idx) for a in answers]
    shared(app.state.settings.chroma_url).upsert_objections(visit_id, keys, objection_vectors)
    return visit_id


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, chroma_url: str
) -> Iterator[TestClient]:
    """The API alone on SQLite and on PostgreSQL, with a Chroma server for the objections."""
    overrides: dict[str, Any] = {"chroma_url": chroma_url}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_database")
    settings = settings_for(tmp_path_factory.mktemp(request.param), "embedded", **overrides)
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as c:
        yield signed_in(c, settings)


def price_visit(client: TestClient, owner_id: int, answer: str, *, good: bool, zh: bool) -> str:
    objection = (
        "你们服务费比冷云贵一倍，Dan说不划算。"
        if zh
        else "Your fee is twice Coldcloud's, Dan says."
    )
    reply = ("这样的话可以，你发个对比给我。", 0.6) if good else ("还是太贵了。", -0.7)
    if not zh:
        reply = ("Fair enough, send me the comparison.", 0.6) if good else ("Still too much.", -0.7)
    lines = [
        utterance(0, "rep", "How has the first month been?", 0.0),
        utterance(1, "customer", objection, -0.6, (PRICE, "risk.churn")),
        utterance(2, "rep", answer, 0.1),
        utterance(3, "customer", reply[0], reply[1]),
    ]
    return add_visit(
        client, owner_id, lines, outcome="won" if good else "lost", action_at=35.0 if good else None
    )


@pytest.fixture(scope="module")
def site(client: TestClient) -> dict[str, Any]:
    app: Any = client.app
    settings = app.state.settings
    tag = uuid.uuid4().hex[:6]
    tokens = {
        name: make_user(settings, f"{name}-{tag}", role)
        for name, role in (
            ("ann", Role.REP),
            ("bo", Role.REP),
            ("tess", Role.TRAINER),
            ("pia", Role.PRODUCT),
        )
    }
    with app.state.sessionmaker() as db:
        ids = {u.username.split("-")[0]: u.id for u in db.scalars(select(User))}
    visits = {
        "ann_en": price_visit(client, ids["ann"], SERVICE_EN, good=True, zh=False),
        "ann_en2": price_visit(client, ids["ann"], SERVICE_EN + " ", good=True, zh=False),
        "ann_zh": price_visit(client, ids["ann"], SERVICE_ZH, good=True, zh=True),
        "bo_en": price_visit(client, ids["bo"], DISCOUNT, good=False, zh=False),
    }
    return {"tokens": tokens, "visits": visits}


def as_(site: dict[str, Any], name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {site['tokens'][name]}"}


def assert_error(res: Any, status: int, code: str) -> None:
    assert res.status_code == status, res.text
    assert res.json()["error"]["code"] == code
    assert len(res.json()["error"]["message"]) > 10


def test_list_counts_answered_objections_per_topic_with_the_best_answer(
    client: TestClient, site: dict[str, Any]
) -> None:
    items = {x["topic"]: x for x in client.get("/api/playbooks").json()["items"]}
    assert "pain.price" in items and "risk.churn" in items and "need.price" not in items
    price = items[PRICE]
    assert price["answers"] >= 4 and price["best"]["outcome"] == "won"
    assert price["best"]["followed_by_positive"] and price["best"]["audio_url"].startswith(
        f"/api/visits/{price['best']['visit_id']}/audio"
    )
    assert items["pain.training"]["answers"] == 0 and items["pain.training"]["best"] is None


def test_topic_groups_near_identical_answers_best_first(
    client: TestClient, site: dict[str, Any]
) -> None:
    body = client.get(f"/api/playbooks/{PRICE}").json()
    first = body["groups"][0]
    assert first["answer"]["text"].strip() == SERVICE_EN
    assert first["count"] == 2 and first["positive_share"] == 1.0 and first["won_share"] == 1.0
    assert first["answer"]["start"] == 20.0 and first["answer"]["end"] == 29.0
    texts = [g["answer"]["text"] for g in body["groups"]]
    assert texts.index(DISCOUNT) > texts.index(SERVICE_ZH)
    assert body["message"] is None


def test_unknown_topic_is_not_found_and_an_empty_one_says_no_answers_yet(
    client: TestClient, site: dict[str, Any]
) -> None:
    assert_error(client.get("/api/playbooks/pain.weather"), 404, "topic_not_found")
    assert_error(client.get("/api/playbooks/need.price"), 404, "topic_not_found")
    res = client.get("/api/playbooks/pain.compliance")
    assert res.status_code == 200
    assert res.json()["groups"] == [] and res.json()["message"] == "no answers yet"


def test_a_rep_sees_only_answers_from_their_own_visits(
    client: TestClient, site: dict[str, Any]
) -> None:
    bo = client.get(f"/api/playbooks/{PRICE}", headers=as_(site, "bo")).json()
    assert [g["answer"]["text"] for g in bo["groups"]] == [DISCOUNT]
    res = client.post(
        "/api/playbooks/suggest", json={"text": "Too expensive"}, headers=as_(site, "bo")
    )
    assert {g["answer"]["visit_id"] for g in res.json()["groups"]} == {site["visits"]["bo_en"]}
    ann = client.get("/api/playbooks", headers=as_(site, "ann")).json()["items"]
    assert next(x for x in ann if x["topic"] == PRICE)["answers"] == 3


def test_trainers_read_masked_quotes_and_product_hears_no_audio(
    client: TestClient, site: dict[str, Any]
) -> None:
    body = client.get(f"/api/playbooks/{PRICE}", headers=as_(site, "tess")).json()
    objections = [g["answer"]["objection"] for g in body["groups"]]
    assert objections and not any("Dan" in o for o in objections)
    pia = client.get(f"/api/playbooks/{PRICE}", headers=as_(site, "pia")).json()
    assert pia["groups"] and all(g["answer"]["audio_url"] is None for g in pia["groups"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [("你们服务费比冷云贵一倍", (SERVICE_ZH, SERVICE_EN)), ("Your price is double", (SERVICE_EN,))],
)
def test_suggest_answers_a_customer_sentence_in_either_language(
    client: TestClient, site: dict[str, Any], text: str, expected: tuple[str, ...]
) -> None:
    res = client.post("/api/playbooks/suggest", json={"text": text})
    assert res.status_code == 200, res.text
    body = res.json()
    assert PRICE in body["topics"]
    assert body["groups"][0]["answer"]["text"].strip() in expected
    assert body["groups"][0]["answer"]["similarity"] is not None
    assert_error(client.post("/api/playbooks/suggest", json={"text": "  "}), 422, "empty_text")


def test_trainers_pin_hide_and_note_answers_and_reps_may_not(
    client: TestClient, site: dict[str, Any]
) -> None:
    bo_visit = site["visits"]["bo_en"]
    path = f"/api/playbooks/{PRICE}/answers/{bo_visit}/2"
    assert_error(
        client.put(path, json={"pinned": True}, headers=as_(site, "ann")), 403, "forbidden"
    )
    assert_error(
        client.put(path, json={"pinned": True}, headers=as_(site, "pia")), 403, "forbidden"
    )
    res = client.put(
        path, json={"pinned": True, "note": "Only after value"}, headers=as_(site, "tess")
    )
    assert res.status_code == 200, res.text
    first = client.get(f"/api/playbooks/{PRICE}").json()["groups"][0]
    assert first["pinned"] and first["answer"]["text"] == DISCOUNT
    assert first["answer"]["note"] == "Only after value"
    client.put(path, json={"pinned": False, "hidden": True}, headers=as_(site, "tess"))
    shown = client.get(f"/api/playbooks/{PRICE}").json()["groups"]
    assert DISCOUNT not in [g["answer"]["text"] for g in shown]
    res = client.post("/api/playbooks/suggest", json={"text": "five percent off?", "limit": 20})
    assert DISCOUNT not in [g["answer"]["text"] for g in res.json()["groups"]]
    curated = client.get(f"/api/playbooks/{PRICE}?hidden=true", headers=as_(site, "tess")).json()
    assert DISCOUNT in [g["answer"]["text"] for g in curated["groups"]]
    res = client.get(f"/api/playbooks/{PRICE}?hidden=true", headers=as_(site, "bo"))
    assert_error(res, 403, "forbidden")
    assert_error(client.put(path, json={}, headers=as_(site, "tess")), 422, "empty_change")
    missing = f"/api/playbooks/{PRICE}/answers/{bo_visit}/7"
    assert_error(client.put(missing, json={"hidden": True}), 404, "answer_not_found")
    client.put(path, json={"hidden": False, "note": ""}, headers=as_(site, "tess"))
