"""Search over the engines, with nothing kept between requests: Chroma gives the nearest
documents in meaning, the database's full-text engine the best keyword matches, both under the
request's filters; the ranker re-ranks those few hundred candidates with the corpus's own
statistics. Any number of API processes can serve it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import partial

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from knowledge import keyword_index
from knowledge.bm25 import tokenize
from knowledge.case_store import replace_cases
from knowledge.chroma_documents import document_from
from knowledge.db import session_scope
from knowledge.models import Visit
from knowledge.ranking import SearchIndex
from knowledge.search_tables import cosines, pack
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
from knowledge.vector_index import KINDS, VectorIndex, key_of
from nlp.labels import LabelSet

FORGET_TASK = "maintenance.forget_visit"  # a deleted visit's vectors, retried by a worker
CANDIDATES = 200  # per engine and kind; on evals/dev 150 ranks as the whole folder, 100 does not
PREFILTER = 50_000  # filters passing at most this many documents are applied by the database,
# which compares the query with their stored vectors (at 1M, one rep's 19,320: about 150 ms,
# where Chroma's own filter took 317 ms and its nearest 5,000 kept too few): Chroma's filtered
# search walks its graph longer the fewer pass (at 100k, 400 passing ids took 66-92 ms)
FIRST_SCAN = 5_000  # up to this many the first scan reads them with their vectors; past it the
# planner's estimate decides, so that a broad filter does not read PREFILTER vectors for nothing
OVERFETCH = 5_000  # Chroma's nearest asked unfiltered for a broader filter, kept by the database
# when n of them pass (at 1M: 84 ms; its own filter 317 ms for one rep, 993 ms for a segment)
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="chroma-query")  # no state: threads


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
            corpus={k: keyword_index.corpus(db, k, tokens) for k in KINDS},
        )
        # an utterance's score mixes in its visit's, so visits are ranked for every search; an
        # utterance search needs only the visits of its candidates (the same page, found sooner)
        passing = _passing(db, KINDS if kind == "visit" else ("utterance",), f, mode)
        ids = self._candidates(db, ranker, qvec, tokens, f, n, mode, passing)
        matching = None
        if kind == "visit" and f.on_utterances:
            matching = keyword_index.visits_with_utterances(db, ids["visit"], f)
        ranked = partial(
            ranker.search, query, qvec, kind=kind, filters=f, limit=limit, offset=offset, mode=mode
        )
        page = ranked(visits_matching=matching)
        if kind == "utterance" and not page.close:
            # no utterance is a close match: a visit may be, as over the whole corpus, so the
            # visits are asked for too (rare for a real query; the hits stay the same)
            visits = _passing(db, ("visit",), f, mode)
            self._candidates(db, ranker, qvec, tokens, f, n, mode, visits, have=ids)
            page = ranked()
        known = passing[kind]
        if mode == "bm25":
            total = page.total
        elif f == SearchFilters():
            total = ranker.corpus[kind].docs  # kept by the writers
        elif known is not None and not (kind == "visit" and f.on_utterances):
            total = len(known)
        else:
            total = keyword_index.count(db, kind, f)
        took = (time.perf_counter() - t0) * 1000
        return replace(page, total=max(total, len(page.hits) + offset), took_ms=took)

    def _candidates(
        self,
        db: Session,
        ranker: SearchIndex,
        qvec: FloatArray,
        tokens: list[str],
        f: SearchFilters,
        n: int,
        mode: Mode,
        passing: dict[Kind, dict[str, bytes | None] | None],
        have: dict[Kind, list[str]] | None = None,
    ) -> dict[Kind, list[str]]:
        """Add to the ranker, per kind asked (the keys of passing), the nearest documents in
        meaning and the best keyword matches, and the visits of the utterances found, with their
        cosines with the query and their stored tokens; returns their ids per kind. Chroma gives
        the nearest ids (the kinds asked at once, in threads) while the database gives the
        keyword matches, the nearest among the few documents that pass a narrow filter, and
        every candidate's row. A broader filter keeps the n nearest of Chroma's OVERFETCH that
        pass it, else (a filter that fewer than one in OVERFETCH / n pass) asks Chroma's own
        filtered search, which gathers every passing document first (at 545k: 248 ms for one
        rep, 7 s for three filters)."""
        broad = f != SearchFilters()  # and passed by more than PREFILTER where asked
        dense = {
            k: _POOL.submit(
                self.vectors.nearest, k, qvec, n=OVERFETCH if broad else n, filters=SearchFilters()
            )
            for k, known in passing.items()
            if mode != "bm25" and known is None
        }
        wanted: dict[Kind, list[str]] = {k: [] for k in KINDS}
        for k, known in passing.items():
            if mode != "bm25" and known is not None:
                wanted[k] += keyword_index.nearest_passing(known, qvec, n)
            if mode != "dense":
                wanted[k] += keyword_index.candidates(db, k, tokens, f, n, ranker.corpus[k].df)
        for k, future in dense.items():
            found = future.result()
            if broad:
                nearest = found
                found = keyword_index.passing_among(db, k, f, nearest)[:n]
                if len(found) < n and len(nearest) >= OVERFETCH:  # Chroma holds more
                    found = self.vectors.nearest(k, qvec, n=n, filters=f)
            wanted[k] = [*found, *wanted[k]]
        wanted["visit"] += [i.rsplit(":", 1)[0] for i in wanted["utterance"]]
        ids: dict[Kind, list[str]] = {}
        for k in KINDS:
            held = set((have or {}).get(k, ()))  # already in the ranker
            docs, stored, cosines = self._rows(db, k, qvec, [i for i in wanted[k] if i not in held])
            ids[k] = [key_of(d) for d in docs]
            if docs:
                ranker.add(docs, None, tokens=stored, cosines=cosines)
        return ids

    def _rows(
        self, db: Session, kind: Kind, qvec: FloatArray, ids: list[str]
    ) -> tuple[list[UtteranceDoc | VisitDoc], list[list[str]], FloatArray]:
        """The documents of these ids that the database holds, their tokens and cosines with
        the query (an id without a row is being deleted or not yet written, and left out; a
        row written before migration 0010 is completed from Chroma)."""
        rows = keyword_index.rows_of(db, kind, list(dict.fromkeys(ids)))
        old = [i for i, (document, _, vector) in rows.items() if document is None or not vector]
        chroma = self.vectors.stored(kind, old) if old else {}
        docs: list[UtteranceDoc | VisitDoc] = []
        stored: list[list[str]] = []
        blobs: list[bytes] = []
        for i, (document, words, vector) in rows.items():
            if i in chroma:
                doc, vector = chroma[i][0], pack(chroma[i][1])
            elif document is not None and vector:
                doc = document_from(kind, document)
            else:
                continue
            docs.append(doc)
            stored.append(words)
            blobs.append(vector)
        return docs, stored, cosines(blobs, qvec)


def _passing(
    db: Session, kinds: tuple[Kind, ...], f: SearchFilters, mode: Mode
) -> dict[Kind, dict[str, bytes | None] | None]:
    """Per kind asked, the documents that pass a narrow filter with their vectors, or None
    (no filter, a broad one, or keywords alone)."""
    if f == SearchFilters() or mode == "bm25":
        return dict.fromkeys(kinds)
    return {k: keyword_index.passing(db, k, f, PREFILTER, FIRST_SCAN) for k in kinds}


def replace_documents(
    sessions: sessionmaker[Session],
    vectors: VectorIndex,
    utterances: list[UtteranceDoc],
    visit: VisitDoc,
    embedded: tuple[FloatArray, FloatArray],
) -> bool:
    """Write a visit's documents to both engines: Chroma first (IndexUnavailable when it is
    down: the step retries), then the keyword rows, centroids and similar-case profile in a
    short transaction of their own. False when the visit was deleted meanwhile: its vectors
    are taken back."""
    return bool(replace_visits(sessions, vectors, [(utterances, visit, embedded)]))


def replace_visits(
    sessions: sessionmaker[Session],
    vectors: VectorIndex,
    batch: Sequence[tuple[list[UtteranceDoc], VisitDoc, tuple[FloatArray, FloatArray]]],
) -> set[str]:
    """replace_documents for several visits, in a few Chroma requests and one transaction
    (a reindex, a bulk load); the ids of those still alive."""
    ids = [visit.visit_id for _, visit, _ in batch]
    with sessions() as db:  # what visits written before migration 0010 had, as Chroma holds it
        old = vectors.documents_of(keyword_index.without_documents(db, ids))
    written = [(docs, e[0]) for docs, _, e in batch if docs]
    if written:
        vectors.upsert_utterances(
            [d for docs, _ in written for d in docs], np.vstack([e for _, e in written])
        )
    vectors.delete_utterances([visit.visit_id for docs, visit, _ in batch if not docs])
    vectors.upsert_visits(
        [visit for _, visit, _ in batch],
        np.vstack([np.asarray(e[1], np.float32).reshape(1, -1) for _, _, e in batch]),
    )
    with session_scope(sessions) as db:  # one writer of a visit at a time: its row is locked
        visit_rows = select(Visit.id).where(Visit.id.in_(ids)).order_by(Visit.id).with_for_update()
        alive = set(db.scalars(visit_rows))
        kept = [item for item in batch if item[1].visit_id in alive]
        keyword_index.replace_visits(db, kept, old)
        replace_cases(db, [(visit, e[1], docs, e[0]) for docs, visit, e in kept])
    for visit_id in sorted(set(ids) - alive):
        vectors.delete_visit(visit_id)
    return alive


def forget_visit(sessions: sessionmaker[Session], vectors: VectorIndex, visit_id: str) -> None:
    """Remove a visit from both engines (IndexUnavailable when Chroma is down: retry). A
    deleted visit's keyword rows went with it; its vectors leave the centroids here."""
    old = vectors.visit_documents(visit_id)
    vectors.delete_visit(visit_id)
    with session_scope(sessions) as db:
        keyword_index.forget_visit(db, visit_id, old)
