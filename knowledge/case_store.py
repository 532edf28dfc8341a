"""Similar-case profiles kept in the database: each visit's document with its vector, and its
labelled customer quotes with theirs (knowledge.similar.is_quote), written by the index step.
A similar-case request reads its candidates' profiles in one query instead of
copying their vectors out of Chroma; Chroma still finds the candidates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from knowledge import keyword_index
from knowledge.chroma_documents import document_of, utterance_from, visit_from
from knowledge.models import Base
from knowledge.search_types import FloatArray, UtteranceDoc, VisitDoc
from knowledge.similar import is_quote
from knowledge.vector_index import VectorIndex
from nlp.vocabulary import Role

CUSTOMER_SHARE = 3  # utterances asked for per customer turn wanted: about half are customers'
Case = tuple[VisitDoc, FloatArray, list[UtteranceDoc], FloatArray]


class CaseProfileRow(Base):
    __tablename__ = "case_profiles"

    visit_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    documents: Mapped[list[Any]] = mapped_column(JSON)  # [text, metadata] of the visit, quotes
    vectors: Mapped[bytes] = mapped_column(LargeBinary)  # float32 rows, in the same order
    dim: Mapped[int] = mapped_column(Integer)


def replace_cases(
    db: Session,
    cases: Sequence[tuple[VisitDoc, FloatArray, Sequence[UtteranceDoc], FloatArray]],
) -> None:
    """Write visits' profiles (visit, its vector, utterances, theirs) in the caller's
    transaction, replacing what they had."""
    if not cases:
        return
    ids = [visit.visit_id for visit, _, _, _ in cases]
    db.execute(delete(CaseProfileRow).where(CaseProfileRow.visit_id.in_(ids)))
    db.add_all(_profile_row(*case) for case in cases)


def _profile_row(
    visit: VisitDoc,
    visit_vector: FloatArray,
    utterances: Sequence[UtteranceDoc],
    vectors: FloatArray,
) -> CaseProfileRow:
    keep = [i for i, u in enumerate(utterances) if is_quote(u)]
    rows = np.asarray(visit_vector, np.float32).reshape(1, -1)
    if keep:  # a visit without utterances may come with no utterance vectors at all
        rows = np.vstack([rows, np.asarray(vectors, np.float32)[keep]])
    return CaseProfileRow(
        visit_id=visit.visit_id,
        documents=[document_of(visit), *(document_of(utterances[i]) for i in keep)],
        vectors=rows.astype(np.float32).tobytes(),
        dim=rows.shape[1],
    )


@dataclass(frozen=True)
class StoredCases:
    """knowledge.similar.CaseStore over both engines: Chroma for the nearest visits and
    customer turns, the database for profiles (Chroma's copy for a visit indexed before the
    database kept them)."""

    vectors: VectorIndex
    db: Session

    def nearest_visits(
        self, vector: FloatArray, *, n: int, among: frozenset[str] | None = None
    ) -> list[str]:
        return self.vectors.nearest_visits(vector, n=n, among=among)

    def nearest_customer_turns(
        self, vectors: FloatArray, *, n: int, among: frozenset[str] | None = None
    ) -> set[str]:
        """Chroma's nearest utterances, of which the database knows the customers': Chroma's
        own filter on the role would gather the ids of every customer utterance first
        (seconds at a million)."""
        rows = self.vectors.nearest_utterances(vectors, n=CUSTOMER_SHARE * n, among=among)
        said = {i for row in rows for i in row}
        customers = keyword_index.of_role(self.db, said, Role.CUSTOMER)
        return {i.rsplit(":", 1)[0] for row in rows for i in [x for x in row if x in customers][:n]}

    def cases(self, visit_ids: Sequence[str]) -> dict[str, Case]:
        found = self.db.scalars(
            select(CaseProfileRow).where(CaseProfileRow.visit_id.in_(list(visit_ids)))
        )
        out = {row.visit_id: _case(row) for row in found}
        missing = [v for v in visit_ids if v not in out]
        out |= self.vectors.cases(missing) if missing else {}
        return {v: out[v] for v in visit_ids if v in out}


def _case(row: CaseProfileRow) -> Case:
    rows = np.frombuffer(row.vectors, dtype=np.float32).reshape(-1, row.dim)
    (text, meta), *quotes = row.documents
    utterances = [utterance_from(quote, m) for quote, m in quotes]
    return visit_from(text, meta), rows[0], utterances, rows[1:]
