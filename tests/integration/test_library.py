"""The best-practice library: playlists, clips with their transcript, and suggested visits."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.models import SegmentRow, Visit, VisitResult

pytestmark = pytest.mark.integration

LINES = [
    (0.0, 6.0, "rep", "What slows your team down most today?"),
    (6.0, 14.0, "customer", "Approvals take a week because every order goes through three people."),
    (14.0, 20.0, "rep", "So a faster approval flow would save you a week per order?"),
]


def add_visit(
    client: TestClient,
    *,
    analysis: dict[str, Any] | None = None,
    coaching: dict[str, Any] | None = None,
    duration_s: float | None = 20.0,
    outcome: str | None = None,
) -> str:
    visit_id = uuid.uuid4().hex
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        db.add(
            Visit(
                id=visit_id,
                title="Discovery call with a distributor",
                rep="Lin",
                content_sha256=visit_id * 2,
                duration_s=duration_s,
                outcome=outcome,
                status="done",
                warnings=[],
            )
        )
        db.flush()
        db.add_all(
            SegmentRow(visit_id=visit_id, idx=i, start=s, end=e, role=r, text=t, words=[])
            for i, (s, e, r, t) in enumerate(LINES)
        )
        for kind, data in (("analysis", analysis), ("coaching", coaching)):
            if data is not None:
                db.add(VisitResult(visit_id=visit_id, kind=kind, data=data))
        db.commit()
    return visit_id


def assert_error(res: Any, status: int, code: str) -> dict[str, Any]:
    assert res.status_code == status, res.text
    err: dict[str, Any] = res.json()["error"]
    assert err["code"] == code
    assert len(err["message"]) > 10
    return err


def new_playlist(client: TestClient) -> dict[str, Any]:
    res = client.post(
        "/api/library/playlists",
        json={"name": f"Discovery questions {uuid.uuid4().hex[:6]}", "description": "SPIN"},
    )
    assert res.status_code == 201, res.text
    body: dict[str, Any] = res.json()
    return body


def test_playlist_is_created_listed_and_deleted(client: TestClient) -> None:
    playlist = new_playlist(client)
    listed = client.get("/api/library/playlists").json()["items"]
    assert {"id": playlist["id"], "clip_count": 0}.items() <= next(
        p for p in listed if p["id"] == playlist["id"]
    ).items()
    assert client.delete(f"/api/library/playlists/{playlist['id']}").status_code == 204
    ids = [p["id"] for p in client.get("/api/library/playlists").json()["items"]]
    assert playlist["id"] not in ids


def test_duplicate_playlist_name_is_a_conflict(client: TestClient) -> None:
    playlist = new_playlist(client)
    res = client.post("/api/library/playlists", json={"name": playlist["name"]})
    assert playlist["name"] in assert_error(res, 409, "playlist_exists")["message"]
    res = client.post("/api/library/playlists", json={"name": "   "})
    assert_error(res, 422, "invalid_name")


def test_unknown_playlist_or_clip_is_not_found(client: TestClient) -> None:
    assert_error(client.delete("/api/library/playlists/999999"), 404, "playlist_not_found")
    assert_error(client.delete("/api/library/clips/999999"), 404, "clip_not_found")


def test_clip_carries_the_transcript_in_its_range_and_an_audio_link(client: TestClient) -> None:
    visit_id = add_visit(client)
    playlist = new_playlist(client)
    body = {
        "visit_id": visit_id,
        "start": 6.5,
        "end": 19.0,
        "note": "Need confirmed back in the customer's words",
        "tags": ["spin", "need-payoff", "spin"],
        "playlist_id": playlist["id"],
    }
    res = client.post("/api/library/clips", json=body)
    assert res.status_code == 201, res.text
    clip = res.json()
    assert clip["tags"] == ["spin", "need-payoff"]
    assert clip["text"].startswith("Approvals take a week") and "faster approval" in clip["text"]
    assert "slows your team" not in clip["text"]
    assert re.fullmatch(
        rf"/api/visits/{visit_id}/audio\?u=\d+&expires=\d+&sig=\w+#t=6\.5", clip["link"]
    )
    library = client.get("/api/library").json()
    mine = next(p for p in library["playlists"] if p["id"] == playlist["id"])
    assert mine["clip_count"] == 1
    assert [c["id"] for c in mine["clips"]] == [clip["id"]]
    assert mine["clips"][0]["visit_title"] == "Discovery call with a distributor"


def test_clip_outside_any_playlist_is_listed_as_unsorted(client: TestClient) -> None:
    visit_id = add_visit(client, duration_s=None)  # imported transcript: the segments give 20 s
    res = client.post("/api/library/clips", json={"visit_id": visit_id, "start": 0, "end": 20})
    assert res.status_code == 201, res.text
    unsorted = client.get("/api/library").json()["unsorted"]
    assert res.json()["id"] in [c["id"] for c in unsorted]
    assert client.delete(f"/api/library/clips/{res.json()['id']}").status_code == 204
    assert res.json()["id"] not in [c["id"] for c in client.get("/api/library").json()["unsorted"]]


@pytest.mark.parametrize(("start", "end"), [(5, 5), (8, 3), (-1, 4), (10, 60)])
def test_clip_with_an_invalid_time_range_is_refused(
    client: TestClient, start: float, end: float
) -> None:
    visit_id = add_visit(client)
    res = client.post("/api/library/clips", json={"visit_id": visit_id, "start": start, "end": end})
    assert "20.0" in assert_error(res, 422, "invalid_time_range")["message"]


def test_clip_of_unknown_visit_or_playlist_is_not_found(client: TestClient) -> None:
    res = client.post("/api/library/clips", json={"visit_id": "nope", "start": 0, "end": 5})
    assert_error(res, 404, "visit_not_found")
    visit_id = add_visit(client)
    body = {"visit_id": visit_id, "start": 0, "end": 5, "playlist_id": 999999}
    assert_error(client.post("/api/library/clips", json=body), 404, "playlist_not_found")
    body = {"visit_id": visit_id, "start": "soon", "end": 5}
    assert_error(client.post("/api/library/clips", json=body), 422, "invalid_request")


def test_deleting_a_playlist_deletes_its_clips(client: TestClient) -> None:
    visit_id = add_visit(client)
    playlist = new_playlist(client)
    body = {"visit_id": visit_id, "start": 0, "end": 6, "playlist_id": playlist["id"]}
    clip = client.post("/api/library/clips", json=body).json()
    client.delete(f"/api/library/playlists/{playlist['id']}")
    assert_error(client.delete(f"/api/library/clips/{clip['id']}"), 404, "clip_not_found")


def coached(item: str, score: float, passed: bool, total: float, span: tuple[float, float]) -> dict:
    """A coaching document with one scorecard item and the stretch that shows it."""
    evidence = [{"start": span[0], "end": span[1], "note": "what it shows"}]
    row = {"id": item, "label": item.title(), "value": score, "passed": passed, "score": score}
    return {"scorecard": {"total": total, "items": [{**row, "evidence": evidence}]}}


def moments_of(client: TestClient, item: str) -> dict[str, list[dict[str, Any]]]:
    items = client.get("/api/library/suggestions").json()["items"]
    out: dict[str, list[dict[str, Any]]] = {"best": [], "worst": []}
    for m in items:
        if m["item"] == item:
            out[m["kind"]].append(m)
    return out


def test_suggestions_are_the_best_and_worst_moment_of_each_scorecard_item(
    client: TestClient,
) -> None:
    item = f"deep_{uuid.uuid4().hex[:6]}"
    model = add_visit(client, coaching=coached(item, 1.0, True, 90, (0.0, 6.0)))
    also_good = add_visit(client, coaching=coached(item, 1.0, True, 60, (14.0, 20.0)))
    poor = add_visit(client, coaching=coached(item, 0.2, False, 40, (6.0, 14.0)))
    add_visit(client, coaching=coached(item, 0.5, False, 30, (6.0, 14.0)))
    found = moments_of(client, item)
    (best,), (worst,) = found["best"], found["worst"]
    assert (best["visit_id"], best["start"], best["end"]) == (model, 0.0, 6.0)
    assert best["text"] == LINES[0][3] and best["link"].startswith("/api/visits/")
    assert (worst["visit_id"], worst["text"]) == (poor, LINES[1][3])
    # once clipped, a moment is not suggested again: the next best visit is
    client.post("/api/library/clips", json={"visit_id": model, "start": 0, "end": 6})
    assert [m["visit_id"] for m in moments_of(client, item)["best"]] == [also_good]
    assert_error(
        client.get("/api/library/suggestions", params={"per_item": 0}), 422, "invalid_request"
    )


def test_a_moment_is_suggested_once_across_items(client: TestClient) -> None:
    one, two = (f"item_{uuid.uuid4().hex[:6]}" for _ in range(2))
    doc = coached(one, 1.0, True, 95, (0.0, 6.0))
    doc["scorecard"]["items"] += coached(two, 1.0, True, 95, (0.0, 6.0))["scorecard"]["items"]
    shared = add_visit(client, coaching=doc)
    for item in (one, two):
        add_visit(client, coaching=coached(item, 1.0, True, 50, (14.0, 20.0)))
    found = [*moments_of(client, one)["best"], *moments_of(client, two)["best"]]
    assert len({(m["visit_id"], m["start"]) for m in found}) == len(found) == 2
    assert shared in {m["visit_id"] for m in found}
