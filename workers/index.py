"""The indexing step: a visit's utterances, its profile and its answered objections into the
knowledge base (Chroma and the database's keyword search)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import structlog
from sqlalchemy.orm import Session, sessionmaker

from knowledge import analysis, analysis_document, playbooks, visits
from knowledge.analysis_document import AnalysisDocument
from knowledge.db import session_scope
from knowledge.engine_search import forget_visit, replace_documents
from knowledge.errors import TransientError
from knowledge.models import Utterance, Visit
from knowledge.search_text import feature_sentences, utterance_embedding_texts, visit_embedding_text
from knowledge.search_types import FloatArray, UtteranceDoc, VisitDoc
from knowledge.settings import Settings
from knowledge.vector_index import IndexUnavailable, shared
from nlp.embed import Embedder, load_embedder
from nlp.redact import redact
from nlp.vocabulary import Role
from workers.runner import StepContext

log = structlog.get_logger()
CHUNK = 500  # visit ids per database look-up


def work(ctx: StepContext) -> None:
    index_visit(ctx.rt.settings, ctx.rt.sessions, ctx.visit_id)


@dataclass(frozen=True)
class _Stored:
    """What indexing reads of a visit, in one transaction."""

    visit: Visit
    utterances: list[Utterance]
    report: AnalysisDocument
    coaching: dict[str, Any]
    meta: dict[str, Any]  # the filterable fields every document of the visit carries


def index_visit(settings: Settings, sessions: sessionmaker[Session], visit_id: str) -> int:
    """Write one visit's utterances and profile to Chroma; returns the utterances written."""
    stored = _load(sessions, visit_id)
    docs = _utterance_docs(stored)
    visit_doc = _visit_doc(stored, docs)
    embedder = load_embedder(settings.embedding_model)
    vectors = np.zeros((0, 0), np.float32)
    if docs:
        vectors = embedder.encode(utterance_embedding_texts(docs))
    objections = _store_answers(sessions, embedder, stored)
    sentences = feature_sentences(settings.prompts_dir)
    visit_vector = embedder.encode([visit_embedding_text(visit_doc, sentences)])[0]
    try:
        index = shared(settings.chroma_url)
        index.upsert_objections(visit_id, *objections)  # taken back with the rest if deleted
        if not replace_documents(sessions, index, docs, visit_doc, (vectors, visit_vector)):
            log.info("index.deleted_meanwhile", visit_id=visit_id)
    except IndexUnavailable as e:
        shared.cache_clear()
        raise TransientError(str(e)) from e
    return len(docs)


def _load(sessions: sessionmaker[Session], visit_id: str) -> _Stored:
    with session_scope(sessions) as db:
        visit = visits.get(db, visit_id=visit_id)
        return _Stored(
            visit=visit,
            utterances=analysis.utterances_of(db, visit_id=visit_id),
            report=analysis_document.get(db, visit_id=visit_id) or {},
            coaching=visits.get_result(db, visit_id=visit_id, kind="coaching") or {},
            meta=dict(
                rep=visit.rep or "",
                customer=visit.customer or "",
                industry=visit.industry or "",
                segment=visit.segment or "",
                visit_date=visit.visit_date,
            ),
        )


def _utterance_docs(stored: _Stored) -> list[UtteranceDoc]:
    """One document per spoken utterance, personal data masked."""
    contacts = list(stored.visit.contacts or [])
    return [
        UtteranceDoc(
            visit_id=stored.visit.id,
            index=u.idx,
            start=u.start,
            end=u.end,
            text=redact(u.text, names=contacts),  # no phone, ID, card, e-mail or contact
            role=u.role or Role.OTHER,
            labels=[x["id"] for x in u.labels],
            sentiment=u.sentiment,
            risk=[x["id"] for x in u.risk],
            language=u.language if u.language in ("zh", "en") else stored.visit.language or "",
            **stored.meta,
        )
        for u in stored.utterances
        if u.text.strip()
    ]


def _visit_doc(stored: _Stored, docs: list[UtteranceDoc]) -> VisitDoc:
    """The visit's profile: summary, the customer's labels, coaching figures (scores 0..1)."""
    visit, report = stored.visit, stored.report
    customer = [d for d in docs if d.role == Role.CUSTOMER and (d.labels or d.risk)]
    total = (stored.coaching.get("scorecard") or {}).get("total")
    metrics = stored.coaching.get("metrics") or {}
    open_share, deep_share = metrics.get("open_question_share"), metrics.get("deep_question_share")
    quality = None
    if open_share is not None and deep_share is not None:
        quality = (float(open_share) + float(deep_share)) / 2
    summary = redact(str(report.get("summary", "")), names=list(visit.contacts or []))
    return VisitDoc(
        visit_id=visit.id,
        title=visit.title,
        summary=summary,
        labels=list(dict.fromkeys(x for d in customer for x in d.labels)),
        language=visit.language or "",
        outcome=visit.outcome or "",
        coaching_score=None if total is None else float(total) / 100,
        question_quality=quality,
        rep_talk_share=metrics.get("talk_ratio"),
        next_steps=len(report.get("actions") or []) if report else None,
        text="\n".join([summary, *(d.text for d in customer)]),
        **stored.meta,
    )


def _store_answers(
    sessions: sessionmaker[Session], embedder: Embedder, stored: _Stored
) -> tuple[list[tuple[str, int]], FloatArray]:
    """The rep's answers to objections, with their vectors, in the database for the playbooks;
    embedded here, outside any transaction. Returns each objection's (label, answer index) and
    vector, for the vector index."""
    answers = playbooks.answers_of_visit(stored.utterances, stored.report)
    if answers:
        objection_vectors = embedder.encode([a.objection_text for a in answers])
        answer_vectors = embedder.encode([a.text for a in answers])
    else:
        objection_vectors = answer_vectors = np.zeros((0, embedder.dim), np.float32)
    with session_scope(sessions) as db:
        if db.get(Visit, stored.visit.id) is not None:
            playbooks.replace_answers(
                db,
                visit_id=stored.visit.id,
                answers=answers,
                objection_vectors=objection_vectors,
                answer_vectors=answer_vectors,
            )
    return [(a.label, a.answer_idx) for a in answers], objection_vectors


def reconcile(settings: Settings, sessions: sessionmaker[Session]) -> int:
    """Remove the vectors of visits the database no longer has; returns how many visits."""
    index = shared(settings.chroma_url)
    stored = sorted(index.visit_ids())
    orphans: set[str] = set()
    for start in range(0, len(stored), CHUNK):
        chunk = stored[start : start + CHUNK]
        with session_scope(sessions) as db:
            orphans |= set(chunk) - visits.existing(db, visit_ids=chunk)
    for visit_id in sorted(orphans):
        forget_visit(sessions, index, visit_id)
        log.warning("index.orphan_removed", visit_id=visit_id)
    return len(orphans)
