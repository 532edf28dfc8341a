"""The knowledge base end to end: worker indexes into a real Chroma server, the API searches."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, Stack, make_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory, chroma_url: str) -> Iterator[Stack]:
    stack = make_stack(tmp_path_factory.mktemp("kb"), "embedded", chroma_url=chroma_url)
    stack.start_worker()
    ids = []
    for name, lang in (("zh_short.mp3", "zh"), ("en_short.mp3", "en")):
        res = stack.upload(
            FIXTURES / name, language=lang, rep="Lin", segment="strategic", visit_date="2026-03-03"
        )
        ids.append(res.json()["id"])
    for visit_id in ids:
        assert stack.wait(visit_id, timeout=300)["status"] == "done"
    deadline = time.monotonic() + 60  # the API's copy of the index catches up within seconds
    while time.monotonic() < deadline:
        found = stack.client.get("/api/search", params={"q": "ERP", "limit": 50}).json()
        if {r["visit_id"] for r in found.get("results", [])} >= set(ids):
            break
        time.sleep(1)
    yield stack
    stack.stop()
    stack.client.__exit__(None, None, None)


def test_search_finds_the_quote_with_visit_time_and_audio_link(kb: Stack) -> None:
    res = kb.client.get("/api/search", params={"q": "the hotline is too slow to call back"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["results"]
    top = body["results"][0]
    assert {"visit_id", "text", "start", "visit", "audio_url", "highlight"} <= set(top)
    assert top["audio_url"].startswith(f"/api/visits/{top['visit_id']}/audio?u=")
    assert top["visit"]["rep"] == "Lin"


def test_chinese_query_finds_the_english_visit_and_the_reverse(kb: Stack) -> None:
    titles = {v["id"]: v["filename"] for v in kb.client.get("/api/visits").json()["items"]}
    zh = kb.client.get("/api/search", params={"q": "机器卡住了，售后电话回得太慢", "limit": 10})
    assert "en_short.mp3" in {titles[r["visit_id"]] for r in zh.json()["results"]}
    en = kb.client.get("/api/search", params={"q": "spare parts are delivered late", "limit": 10})
    assert "zh_short.mp3" in {titles[r["visit_id"]] for r in en.json()["results"]}


def test_filters_narrow_and_paginate(kb: Stack) -> None:
    res = kb.client.get("/api/search", params={"q": "price", "role": "customer", "limit": 1})
    body = res.json()
    assert all(r["role"] == "customer" for r in body["results"]) and len(body["results"]) <= 1
    past = kb.client.get("/api/search", params={"q": "price", "offset": 500}).json()
    assert past["results"] == [] and past["total"] >= 0
    visits = kb.client.get("/api/search", params={"q": "a visit about price", "kind": "visit"})
    assert visits.status_code == 200 and visits.json()["results"]


def test_search_within_one_visit_returns_only_its_lines(kb: Stack) -> None:
    items = kb.client.get("/api/visits").json()["items"]
    english = next(v["id"] for v in items if v["filename"] == "en_short.mp3")
    res = kb.client.get("/api/search", params={"q": "售后电话回得太慢", "visit": english})
    assert res.status_code == 200, res.text
    hits = res.json()["results"]
    assert hits and {h["visit_id"] for h in hits} == {english}
    unknown = kb.client.get("/api/search", params={"q": "price", "visit": "no-such-visit"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "visit_not_found"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"q": ""}, "empty_query"),
        ({"q": "x" * 10_000}, "query_too_long"),
        ({"q": "price", "label": "need.pizza"}, "invalid_filter"),
        ({"q": "price", "segment": "vip"}, "invalid_filter"),
        ({"q": "price", "kind": "people"}, "invalid_request"),
    ],
)
def test_bad_queries_get_clear_errors(kb: Stack, params: dict[str, str], code: str) -> None:
    res = kb.client.get("/api/search", params=params)
    assert res.status_code == 422, res.text
    assert res.json()["error"]["code"] == code


def test_similar_cases_come_with_reasons(kb: Stack) -> None:
    res = kb.client.post("/api/similar", json={"text": "售后响应太慢了，我们在考虑换供应商"})
    assert res.status_code == 200, res.text
    # the classifier that labelled the visits reads the description (in the customer's words:
    # it learned from customers' turns, and reads "客户说要换供应商" without the churn)
    assert {"pain.service", "risk.churn"} <= set(res.json()["labels"])
    cases = res.json()["results"]
    assert cases and {"visit_id", "score", "reasons", "actions", "summary", "outcome"} <= set(
        cases[0]
    )
    visit_id = cases[0]["visit_id"]
    other = kb.client.get(f"/api/visits/{visit_id}/similar").json()["results"]
    assert [c["visit_id"] for c in other] and visit_id not in [c["visit_id"] for c in other]


def test_similar_refuses_unknown_labels(kb: Stack) -> None:
    res = kb.client.post("/api/similar", json={"text": "slow support", "labels": ["pain.slow"]})
    assert res.status_code == 422
    assert res.json()["error"]["code"] == "invalid_filter"
    assert "pain.service" in res.json()["error"]["message"]


def test_search_answers_503_when_the_index_is_unreachable(tmp_path: Path) -> None:
    stack = make_stack(tmp_path, "embedded", chroma_url="http://127.0.0.1:1")
    res = stack.client.get("/api/search", params={"q": "price"})
    stack.client.__exit__(None, None, None)
    assert res.status_code == 503
    assert res.json()["error"]["code"] == "index_unavailable"


def test_deleted_visit_leaves_search(kb: Stack) -> None:
    res = kb.upload(FIXTURES / "en_one_speaker.mp3", language="en")
    visit_id = res.json()["id"]
    assert kb.wait(visit_id, timeout=300)["status"] == "done"
    assert kb.client.delete(f"/api/visits/{visit_id}").status_code == 204
    hits = kb.client.get("/api/search", params={"q": "night shift training", "limit": 50}).json()
    assert visit_id not in {r["visit_id"] for r in hits["results"]}
