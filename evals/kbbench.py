"""Timing of the insights queries on synthetic visits, utterances and labels (`visitlens bench`)."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from knowledge import insights
from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.insights import InsightFilters
from knowledge.models import Utterance, UtteranceLabel, Visit, VisitResult
from nlp.labels import topics
from nlp.vocabulary import Segment

UTTERANCES_PER_VISIT = 40
SEGMENTS = tuple(s.value for s in Segment)
TOPICS = topics()
INDUSTRIES = ("manufacturing", "retail", "logistics", "healthcare", "energy", "finance")
BATCH = 5000


def _synthetic_rows(
    n_utterances: int, prefix: str, seed: int = 7
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    n_visits = max(1, n_utterances // UTTERANCES_PER_VISIT)
    today = date.today()
    visits, results, utterances, labels = [], [], [], []
    for v in range(n_visits):
        visit_id = f"{prefix}{v:06d}"
        visits.append(
            {
                "id": visit_id,
                "title": f"Synthetic visit {v}",
                "rep": f"rep{v % 25:02d}",
                "customer": f"customer{v % 400:03d}",
                "industry": INDUSTRIES[v % len(INDUSTRIES)],
                "segment": SEGMENTS[v % len(SEGMENTS)],
                "visit_date": today - timedelta(days=rng.randrange(365)),
                "content_sha256": f"{visit_id:0>64}"[-64:],
                "status": "done",
                "warnings": [],
            }
        )
        results.append({"visit_id": visit_id, "kind": "analysis", "data": {"actions": []}})
    for i in range(n_utterances):
        visit_id = f"{prefix}{i // UTTERANCES_PER_VISIT % n_visits:06d}"
        idx = (
            i % UTTERANCES_PER_VISIT + i // (UTTERANCES_PER_VISIT * n_visits) * UTTERANCES_PER_VISIT
        )
        customer = idx % 2 == 1
        utterances.append(
            {
                "visit_id": visit_id,
                "idx": idx,
                "start": idx * 6.0,
                "end": idx * 6.0 + 5.5,
                "role": "customer" if customer else "rep",
                "text": f"synthetic utterance {i}",
                "labels": [],
                "risk": [],
            }
        )
        if customer and rng.random() < 0.6:
            for topic in rng.sample(TOPICS, rng.choice((1, 1, 2))):
                kind = "pain" if rng.random() < 0.55 else "need"
                labels.append(
                    {
                        "visit_id": visit_id,
                        "idx": idx,
                        "label": f"{kind}.{topic}",
                        "confidence": round(rng.uniform(0.5, 1.0), 3),
                    }
                )
    return visits, results, utterances, labels


def _timed(run: Callable[[], object], repeats: int) -> dict[str, float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1000)
    return {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1)}


def bench_insights(n_utterances: int, database_url: str, repeats: int = 5) -> dict[str, Any]:
    """Insert synthetic analysed visits, time the insights queries, then delete what it added."""
    migrate(database_url)
    engine = make_engine(database_url)
    factory = make_sessionmaker(engine)
    prefix = f"kb{uuid.uuid4().hex[:6]}-"
    visits, results, utterances, labels = _synthetic_rows(n_utterances, prefix)
    t0 = time.perf_counter()
    with factory() as db, db.begin():
        for table, rows in (
            (Visit, visits),
            (VisitResult, results),
            (Utterance, utterances),
            (UtteranceLabel, labels),
        ):
            for i in range(0, len(rows), BATCH):
                db.execute(insert(table), rows[i : i + BATCH])
    insert_s = time.perf_counter() - t0
    try:
        with factory() as db:
            cases: dict[str, Callable[[Session], object]] = {
                "pain_all": lambda s: insights.compute(s, kind="pain", filters=InsightFilters()),
                "need_all_weekly": lambda s: insights.compute(
                    s, kind="need", filters=InsightFilters(), period="week"
                ),
                "pain_segment": lambda s: insights.compute(
                    s, kind="pain", filters=InsightFilters(segment=Segment.STRATEGIC)
                ),
                "pain_rep_dates": lambda s: insights.compute(
                    s,
                    kind="pain",
                    filters=InsightFilters(
                        rep="rep03",
                        date_from=date.today() - timedelta(days=120),
                        date_to=date.today(),
                    ),
                ),
            }
            timings = {name: _timed(lambda f=f: f(db), repeats) for name, f in cases.items()}  # type: ignore[misc]
    finally:
        with factory() as db, db.begin():
            ids = [v["id"] for v in visits]
            for table in (UtteranceLabel, Utterance, VisitResult):
                for i in range(0, len(ids), 1000):
                    db.execute(delete(table).where(table.visit_id.in_(ids[i : i + 1000])))
            for i in range(0, len(ids), 1000):
                db.execute(delete(Visit).where(Visit.id.in_(ids[i : i + 1000])))
        engine.dispose()
    return {
        "backend": make_url(database_url).get_backend_name(),
        "n_utterances": n_utterances,
        "n_visits": len(visits),
        "n_label_rows": len(labels),
        "insert_s": round(insert_s, 2),
        "timings": timings,
    }
