"""Visit outcome and metadata edits: upload field, list filter, PATCH, and re-indexing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.models import PipelineStep, Step, StepStatus, Visit
from knowledge.search_types import VisitDoc
from knowledge.vector_index import connect
from tests.conftest import Stack

pytestmark = pytest.mark.integration


def srt(tag: str) -> bytes:
    """A two-line transcript, unique per tag so uploads are never duplicates."""
    return (
        f"1\n00:00:00,000 --> 00:00:03,000\nRep: How did the trial go ({tag})?\n\n"
        "2\n00:00:03,500 --> 00:00:08,000\nCustomer: Approving invoices still takes a week.\n"
    ).encode()


def new_visit(client: TestClient, **fields: str) -> dict[str, Any]:
    name = f"visit-{uuid.uuid4().hex[:8]}.srt"
    res = client.post("/api/visits", files={"file": (name, srt(name))}, data=fields)
    assert res.status_code == 202, res.text
    body: dict[str, Any] = res.json()
    return body


def assert_error(res: Any, status: int, code: str) -> str:
    assert res.status_code == status, res.text
    err = res.json()["error"]
    assert err["code"] == code
    assert len(err["message"]) > 10
    message: str = err["message"]
    return message


def add_done_visit(client: TestClient) -> str:
    """A visit whose every step has run, as the pipeline leaves it."""
    visit_id = uuid.uuid4().hex
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        db.add(Visit(id=visit_id, title="Renewal call", content_sha256=visit_id * 2, status="done"))
        db.flush()
        db.add_all(
            PipelineStep(visit_id=visit_id, step=s, status=StepStatus.DONE, attempts=1)
            for s in Step
        )
        db.commit()
    return visit_id


def step_status(visit: dict[str, Any], step: str) -> str:
    return str(next(s["status"] for s in visit["steps"] if s["step"] == step))


def test_upload_takes_an_outcome_and_the_list_filters_on_it(client: TestClient) -> None:
    won = new_visit(client, outcome="won")
    lost = new_visit(client, outcome="lost")
    plain = new_visit(client)
    assert (won["outcome"], lost["outcome"], plain["outcome"]) == ("won", "lost", None)
    page = client.get("/api/visits", params={"outcome": "won", "limit": 200}).json()
    ids = {v["id"] for v in page["items"]}
    assert won["id"] in ids and lost["id"] not in ids and plain["id"] not in ids
    assert all(v["outcome"] == "won" for v in page["items"]) and page["total"] == len(ids)


def test_unknown_outcome_is_refused_naming_the_valid_values(client: TestClient) -> None:
    name = f"visit-{uuid.uuid4().hex[:8]}.srt"
    res = client.post("/api/visits", files={"file": (name, srt(name))}, data={"outcome": "maybe"})
    assert "won, lost, open" in assert_error(res, 422, "invalid_field")
    listed = client.get("/api/visits", params={"outcome": "maybe"})
    message = assert_error(listed, 422, "invalid_request")
    assert "outcome" in message and "'won'" in message


def test_patch_changes_metadata_and_null_clears_a_field(client: TestClient) -> None:
    visit = new_visit(client, customer="Old Customer", rep="Lin")
    res = client.patch(
        f"/api/visits/{visit['id']}",
        json={
            "title": "Second visit",
            "customer": "Harbour Foods",
            "industry": "food",
            "segment": "basic",
            "visit_date": "2026-03-10",
            "outcome": "won",
        },
    )
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["title"], body["customer"], body["industry"]) == (
        "Second visit",
        "Harbour Foods",
        "food",
    )
    assert (body["segment"], body["visit_date"], body["outcome"]) == ("basic", "2026-03-10", "won")
    assert body["rep"] == "Lin"  # not named, not changed
    assert body["status"] == visit["status"]  # not indexed yet: its index step reads the new values
    cleared = client.patch(f"/api/visits/{visit['id']}", json={"customer": None, "outcome": ""})
    assert cleared.status_code == 200, cleared.text
    again = client.get(f"/api/visits/{visit['id']}").json()
    assert (
        again["customer"] is None and again["outcome"] is None and again["title"] == "Second visit"
    )


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"outcome": "maybe"}, "won, lost, open"),
        ({"segment": "vip"}, "strategic"),
        ({"visit_date": "next tuesday"}, "visit_date"),
        ({"title": "  "}, "title"),
    ],
)
def test_patch_refuses_bad_values(client: TestClient, body: dict[str, str], named: str) -> None:
    visit = new_visit(client)
    res = client.patch(f"/api/visits/{visit['id']}", json=body)
    assert named in assert_error(res, 422, "invalid_field")
    assert client.get(f"/api/visits/{visit['id']}").json()["title"] == visit["title"]


def test_patch_refuses_unknown_fields_and_unknown_visits(client: TestClient) -> None:
    visit = new_visit(client)
    res = client.patch(f"/api/visits/{visit['id']}", json={"status": "done"})
    assert "status" in assert_error(res, 422, "invalid_request")
    missing = client.patch("/api/visits/no-such-visit", json={"outcome": "won"})
    assert_error(missing, 404, "visit_not_found")


def test_patch_of_a_done_visit_runs_its_index_step_again(client: TestClient) -> None:
    visit_id = add_done_visit(client)
    same = client.patch(f"/api/visits/{visit_id}", json={"title": "Renewal call"})
    assert same.json()["status"] == "done"  # nothing changed, nothing to index
    res = client.patch(f"/api/visits/{visit_id}", json={"outcome": "lost"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["outcome"] == "lost" and body["status"] == "indexing"
    assert step_status(body, "index") == "pending" and step_status(body, "analyse") == "done"


@pytest.mark.slow
def test_edited_outcome_reaches_the_index(stack: Stack) -> None:
    visit = new_visit(stack.client, language="en")
    assert stack.wait(visit["id"])["status"] == "done"
    res = stack.client.patch(f"/api/visits/{visit['id']}", json={"outcome": "won"})
    assert res.status_code == 200, res.text
    done = stack.wait(visit["id"], timeout=120)  # "indexing" until the worker has run again
    assert done["status"] == "done", done["error"]
    index_step = next(s for s in done["steps"] if s["step"] == "index")
    assert index_step["attempts"] == 2
    docs, _ = connect(stack.settings.chroma_url).visit_documents(visit["id"])
    visit_docs = [d for d in docs if isinstance(d, VisitDoc)]
    assert [d.outcome for d in visit_docs] == ["won"]
