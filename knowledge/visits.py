"""Storage functions for visits and their transcripts; the caller owns the transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from knowledge.access import Scope
from knowledge.errors import InvalidInput, VisitNotFound
from knowledge.models import (
    PipelineStep,
    Role,
    SegmentRow,
    Step,
    StepStatus,
    UtteranceLabel,
    Visit,
    VisitResult,
    VisitStatus,
)
from nlp.types import Segment, Word
from nlp.vocabulary import Outcome, Risk
from nlp.vocabulary import Segment as CustomerSegment


@dataclass(frozen=True)
class VisitFilters:
    status: VisitStatus | None = None
    rep: str | None = None
    customer: str | None = None
    segment: CustomerSegment | None = None
    industry: str | None = None
    language: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    outcome: Outcome | None = None
    risk: Risk | None = None  # some utterance carries it
    q: str | None = None  # substring of the title


EDITABLE = (
    "title",
    "rep",
    "customer",
    "contacts",
    "industry",
    "segment",
    "visit_date",
    "outcome",
)


def get(db: Session, *, visit_id: str, scope: Scope | None = None) -> Visit:
    """The visit, when it exists and the scope (if given) lets its caller see it; a visit the
    caller may not see is not found, so that ids do not leak."""
    visit = db.get(Visit, visit_id)
    if visit is None:
        raise VisitNotFound(visit_id)
    if scope is not None and not visible(db, scope=scope, visit_ids=[visit_id]):
        raise VisitNotFound(visit_id)
    return visit


def get_recording(db: Session, *, visit_id: str, scope: Scope) -> Visit:
    """The visit, when the scope lets its caller play its recording."""
    visit = db.scalar(select(Visit).where(Visit.id == visit_id, scope.playable()))
    if visit is None:
        raise VisitNotFound(visit_id)
    return visit


def existing(db: Session, *, visit_ids: Iterable[str]) -> set[str]:
    """Those of the visits the database has."""
    return set(db.scalars(select(Visit.id).where(Visit.id.in_(set(visit_ids)))))


def contacts_of(db: Session, *, visit_ids: Iterable[str]) -> dict[str, list[str]]:
    """Per visit, its customer's people (the names masked with personal data)."""
    query = select(Visit.id, Visit.contacts).where(Visit.id.in_(set(visit_ids)))
    return {visit_id: list(names or []) for visit_id, names in db.execute(query)}


def visible_ids(db: Session, *, scope: Scope) -> frozenset[str] | None:
    """Every visit the scope lets its caller see; None when that is every visit."""
    if scope.role == Role.ADMIN:
        return None
    return frozenset(db.scalars(select(Visit.id).where(scope.visits())))


def visible(db: Session, *, scope: Scope, visit_ids: Sequence[str]) -> set[str]:
    """Those of the visits the scope lets its caller see."""
    query = select(Visit.id).where(Visit.id.in_(visit_ids), scope.visits())
    return set(db.scalars(query))


def find_by_hash(db: Session, *, sha256: str) -> Visit | None:
    return db.scalar(select(Visit).where(Visit.content_sha256 == sha256))


def create(db: Session, *, visit: Visit, steps: Sequence[Step]) -> Visit:
    db.add(visit)
    db.flush()  # the steps' foreign key needs the visit row first
    for step in steps:
        db.add(PipelineStep(visit_id=visit.id, step=step, status=StepStatus.PENDING))
    db.flush()
    return visit


VisitSort = Literal["newest", "score_high", "score_low"]


def _scorecard_total() -> Any:
    """The coaching scorecard's total (0..100) of the visit in the row, None before coaching."""
    return (
        select(VisitResult.data["scorecard"]["total"].as_float())
        .where(VisitResult.visit_id == Visit.id, VisitResult.kind == "coaching")
        .scalar_subquery()
    )


def listing(
    db: Session,
    *,
    filters: VisitFilters,
    scope: Scope,
    limit: int,
    offset: int,
    sort: VisitSort = "newest",
) -> tuple[list[Visit], int]:
    """A page of the visits the scope sees, newest first or by scorecard (unscored last)."""
    query = select(Visit).where(scope.visits())
    for column, value in (
        (Visit.status, filters.status),
        (Visit.rep, filters.rep),
        (Visit.customer, filters.customer),
        (Visit.segment, filters.segment),
        (Visit.industry, filters.industry),
        (Visit.language, filters.language),
        (Visit.outcome, filters.outcome),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.date_from is not None:
        query = query.where(Visit.visit_date >= filters.date_from)
    if filters.date_to is not None:
        query = query.where(Visit.visit_date <= filters.date_to)
    if filters.risk is not None:
        flagged = select(UtteranceLabel.visit_id).where(UtteranceLabel.label == filters.risk)
        query = query.where(Visit.id.in_(flagged))
    if filters.q:
        query = query.where(Visit.title.contains(filters.q, autoescape=True))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = [Visit.created_at.desc(), Visit.id]
    if sort != "newest":
        score = _scorecard_total()
        order.insert(0, (score.desc() if sort == "score_high" else score.asc()).nulls_last())
    rows = db.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(rows), total


def scores_of(db: Session, *, visit_ids: Sequence[str]) -> dict[str, float]:
    """Per visit with a coaching scorecard, its total (0..100)."""
    query = select(VisitResult.visit_id, VisitResult.data["scorecard"]["total"].as_float()).where(
        VisitResult.visit_id.in_(visit_ids), VisitResult.kind == "coaching"
    )
    return {visit_id: total for visit_id, total in db.execute(query) if total is not None}


def risks_of(db: Session, *, visit_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per visit, the risk signals (nlp.vocabulary.Risk) that some utterance carries."""
    query = (
        select(UtteranceLabel.visit_id, UtteranceLabel.label)
        .where(UtteranceLabel.visit_id.in_(visit_ids), UtteranceLabel.label.startswith("risk."))
        .distinct()
    )
    out: dict[str, list[str]] = {v: [] for v in visit_ids}
    for visit_id, label in db.execute(query):
        out[visit_id].append(label)
    return {v: sorted(labels) for v, labels in out.items()}


def update_metadata(
    db: Session, *, visit_id: str, changes: Mapping[str, str | date | list[str] | None]
) -> list[str]:
    """Set some of a visit's EDITABLE fields (values already validated); returns those changed."""
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(
            f"{', '.join(unknown)} cannot be edited; editable: {', '.join(EDITABLE)}.",
            code="invalid_field",
        )
    visit = get(db, visit_id=visit_id)
    changed = [n for n in EDITABLE if n in changes and getattr(visit, n) != changes[n]]
    for name in changed:
        setattr(visit, name, changes[name])
    db.flush()
    return changed


def remove(db: Session, *, visit_id: str) -> Visit:
    """Delete a visit; the database cascades to every row derived from it (keyword search's
    rows included)."""
    visit = get(db, visit_id=visit_id)
    db.delete(visit)
    db.flush()
    return visit


def expired(db: Session, *, uploaded_before: datetime) -> list[str]:
    """Visits uploaded before this moment (the retention period's end), oldest first."""
    query = select(Visit.id).where(Visit.created_at < uploaded_before)
    return list(db.scalars(query.order_by(Visit.created_at)))


def of_customer(db: Session, *, customer: str, scope: Scope) -> list[str]:
    """Every visit of one customer that the scope may see."""
    query = select(Visit.id).where(Visit.customer == customer, scope.visits())
    return list(db.scalars(query))


def steps_of(db: Session, *, visit_ids: Sequence[str]) -> dict[str, list[PipelineStep]]:
    """Per visit, its pipeline steps (one query for a whole page of visits)."""
    out: dict[str, list[PipelineStep]] = {v: [] for v in visit_ids}
    for row in db.scalars(select(PipelineStep).where(PipelineStep.visit_id.in_(visit_ids))):
        out[row.visit_id].append(row)
    return out


def set_status(
    db: Session, *, visit_id: str, status: VisitStatus, progress: float | None = None
) -> None:
    visit = get(db, visit_id=visit_id)
    visit.status = status
    if progress is not None:
        visit.progress = progress


def fail(db: Session, *, visit_id: str, code: str, message: str) -> None:
    visit = get(db, visit_id=visit_id)
    visit.status = VisitStatus.FAILED
    visit.error_code = code
    visit.error_message = message


def add_warning(db: Session, *, visit_id: str, warning: str) -> None:
    visit = get(db, visit_id=visit_id)
    if warning not in visit.warnings:
        visit.warnings = [*visit.warnings, warning]


def replace_segments(db: Session, *, visit_id: str, segments: Sequence[Segment]) -> None:
    db.execute(delete(SegmentRow).where(SegmentRow.visit_id == visit_id))
    db.add_all(
        SegmentRow(
            visit_id=visit_id,
            idx=i,
            start=round(s.start, 3),
            end=round(s.end, 3),
            text=s.text,
            language=s.language,
            speaker=s.speaker,
            role=s.role,
            words=[
                [round(w.start, 3), round(w.end, 3), w.text, round(w.probability, 3)]
                for w in s.words
            ],
        )
        for i, s in enumerate(segments)
    )
    db.flush()


def segments_of(db: Session, *, visit_id: str) -> list[Segment]:
    rows = db.scalars(
        select(SegmentRow).where(SegmentRow.visit_id == visit_id).order_by(SegmentRow.idx)
    ).all()
    return [
        Segment(
            start=r.start,
            end=r.end,
            text=r.text,
            language=r.language,
            words=[Word(w[0], w[1], w[2], w[3]) for w in r.words or []],
            speaker=r.speaker,
            role=r.role,
        )
        for r in rows
    ]


def put_result(db: Session, *, visit_id: str, kind: str, data: dict[str, Any]) -> None:
    row = db.get(VisitResult, (visit_id, kind))
    if row is None:
        db.add(VisitResult(visit_id=visit_id, kind=kind, data=data))
    else:
        row.data = data
    db.flush()


def get_result(db: Session, *, visit_id: str, kind: str) -> dict[str, Any] | None:
    row = db.get(VisitResult, (visit_id, kind))
    return None if row is None else row.data
