"""The visit list sorted by coaching scorecard, each visit showing its score."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from knowledge.models import Visit, VisitResult

pytestmark = pytest.mark.integration


def add_visit(client: TestClient, rep: str, total: float | None) -> str:
    visit_id = uuid.uuid4().hex
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        db.add(
            Visit(
                id=visit_id,
                title="Review",
                rep=rep,
                content_sha256=visit_id * 2,
                status="done",
                warnings=[],
            )
        )
        db.flush()
        if total is not None:
            db.add(
                VisitResult(
                    visit_id=visit_id, kind="coaching", data={"scorecard": {"total": total}}
                )
            )
        db.commit()
    return visit_id


def test_visits_sort_by_scorecard_with_unscored_ones_last(client: TestClient) -> None:
    rep = f"rep-{uuid.uuid4().hex[:6]}"
    low, high, none, mid = (add_visit(client, rep, t) for t in (31.5, 88.0, None, 60.0))

    def order(sort: str) -> list[str]:
        res = client.get("/api/visits", params={"rep": rep, "sort": sort})
        assert res.status_code == 200, res.text
        return [v["id"] for v in res.json()["items"]]

    assert order("score_high") == [high, mid, low, none]
    assert order("score_low") == [low, mid, high, none]
    assert set(order("newest")) == {low, high, none, mid}
    items = client.get("/api/visits", params={"rep": rep}).json()["items"]
    assert {v["id"]: v["score"] for v in items}[high] == 88.0
    assert {v["id"]: v["score"] for v in items}[none] is None
    bad = client.get("/api/visits", params={"sort": "best"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
