"""The database layer on real PostgreSQL and on SQLite: leases, replace-not-append, cascades."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from knowledge import steps, visits
from knowledge.access import ADMIN_SCOPE
from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.models import SegmentRow, Step, StepStatus, Utterance, Visit, utcnow
from nlp.types import Segment

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_database")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate(url)
    migrate(url)  # a second run is a no-op
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test."""
    engine = make_engine(database_url)
    with engine.connect() as conn:
        trans = conn.begin()
        session = make_sessionmaker(engine)(bind=conn, join_transaction_mode="create_savepoint")
        yield session
        session.close()
        trans.rollback()
    engine.dispose()


def new_visit(db: Session, visit_id: str = "v1") -> Visit:
    return visits.create(
        db, visit=Visit(id=visit_id, content_sha256=visit_id * 4, warnings=[]), steps=list(Step)
    )


def test_claim_is_exclusive_until_the_lease_goes_stale(db: Session) -> None:
    new_visit(db)
    assert steps.claim(db, visit_id="v1", step=Step.TRANSCRIBE, worker="a", stale_s=60)
    assert not steps.claim(db, visit_id="v1", step=Step.TRANSCRIBE, worker="b", stale_s=60)
    assert steps.claim(db, visit_id="v1", step=Step.TRANSCRIBE, worker="a", stale_s=60)  # retry
    row = next(r for r in visits.steps_of(db, visit_ids=["v1"])["v1"] if r.step == Step.TRANSCRIBE)
    row.heartbeat_at = utcnow() - timedelta(seconds=120)
    db.flush()
    assert steps.claim(db, visit_id="v1", step=Step.TRANSCRIBE, worker="b", stale_s=60)
    assert not steps.heartbeat(db, visit_id="v1", step=Step.TRANSCRIBE, worker="a")
    db.refresh(row)
    assert row.worker == "b" and row.attempts == 3


def test_done_step_is_not_claimed_again(db: Session) -> None:
    new_visit(db)
    steps.claim(db, visit_id="v1", step=Step.TRANSCRIBE, worker="a", stale_s=60)
    steps.finish(db, visit_id="v1", step=Step.TRANSCRIBE)
    assert not steps.claim(db, visit_id="v1", step=Step.TRANSCRIBE, worker="b", stale_s=60)
    assert steps.status_of(db, visit_id="v1", step=Step.TRANSCRIBE) == StepStatus.DONE


def test_abandoned_finds_dead_workers_and_lost_tasks(db: Session) -> None:
    new_visit(db, "dead")
    new_visit(db, "lost")
    steps.claim(db, visit_id="dead", step=Step.TRANSCRIBE, worker="a", stale_s=60)
    later = utcnow() + timedelta(seconds=600)
    found = steps.abandoned(db, stale_s=60, now=later)
    assert ("dead", "transcribe") in found and ("lost", "transcribe") in found
    assert steps.abandoned(db, stale_s=60) == []


def test_segments_are_replaced_not_appended(db: Session) -> None:
    new_visit(db)
    segs = [Segment(0.0, 1.0, "你好"), Segment(1.0, 2.5, "hello", language="en")]
    visits.replace_segments(db, visit_id="v1", segments=segs)
    visits.replace_segments(db, visit_id="v1", segments=segs)
    assert [s.text for s in visits.segments_of(db, visit_id="v1")] == ["你好", "hello"]


def test_deleting_a_visit_removes_everything_derived(db: Session) -> None:
    new_visit(db)
    visits.replace_segments(db, visit_id="v1", segments=[Segment(0.0, 1.0, "x")])
    db.add(Utterance(visit_id="v1", idx=0, start=0, end=1, text="x"))
    visits.put_result(db, visit_id="v1", kind="coaching", data={"a": 1})
    db.flush()
    visits.remove(db, visit_id="v1")
    assert db.scalar(select(func.count()).select_from(SegmentRow)) == 0
    assert db.scalar(select(func.count()).select_from(Utterance)) == 0
    assert visits.get_result(db, visit_id="v1", kind="coaching") is None


def test_listing_filters_and_counts(db: Session, tmp_path: Path) -> None:
    for i, rep in enumerate(["Ann", "Ann", "Bo"]):
        v = new_visit(db, f"id{i}")
        v.rep = rep
    db.flush()
    rows, total = visits.listing(
        db, filters=visits.VisitFilters(rep="Ann"), scope=ADMIN_SCOPE, limit=1, offset=0
    )
    assert total == 2 and len(rows) == 1
