"""Who sees which visit, through every path: a rep sees their own, a manager their teams', a
trainer every analysed visit, product only aggregates with masked quotes; filtered in the
queries themselves (database, search index, similar cases, ledger, insights)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from evals.llm_stub import StubConfig, StubServer
from knowledge.models import Role
from tests.conftest import FIXTURES, Stack, make_stack, make_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]
PHONE = "138 0013 8000"
NORTH = (
    "Rep: How is the cold-chain monitoring working for you?\n"
    "Customer: The temperature alarms on the freezer trucks fail every night and we lose stock.\n"
    f"Customer: Call me on {PHONE} when the engineer can come, your service is far too slow.\n"
    "Customer: Ask for Maria Lopez at the gate, the alarms fail on her shift too.\n"
)
SOUTH = (
    "Rep: How are the label printers doing?\n"
    "Customer: The label printers jam constantly and your support never calls back.\n"
)


class As:
    """One user's view of the API."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.client.request(method, path, headers=self.headers, **kwargs)

    def upload(self, name: str, data: bytes, **fields: str) -> str:
        res = self.client.post(
            "/api/visits", files={"file": (name, data)}, data=fields, headers=self.headers
        )
        assert res.status_code == 202, res.text
        visit_id: str = res.json()["id"]
        return visit_id


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory, chroma_url: str) -> Iterator[dict[str, Any]]:
    stack: Stack = make_stack(tmp_path_factory.mktemp("team"), "embedded", chroma_url=chroma_url)
    stack.start_worker()
    s, c = stack.settings, stack.client
    people = {
        "ana": As(c, make_user(s, "ana", Role.REP, teams=("north",), display_name="Ana")),
        "bo": As(c, make_user(s, "bo", Role.REP, teams=("south",), display_name="Bo")),
        "north_lead": As(c, make_user(s, "north-lead", Role.MANAGER, teams=("north",))),
        "trainer": As(c, make_user(s, "tess", Role.TRAINER)),
        "product": As(c, make_user(s, "pat", Role.PRODUCT)),
    }
    north = people["ana"].upload("north.txt", NORTH.encode(), contacts="Maria Lopez, 王建国")
    south = people["bo"].upload("south.txt", SOUTH.encode())
    audio = people["ana"].upload("call.mp3", (FIXTURES / "en_short.mp3").read_bytes())
    for visit_id in (north, south):
        assert stack.wait(visit_id, timeout=300)["status"] == "done"
    deadline = time.monotonic() + 60  # the API's copy of the index catches up within seconds
    while time.monotonic() < deadline:
        found = c.get("/api/search", params={"q": "alarms printers", "limit": 50}).json()
        if {r["visit_id"] for r in found.get("results", [])} >= {north, south}:
            break
        time.sleep(1)
    yield {**people, "north": north, "south": south, "audio": audio, "stack": stack}
    stack.stop()
    stack.client.__exit__(None, None, None)


def _mentions(res: Any, visit_id: str) -> bool:
    assert res.status_code == 200, res.text
    return visit_id in res.text


def test_a_rep_cannot_reach_another_reps_visit_through_any_path(team: dict[str, Any]) -> None:
    bo, north, audio = team["bo"], team["north"], team["audio"]
    listed = bo.get("/api/visits")
    assert [v["id"] for v in listed.json()["items"]] == [team["south"]]
    for visit_id in (north, audio):
        for path in (
            "",
            "/transcript",
            "/transcript?format=txt",
            "/audio",
            "/analysis",
            "/speakers",
            "/coaching",
            "/similar",
        ):
            res = bo.get(f"/api/visits/{visit_id}{path}")
            assert (res.status_code, res.json()["error"]["code"]) == (404, "visit_not_found"), path
        for method, path, body in (
            ("PATCH", "", {"title": "mine now"}),
            ("DELETE", "", None),
            ("POST", "/retry", None),
            ("POST", "/ledger", None),
            ("PUT", "/speakers", {"roles": {"S1": "rep"}}),
        ):
            res = bo.request(method, f"/api/visits/{visit_id}{path}", json=body)
            assert res.status_code == 404, (method, path, res.text)
    for q in ("temperature alarms on the freezer trucks", "cold chain", "engineer service slow"):
        assert not _mentions(bo.get("/api/search", q=q, limit=100), north)
        assert not _mentions(bo.get("/api/search", q=q, kind="visit", limit=100), north)
    similar = bo.request("POST", "/api/similar", json={"text": "freezer alarms fail at night"})
    assert similar.status_code == 200 and not _mentions(similar, north)
    ledger = bo.request("POST", "/api/ledger", json={"visit_id": north, "title": "call back"})
    assert ledger.status_code == 404
    assert not _mentions(bo.get("/api/ledger"), north)
    assert not _mentions(bo.get("/api/ledger", format="csv"), north)
    assert bo.get("/api/insights/pain-points").status_code == 403
    clip = bo.request("POST", "/api/library/clips", json={"visit_id": north, "start": 0, "end": 3})
    assert clip.status_code == 403


def test_the_owner_and_their_manager_see_it_and_the_other_team_does_not(
    team: dict[str, Any],
) -> None:
    for who in ("ana", "north_lead"):
        assert team[who].get(f"/api/visits/{team['north']}/analysis").status_code == 200
        found = team[who].get("/api/search", q="temperature alarms on the freezer trucks")
        assert found.json()["results"][0]["visit_id"] == team["north"]
    lead = team["north_lead"]
    assert {v["id"] for v in lead.get("/api/visits").json()["items"]} == {
        team["north"],
        team["audio"],
    }
    assert lead.get(f"/api/visits/{team['south']}").status_code == 404
    assert not _mentions(lead.get("/api/search", q="label printers jam", limit=100), team["south"])


def test_an_audio_link_plays_for_its_user_and_cannot_be_turned_to_another(
    team: dict[str, Any],
) -> None:
    ana, bo = team["ana"], team["bo"]
    link = ana.get(f"/api/visits/{team['audio']}").json()["links"]["audio"]
    client: TestClient = team["stack"].client
    played = client.get(link, headers={"Authorization": ""})
    assert played.status_code == 200
    assert played.content == (FIXTURES / "en_short.mp3").read_bytes()
    bo_id = bo.get("/api/auth/me").json()["user"]["id"]
    turned = link.replace("u=", f"u={bo_id}&x=", 1)
    res = client.get(turned, headers={"Authorization": ""})
    assert (res.status_code, res.json()["error"]["code"]) == (401, "link_expired")


def test_a_trainer_sees_every_analysed_visit(team: dict[str, Any]) -> None:
    trainer = team["trainer"]
    listed = {v["id"] for v in trainer.get("/api/visits", status="done").json()["items"]}
    assert {team["north"], team["south"]} <= listed
    assert trainer.get(f"/api/visits/{team['south']}/analysis").status_code == 200


def test_product_sees_aggregates_with_masked_quotes_and_never_a_transcript_or_audio(
    team: dict[str, Any],
) -> None:
    product = team["product"]
    for kind in ("pain-points", "needs"):
        res = product.get(f"/api/insights/{kind}")
        assert res.status_code == 200 and res.json()["analysed_visits"] >= 2
        assert "0013" not in res.text
        quotes = [q for t in res.json()["topics"] for q in t["quotes"]]
        assert all(q["link"] is None for q in quotes)
    csv_text = product.get("/api/insights/pain-points", format="csv").text
    assert "0013" not in csv_text and "/audio" not in csv_text
    for path in ("", "/transcript", "/audio", "/analysis"):
        assert product.get(f"/api/visits/{team['north']}{path}").status_code == 403
    assert product.get("/api/search", q="alarms").status_code == 403


def test_personal_data_is_masked_for_exports_the_index_and_masked_roles_only(
    team: dict[str, Any],
) -> None:
    ana, trainer, north = team["ana"], team["trainer"], team["north"]
    assert ana.get(f"/api/visits/{north}").json()["contacts"] == ["Maria Lopez", "王建国"]
    original = ana.get(f"/api/visits/{north}/transcript").text
    assert PHONE in original and "Maria Lopez" in original  # the owner reads the original
    exported = ana.get(f"/api/visits/{north}/transcript", format="txt").text
    assert PHONE not in exported and "Lopez" not in exported and "[PHONE]" in exported
    unmasked = ana.get(f"/api/visits/{north}/transcript", format="txt", masked="false").text
    assert PHONE in unmasked
    for path in ("/transcript", "/transcript?masked=false", "/analysis"):
        seen = trainer.get(f"/api/visits/{north}{path}").text
        assert "0013" not in seen and "Lopez" not in seen, path
    hits = ana.get("/api/search", q="engineer service slow call me", limit=50).json()["results"]
    assert hits and all("0013" not in h["text"] for h in hits)
    entry = {"visit_id": north, "title": f"Call Maria Lopez back on {PHONE}"}
    assert ana.request("POST", "/api/ledger", json=entry).status_code == 201
    assert PHONE in ana.get("/api/ledger").text  # the ledger itself keeps the original
    ledger_csv = ana.get("/api/ledger", format="csv").text
    assert PHONE not in ledger_csv and "Lopez" not in ledger_csv and "[PHONE]" in ledger_csv
    insights_csv = team["north_lead"].get("/api/insights/pain-points", format="csv").text
    assert "0013" not in insights_csv and "Lopez" not in insights_csv


def test_ask_answers_from_the_callers_visits_with_citations(team: dict[str, Any]) -> None:
    question = "Do customers say the temperature alarms on their trucks fail?"
    mine = team["ana"].request("POST", "/api/ask", json={"question": question}).json()
    assert mine["answer_kind"] == "extractive" and "[1]" in mine["answer"]
    assert mine["visits"][0]["visit_id"] == team["north"]
    first = mine["citations"][0]
    assert first["n"] == 1 and first["audio_url"].startswith(f"/api/visits/{team['north']}/audio")
    assert mine["counts"] is None  # counts only when the question asks how many
    theirs = team["bo"].request("POST", "/api/ask", json={"question": question})
    assert theirs.status_code == 200 and team["north"] not in theirs.text
    assert (
        team["product"].request("POST", "/api/ask", json={"question": question}).status_code == 403
    )


def test_ask_counts_when_the_question_asks_how_many(team: dict[str, Any]) -> None:
    res = (
        team["north_lead"]
        .request("POST", "/api/ask", json={"question": "有多少客户抱怨售后服务太慢？"})
        .json()
    )
    assert isinstance(res["counts"], dict) and res["answer"].startswith(("过往", "1", "2", "3"))


@pytest.mark.parametrize(
    ("question", "code"),
    [("   ", "empty_question"), ("x" * 1001, "invalid_request"), ("x" * 10_000, "invalid_request")],
)
def test_ask_refuses_an_empty_or_oversized_question(
    team: dict[str, Any], question: str, code: str
) -> None:
    res = team["ana"].request("POST", "/api/ask", json={"question": question})
    assert (res.status_code, res.json()["error"]["code"]) == (422, code)


def test_ask_with_an_llm_shows_only_cited_sentences_and_the_quotes_when_it_is_down(
    team: dict[str, Any],
) -> None:
    stack: Stack = team["stack"]
    stub = StubServer(StubConfig(bad_number=0, uncited=0)).start()
    settings = stack.settings.model_copy(update={"llm_url": stub.url, "llm_timeout_s": 5.0})
    with TestClient(create_app(settings)) as other:
        assert other.get("/api/health").json()["parts"]["index"] == "ok"  # nothing to warm

        def ask() -> dict[str, Any]:
            res = other.post(
                "/api/ask",
                json={"question": "temperature alarms fail"},
                headers=team["ana"].headers,
            )
            assert res.status_code == 200
            body: dict[str, Any] = res.json()
            return body

        written = ask()
        sent = stub.exchanges[-1].quotes
        assert written["answer_kind"] == "written" and written["warnings"] == []
        assert sent == min(len(written["citations"]), 12)
        numbers = [int(k) for k in re.findall(r"\[(\d+)\]", written["answer"])]
        assert numbers and all(1 <= k <= sent for k in numbers)
        stub.config = StubConfig(bad_number=1.0, uncited=0)  # every citation made up
        made_up = ask()
        assert made_up["answer_kind"] == "extractive" and made_up["citations"]
        assert [w["code"] for w in made_up["warnings"]] == ["answer_uncited"]
        stub.stop()
        down = ask()
    assert down["answer_kind"] == "extractive" and down["citations"]
    assert down["warnings"][0]["code"] == "llm_unavailable"
