"""The hand-made bad-input set: each case answers 4xx in the error shape, on SQLite and on
PostgreSQL, and leaves the service working (no 500, nothing half-stored)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration
HUGE = str(2**70)


def _upload(client: TestClient, name: str, body: bytes | str, **fields: str) -> Any:
    data = body.encode() if isinstance(body, str) else body
    return client.post("/api/visits", files={"file": (name, data)}, data=fields)


def _json(client: TestClient, method: str, path: str, raw: str) -> Any:
    return client.request(
        method, path, content=raw.encode(), headers={"Content-Type": "application/json"}
    )


CASES: list[tuple[str, Any]] = [
    (
        "infinite end time",
        lambda c: _upload(c, "t.json", '[{"start":0,"end":Infinity,"text":"hi"}]'),
    ),
    ("NaN start time", lambda c: _upload(c, "t.json", '[{"start":NaN,"end":1,"text":"hi"}]')),
    ("start is text", lambda c: _upload(c, "t.json", '[{"start":"abc","end":1,"text":"hi"}]')),
    ("start is null", lambda c: _upload(c, "t.json", '[{"start":null,"end":1,"text":"hi"}]')),
    ("times beyond a day", lambda c: _upload(c, "t.json", '[{"start":0,"end":1e300,"text":"hi"}]')),
    ("JSON nested deep", lambda c: _upload(c, "t.json", "[" * 100_000)),
    ("SRT cue without an end", lambda c: _upload(c, "t.srt", "1\n00:00:01,000 -->\nhello\n")),
    ("NUL in a transcript", lambda c: _upload(c, "t.txt", "Customer: bad\x00 bytes\n")),
    ("lone surrogate in JSON text", lambda c: _upload(c, "t.json", '[{"text":"x\\ud800y"}]')),
    ("speakers as a superscript", lambda c: _upload(c, "t.txt", "Customer: hi\n", speakers="²")),
    ("a title too long", lambda c: _upload(c, "t.txt", "Customer: long\n", title="x" * 5000)),
    ("a rep name with NUL", lambda c: _upload(c, "t.txt", "Customer: nul\n", rep="A\x00B")),
    ("huge ledger id", lambda c: c.patch(f"/api/ledger/{HUGE}", json={"note": "x"})),
    ("huge token id", lambda c: c.delete(f"/api/tokens/{HUGE}")),
    ("huge user id", lambda c: c.patch(f"/api/users/{HUGE}", json={"disabled": True})),
    ("huge playlist id", lambda c: c.delete(f"/api/library/playlists/{HUGE}")),
    ("huge clip id", lambda c: c.delete(f"/api/library/clips/{HUGE}")),
    ("huge offset", lambda c: c.get("/api/visits", params={"offset": HUGE})),
    ("huge ledger offset", lambda c: c.get("/api/ledger", params={"offset": HUGE})),
    (
        "huge utterance index",
        lambda c: c.put(f"/api/visits/v/utterances/{HUGE}/labels", json={"labels": []}),
    ),
    ("huge audit offset", lambda c: c.get("/api/audit", params={"offset": HUGE})),
    (
        "year one date",
        lambda c: c.get("/api/insights/pain-points", params={"date_to": "0001-01-01"}),
    ),
    (
        "year one date from",
        lambda c: c.get("/api/insights/needs", params={"date_from": "0001-01-01"}),
    ),
    ("NUL in a query", lambda c: c.get("/api/visits", params={"q": "a\x00b"})),
    ("NUL in a search", lambda c: c.get("/api/search", params={"q": "a\x00b"})),
    ("NUL in JSON text", lambda c: c.post("/api/analyze/text", json={"texts": ["a\x00b"]})),
    (
        "lone surrogate in JSON",
        lambda c: _json(c, "POST", "/api/analyze/text", '{"texts":["\\ud800"]}'),
    ),
    ("JSON body nested deep", lambda c: _json(c, "POST", "/api/similar", "[" * 100_000)),
    ("NUL in a ledger title", lambda c: c.post("/api/ledger", json={"title": "a\x00b"})),
    ("NUL in a playlist name", lambda c: c.post("/api/library/playlists", json={"name": "a\x00"})),
    ("ledger title too long", lambda c: c.post("/api/ledger", json={"title": "x" * 100_000})),
    ("superscript expiry", lambda c: c.get("/api/visits/v1/audio?u=1&expires=²&sig=ab")),
    ("superscript user", lambda c: c.get("/api/visits/v1/audio?u=²&expires=1&sig=ab")),
]


@pytest.mark.parametrize(("name", "send"), CASES, ids=[n for n, _ in CASES])
def test_bad_input_gets_a_4xx_in_the_error_shape(client: TestClient, name: str, send: Any) -> None:
    res = send(client)
    assert 400 <= res.status_code < 500, (name, res.status_code, res.text[:300])
    assert set(res.json()["error"]) == {"code", "message"}
    assert client.get("/api/health").status_code == 200
    assert client.get("/api/visits").status_code == 200


def test_a_bad_transcript_is_not_stored(client: TestClient) -> None:
    before = client.get("/api/visits").json()["total"]
    _upload(client, "bad.json", json.dumps([{"start": 0, "end": 5, "text": "ok"}]) + "x")
    _upload(client, "inf.json", '[{"start":0,"end":Infinity,"text":"hi"}]')
    assert client.get("/api/visits").json()["total"] == before


def test_a_year_one_date_filter_is_an_empty_answer(client: TestClient) -> None:
    res = client.get("/api/visits", params={"date_to": "0001-01-01"})
    assert res.status_code == 200 and res.json()["items"] == []
