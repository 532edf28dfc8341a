"""Coaching tips in GET /api/visits/{id}/coaching: the costliest failed scorecard items as written
tips in zh and en, each with the rep's own moment and a library example where one is kept."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.models import Role, SegmentRow, Visit, VisitResult
from nlp.coaching import coaching_report
from nlp.types import Segment
from tests.conftest import make_user

pytestmark = pytest.mark.integration

PITCH = [  # a rep who asks one closed question and then pitches for three minutes
    (0.0, 10.0, "rep", "Good morning. Are you happy with the current printers?"),
    (11.0, 14.0, "customer", "Mostly, yes."),
    (14.2, 140.0, "rep", "Let me walk you through our new line. It prints twice as fast."),
    (141.0, 145.0, "customer", "I see."),
    (145.3, 200.0, "rep", "It also comes with a service plan, and we install it in a week."),
]
PHONE = "138 0013 8000"
CALL_BACK = [  # a rep whose question names the customer's contact and her phone number
    (0.0, 6.0, "rep", f"Shall I call Maria Lopez on {PHONE} when the engineer is free?"),
    (6.0, 14.0, "customer", "Yes, she runs the night shift and knows the jams."),
]
MODEL = [  # a visit the library keeps an example from
    (0.0, 6.0, "rep", "What happens on the line when a label jams?"),
    (6.0, 14.0, "customer", "We stop for an hour, and the night shift loses two pallets."),
]


def coached(lines: list[tuple[float, float, str, str]]) -> dict[str, Any]:
    """The coaching document the analysis step stores for these lines."""
    segments = [Segment(s, e, t, language="en", speaker=r, role=r) for s, e, r, t in lines]
    document = asdict(coaching_report(segments, language="en"))
    document["scorecard"] = {"total": document.pop("total"), "items": document["scorecard"]}
    return document


def add_visit(
    client: TestClient,
    lines: list[tuple[float, float, str, str]],
    coaching: bool = True,
    contacts: list[str] | None = None,
) -> str:
    visit_id = uuid.uuid4().hex
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        db.add(
            Visit(
                id=visit_id,
                title=f"Printer visit {visit_id[:4]}",
                rep="Lin",
                content_sha256=visit_id * 2,
                duration_s=lines[-1][1],
                status="done",
                warnings=[],
                contacts=contacts,
            )
        )
        db.flush()
        db.add_all(
            SegmentRow(visit_id=visit_id, idx=i, start=s, end=e, role=r, text=t, words=[])
            for i, (s, e, r, t) in enumerate(lines)
        )
        if coaching:
            db.add(VisitResult(visit_id=visit_id, kind="coaching", data=coached(lines)))
        db.commit()
    return visit_id


def clip(client: TestClient, visit_id: str, start: float, end: float, *tags: str) -> None:
    body = {"visit_id": visit_id, "start": start, "end": end, "tags": list(tags), "note": "ex"}
    assert client.post("/api/library/clips", json=body).status_code == 201


def test_failed_items_become_tips_with_the_reps_moment_and_a_library_example(
    client: TestClient,
) -> None:
    visit, model = add_visit(client, PITCH), add_visit(client, MODEL)
    clip(client, model, 6.0, 14.0, "talk_ratio", "worst")  # never the example to follow
    clip(client, visit, 0.0, 10.0, "talk_ratio", "best")  # the rep's own visit: not an example
    clip(client, model, 0.0, 6.0, "talk_ratio", "best")
    res = client.get(f"/api/visits/{visit}/coaching")
    assert res.status_code == 200, res.text
    tips = res.json()["tips"]
    assert [(t["item"], t["direction"], t["points_lost"]) for t in tips] == [
        ("talk_ratio", "high", 20.0),
        ("deep_questions", "low", 15.0),
        ("open_questions", "low", 15.0),
    ]
    talk = tips[0]
    assert talk["text"]["en"].startswith("You did 96% of the talking (aim for at most 60%)")
    assert talk["text"]["zh"].startswith("这次你说话占了 96% 的时间")
    moment = talk["moment"]
    assert (moment["start"], moment["end"]) == (14.2, 140.0)  # the pitch with no question
    assert moment["link"].startswith(f"/api/visits/{visit}/audio") and "#t=14.2" in moment["link"]
    assert moment["note"] == {
        "zh": "你最长的一段没有提问的讲解",
        "en": "Your longest stretch without a question",
    }
    example = talk["example"]
    assert (example["visit_id"], example["start"], example["end"]) == (model, 0.0, 6.0)
    assert example["text"] == MODEL[0][3] and example["link"].startswith(f"/api/visits/{model}/")
    assert tips[1]["example"] is None  # the library keeps nothing for deep questions
    assert tips[2]["moment"]["start"] == 0.0  # the closed question "Are you happy …?"


def test_a_visit_that_passed_every_item_has_no_tips_and_one_not_analysed_is_not_ready(
    client: TestClient,
) -> None:
    passed = add_visit(client, MODEL)
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        row = db.get(VisitResult, {"visit_id": passed, "kind": "coaching"})
        assert row is not None
        items = [
            {**item, "passed": True, "score": 1.0, "moment": None}
            for item in row.data["scorecard"]["items"]
        ]
        row.data = {**row.data, "scorecard": {"total": 100.0, "items": items}}
        db.commit()
    assert client.get(f"/api/visits/{passed}/coaching").json()["tips"] == []
    res = client.get(f"/api/visits/{add_visit(client, MODEL, coaching=False)}/coaching")
    assert (res.status_code, res.json()["error"]["code"]) == (409, "not_ready")


def test_a_masked_role_reads_the_reps_questions_masked_and_the_owner_the_original(
    client: TestClient,
) -> None:
    visit = add_visit(client, CALL_BACK, contacts=["Maria Lopez"])
    path = f"/api/visits/{visit}/coaching"
    original = client.get(path).json()["questions"]
    assert PHONE in original[0]["text"] and "Maria Lopez" in original[0]["text"]
    settings = client.app.state.settings  # type: ignore[attr-defined]
    trainer = make_user(settings, f"tess-{uuid.uuid4().hex[:8]}", Role.TRAINER)
    res = client.get(path, headers={"Authorization": f"Bearer {trainer}"})
    assert res.status_code == 200, res.text
    masked = res.json()["questions"]
    assert [q["start"] for q in masked] == [q["start"] for q in original]
    assert "0013" not in res.text and "Lopez" not in res.text and "[PHONE]" in masked[0]["text"]
