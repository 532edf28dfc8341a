"""Objection playbooks: stored answers to customers' objections, trainers' curation, and
suggestions from the objections nearest a customer's sentence (their vectors in Chroma)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, delete, select, tuple_
from sqlalchemy.orm import Session

from knowledge.access import Scope
from knowledge.analysis_document import AnalysisDocument
from knowledge.errors import NotFound
from knowledge.models import PlaybookAnswer, PlaybookCuration, Role, Utterance, Visit
from nlp.playbook import Answer, Group, Turn, answer_score, find_answers, group_answers

FloatArray = npt.NDArray[np.float32]
LABEL_MATCH = 0.1  # added to the similarity of an objection carrying a label the text carries
QUALITY_WEIGHT = 0.3  # how much how well an answer worked counts against how close it is
CANDIDATES = 60  # objections looked at per suggestion (and as many more of its labels)


class TopicNotFound(NotFound):
    code = "topic_not_found"


class AnswerNotFound(NotFound):
    code = "answer_not_found"


def readable(scope: Scope) -> ColumnElement[bool]:
    """The visits whose answers a caller reads: their own scope; product roles read every
    visit in aggregate (quotes masked, no audio), as with insights."""
    return scope.counted() if scope.role == Role.PRODUCT else scope.visits()


def turns_of(utterances: Sequence[Utterance]) -> list[Turn]:
    return [
        Turn(
            idx=u.idx,
            role=u.role,
            text=u.text,
            start=u.start,
            end=u.end,
            sentiment=u.sentiment,
            sentiment_score=u.sentiment_score,
            labels=tuple(x["id"] for x in [*u.labels, *u.risk]),
        )
        for u in utterances
        if u.text.strip()
    ]


def action_starts(report: AnalysisDocument) -> list[float]:
    """When the visit's action items were said (s), from its analysis document."""
    starts = (a.get("start") for a in report.get("actions") or [] if isinstance(a, dict))
    return [float(s) for s in starts if isinstance(s, int | float)]


def to_bytes(vector: FloatArray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def replace_answers(
    db: Session,
    *,
    visit_id: str,
    answers: Sequence[Answer],
    objection_vectors: FloatArray,
    answer_vectors: FloatArray,
) -> None:
    db.execute(delete(PlaybookAnswer).where(PlaybookAnswer.visit_id == visit_id))
    db.flush()
    db.add_all(
        PlaybookAnswer(
            visit_id=visit_id,
            label=a.label,
            answer_idx=a.answer_idx,
            objection_idx=a.objection_idx,
            objection_text=a.objection_text,
            start=a.start,
            end=a.end,
            text=a.text,
            sentiment_delta=a.sentiment_delta,
            positive=a.positive,
            commitment=a.commitment,
            objection_vector=to_bytes(objection_vectors[i]),
            answer_vector=to_bytes(answer_vectors[i]),
        )
        for i, a in enumerate(answers)
    )
    db.flush()


@dataclass
class AnswerView:
    """One stored answer as a caller reads it: with its visit's outcome and its curation."""

    visit_id: str
    label: str
    answer_idx: int
    objection_text: str
    start: float
    end: float
    text: str
    positive: bool
    commitment: bool
    sentiment_delta: float
    outcome: str | None
    visit_title: str
    contacts: list[str]
    score: float
    pinned: bool = False
    hidden: bool = False
    note: str | None = None
    similarity: float | None = None  # to a suggested sentence


@dataclass
class GroupView:
    best: AnswerView
    members: list[AnswerView]
    score: float
    pinned: bool


def _curation(
    db: Session, *, label: str | None = None, visit_ids: Iterable[str] | None = None
) -> dict[tuple[str, str, int], PlaybookCuration]:
    query = select(PlaybookCuration)
    if label is not None:
        query = query.where(PlaybookCuration.label == label)
    if visit_ids is not None:
        query = query.where(PlaybookCuration.visit_id.in_(list(visit_ids)))
    return {(c.visit_id, c.label, c.answer_idx): c for c in db.scalars(query)}


def _view(row: Any, visit: Any, cur: PlaybookCuration | None) -> AnswerView:
    return AnswerView(
        visit_id=row.visit_id,
        label=row.label,
        answer_idx=row.answer_idx,
        objection_text=row.objection_text,
        start=row.start,
        end=row.end,
        text=row.text,
        positive=row.positive,
        commitment=row.commitment,
        sentiment_delta=row.sentiment_delta,
        outcome=visit.outcome,
        visit_title=visit.title or "",
        contacts=list(visit.contacts or []),
        score=answer_score(
            positive=row.positive,
            sentiment_delta=row.sentiment_delta,
            commitment=row.commitment,
            outcome=visit.outcome,
        ),
        pinned=bool(cur and cur.pinned),
        hidden=bool(cur and cur.hidden),
        note=cur.note if cur else None,
    )


SUMMARY_COLUMNS = (
    PlaybookAnswer.visit_id,
    PlaybookAnswer.label,
    PlaybookAnswer.answer_idx,
    PlaybookAnswer.objection_text,
    PlaybookAnswer.start,
    PlaybookAnswer.end,
    PlaybookAnswer.text,
    PlaybookAnswer.positive,
    PlaybookAnswer.commitment,
    PlaybookAnswer.sentiment_delta,
)


def overview(db: Session, *, labels: Sequence[str], scope: Scope) -> dict[str, list[AnswerView]]:
    """Per objection label, its visible answers (hidden ones left out), best first."""
    rows = db.execute(
        select(*SUMMARY_COLUMNS, Visit)
        .join(Visit, Visit.id == PlaybookAnswer.visit_id)
        .where(PlaybookAnswer.label.in_(labels), readable(scope))
    ).all()
    cur = _curation(db)
    out: dict[str, list[AnswerView]] = {label: [] for label in labels}
    for row in rows:
        view = _view(row, row.Visit, cur.get((row.visit_id, row.label, row.answer_idx)))
        if not view.hidden:
            out[row.label].append(view)
    for views in out.values():
        views.sort(key=lambda v: (not v.pinned, -v.score, v.visit_id, v.answer_idx))
    return out


def topic(
    db: Session, *, label: str, scope: Scope, include_hidden: bool = False
) -> list[GroupView]:
    """The answers to one objection, near-identical ones grouped, pinned then best first."""
    rows = db.execute(
        select(*SUMMARY_COLUMNS, PlaybookAnswer.answer_vector, Visit)
        .join(Visit, Visit.id == PlaybookAnswer.visit_id)
        .where(PlaybookAnswer.label == label, readable(scope))
        .order_by(PlaybookAnswer.visit_id, PlaybookAnswer.answer_idx)
    ).all()
    cur = _curation(db, label=label)
    views, vectors = [], []
    for row in rows:
        view = _view(row, row.Visit, cur.get((row.visit_id, row.label, row.answer_idx)))
        if include_hidden or not view.hidden:
            views.append(view)
            vectors.append(np.frombuffer(row.answer_vector, dtype=np.float32))
    if not views:
        return []
    groups = group_answers(
        np.vstack(vectors), [v.score for v in views], pinned=[v.pinned for v in views]
    )
    return [_group_view(g, views) for g in groups]


def _group_view(group: Group, views: Sequence[AnswerView]) -> GroupView:
    members = [views[i] for i in group.members]
    return GroupView(best=members[0], members=members, score=group.score, pinned=group.pinned)


def curate(
    db: Session,
    *,
    label: str,
    visit_id: str,
    answer_idx: int,
    author: str,
    pinned: bool | None = None,
    hidden: bool | None = None,
    note: str | None = None,
) -> PlaybookCuration:
    """Pin, hide or annotate a stored answer (None leaves a field as it is; note "" clears)."""
    key = (visit_id, label, answer_idx)
    if db.get(PlaybookAnswer, key) is None:
        raise AnswerNotFound(
            f"Visit {visit_id} has no answer at utterance {answer_idx} to {label}.",
        )
    row = db.get(PlaybookCuration, key)
    if row is None:
        row = PlaybookCuration(
            visit_id=visit_id, label=label, answer_idx=answer_idx, pinned=False, hidden=False
        )
        db.add(row)
    if pinned is not None:
        row.pinned = pinned
    if hidden is not None:
        row.hidden = hidden
    if note is not None:
        row.note = note or None
    row.updated_by = author
    db.flush()
    return row


@dataclass
class _Matrix:
    """One suggestion's candidate answers: their vectors and facts, as arrays (a row each)."""

    keys: list[tuple[str, str, int]] = field(default_factory=list)  # visit, label, answer idx
    objections: FloatArray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    answers: FloatArray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    facts: list[tuple[bool, bool, float]] = field(default_factory=list)  # positive, commit, delta
    hidden: set[tuple[str, int]] = field(default_factory=set)  # visit, answer idx (any topic)
    pinned: set[tuple[str, int]] = field(default_factory=set)


class ObjectionStore(Protocol):
    """Where the objections' vectors are searched (knowledge.vector_index.VectorIndex)."""

    def nearest_objections(
        self,
        vector: FloatArray,
        *,
        n: int,
        labels: Sequence[str] = (),
        among: frozenset[str] | None = None,
    ) -> list[tuple[str, str, int]]: ...


def suggest(
    db: Session,
    store: ObjectionStore,
    *,
    vector: FloatArray,
    labels: Sequence[str],
    scope: Scope,
    limit: int = 3,
) -> list[GroupView]:
    """Answers to the stored objections closest to a customer's sentence (its unit vector
    and labels), grouped, closest and best-working first. The nearest objections come from
    the vector store, their answers and curation from the database: nothing is kept."""
    visits = {
        v.id: v
        for v in db.execute(
            select(Visit.id, Visit.outcome, Visit.title, Visit.contacts).where(readable(scope))
        )
    }
    among = None if scope.role in (Role.ADMIN, Role.PRODUCT) else frozenset(visits)
    keys = store.nearest_objections(vector, n=2 * CANDIDATES, labels=labels, among=among)
    m = _candidates(db, keys)
    if not m.keys:
        return []
    sims = _similarities(m, vector, labels, visits)
    rows = _distinct_best(m, sims)
    if not rows:
        return []
    quality = [_quality(m, i, visits[m.keys[i][0]].outcome) for i in rows]
    combined = [float(sims[i]) + QUALITY_WEIGHT * q for i, q in zip(rows, quality, strict=True)]
    groups = group_answers(
        m.answers[rows],
        combined,
        pinned=[(m.keys[i][0], m.keys[i][2]) in m.pinned for i in rows],
    )[:limit]
    views = _views(db, m, rows, sims, quality, visits, {rows[j] for g in groups for j in g.members})
    out = []
    for g in groups:
        members = [v for v in (views[j] for j in g.members) if v is not None]
        if members:
            out.append(GroupView(members[0], members, g.score, g.pinned))
    return out


def _candidates(db: Session, keys: Sequence[tuple[str, str, int]]) -> _Matrix:
    """The stored answers of these objections, with their trainers' pins and hides."""
    if not keys:
        return _Matrix()
    key = tuple_(PlaybookAnswer.visit_id, PlaybookAnswer.label, PlaybookAnswer.answer_idx)
    rows = db.execute(
        select(
            PlaybookAnswer.visit_id,
            PlaybookAnswer.label,
            PlaybookAnswer.answer_idx,
            PlaybookAnswer.positive,
            PlaybookAnswer.commitment,
            PlaybookAnswer.sentiment_delta,
            PlaybookAnswer.objection_vector,
            PlaybookAnswer.answer_vector,
        ).where(key.in_(list(keys)))
    ).all()
    if not rows:
        return _Matrix()
    cur = _curation(db, visit_ids={r.visit_id for r in rows})
    return _Matrix(
        keys=[(r.visit_id, r.label, r.answer_idx) for r in rows],
        objections=np.vstack([np.frombuffer(r.objection_vector, np.float32) for r in rows]),
        answers=np.vstack([np.frombuffer(r.answer_vector, np.float32) for r in rows]),
        facts=[(r.positive, r.commitment, r.sentiment_delta) for r in rows],
        hidden={(k[0], k[2]) for k, c in cur.items() if c.hidden},
        pinned={(k[0], k[2]) for k, c in cur.items() if c.pinned},
    )


def _similarities(
    m: _Matrix, vector: FloatArray, labels: Sequence[str], visits: Mapping[str, Any]
) -> FloatArray:
    """Each stored objection's cosine with the sentence, lifted where its label is one of the
    sentence's; -inf for answers hidden or of visits the caller cannot read."""
    visible = np.fromiter(
        (k[0] in visits and (k[0], k[2]) not in m.hidden for k in m.keys), bool, len(m.keys)
    )
    sims = m.objections @ vector.astype(np.float32)
    wanted = set(labels)
    if wanted:
        sims = sims + LABEL_MATCH * np.fromiter(
            (k[1] in wanted for k in m.keys), np.float32, len(m.keys)
        )
    out: FloatArray = np.where(visible, sims, -np.inf).astype(np.float32)
    return out


def _distinct_best(m: _Matrix, sims: FloatArray) -> list[int]:
    """The CANDIDATES most similar rows, one per answer (an answer stored under two topics)."""
    rows: list[int] = []
    seen: set[tuple[str, int]] = set()
    for i in np.argsort(-sims)[:CANDIDATES].tolist():
        key = m.keys[i]
        if np.isfinite(sims[i]) and (key[0], key[2]) not in seen:
            seen.add((key[0], key[2]))
            rows.append(i)
    return rows


def _quality(m: _Matrix, row: int, outcome: str | None) -> float:
    positive, commitment, delta = m.facts[row]
    return answer_score(
        positive=positive, sentiment_delta=delta, commitment=commitment, outcome=outcome
    )


def _views(
    db: Session,
    m: _Matrix,
    rows: list[int],
    sims: FloatArray,
    quality: list[float],
    visits: Mapping[str, Any],
    chosen: set[int],
) -> list[AnswerView | None]:
    """The answer of each row (None for one replaced since the matrix was read), read for the
    chosen rows' visits."""
    texts = {
        (r.visit_id, r.label, r.answer_idx): r
        for r in db.execute(
            select(*SUMMARY_COLUMNS).where(
                PlaybookAnswer.visit_id.in_({m.keys[i][0] for i in chosen})
            )
        )
    }
    views: list[AnswerView | None] = []
    for j, i in enumerate(rows):
        row = texts.get(m.keys[i])
        if row is None:
            views.append(None)
            continue
        view = _view(row, visits[m.keys[i][0]], None)
        view.pinned = (m.keys[i][0], m.keys[i][2]) in m.pinned
        view.similarity = round(float(sims[i]), 4)
        view.score = quality[j]
        views.append(view)
    return views


def answers_of_visit(utterances: Sequence[Utterance], report: AnalysisDocument) -> list[Answer]:
    return find_answers(turns_of(utterances), action_starts(report))
