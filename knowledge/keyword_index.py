"""Keyword search in the database's own full-text engine: FTS5 with its bm25() on SQLite, a GIN
index over a tsvector on PostgreSQL. It gives candidates, corpus statistics and counts; the
ranker scores them. Nothing is held between requests."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    column,
    delete,
    func,
    literal,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, TSQUERY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from knowledge.bm25 import tokenize
from knowledge.chroma_documents import document_from, document_of
from knowledge.doc_table import CorpusStats
from knowledge.search_tables import (
    SearchCentroid,
    SearchDocument,
    SearchTerm,
    SearchUtterance,
    SearchVisit,
    cosines,
    pack,
    unpack,
)
from knowledge.search_text import keyword_text
from knowledge.search_types import FloatArray, Kind, SearchFilters, UtteranceDoc, VisitDoc

MATCH_BUDGET = 20_000  # keyword candidates come from the rarest query words matching this many
_NONE = np.zeros((0, 0), dtype=np.float32)
_TABLES: dict[Kind, type[SearchUtterance] | type[SearchVisit]] = {
    "utterance": SearchUtterance,
    "visit": SearchVisit,
}


def replace_visits(
    db: Session,
    batch: Sequence[tuple[Sequence[UtteranceDoc], VisitDoc, tuple[FloatArray, FloatArray]]],
    old: Mapping[str, tuple[Sequence[UtteranceDoc | VisitDoc], FloatArray]],
) -> None:
    """Write visits' documents for keyword search in the caller's transaction, replacing what
    they had, and move the language centroids and document frequencies from the old to the
    new, once for all of them. What they had is read from search_documents, or given in old
    (Chroma's documents and vectors, for a visit written before migration 0010)."""
    if not batch:
        return
    visits = [visit for _, visit, _ in batch]
    ids = [v.visit_id for v in visits]
    gone = [old[v] for v in ids if v in old and len(old[v][0])]
    docs, units = _stored(db, [v for v in ids if v not in old])
    docs += [d for had, _ in gone for d in had]
    parts = [x for x in (units, *(_units(x) for _, x in gone)) if x.size]
    forget_visits(db, ids, (docs, np.vstack(parts) if parts else _NONE))
    utterances = [d for docs, _, _ in batch for d in docs]
    tokens = [tokenize(keyword_text(d)) for d in utterances]
    vectors = [np.asarray(e[0], np.float32) for docs, _, e in batch if len(docs)]
    blobs = [pack(v) for v in np.vstack(vectors)] if vectors else []
    db.add_all(
        _row(SearchUtterance, d, t, id=d.id, vector=b)
        for d, t, b in zip(utterances, tokens, blobs, strict=True)
    )
    db.add_all(_document(d) for d in utterances)
    _move_centroids(db, utterances, unpack(blobs), [len(t) for t in tokens], sign=1.0)
    visit_tokens = [tokenize(keyword_text(v)) for v in visits]
    blobs = [pack(np.asarray(e[1], np.float32)) for _, _, e in batch]
    db.add_all(
        _row(SearchVisit, v, t, vector=b)
        for v, t, b in zip(visits, visit_tokens, blobs, strict=True)
    )
    db.add_all(_document(v) for v in visits)
    _move_centroids(db, visits, unpack(blobs), [len(t) for t in visit_tokens], sign=1.0)
    _move_terms(db, "utterance", tokens, sign=1)
    _move_terms(db, "visit", visit_tokens, sign=1)


def without_documents(db: Session, visit_ids: Sequence[str]) -> list[str]:
    """Those of these visits with search rows but no search documents (written before
    migration 0010)."""
    documented = select(SearchDocument.id).where(
        SearchDocument.kind == "visit", SearchDocument.id.in_(list(visit_ids))
    )
    query = select(SearchVisit.visit_id).where(
        SearchVisit.visit_id.in_(list(visit_ids)), SearchVisit.visit_id.not_in(documented)
    )
    return sorted(db.scalars(query))


def forget_visit(
    db: Session, visit_id: str, old: tuple[Sequence[UtteranceDoc | VisitDoc], FloatArray]
) -> None:
    """Drop a visit's keyword rows (a deleted visit's went with it) and take its old vectors
    (Chroma's, read before they are deleted) out of the centroids."""
    forget_visits(db, [visit_id], (old[0], _units(old[1])))


def forget_visits(
    db: Session, visit_ids: Sequence[str], old: tuple[Sequence[UtteranceDoc | VisitDoc], FloatArray]
) -> None:
    """forget_visit for several visits; old holds all their documents and unit vectors as
    search_documents stores them."""
    for model in (SearchUtterance, SearchVisit, SearchDocument):
        db.execute(delete(model).where(model.visit_id.in_(visit_ids)))
    docs, vectors = old
    for kind in _TABLES:
        doc_type = UtteranceDoc if kind == "utterance" else VisitDoc
        rows = [i for i, d in enumerate(docs) if isinstance(d, doc_type)]
        if rows:
            mine = [docs[i] for i in rows]
            tokens = [tokenize(keyword_text(d)) for d in mine]
            _move_centroids(db, mine, vectors[rows], [len(t) for t in tokens], sign=-1.0)
            _move_terms(db, kind, tokens, sign=-1)


def _stored(
    db: Session, visit_ids: Sequence[str]
) -> tuple[list[UtteranceDoc | VisitDoc], FloatArray]:
    """The search documents of these visits and their unit vectors (from their search rows)."""
    rows: list[Any] = []
    for kind in _TABLES if visit_ids else ():
        model, key = _keyed(kind)
        rows += db.execute(
            select(SearchDocument.kind, SearchDocument.document, model.vector)
            .join(model, key == SearchDocument.id)
            .where(SearchDocument.kind == kind, SearchDocument.visit_id.in_(list(visit_ids)))
        ).all()
    docs = [document_from(kind, document) for kind, document, _ in rows]
    return docs, unpack([vector for _, _, vector in rows])


def _units(vectors: FloatArray) -> FloatArray:
    """Vectors as search_documents stores them (pack), so that what is added to the centroids
    is taken out exactly."""
    return unpack([pack(v) for v in np.asarray(vectors, dtype=np.float32)])


def reset(db: Session) -> None:
    """Empty both tables and the centroids, before a full reindex."""
    for model in (SearchUtterance, SearchVisit, SearchDocument, SearchCentroid, SearchTerm):
        db.execute(delete(model))


def candidates(
    db: Session, kind: Kind, tokens: Sequence[str], f: SearchFilters, n: int, df: Mapping[str, int]
) -> list[str]:
    """Ids (utterance ids, or visit ids) of the n documents that pass the filters and rank
    best by the engine's own keyword score. The engine scores the documents that hold the
    rarest query words, up to MATCH_BUDGET of them by their document frequencies: a word held
    by more adds little to BM25 and would make the engine score most of the corpus. When the
    rarest word alone is held by more, the engine scores the first MATCH_BUDGET of its
    documents that pass the filters (at 1M, 135 -> 37 ms for a word held by 67k)."""
    terms = _rarest(list(dict.fromkeys(tokens)), df)
    if not terms or n <= 0:
        return []
    model, key = _keyed(kind)
    name = model.__tablename__
    if _sqlite(db):
        fts = table(f"{name}_fts", column("rowid"), column("rank"))
        matched = (
            select(key.label("key"), fts.c.rank.label("score"))
            .join(fts, fts.c.rowid == model.row)
            .where(_fts_match(name, terms), *_conditions(db, model, f))
            .limit(MATCH_BUDGET)
            .subquery()
        )
        query = select(matched.c.key).order_by(matched.c.score)
    else:
        tsq = _tsquery(terms)
        tsv: ColumnElement[str] = literal_column(f"{name}.tsv")
        score = func.ts_rank(tsv, cast(literal(tsq), TSQUERY))
        matched = (
            select(key.label("key"), score.label("score"))
            .where(text(f"{name}.tsv @@ CAST(:tsq AS tsquery)").bindparams(tsq=tsq))
            .where(*_conditions(db, model, f))
            .limit(MATCH_BUDGET)
            .subquery()
        )
        query = select(matched.c.key).order_by(matched.c.score.desc())
    return [str(x) for x in db.scalars(query.limit(n))]


def _rarest(terms: list[str], df: Mapping[str, int]) -> list[str]:
    """The query's words held by any document, rarest first, while their documents number at
    most MATCH_BUDGET (the rarest always)."""
    kept: list[str] = []
    total = 0
    for term in sorted((t for t in terms if df.get(t, 0) > 0), key=lambda t: df[t]):
        total += df[term]
        if kept and total > MATCH_BUDGET:
            break
        kept.append(term)
    return kept


def corpus(db: Session, kind: Kind, tokens: Sequence[str]) -> CorpusStats:
    """Document count, mean length, document frequency of each query token, and each
    language's mean vector: from the totals the writers keep."""
    rows = db.scalars(
        select(SearchCentroid).where(SearchCentroid.kind == kind, SearchCentroid.docs > 0)
    ).all()
    docs, total = sum(r.docs for r in rows), sum(r.tokens for r in rows)
    centroids = {
        r.language: (np.frombuffer(r.vector_sum, dtype=np.float64) / r.docs).astype(np.float32)
        for r in rows
    }
    terms = sorted(set(tokens))
    found = select(SearchTerm.term, SearchTerm.docs).where(
        SearchTerm.kind == kind, SearchTerm.term.in_(terms)
    )
    df = {str(t): int(n) for t, n in db.execute(found)} if terms else {}
    return CorpusStats(docs, total / docs if docs else 0.0, df, centroids)


def passing(
    db: Session, kind: Kind, f: SearchFilters, limit: int, first: int
) -> dict[str, bytes | None] | None:
    """The documents of the kind that pass the filters, each with its packed vector (None for
    one written before migration 0010), or None when more than limit do (a visit's own fields
    only: as Chroma filters visit documents). The vectors are in the rows the scan reads: up to
    first documents, one scan gives them; past it, the database's estimate of how many pass
    decides whether to read up to limit (a broad filter would read them for nothing: at 1M,
    counting a third of the rows took 180 ms)."""
    model, key = _keyed(kind)
    query = select(key, model.vector).where(*_conditions(db, model, f))
    first = min(first, limit)
    found = _vector_rows(db, query.limit(first + 1))
    if len(found) <= first:
        return found
    if first == limit or _estimated(db, query) > limit:
        return None
    found = _vector_rows(db, query.limit(limit + 1))  # an estimate can be low
    return found if len(found) <= limit else None


def _estimated(db: Session, query: Select[Any]) -> int:
    """How many rows the query gives: PostgreSQL's planner's estimate (no scan), SQLite's
    count."""
    if _sqlite(db):
        return int(db.scalar(select(func.count()).select_from(query.subquery())) or 0)
    compiled = query.compile(dialect=db.get_bind().dialect)
    plan = db.connection().exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    return int(plan.scalar_one()[0]["Plan"]["Plan Rows"])


def _vector_rows(db: Session, query: Select[tuple[Any, bytes | None]]) -> dict[str, bytes | None]:
    """Ids and vectors a query selects. On PostgreSQL in the binary protocol: the text one
    sends each vector as hex, which took twice as long (at 1M, one rep's 19,320: 110 -> 50 ms)."""
    if _sqlite(db):
        return {str(i): vector for i, vector in db.execute(query)}
    compiled = query.compile(dialect=db.get_bind().dialect)
    with db.connection().connection.dbapi_connection.cursor(binary=True) as cursor:  # type: ignore[union-attr]
        cursor.execute(str(compiled), compiled.params)
        return {str(i): vector for i, vector in cursor.fetchall()}


def rows_of(
    db: Session, kind: Kind, ids: Sequence[str]
) -> dict[str, tuple[list[Any] | None, list[str], bytes | None]]:
    """The stored rows of these documents (utterance ids, or visit ids): each one's document
    ([text, metadata]), keyword tokens and packed vector (document and vector None for a visit
    indexed before migration 0010); ids without a search row are left out."""
    model, key = _keyed(kind)
    found = db.execute(select(key, model.tokens, model.vector).where(_among(db, key, ids)))
    rows = {str(i): (words.split(), vector) for i, words, vector in found}
    documents = {  # apart, so that each is looked up by its own key whatever the tables' sizes
        str(i): document
        for i, document in db.execute(
            select(SearchDocument.id, SearchDocument.document).where(
                SearchDocument.kind == kind, _among(db, SearchDocument.id, list(rows))
            )
        )
    }
    return {i: (documents.get(i), words, vector) for i, (words, vector) in rows.items()}


def nearest_passing(stored: Mapping[str, bytes | None], qvec: FloatArray, n: int) -> list[str]:
    """Of the documents that pass a narrow filter and their vectors (see passing), the n
    nearest to qvec, then those stored without one: Chroma's own filtered search would look
    for them through its whole graph."""
    scored = [i for i, vector in stored.items() if vector and len(vector) == 2 * qvec.shape[0]]
    best = np.argsort(-cosines([stored[i] or b"" for i in scored], qvec), kind="stable")[:n]
    return [scored[i] for i in best] + [i for i, vector in stored.items() if not vector]


def passing_among(db: Session, kind: Kind, f: SearchFilters, ids: Sequence[str]) -> list[str]:
    """Those of these ids whose documents pass the filters, in their order."""
    if not ids:
        return []
    model, key = _keyed(kind)
    found = set(db.scalars(select(key).where(_among(db, key, ids), *_conditions(db, model, f))))
    return [i for i in ids if i in found]


def of_role(db: Session, ids: set[str], role: str) -> set[str]:
    """Those of these utterance ids that the role said."""
    if not ids:
        return set()
    query = select(SearchUtterance.id).where(
        _among(db, SearchUtterance.id, sorted(ids)), SearchUtterance.role == role
    )
    return set(db.scalars(query))


def _keyed(kind: Kind) -> tuple[type[SearchUtterance] | type[SearchVisit], Any]:
    """The kind's table and the column that holds its documents' ids."""
    model = _TABLES[kind]
    return model, model.id if model is SearchUtterance else model.visit_id


def count(db: Session, kind: Kind, f: SearchFilters) -> int:
    """Documents of the kind that pass the filters; a visit passes an utterance-level filter
    (label, risk, role, sentiment) when one of its utterances does."""
    if kind == "visit" and f.on_utterances:
        having = select(func.count(SearchUtterance.visit_id.distinct()))
        return int(db.scalar(having.where(*_conditions(db, SearchUtterance, f))) or 0)
    table = _TABLES[kind]
    query = select(func.count()).select_from(table).where(*_conditions(db, table, f))
    return int(db.scalar(query) or 0)


def visits_with_utterances(db: Session, visit_ids: Sequence[str], f: SearchFilters) -> set[str]:
    """Those of visit_ids that have an utterance passing the filters."""
    if not visit_ids:
        return set()
    query = select(SearchUtterance.visit_id).where(
        _among(db, SearchUtterance.visit_id, visit_ids), *_conditions(db, SearchUtterance, f)
    )
    return set(db.scalars(query.distinct()))


def _document(doc: UtteranceDoc | VisitDoc) -> SearchDocument:
    """A document's search_documents row."""
    return SearchDocument(
        kind="utterance" if isinstance(doc, UtteranceDoc) else "visit",
        id=doc.id if isinstance(doc, UtteranceDoc) else doc.visit_id,
        visit_id=doc.visit_id,
        document=document_of(doc),
    )


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
    """Add (sign 1) or take out (-1) documents' unit vectors (_units), count and tokens, per
    language."""
    if not len(docs) or vectors.size == 0:
        return
    unit = vectors
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


def _move_terms(db: Session, kind: Kind, tokens: Sequence[Sequence[str]], *, sign: int) -> None:
    """Add (sign 1) or take out (-1) documents' distinct tokens from the document frequencies;
    terms are written in one order by every writer, and a count that falls to 0 goes."""
    df = Counter(t for doc in tokens for t in set(doc))
    if not df:
        return
    rows = [{"kind": kind, "term": t, "docs": sign * n} for t, n in sorted(df.items())]
    insert = sqlite_insert if _sqlite(db) else pg_insert
    stmt = insert(SearchTerm)
    db.execute(
        stmt.on_conflict_do_update(
            index_elements=["kind", "term"], set_={"docs": SearchTerm.docs + stmt.excluded.docs}
        ),
        rows,
    )
    if sign < 0:
        gone = (SearchTerm.kind == kind, SearchTerm.term.in_(list(df)), SearchTerm.docs <= 0)
        db.execute(delete(SearchTerm).where(*gone))


def _among(db: Session, column: Any, ids: Sequence[str]) -> ColumnElement[bool]:
    """column IN ids. On PostgreSQL one array parameter: an IN list of a few thousand ids is
    a query of as many placeholders, which the driver parses anew each time (at 100k, about
    50 ms of a narrow filter's search)."""
    if _sqlite(db):
        found: ColumnElement[bool] = column.in_(list(ids))
    else:
        found = column == any_(bindparam(None, list(ids), type_=ARRAY(Text)))
    return found


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


def _conditions(db: Session, table: type[Any], f: SearchFilters) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters (utterance-only fields apply to utterances only)."""
    out: list[ColumnElement[bool]] = []
    fields = ["rep", "customer", "industry", "segment", "language"]
    if table is SearchUtterance:
        fields += ["role", "sentiment"]
        wanted = [value for value in (f.label, f.risk) if value is not None]
        if wanted and _sqlite(db):
            out += [table.labels.contains(f" {value} ", autoescape=True) for value in wanted]
        elif wanted:  # the labels as an array, as migration 0011's GIN index holds them
            label_set = func.string_to_array(table.labels, literal_column("' '"))
            out.append(label_set.op("@>")(bindparam(None, wanted, type_=ARRAY(Text))))
    for name in fields:
        value = getattr(f, name)
        if value is not None:
            out.append(getattr(table, name) == value)
    if f.date_from is not None:
        out.append(table.day >= f.date_from.toordinal())
    if f.date_to is not None:
        out.append(and_(table.day.is_not(None), table.day <= f.date_to.toordinal()))
    if f.visit_ids is not None:
        out.append(_among(db, table.visit_id, sorted(f.visit_ids)))
    return out
