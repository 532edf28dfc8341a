"""The follow-up ledger: entries from action items and pain points, updates, report, CSV."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge import ledger, ledger_report
from knowledge.models import LedgerEntry, Utterance, UtteranceLabel, Visit, VisitResult

pytestmark = pytest.mark.integration

ACTIONS = [
    {"owner": "rep", "text": "Send the revised quote", "due": "2026-03-20", "start": 61.0},
    {"owner": "customer", "text": "Share the ERP interface spec", "due": None, "start": 95.5},
]


def add_visit(client: TestClient, *, analysed: bool = True) -> str:
    """A visit with two action items and one customer utterance labelled pain.delivery."""
    visit_id = uuid.uuid4().hex
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        db.add(
            Visit(
                id=visit_id,
                title="Quarterly review",
                rep="Lin",
                content_sha256=visit_id * 2,
                status="done" if analysed else "transcribing",
                warnings=[],
            )
        )
        db.flush()
        if analysed:
            db.add(
                Utterance(
                    visit_id=visit_id,
                    idx=0,
                    start=12.0,
                    end=18.0,
                    role="customer",
                    text="Our last two orders came a week late.",
                    labels=[{"id": "pain.delivery", "confidence": 0.9}],
                    risk=[],
                )
            )
            db.add(UtteranceLabel(visit_id=visit_id, idx=0, label="pain.delivery", confidence=0.9))
            db.add(VisitResult(visit_id=visit_id, kind="analysis", data={"actions": ACTIONS}))
        db.commit()
    return visit_id


def assert_error(res: Any, status: int, code: str) -> dict[str, Any]:
    assert res.status_code == status, res.text
    err: dict[str, Any] = res.json()["error"]
    assert err["code"] == code
    assert len(err["message"]) > 10
    return err


def test_action_item_becomes_an_entry_with_its_owner_and_due_date(client: TestClient) -> None:
    visit_id = add_visit(client)
    res = client.post("/api/ledger", json={"visit_id": visit_id, "action_index": 0})
    assert res.status_code == 201, res.text
    entry = res.json()
    assert entry["kind"] == "action" and entry["source"] == "action:0"
    assert (entry["title"], entry["owner"], entry["due"]) == (
        "Send the revised quote",
        "rep",
        "2026-03-20",
    )
    assert entry["status"] == "open" and entry["closed_at"] is None


def test_the_same_action_item_twice_is_a_conflict(client: TestClient) -> None:
    visit_id = add_visit(client)
    body = {"visit_id": visit_id, "action_index": 1, "owner": "Wang"}
    first = client.post("/api/ledger", json=body)
    assert first.status_code == 201 and first.json()["owner"] == "Wang"
    err = assert_error(client.post("/api/ledger", json=body), 409, "already_in_ledger")
    assert str(first.json()["id"]) in err["message"]


def test_adding_all_actions_of_a_visit_twice_adds_nothing_the_second_time(
    client: TestClient,
) -> None:
    visit_id = add_visit(client)
    client.post("/api/ledger", json={"visit_id": visit_id, "action_index": 1})
    first = client.post(f"/api/visits/{visit_id}/ledger").json()
    assert [e["source"] for e in first["created"]] == ["action:0"]
    assert [e["source"] for e in first["existing"]] == ["action:1"]
    again = client.post(f"/api/visits/{visit_id}/ledger").json()
    assert again["created"] == [] and len(again["existing"]) == 2
    listed = client.get("/api/ledger", params={"visit_id": visit_id}).json()
    assert listed["total"] == 2


def test_pain_point_becomes_an_entry_quoting_the_customer(client: TestClient) -> None:
    visit_id = add_visit(client)
    body = {"visit_id": visit_id, "utterance_idx": 0, "label": "pain.delivery", "owner": "ops"}
    res = client.post("/api/ledger", json=body)
    assert res.status_code == 201, res.text
    entry = res.json()
    assert (entry["kind"], entry["label"], entry["owner"]) == ("pain", "pain.delivery", "ops")
    assert entry["title"] == "Our last two orders came a week late."
    assert entry["source"] == "utterance:0:pain.delivery"
    assert_error(client.post("/api/ledger", json=body), 409, "already_in_ledger")


def test_pain_point_with_a_label_the_utterance_lacks_is_refused(client: TestClient) -> None:
    visit_id = add_visit(client)
    body = {"visit_id": visit_id, "utterance_idx": 0, "label": "pain.price"}
    err = assert_error(client.post("/api/ledger", json=body), 422, "label_not_on_utterance")
    assert "pain.delivery" in err["message"]
    body = {"visit_id": visit_id, "utterance_idx": 0}
    assert_error(client.post("/api/ledger", json=body), 422, "missing_label")


def test_unknown_visit_utterance_and_action_are_not_found(client: TestClient) -> None:
    visit_id = add_visit(client)
    res = client.post("/api/ledger", json={"visit_id": "nope", "action_index": 0})
    assert_error(res, 404, "visit_not_found")
    res = client.post("/api/ledger", json={"visit_id": visit_id, "action_index": 7})
    assert "0..1" in assert_error(res, 404, "action_not_found")["message"]
    body = {"visit_id": visit_id, "utterance_idx": 99, "label": "pain.delivery"}
    assert_error(client.post("/api/ledger", json=body), 404, "utterance_not_found")
    assert_error(client.post("/api/visits/nope/ledger"), 404, "visit_not_found")


def test_visit_without_analysis_yet_is_not_ready(client: TestClient) -> None:
    visit_id = add_visit(client, analysed=False)
    res = client.post("/api/ledger", json={"visit_id": visit_id, "action_index": 0})
    assert "transcribing" in assert_error(res, 409, "not_ready")["message"]
    assert_error(client.post(f"/api/visits/{visit_id}/ledger"), 409, "not_ready")


def test_free_entry_needs_a_title(client: TestClient) -> None:
    res = client.post("/api/ledger", json={"title": "Call back about the pilot", "owner": "Lin"})
    assert res.status_code == 201 and res.json()["visit_id"] is None
    assert_error(client.post("/api/ledger", json={}), 422, "invalid_ledger_entry")
    assert_error(client.post("/api/ledger", json={"title": "  "}), 422, "empty_title")
    res = client.post("/api/ledger", json={"title": "x", "due": "soon"})
    assert_error(res, 422, "invalid_request")


def test_closing_stamps_closed_at_and_reopening_clears_it(client: TestClient) -> None:
    entry = client.post("/api/ledger", json={"title": "Fix the invoice", "owner": "Lin"}).json()
    done = client.patch(f"/api/ledger/{entry['id']}", json={"status": "done", "note": "sent"})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done" and done.json()["closed_at"] is not None
    assert done.json()["note"] == "sent" and done.json()["owner"] == "Lin"  # untouched
    reopened = client.patch(f"/api/ledger/{entry['id']}", json={"status": "open", "owner": None})
    assert reopened.json()["closed_at"] is None and reopened.json()["owner"] is None
    moved = client.patch(f"/api/ledger/{entry['id']}", json={"due": "2026-05-01"})
    assert moved.json()["due"] == "2026-05-01"


def test_patching_unknown_entry_or_status_is_refused(client: TestClient) -> None:
    assert_error(
        client.patch("/api/ledger/999999", json={"status": "done"}), 404, "ledger_entry_not_found"
    )
    entry = client.post("/api/ledger", json={"title": "Anything"}).json()
    res = client.patch(f"/api/ledger/{entry['id']}", json={"status": "finished"})
    assert "dropped" in assert_error(res, 422, "invalid_request")["message"]
    res = client.patch(f"/api/ledger/{entry['id']}", json={"status": None})
    assert_error(res, 422, "invalid_field")


def test_listing_filters_pages_and_answers_an_empty_page_past_the_end(client: TestClient) -> None:
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    yesterday = (date.today() - timedelta(days=1)).isoformat()
    for i in range(5):
        client.post("/api/ledger", json={"title": f"Item {i}", "owner": owner, "due": yesterday})
    last = client.post("/api/ledger", json={"title": "Item 5", "owner": owner}).json()
    client.patch(f"/api/ledger/{last['id']}", json={"status": "done"})
    page = client.get("/api/ledger", params={"owner": owner, "limit": 4}).json()
    assert page["total"] == 6 and len(page["items"]) == 4
    assert page["items"][0]["title"] == "Item 5"  # newest first
    past = client.get("/api/ledger", params={"owner": owner, "offset": 50}).json()
    assert past["items"] == [] and past["total"] == 6
    overdue = client.get("/api/ledger", params={"owner": owner, "overdue": "true"}).json()
    assert overdue["total"] == 5 and all(e["overdue"] for e in overdue["items"])
    done = client.get("/api/ledger", params={"owner": owner, "status": "done"}).json()
    assert done["total"] == 1
    res = client.get("/api/ledger", params={"status": "closed"})
    assert "open" in assert_error(res, 422, "invalid_request")["message"]


def test_csv_export_lists_every_matching_entry(client: TestClient) -> None:
    owner = f"csv-{uuid.uuid4().hex[:6]}"
    for i in range(3):
        client.post("/api/ledger", json={"title": f"跟进第{i}项", "owner": owner})
    res = client.get("/api/ledger", params={"owner": owner, "format": "csv", "limit": 1})
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(res.content.decode("utf-8-sig"))))
    assert sorted(r["title"] for r in rows) == ["跟进第0项", "跟进第1项", "跟进第2项"]
    assert {r["status"] for r in rows} == {"open"}


def entry(
    created: date, status: str = "open", closed: date | None = None, **kw: Any
) -> LedgerEntry:
    def at(d: date) -> datetime:
        return datetime(d.year, d.month, d.day, 9, tzinfo=UTC)

    return LedgerEntry(
        title="x",
        kind="action",
        status=status,
        created_at=at(created),
        closed_at=at(closed) if closed else None,
        **kw,
    )


def test_thirty_working_days_skip_weekends() -> None:
    monday = date(2026, 3, 2)
    assert ledger.add_working_days(monday, 5) == date(2026, 3, 9)
    assert ledger.add_working_days(monday, 30) == date(2026, 4, 13)
    assert ledger.add_working_days(date(2026, 3, 7), 1) == date(2026, 3, 9)  # Saturday


def test_closed_loop_rate_counts_closed_entries_and_expired_windows_only() -> None:
    today = date(2026, 6, 1)
    march = date(2026, 3, 2)  # window ends 2026-04-13
    entries = [
        entry(march, "done", date(2026, 4, 13), owner="Lin"),  # on the last day: in time
        entry(march, "done", date(2026, 4, 14), owner="Lin"),  # a day late
        entry(march, "dropped", date(2026, 3, 10), owner="Chen"),  # closed, not solved
        entry(march, "open", owner="Chen", due=date(2026, 3, 31)),  # window over, overdue
        entry(date(2026, 5, 25), "open", owner="Lin"),  # inside its window: not counted yet
        entry(date(2026, 5, 25), "done", date(2026, 5, 26)),  # recent and done: counted
    ]
    report = ledger_report.summarise(entries, today=today)
    assert (report.counted, report.closed_in_time) == (5, 2)
    assert report.rate == 0.4 and report.meets_target is False and report.target == 0.75
    assert report.open == 2 and [e.owner for e in report.overdue] == ["Chen"]
    owners = {o.owner: o for o in report.owners}
    assert (owners["Lin"].counted, owners["Lin"].closed_in_time, owners["Lin"].rate) == (2, 1, 0.5)
    assert (owners["Chen"].rate, owners["Chen"].overdue) == (0.0, 1)
    assert owners["unassigned"].rate == 1.0


def test_rate_is_unknown_until_an_entry_counts() -> None:
    report = ledger_report.summarise([entry(date(2026, 5, 25))], today=date(2026, 5, 26))
    assert report.rate is None and report.meets_target is None


def test_report_endpoint_shows_rate_target_overdue_and_owners(client: TestClient) -> None:
    owner = f"report-{uuid.uuid4().hex[:6]}"
    ids = [
        client.post("/api/ledger", json={"title": f"R{i}", "owner": owner}).json()["id"]
        for i in range(4)
    ]
    long_ago = datetime.now(UTC) - timedelta(days=80)
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        rows = [db.get(LedgerEntry, i) for i in ids]
        for row in rows:
            assert row is not None
            row.created_at = long_ago
        rows[0].status, rows[0].closed_at = "done", long_ago + timedelta(days=3)
        rows[1].status, rows[1].closed_at = "done", long_ago + timedelta(days=3)
        rows[2].status, rows[2].closed_at = "done", long_ago + timedelta(days=3)
        rows[3].due = date.today() - timedelta(days=30)
        db.commit()
    body = client.get("/api/ledger/report").json()
    assert body["target"] == 0.75 and body["window_working_days"] == 30
    assert "working days" in body["definition"]
    mine = next(o for o in body["owners"] if o["owner"] == owner)
    assert (mine["counted"], mine["closed_in_time"], mine["closed_loop_rate"]) == (4, 3, 0.75)
    assert mine["overdue"] == 1
    assert ids[3] in [e["id"] for e in body["overdue"]]


def add_risky_visit(client: TestClient, *, rep: str, team: str) -> str:
    """A visit whose customer says they may switch supplier (risk.churn)."""
    visit_id = uuid.uuid4().hex
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        db.add(
            Visit(
                id=visit_id,
                title=f"Renewal {rep}",
                rep=rep,
                team=team,
                visit_date=date(2026, 3, 2),
                content_sha256=visit_id * 2,
                status="done",
                warnings=[],
            )
        )
        db.flush()
        db.add(UtteranceLabel(visit_id=visit_id, idx=0, label="risk.churn", confidence=0.8))
        db.add(VisitResult(visit_id=visit_id, kind="analysis", data={"actions": ACTIONS}))
        db.commit()
    return visit_id


def test_attention_lists_at_risk_visits_least_followed_up_first_with_counts_per_rep(
    client: TestClient,
) -> None:
    rep, team = f"rep-{uuid.uuid4().hex[:6]}", f"team-{uuid.uuid4().hex[:6]}"
    bare, late, handled = (add_risky_visit(client, rep=rep, team=team) for _ in range(3))
    client.post("/api/ledger", json={"visit_id": late, "action_index": 0})  # due 2026-03-20
    res = client.post("/api/ledger", json={"visit_id": handled, "action_index": 0})
    client.patch(f"/api/ledger/{res.json()['id']}", json={"status": "done"})

    body = client.get("/api/ledger/attention").json()
    mine = [v for v in body["visits"] if v["rep"] == rep]
    assert [(v["visit_id"], v["follow_up"]) for v in mine] == [
        (bare, "none"),
        (late, "overdue"),
        (handled, "closed"),
    ]
    assert mine[1]["overdue"] == 1 and mine[0]["risks"] == ["risk.churn"]
    (counts,) = [r for r in body["by_rep"] if r["rep"] == rep]
    assert counts == {"rep": rep, "none": 1, "overdue": 1, "open": 0, "closed": 1}
    assert any(r["team"] == team and r["none"] == 1 for r in body["by_team"])


def test_attention_shows_a_manager_only_their_teams_visits(client: TestClient) -> None:
    from knowledge.access import Scope
    from knowledge.models import Role

    ours = add_risky_visit(client, rep="Ann", team="north")
    theirs = add_risky_visit(client, rep="Bob", team="south")
    scope = Scope(Role.MANAGER, user_id=10**6, teams=("north",))
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        seen = {r.visit.id for r in ledger_report.at_risk(db, today=date(2026, 3, 25), scope=scope)}
    assert ours in seen and theirs not in seen


def test_every_answer_writes_times_with_their_zone(client: TestClient) -> None:
    """SQLite drops the zone of what it stores; lists and creations still agree."""
    visit_id = add_visit(client)
    made = client.post("/api/ledger", json={"visit_id": visit_id, "action_index": 1}).json()
    listed = client.get("/api/ledger", params={"visit_id": visit_id}).json()["items"][0]
    assert made["created_at"] == listed["created_at"]
    assert datetime.fromisoformat(listed["created_at"]).tzinfo is not None
    visit = next(v for v in client.get("/api/visits").json()["items"] if v["id"] == visit_id)
    assert datetime.fromisoformat(visit["created_at"].replace("Z", "+00:00")).tzinfo is not None


def drafts_of(client: TestClient, visit_id: str) -> list[dict[str, Any]]:
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        ledger.draft_actions(db, visit_id=visit_id, actions=ACTIONS)  # as the analysis step does
        db.commit()
    res = client.get("/api/ledger", params={"visit_id": visit_id, "status": "draft"})
    items: list[dict[str, Any]] = res.json()["items"]
    return sorted(items, key=lambda e: e["source"])


def test_action_items_wait_as_drafts_until_confirmed_or_discarded(client: TestClient) -> None:
    visit_id = add_visit(client)
    drafts = drafts_of(client, visit_id)
    assert [(d["source"], d["owner"], d["due"]) for d in drafts] == [
        ("action:0", "rep", "2026-03-20"),
        ("action:1", "customer", None),
    ]
    confirmed = client.patch(f"/api/ledger/{drafts[0]['id']}", json={"status": "open"})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "open"
    assert client.delete(f"/api/ledger/{drafts[1]['id']}").status_code == 204
    assert_error(client.delete(f"/api/ledger/{drafts[0]['id']}"), 409, "not_a_draft")
    assert_error(client.delete(f"/api/ledger/{drafts[1]['id']}"), 404, "ledger_entry_not_found")
    # analysed again: the confirmed item stays as it is, the discarded one is a draft again
    again = drafts_of(client, visit_id)
    assert [d["source"] for d in again] == ["action:1"]
    entries = client.get("/api/ledger", params={"visit_id": visit_id}).json()["items"]
    assert sorted(e["status"] for e in entries) == ["draft", "open"]


def test_adding_an_action_item_confirms_its_draft(client: TestClient) -> None:
    visit_id = add_visit(client)
    draft = drafts_of(client, visit_id)[0]
    res = client.post("/api/ledger", json={"visit_id": visit_id, "action_index": 0, "owner": "Lin"})
    assert res.status_code == 201, res.text
    assert (res.json()["id"], res.json()["status"], res.json()["owner"]) == (
        draft["id"],
        "open",
        "Lin",
    )
    both = client.post(f"/api/visits/{visit_id}/ledger").json()
    assert [e["source"] for e in both["created"]] == ["action:1"]
    assert [e["source"] for e in both["existing"]] == ["action:0"]


def test_drafts_count_nowhere_until_confirmed(client: TestClient) -> None:
    visit_id = add_visit(client)
    before = client.get("/api/ledger/report").json()
    drafts_of(client, visit_id)
    after = client.get("/api/ledger/report").json()
    assert (after["entries"], after["open"]) == (before["entries"], before["open"])


def test_needs_attention_counts_a_visits_drafts_apart_from_its_follow_up(
    client: TestClient,
) -> None:
    visit_id = add_visit(client)
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        db.add(UtteranceLabel(visit_id=visit_id, idx=0, label="risk.churn", confidence=0.8))
        db.commit()
    drafts_of(client, visit_id)
    rows = client.get("/api/ledger/attention").json()["visits"]
    row = next(r for r in rows if r["visit_id"] == visit_id)
    assert (row["follow_up"], row["drafts"], row["open"]) == ("none", 2, 0)
