"""GET /api/visits/{id}/analysis reads analysis documents stored by older versions as they are:
only the parts they have, later parts passed on, masked for masked roles the same way."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.models import Role, Visit, VisitResult
from tests.conftest import make_user

pytestmark = pytest.mark.integration

PHONE = "138 0013 8000"
OLD = {  # no curve, alerts, llm or alerted; an action without start or due; a part added later
    "summary": f"Call Maria Lopez on {PHONE} about the late pumps.",
    "label_counts": {"pain.delivery": 2},
    "sentiment_score": -0.4,
    "actions": [{"owner": "rep", "text": f"Call Maria Lopez on {PHONE}", "quote": "I'll call."}],
    "future_part": {"kept": True},
}


def add_visit(client: TestClient, document: dict[str, Any]) -> str:
    visit_id = uuid.uuid4().hex
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        db.add(
            Visit(
                id=visit_id,
                title="Pump review",
                content_sha256=visit_id * 2,
                status="done",
                warnings=[],
                contacts=["Maria Lopez"],
            )
        )
        db.flush()
        db.add(VisitResult(visit_id=visit_id, kind="analysis", data=document))
        db.commit()
    return visit_id


def test_an_older_document_loads_with_only_its_own_parts(client: TestClient) -> None:
    visit_id = add_visit(client, OLD)
    res = client.get(f"/api/visits/{visit_id}/analysis")
    assert res.status_code == 200, res.text
    assert res.json() == {
        "visit_id": visit_id,
        **OLD,
        "alerts_sent": False,
        "quotes": {},
        "utterances": [],
    }


def test_a_masked_role_reads_an_older_document_masked(client: TestClient) -> None:
    visit_id = add_visit(client, OLD)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    trainer = make_user(settings, f"tess-{uuid.uuid4().hex[:8]}", Role.TRAINER)
    res = client.get(
        f"/api/visits/{visit_id}/analysis", headers={"Authorization": f"Bearer {trainer}"}
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert "0013" not in res.text and "Lopez" not in res.text
    assert body["summary"].startswith("Call ") and "[PHONE]" in body["summary"]
    assert body["alerts"] == [] and body["future_part"] == {"kept": True}
    assert [set(a) for a in body["actions"]] == [{"owner", "text", "quote"}]
    assert body["actions"][0]["quote"] == "I'll call."
