"""Keyword search in the database's own full-text engine: FTS5 with its bm25() on SQLite, a GIN
index over a tsvector on PostgreSQL. It gives candidates, corpus statistics and counts; the
ranker scores them. Nothing is held between requests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, and_, column, delete, func, select, table, text
from sqlalchemy.orm import Session

from knowledge.bm25 import tokenize
from knowledge.doc_table import CorpusStats
from knowledge.search_tables import SearchCentroid, SearchUtterance, SearchVisit
from knowledge.search_text import keyword_text
from knowledge.search_types import FloatArray, Kind, SearchFilters, UtteranceDoc, VisitDoc

DF_CAP = 100_000  # a term's document frequency is counted up to this (its idf is near 0 there)
_TABLES: dict[Kind, type[SearchUtterance] | type[SearchVisit]] = {
    "utterance": SearchUtterance,
    "visit": SearchVisit,
}


def replace_visit(
    db: Session,
    utterances: Sequence[UtteranceDoc],
    visit: VisitDoc,
    vectors: tuple[FloatArray, FloatArray],
    old: tuple[Sequence[UtteranceDoc | VisitDoc], FloatArray],
) -> None:
    """Write a visit's documents for keyword search in the caller's transaction, replacing
    what it had, and move the language centroids from its old vectors to its new ones."""
    forget_visit(db, visit.visit_id, old)
    tokens = [tokenize(keyword_text(d)) for d in utterances]
    db.add_all(
        _row(SearchUtterance, d, t, id=d.id) for d, t in zip(utterances, tokens, strict=True)
    )
    visit_tokens = tokenize(keyword_text(visit))
    db.add(_row(SearchVisit, visit, visit_tokens))
    _move_centroids(db, utterances, vectors[0], [len(t) for t in tokens], sign=1.0)
    _move_centroids(db, [visit], vectors[1].reshape(1, -1), [len(visit_tokens)], sign=1.0)


def forget_visit(
    db: Session, visit_id: str, old: tuple[Sequence[UtteranceDoc | VisitDoc], FloatArray]
) -> None:
    """Drop a visit's keyword rows (a deleted visit's went with it) and take its old vectors
    (Chroma's, read before they are deleted) out of the centroids."""
    db.execute(delete(SearchUtterance).where(SearchUtterance.visit_id == visit_id))
    db.execute(delete(SearchVisit).where(SearchVisit.visit_id == visit_id))
    docs, vectors = old
    for kind in (UtteranceDoc, VisitDoc):
        rows = [i for i, d in enumerate(docs) if isinstance(d, kind)]
        if rows:
            mine = [docs[i] for i in rows]
            lengths = [len(tokenize(keyword_text(d))) for d in mine]
            _move_centroids(db, mine, vectors[rows], lengths, sign=-1.0)


def reset(db: Session) -> None:
    """Empty both tables and the centroids, before a full reindex."""
    for model in (SearchUtterance, SearchVisit, SearchCentroid):
        db.execute(delete(model))


def candidates(
    db: Session, kind: Kind, tokens: Sequence[str], f: SearchFilters, n: int
) -> list[str]:
    """Ids (utterance ids, or visit ids) of the n documents that pass the filters and rank
    best by the engine's own keyword score."""
    terms = list(dict.fromkeys(tokens))
    if not terms or n <= 0:
        return []
    model = _TABLES[kind]
    key = model.id if model is SearchUtterance else model.visit_id
    name = model.__tablename__
    if _sqlite(db):
        fts = table(f"{name}_fts", column("rowid"), column("rank"))
        query = (
            select(key)
            .join(fts, fts.c.rowid == model.row)
            .where(_fts_match(name, terms), *_conditions(model, f))
            .order_by(fts.c.rank)
        )
    else:
        tsq = _tsquery(terms)
        query = (
            select(key)
            .where(text(f"{name}.tsv @@ CAST(:tsq AS tsquery)").bindparams(tsq=tsq))
            .where(*_conditions(model, f))
            .order_by(text(f"ts_rank({name}.tsv, CAST(:rq AS tsquery)) DESC").bindparams(rq=tsq))
        )
    return [str(x) for x in db.scalars(query.limit(n))]


def corpus(db: Session, kind: Kind, tokens: Sequence[str]) -> CorpusStats:
    """Document count, mean length, (capped) document frequency of each query token, and each
    language's mean vector: from the per-language totals the writers keep, and the engine."""
    name = _TABLES[kind].__tablename__
    rows = db.scalars(
        select(SearchCentroid).where(SearchCentroid.kind == kind, SearchCentroid.docs > 0)
    ).all()
    docs, total = sum(r.docs for r in rows), sum(r.tokens for r in rows)
    centroids = {
        r.language: (np.frombuffer(r.vector_sum, dtype=np.float64) / r.docs).astype(np.float32)
        for r in rows
    }
    df: dict[str, int] = {}
    for term in dict.fromkeys(tokens):
        if _sqlite(db):
            hits = text(f"SELECT rowid FROM {name}_fts WHERE {name}_fts MATCH :q LIMIT :cap")
            sql = hits.bindparams(q=_fts_query([term]), cap=DF_CAP)
        else:
            hits = text(f"SELECT 1 FROM {name} WHERE tsv @@ CAST(:q AS tsquery) LIMIT :cap")
            sql = hits.bindparams(q=_tsquery([term]), cap=DF_CAP)
        df[term] = int(db.scalar(select(func.count()).select_from(sql.columns().subquery())) or 0)
    return CorpusStats(docs, total / docs if docs else 0.0, df, centroids)


def tokens_of(db: Session, kind: Kind, ids: Sequence[str]) -> dict[str, list[str]]:
    """The stored keyword tokens of these documents (utterance ids, or visit ids)."""
    model = _TABLES[kind]
    key = model.id if model is SearchUtterance else model.visit_id
    rows = db.execute(select(key, model.tokens).where(key.in_(list(ids))))
    return {str(i): tokens.split() for i, tokens in rows}


def count(db: Session, kind: Kind, f: SearchFilters) -> int:
    """Documents of the kind that pass the filters; a visit passes an utterance-level filter
    (label, risk, role, sentiment) when one of its utterances does."""
    if kind == "visit" and f.on_utterances:
        having = select(func.count(SearchUtterance.visit_id.distinct()))
        return int(db.scalar(having.where(*_conditions(SearchUtterance, f))) or 0)
    table = _TABLES[kind]
    query = select(func.count()).select_from(table).where(*_conditions(table, f))
    return int(db.scalar(query) or 0)


def visits_with_utterances(db: Session, visit_ids: Sequence[str], f: SearchFilters) -> set[str]:
    """Those of visit_ids that have an utterance passing the filters."""
    if not visit_ids:
        return set()
    query = select(SearchUtterance.visit_id).where(
        SearchUtterance.visit_id.in_(visit_ids), *_conditions(SearchUtterance, f)
    )
    return set(db.scalars(query.distinct()))


def _row(table: type[Any], doc: UtteranceDoc | VisitDoc, tokens: list[str], **extra: Any) -> Any:
    fields: dict[str, Any] = dict(
        visit_id=doc.visit_id,
        tokens=" ".join(tokens),
        length=len(tokens),
        language=doc.language or "",
        rep=doc.rep or "",
        customer=doc.customer or "",
        industry=doc.industry or "",
        segment=doc.segment or "",
        labels=" " + " ".join([*doc.labels, *getattr(doc, "risk", [])]) + " ",
        day=doc.visit_date.toordinal() if doc.visit_date else None,
    )
    if isinstance(doc, UtteranceDoc):
        fields.update(role=doc.role or "", sentiment=doc.sentiment or "")
    return table(**fields, **extra)


def _move_centroids(
    db: Session,
    docs: Sequence[UtteranceDoc | VisitDoc],
    vectors: FloatArray,
    lengths: Sequence[int],
    *,
    sign: float,
) -> None:
    """Add (sign 1) or take out (-1) documents' unit vectors, count and tokens, per language."""
    if not len(docs) or vectors.size == 0:
        return
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    kind = "visit" if isinstance(docs[0], VisitDoc) else "utterance"
    by_language: dict[str, list[int]] = {}
    for i, d in enumerate(docs):
        by_language.setdefault(d.language or "", []).append(i)
    for language in sorted(by_language):  # one lock order for every writer
        rows = by_language[language]
        total = unit[rows].astype(np.float64).sum(axis=0)
        found = db.scalars(
            select(SearchCentroid)
            .where(SearchCentroid.kind == kind, SearchCentroid.language == language)
            .with_for_update()
        ).first()
        if found is None:
            found = SearchCentroid(
                kind=kind,
                language=language,
                docs=0,
                tokens=0,
                vector_sum=np.zeros_like(total).tobytes(),
            )
            db.add(found)
        old = np.frombuffer(found.vector_sum, dtype=np.float64)
        if old.shape != total.shape:  # another embedding model: start over
            old, found.docs, found.tokens = np.zeros_like(total), 0, 0
        found.docs = max(found.docs + int(sign) * len(rows), 0)
        found.tokens = max(found.tokens + int(sign) * sum(lengths[i] for i in rows), 0)
        found.vector_sum = (old + sign * total if found.docs else total * 0).tobytes()
        db.flush()


def _sqlite(db: Session) -> bool:
    return db.get_bind().dialect.name == "sqlite"


def _fts_query(terms: Sequence[str]) -> str:
    """FTS5 query for any of the terms, each quoted as a string."""
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms)


def _fts_match(name: str, terms: Sequence[str]) -> ColumnElement[bool]:
    return text(f"{name}_fts MATCH :fq").bindparams(fq=_fts_query(terms))  # type: ignore[return-value]


def _tsquery(terms: Sequence[str]) -> str:
    """PostgreSQL tsquery for any of the terms, each a quoted lexeme (no parsing, no stemming:
    the tokens were made by knowledge.bm25.tokenize)."""
    return " | ".join("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in terms)


def _conditions(table: type[Any], f: SearchFilters) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters (utterance-only fields apply to utterances only)."""
    out: list[ColumnElement[bool]] = []
    fields = ["rep", "customer", "industry", "segment", "language"]
    if table is SearchUtterance:
        fields += ["role", "sentiment"]
        for value in (f.label, f.risk):
            if value is not None:
                out.append(table.labels.contains(f" {value} ", autoescape=True))
    for name in fields:
        value = getattr(f, name)
        if value is not None:
            out.append(getattr(table, name) == value)
    if f.date_from is not None:
        out.append(table.day >= f.date_from.toordinal())
    if f.date_to is not None:
        out.append(and_(table.day.is_not(None), table.day <= f.date_to.toordinal()))
    if f.visit_ids is not None:
        out.append(table.visit_id.in_(sorted(f.visit_ids)))
    return out
