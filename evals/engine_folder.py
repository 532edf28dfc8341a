"""A folder's documents in the product's own search engines: a throwaway SQLite database (FTS5)
and an in-process Chroma, searched by knowledge.engine_search as the API searches."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import chromadb
import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from knowledge.db import make_engine, make_sessionmaker, migrate, session_scope
from knowledge.engine_search import EngineSearch, replace_documents
from knowledge.models import Visit
from knowledge.search_text import (
    LabelExamples,
    feature_sentences,
    utterance_embedding_texts,
    visit_embedding_text,
)
from knowledge.search_types import (
    Encoder,
    FloatArray,
    FusionWeights,
    Kind,
    Mode,
    SearchFilters,
    SearchPage,
    UtteranceDoc,
    VisitDoc,
)
from knowledge.vector_index import VectorIndex
from nlp.labels import SHIPPED_PROMPTS, load_labels


class EngineSearcher:
    """Engine search with the same search() as the in-memory ranker, a database session per
    query: for the evaluations."""

    def __init__(
        self, search_engine: EngineSearch, sessions: sessionmaker[Session], utterances: int = 0
    ) -> None:
        self.search_engine, self.sessions, self.utterances = search_engine, sessions, utterances

    def __len__(self) -> int:
        return self.utterances

    def search(
        self,
        query: str,
        query_vector: FloatArray,
        *,
        kind: Kind = "utterance",
        filters: SearchFilters | None = None,
        limit: int = 20,
        mode: Mode = "hybrid",
    ) -> SearchPage:
        with self.sessions() as db:
            return self.search_engine.search(
                db, query, query_vector, kind=kind, filters=filters, limit=limit, mode=mode
            )


class EngineFolder(EngineSearcher):
    """A folder's documents in throwaway engines, searched as the API searches."""

    def __init__(
        self,
        visits: Sequence[tuple[VisitDoc, list[UtteranceDoc]]],
        embedder: Encoder,
        *,
        weights: FusionWeights | None = None,
        label_examples: LabelExamples | None = None,
    ) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="visitlens-eval-")
        url = f"sqlite:///{Path(self._tmp.name) / 'search.sqlite'}"
        migrate(url)
        self._engine = make_engine(url)
        vectors = VectorIndex(chromadb.EphemeralClient(), prefix=f"e{uuid.uuid4().hex[:12]}-")
        search_engine = EngineSearch(
            lambda: vectors,
            labels=load_labels(SHIPPED_PROMPTS),
            label_examples=label_examples,
            weights=weights or FusionWeights(),
        )
        super().__init__(search_engine, make_sessionmaker(self._engine))
        sentences = feature_sentences(SHIPPED_PROMPTS)
        for visit, utterances in visits:
            texts = [*utterance_embedding_texts(utterances), visit_embedding_text(visit, sentences)]
            embedded = np.asarray(embedder.encode(texts), dtype=np.float32)
            with session_scope(self.sessions) as db:
                db.add(Visit(id=visit.visit_id, title=visit.title, content_sha256=visit.visit_id))
            replace_documents(
                self.sessions, vectors, utterances, visit, (embedded[:-1], embedded[-1])
            )
            self.utterances += len(utterances)

    def close(self) -> None:
        self._engine.dispose()
        self._tmp.cleanup()
