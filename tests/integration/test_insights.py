"""Pain-point and need insights over stored analyses, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from knowledge.models import Utterance, UtteranceLabel, Visit, VisitResult

pytestmark = pytest.mark.integration


def add_visit(
    client: TestClient,
    *,
    customer: str,
    day: date | None,
    said: list[tuple[str, dict[str, float]]],
    rep: str = "Lin",
    segment: str = "strategic",
    industry: str = "retail",
    analysed: bool = True,
) -> str:
    """A visit whose customer said each text with the given labels and confidences."""
    visit_id = uuid.uuid4().hex
    with client.app.state.sessionmaker() as db:  # type: ignore[attr-defined]
        db.add(
            Visit(
                id=visit_id,
                title=f"Visit to {customer} on {day or 'an unknown day'}",
                rep=rep,
                customer=customer,
                industry=industry,
                segment=segment,
                visit_date=day,
                content_sha256=visit_id * 2,
                status="done" if analysed else "analysing",
                warnings=[],
            )
        )
        db.flush()
        for idx, (text, labels) in enumerate(said):
            db.add(
                Utterance(
                    visit_id=visit_id,
                    idx=idx,
                    start=10.0 * idx + 2.4,
                    end=10.0 * idx + 8,
                    role="customer",
                    text=text,
                    labels=[],
                    risk=[],
                )
            )
            db.add_all(
                UtteranceLabel(visit_id=visit_id, idx=idx, label=label, confidence=conf)
                for label, conf in labels.items()
            )
        if analysed:
            db.add(VisitResult(visit_id=visit_id, kind="analysis", data={"actions": []}))
        db.commit()
    return visit_id


@pytest.fixture(scope="module")
def seeded(client: TestClient) -> dict[str, Any]:
    """Customer ACME: one visit in February 2026, three in March, and one still being analysed."""
    customer = f"ACME-{uuid.uuid4().hex[:6]}"
    feb = add_visit(
        client,
        customer=customer,
        day=date(2026, 2, 10),
        said=[
            ("Your prices went up twice.", {"pain.price": 0.9}),
            ("Again prices.", {"pain.price": 0.6}),
        ],
        segment="basic",
    )
    m1 = add_visit(
        client,
        customer=customer,
        day=date(2026, 3, 2),
        said=[
            ("The parts arrived three weeks late.", {"pain.delivery": 0.95}),
            ("Late again last month.", {"pain.delivery": 0.7}),
            ("We want a cheaper plan.", {"need.price": 0.8}),
        ],
        rep="Chen",
    )
    m2 = add_visit(
        client,
        customer=customer,
        day=date(2026, 3, 16),
        said=[("Delivery slipped once more.", {"pain.delivery": 0.8, "pain.price": 0.55})],
    )
    m3 = add_visit(client, customer=customer, day=date(2026, 3, 20), said=[("All fine.", {})])
    pending = add_visit(
        client,
        customer=customer,
        day=date(2026, 3, 21),
        said=[("Trucks are always late.", {"pain.delivery": 0.99})],
        analysed=False,
    )
    return {"customer": customer, "feb": feb, "march": [m1, m2, m3], "pending": pending}


def topic(body: dict[str, Any], label: str) -> dict[str, Any]:
    return next(t for t in body["topics"] if t["label"] == label)


def assert_error(res: Any, status: int, code: str) -> dict[str, Any]:
    assert res.status_code == status, res.text
    err: dict[str, Any] = res.json()["error"]
    assert err["code"] == code
    return err


def test_pain_points_count_utterances_and_share_of_analysed_visits(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    res = client.get("/api/insights/pain-points", params={"customer": seeded["customer"]})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["analysed_visits"] == 4  # the visit still being analysed is not counted
    delivery = topic(body, "pain.delivery")
    assert (delivery["utterances"], delivery["visits"], delivery["share"]) == (3, 2, 0.5)
    assert delivery["name"]["en"]
    price = topic(body, "pain.price")
    assert (price["utterances"], price["visits"]) == (3, 2)
    assert body["topics"][0]["visits"] >= body["topics"][-1]["visits"]
    assert all(t["label"].startswith("pain.") for t in body["topics"])
    assert topic(body, "pain.quality")["utterances"] == 0  # every known topic is listed


def test_pain_points_break_down_by_segment_industry_rep_and_period(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    body = client.get("/api/insights/pain-points", params={"customer": seeded["customer"]}).json()
    delivery = topic(body, "pain.delivery")
    assert delivery["by_segment"] == {"strategic": {"utterances": 3, "visits": 2, "share": 0.6667}}
    assert delivery["by_rep"]["Chen"] == {"utterances": 2, "visits": 1, "share": 1.0}
    assert delivery["by_rep"]["Lin"] == {"utterances": 1, "visits": 1, "share": 0.3333}
    assert delivery["by_industry"]["retail"]["visits"] == 2
    assert delivery["by_period"]["2026-02"] == {"utterances": 0, "visits": 0, "share": 0.0}
    assert delivery["by_period"]["2026-03"] == {"utterances": 3, "visits": 2, "share": 0.6667}


def test_trend_compares_the_newest_period_with_the_one_before_and_flags_new_topics(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    body = client.get("/api/insights/pain-points", params={"customer": seeded["customer"]}).json()
    assert (body["current_period"], body["previous_period"]) == ("2026-03", "2026-02")
    delivery = topic(body, "pain.delivery")["trend"]
    assert delivery["current"]["utterances"] == 3 and delivery["previous"]["utterances"] == 0
    assert delivery["delta"] == 3 and delivery["ratio"] is None
    price = topic(body, "pain.price")["trend"]
    assert (price["previous"]["utterances"], price["current"]["utterances"]) == (2, 1)
    assert price["delta"] == -1 and price["ratio"] == 0.5
    assert price["share_delta"] == pytest.approx(1 / 3 - 1.0, abs=1e-3)
    assert [r["label"] for r in body["rising"]] == ["pain.delivery"]
    assert body["rising"][0]["new"] and "2026-03" in body["rising"][0]["reason"]
    assert topic(body, "pain.delivery")["rising"] is True


def test_quotes_are_the_most_confident_from_distinct_visits_with_audio_links(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    body = client.get("/api/insights/pain-points", params={"customer": seeded["customer"]}).json()
    quotes = topic(body, "pain.delivery")["quotes"]
    m1, m2, _ = seeded["march"]
    assert [q["visit_id"] for q in quotes] == [m1, m2]
    first = quotes[0]
    assert first["text"] == "The parts arrived three weeks late."
    assert first["confidence"] == 0.95 and first["start"] == 2.4
    assert re.fullmatch(rf"/api/visits/{m1}/audio\?u=\d+&expires=\d+&sig=\w+#t=2\.4", first["link"])
    assert first["title"].startswith("Visit to ACME")


def test_date_range_limits_totals_but_trend_still_reads_the_previous_period(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    params = {"customer": seeded["customer"], "date_from": "2026-03-01", "date_to": "2026-03-31"}
    body = client.get("/api/insights/pain-points", params=params).json()
    assert body["analysed_visits"] == 3
    price = topic(body, "pain.price")
    assert (price["utterances"], price["visits"]) == (1, 1)
    assert price["trend"]["previous"]["utterances"] == 2
    assert list(price["by_period"]) == ["2026-03"]


def test_needs_are_reported_apart_from_pain_points(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    body = client.get("/api/insights/needs", params={"customer": seeded["customer"]}).json()
    assert body["kind"] == "need"
    assert topic(body, "need.price")["utterances"] == 1
    assert all(t["label"].startswith("need.") for t in body["topics"])


def test_weekly_periods_use_iso_weeks(client: TestClient, seeded: dict[str, Any]) -> None:
    params = {"customer": seeded["customer"], "period": "week"}
    body = client.get("/api/insights/pain-points", params=params).json()
    assert (body["current_period"], body["previous_period"]) == ("2026-W12", "2026-W11")
    delivery = topic(body, "pain.delivery")
    assert delivery["by_period"]["2026-W10"]["utterances"] == 2
    assert delivery["by_period"]["2026-W12"]["utterances"] == 1
    assert delivery["trend"]["current"]["utterances"] == 1
    assert delivery["trend"]["previous"]["utterances"] == 0


def test_segment_filter_keeps_only_that_segment(client: TestClient, seeded: dict[str, Any]) -> None:
    params = {"customer": seeded["customer"], "segment": "basic"}
    body = client.get("/api/insights/pain-points", params=params).json()
    assert body["analysed_visits"] == 1
    assert topic(body, "pain.price")["utterances"] == 2
    assert topic(body, "pain.delivery")["utterances"] == 0


def test_csv_export_has_one_row_per_topic(client: TestClient, seeded: dict[str, Any]) -> None:
    params = {"customer": seeded["customer"], "format": "csv"}
    res = client.get("/api/insights/pain-points", params=params)
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(res.content.decode("utf-8-sig"))))
    delivery = next(r for r in rows if r["label"] == "pain.delivery")
    assert delivery["utterances"] == "3" and delivery["rising"] == "yes"
    assert delivery["top_quote"] == "The parts arrived three weeks late."
    assert re.search(r"/audio\?u=\d+&expires=\d+&sig=\w+#t=2\.4$", delivery["top_quote_link"])


def test_unknown_segment_is_refused_naming_the_valid_values(client: TestClient) -> None:
    err = assert_error(
        client.get("/api/insights/pain-points", params={"segment": "vip"}), 422, "invalid_request"
    )
    assert "strategic" in err["message"] and "low_efficiency" in err["message"]


def test_unknown_period_and_format_are_refused(client: TestClient) -> None:
    err = assert_error(
        client.get("/api/insights/needs", params={"period": "year"}), 422, "invalid_request"
    )
    assert "week" in err["message"] and "month" in err["message"]
    assert_error(
        client.get("/api/insights/needs", params={"format": "xlsx"}), 422, "invalid_request"
    )


def test_unknown_rep_is_refused_naming_known_reps(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    res = client.get("/api/insights/pain-points", params={"rep": "Nobody"})
    err = assert_error(res, 422, "unknown_filter_value")
    assert "Nobody" in err["message"] and "Chen" in err["message"] and "Lin" in err["message"]


def test_reversed_or_malformed_dates_are_refused(client: TestClient) -> None:
    params = {"date_from": "2026-04-01", "date_to": "2026-03-01"}
    assert_error(client.get("/api/insights/pain-points", params=params), 422, "invalid_range")
    params = {"date_from": "last spring"}
    assert_error(client.get("/api/insights/pain-points", params=params), 422, "invalid_request")


def test_range_without_visits_gives_zero_counts_not_an_error(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    params = {"customer": seeded["customer"], "date_from": "2025-01-01", "date_to": "2025-01-31"}
    body = client.get("/api/insights/pain-points", params=params).json()
    assert body["analysed_visits"] == 0
    assert all(t["utterances"] == 0 and t["share"] == 0.0 for t in body["topics"])
    assert body["rising"] == []


def test_visit_without_a_date_counts_on_its_upload_day(client: TestClient) -> None:
    customer = f"Undated-{uuid.uuid4().hex[:6]}"
    add_visit(client, customer=customer, day=None, said=[("Too slow.", {"pain.service": 0.9})])
    body = client.get("/api/insights/pain-points", params={"customer": customer}).json()
    month = date.today().strftime("%Y-%m")
    assert body["current_period"] == month
    service = topic(body, "pain.service")
    assert service["by_period"] == {month: {"utterances": 1, "visits": 1, "share": 1.0}}
    today = {"customer": customer, "date_from": date.today().isoformat()}
    assert client.get("/api/insights/pain-points", params=today).json()["analysed_visits"] == 1


def test_visit_list_flags_and_filters_visits_with_risk_signals(client: TestClient) -> None:
    customer = f"Risky-{uuid.uuid4().hex[:6]}"
    risky = add_visit(
        client,
        customer=customer,
        day=date(2026, 4, 1),
        said=[("We may move to another supplier.", {"pain.price": 0.8, "risk.churn": 0.9})],
    )
    calm = add_visit(client, customer=customer, day=date(2026, 4, 2), said=[("All good.", {})])
    listed = client.get("/api/visits", params={"customer": customer}).json()["items"]
    assert {v["id"]: v["risks"] for v in listed} == {risky: ["risk.churn"], calm: []}
    churn = client.get("/api/visits", params={"customer": customer, "risk": "risk.churn"}).json()
    assert [v["id"] for v in churn["items"]] == [risky] and churn["total"] == 1
    doubt = client.get("/api/visits", params={"customer": customer, "risk": "risk.doubt"}).json()
    assert doubt["items"] == []
    bad = client.get("/api/visits", params={"risk": "risk.weather"})
    assert bad.status_code == 422 and "risk.churn" in bad.json()["error"]["message"]
