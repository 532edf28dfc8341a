"""Pain-point and need insights over stored analyses, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from knowledge.db import migrate
from knowledge.models import Role, Utterance, UtteranceLabel, Visit, VisitResult
from tests.conftest import make_user, settings_for, signed_in

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
    sentiment: str = "neutral",
    team: str | None = None,
) -> str:
    """A visit whose customer said each text with the given labels and confidences, all in
    one sentiment."""
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
                team=team,
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
                    sentiment=sentiment,
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


def test_trend_compares_the_newest_period_with_the_one_before(
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
    # new this month, but in 2 visits: below the default minimum of 3, so not rising
    assert body["rising_min_visits"] == 3 and body["rising"] == []
    assert topic(body, "pain.delivery")["rising"] is False


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
    assert delivery["utterances"] == "3" and delivery["rising"] == ""
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


def test_topics_carry_sentiment_shares_and_the_segments_they_are_counted_in(
    client: TestClient,
) -> None:
    customer = f"Moods-{uuid.uuid4().hex[:6]}"
    march = date(2026, 3, 5)
    angry = add_visit(
        client,
        customer=customer,
        day=march,
        said=[("Late again.", {"pain.delivery": 0.9}), ("Still late.", {"pain.delivery": 0.6})],
        sentiment="negative",
    )
    add_visit(
        client,
        customer=customer,
        day=march,
        said=[("Late, but you fixed it fast.", {"pain.delivery": 0.7})],
        segment="basic",
        sentiment="positive",
    )
    add_visit(client, customer=customer, day=march, said=[("Fine.", {})], segment="basic")
    body = client.get("/api/insights/pain-points", params={"customer": customer}).json()
    assert body["segments"] == {"basic": 2, "strategic": 1}
    delivery = topic(body, "pain.delivery")
    assert delivery["sentiment"] == {
        "negative": 2,
        "neutral": 0,
        "positive": 1,
        "negative_share": 0.6667,
        "neutral_share": 0.0,
        "positive_share": 0.3333,
    }
    assert delivery["by_segment"]["basic"] == {"utterances": 1, "visits": 1, "share": 0.5}
    assert delivery["by_segment"]["strategic"]["share"] == 1.0
    first = delivery["quotes"][0]
    assert (first["visit_id"], first["start"], first["end"]) == (angry, 2.4, 8.0)
    quiet = topic(body, "pain.quality")["sentiment"]
    assert (quiet["negative"], quiet["negative_share"]) == (0, 0.0)


def test_a_topic_rises_only_from_the_minimum_number_of_visits(client: TestClient) -> None:
    customer = f"Rising-{uuid.uuid4().hex[:6]}"
    add_visit(client, customer=customer, day=date(2026, 5, 4), said=[("All fine.", {})])
    for day in (5, 12, 19):
        add_visit(
            client,
            customer=customer,
            day=date(2026, 6, day),
            said=[("The casing cracks.", {"pain.quality": 0.8})],
        )
    chatty = [("Support never calls back.", {"pain.service": 0.9})] * 5
    add_visit(client, customer=customer, day=date(2026, 6, 20), said=chatty)
    body = client.get("/api/insights/pain-points", params={"customer": customer}).json()
    assert [r["label"] for r in body["rising"]] == ["pain.quality"]
    assert "3 visits" in body["rising"][0]["reason"]
    service = topic(body, "pain.service")
    assert service["trend"]["delta"] == 5 and service["rising"] is False  # one visit, 5 mentions


def test_the_minimum_visits_for_rising_is_a_setting(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, "embedded", insights_rising_min_visits=1)
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as c:
        signed_in(c, settings)
        customer = "Once"
        add_visit(c, customer=customer, day=date(2026, 6, 2), said=[("Slow.", {"pain.service": 1})])
        body = c.get("/api/insights/pain-points", params={"customer": customer}).json()
    assert body["rising_min_visits"] == 1
    assert [r["label"] for r in body["rising"]] == ["pain.service"]


def test_a_manager_counts_only_their_teams_visits(client: TestClient) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    team = f"north-{uuid.uuid4().hex[:6]}"
    token = make_user(settings, f"lead-{uuid.uuid4().hex[:6]}", Role.MANAGER, teams=(team,))
    lead = {"Authorization": f"Bearer {token}"}
    customer = f"Scoped-{uuid.uuid4().hex[:6]}"
    day = date(2026, 7, 1)
    said = [("Too expensive.", {"pain.price": 0.9})]
    ours = add_visit(client, customer=customer, day=day, said=said, team=team)
    add_visit(
        client, customer=customer, day=day, said=said * 2, segment="basic", sentiment="negative"
    )
    params = {"customer": customer}
    everyone = client.get("/api/insights/pain-points", params=params).json()
    assert everyone["analysed_visits"] == 2 and topic(everyone, "pain.price")["utterances"] == 3
    body = client.get("/api/insights/pain-points", params=params, headers=lead).json()
    assert body["analysed_visits"] == 1 and body["segments"] == {"strategic": 1}
    price = topic(body, "pain.price")
    assert price["utterances"] == 1 and price["sentiment"]["negative"] == 0
    assert [q["visit_id"] for q in price["quotes"]] == [ours]
    assert price["by_segment"] == {"strategic": {"utterances": 1, "visits": 1, "share": 1.0}}


def test_the_api_docs_describe_the_insights_answer(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    ok = spec["paths"]["/api/insights/needs"]["get"]["responses"]["200"]["content"]
    assert ok["application/json"]["schema"] == {"$ref": "#/components/schemas/InsightsOut"}
    assert "text/csv" in ok
    topic_schema = spec["components"]["schemas"]["TopicOut"]["properties"]
    assert {"sentiment", "by_period", "by_segment", "quotes"} <= set(topic_schema)
