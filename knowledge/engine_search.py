"""Search over the engines, with nothing kept between requests: Chroma gives the nearest
documents in meaning, the database's full-text engine the best keyword matches, both under the
request's filters; the ranker re-ranks those few hundred candidates with the corpus's own
statistics. Any number of API processes can serve it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from knowledge import keyword_index
from knowledge.bm25 import tokenize
from knowledge.db import session_scope
from knowledge.models import Visit
from knowledge.ranking import SearchIndex
from knowledge.search_text import LabelExamples
from knowledge.search_types import (
    FloatArray,
    FusionWeights,
    Kind,
    Mode,
    SearchFilters,
    SearchPage,
    UtteranceDoc,
    VisitDoc,
    check_request,
)
from knowledge.vector_index import VectorIndex
from nlp.labels import LabelSet

FORGET_TASK = "maintenance.forget_visit"  # a deleted visit's vectors, retried by a worker
CANDIDATES = 200  # per engine and kind; on evals/dev 150 ranks as the whole folder, 100 does not


@dataclass(frozen=True)
class EngineSearch:
    """What does not change with the corpus (label examples, weights) and where the engines
    are: the database session comes with each call, Chroma through connect."""

    connect: Callable[[], VectorIndex]  # e.g. partial(vector_index.shared, url)
    labels: LabelSet
    label_examples: LabelExamples | None = None
    weights: FusionWeights = FusionWeights()
    candidates: int = CANDIDATES

    @property
    def vectors(self) -> VectorIndex:
        """The Chroma client (IndexUnavailable when it cannot be reached)."""
        return self.connect()

    def search(
        self,
        db: Session,
        query: str,
        query_vector: FloatArray,
        *,
        kind: Kind = "utterance",
        filters: SearchFilters | None = None,
        limit: int = 20,
        offset: int = 0,
        mode: Mode = "hybrid",
    ) -> SearchPage:
        """Rank utterances or visits for a query and its embedding (IndexUnavailable when
        Chroma is down; InvalidQuery or InvalidFilter for a bad request)."""
        t0 = time.perf_counter()
        f = filters or SearchFilters()
        check_request(
            query, kind=kind, mode=mode, limit=limit, offset=offset, filters=f, labels=self.labels
        )
        qvec = np.asarray(query_vector, dtype=np.float32).reshape(-1)
        tokens = tokenize(query)
        n = max(self.candidates, 4 * (offset + limit))
        ranker = SearchIndex(
            weights=self.weights,
            labels=self.labels,
            label_examples=self.label_examples,
            corpus={k: keyword_index.corpus(db, k, tokens) for k in ("utterance", "visit")},
        )
        utterances = self._candidates(db, ranker, "utterance", qvec, tokens, f, n, mode, [])
        more_visits = [i.rsplit(":", 1)[0] for i in utterances]
        visit_ids = self._candidates(db, ranker, "visit", qvec, tokens, f, n, mode, more_visits)
        matching = None
        if kind == "visit" and f.on_utterances:
            matching = keyword_index.visits_with_utterances(db, visit_ids, f)
        page = ranker.search(
            query,
            qvec,
            kind=kind,
            filters=f,
            limit=limit,
            offset=offset,
            mode=mode,
            visits_matching=matching,
        )
        total = keyword_index.count(db, kind, f) if mode != "bm25" else page.total
        took = (time.perf_counter() - t0) * 1000
        return replace(page, total=max(total, len(page.hits) + offset), took_ms=took)

    def _candidates(
        self,
        db: Session,
        ranker: SearchIndex,
        kind: Kind,
        qvec: FloatArray,
        tokens: list[str],
        f: SearchFilters,
        n: int,
        mode: Mode,
        also: list[str],
    ) -> list[str]:
        """Add to the ranker the nearest documents in meaning, the best keyword matches and the
        documents of the ids in also, with their cosines with the query (Chroma's) and their
        stored tokens; returns their ids."""
        docs: list[UtteranceDoc | VisitDoc] = []
        cosines = np.zeros(0, dtype=np.float32)
        if mode != "bm25":
            docs, cosines = self.vectors.nearest(kind, qvec, n=n, filters=f)
        have = {_key(d) for d in docs}
        wanted = keyword_index.candidates(db, kind, tokens, f, n) if mode != "dense" else []
        missing = [i for i in dict.fromkeys([*wanted, *also]) if i not in have]
        if missing:
            more, more_cosines = self.vectors.cosines(kind, qvec, missing)
            docs, cosines = [*docs, *more], np.concatenate([cosines, more_cosines])
        ids = [_key(d) for d in docs]
        if docs:
            stored = keyword_index.tokens_of(db, kind, ids)
            ranker.add(docs, None, tokens=[stored.get(i, []) for i in ids], cosines=cosines)
        return ids


def replace_documents(
    sessions: sessionmaker[Session],
    vectors: VectorIndex,
    utterances: list[UtteranceDoc],
    visit: VisitDoc,
    embedded: tuple[FloatArray, FloatArray],
) -> bool:
    """Write a visit's documents to both engines: Chroma first (IndexUnavailable when it is
    down: the step retries), then the keyword rows and centroids in a short transaction of
    their own. False when the visit was deleted meanwhile: its vectors are taken back."""
    old = vectors.visit_documents(visit.visit_id)
    if utterances:
        vectors.upsert_utterances(utterances, embedded[0])
    else:
        vectors.delete_visit(visit.visit_id)
    vectors.upsert_visit(visit, embedded[1])
    with session_scope(sessions) as db:
        alive = db.get(Visit, visit.visit_id) is not None
        if alive:
            keyword_index.replace_visit(db, utterances, visit, embedded, old)
    if not alive:
        vectors.delete_visit(visit.visit_id)
    return alive


def forget_visit(sessions: sessionmaker[Session], vectors: VectorIndex, visit_id: str) -> None:
    """Remove a visit from both engines (IndexUnavailable when Chroma is down: retry). A
    deleted visit's keyword rows went with it; its vectors leave the centroids here."""
    old = vectors.visit_documents(visit_id)
    vectors.delete_visit(visit_id)
    with session_scope(sessions) as db:
        keyword_index.forget_visit(db, visit_id, old)


def _key(doc: UtteranceDoc | VisitDoc) -> str:
    return doc.id if isinstance(doc, UtteranceDoc) else doc.visit_id
