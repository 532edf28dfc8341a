"""Storage of analysed utterances, their label rows and people's corrections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from knowledge.access import ADMIN_SCOPE, Scope
from knowledge.errors import NotFound
from knowledge.models import Correction, Role, Utterance, UtteranceLabel, Visit
from nlp.classify import Classifier, TextAnalysis
from nlp.types import Segment


@dataclass(frozen=True)
class CorrectionIn:
    labels: list[str]
    sentiment: str | None = None
    risk: tuple[str, ...] = ()
    author: str | None = None


def replace_utterances(
    db: Session,
    *,
    visit_id: str,
    segments: Sequence[Segment],
    analyses: Sequence[TextAnalysis],
    corrected: set[int],
) -> None:
    for table in (UtteranceLabel, Utterance):
        db.execute(delete(table).where(table.visit_id == visit_id))
    db.flush()
    for i, (seg, res) in enumerate(zip(segments, analyses, strict=True)):
        db.add(
            Utterance(
                visit_id=visit_id,
                idx=i,
                start=seg.start,
                end=seg.end,
                role=seg.role,
                text=seg.text,
                language=res.language,
                sentiment=res.sentiment,
                sentiment_score=round(res.sentiment_score, 3),
                labels=[{"id": x.id, "confidence": round(x.confidence, 3)} for x in res.labels],
                risk=[{"id": x.id, "confidence": round(x.confidence, 3)} for x in res.risk],
                corrected=i in corrected,
            )
        )
    db.flush()
    db.add_all(
        UtteranceLabel(visit_id=visit_id, idx=i, label=x.id, confidence=round(x.confidence, 3))
        for i, res in enumerate(analyses)
        for x in [*res.labels, *res.risk]
    )
    db.flush()


def utterances_of(db: Session, *, visit_id: str) -> list[Utterance]:
    return list(
        db.scalars(
            select(Utterance).where(Utterance.visit_id == visit_id).order_by(Utterance.idx)
        ).all()
    )


def get_utterance(db: Session, *, visit_id: str, idx: int) -> Utterance:
    row = db.get(Utterance, (visit_id, idx))
    if row is None:
        raise NotFound(
            f"Visit {visit_id} has no analysed utterance {idx}.", code="utterance_not_found"
        )
    return row


def add_correction(db: Session, *, utterance: Utterance, correction: CorrectionIn) -> Correction:
    """Store a person's label set for an utterance and apply it to the stored analysis at once."""
    row = Correction(
        visit_id=utterance.visit_id,
        idx=utterance.idx,
        text=utterance.text,
        labels=list(correction.labels),
        sentiment=correction.sentiment,
        risk=list(correction.risk),
        author=correction.author,
    )
    db.add(row)
    utterance.labels = [{"id": x, "confidence": 1.0} for x in correction.labels]
    if correction.sentiment:
        utterance.sentiment = correction.sentiment
    utterance.risk = [{"id": x, "confidence": 1.0} for x in correction.risk]
    utterance.corrected = True
    db.execute(
        delete(UtteranceLabel).where(
            UtteranceLabel.visit_id == utterance.visit_id, UtteranceLabel.idx == utterance.idx
        )
    )
    db.flush()
    db.add_all(
        UtteranceLabel(visit_id=utterance.visit_id, idx=utterance.idx, label=x)
        for x in [*correction.labels, *correction.risk]
    )
    db.flush()
    return row


def corrections(
    db: Session, *, after_id: int = 0, visit_id: str | None = None, scope: Scope = ADMIN_SCOPE
) -> list[Correction]:
    query = select(Correction).where(Correction.id > after_id).order_by(Correction.id)
    if visit_id is not None:
        query = query.where(Correction.visit_id == visit_id)
    if scope.role != Role.ADMIN:
        query = query.where(Correction.visit_id.in_(select(Visit.id).where(scope.visits())))
    return list(db.scalars(query).all())


def teach_corrections(db: Session, model: Classifier) -> None:
    """Add the corrections stored since the model last looked to its nearest-neighbour memory."""
    new = corrections(db, after_id=model.corrections_seen)
    if new:
        model.add_corrections([(c.text, list(c.labels)) for c in new])
        model.corrections_seen = new[-1].id


def latest_corrections(db: Session, *, visit_id: str) -> dict[int, Correction]:
    """The newest correction of each utterance of a visit, by utterance index."""
    return {c.idx: c for c in corrections(db, visit_id=visit_id) if c.idx is not None}
