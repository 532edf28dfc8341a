"""Search on the engines (the database's full-text engine and Chroma), with nothing held between
requests, ranks as the in-memory ranker does over the whole corpus, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import chromadb
import numpy as np
import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from knowledge import engine_search, keyword_index
from knowledge.case_store import CaseProfileRow, StoredCases
from knowledge.db import make_engine, make_sessionmaker, migrate, session_scope
from knowledge.engine_search import EngineSearch, forget_visit, replace_documents
from knowledge.models import Visit
from knowledge.ranking import SearchIndex
from knowledge.search_tables import (
    SearchCentroid,
    SearchDocument,
    SearchTerm,
    SearchUtterance,
    SearchVisit,
    pack,
    unpack,
)
from knowledge.search_types import (
    InvalidFilter,
    SearchFilters,
    SearchHit,
    UtteranceDoc,
    VisitDoc,
)
from knowledge.similar import similar_stored, similar_visits, stored_profiles
from knowledge.vector_index import VectorIndex
from nlp.labels import SHIPPED_PROMPTS, load_labels

pytestmark = [pytest.mark.integration]

DIM = 16
WORDS_EN = [
    "price",
    "delivery",
    "late",
    "engineer",
    "invoice",
    "pump",
    "leak",
    "hotline",
    "training",
    "contract",
]
WORDS_ZH = ["价格", "交货", "太慢", "售后", "工程师", "合同", "培训", "报价", "漏油", "热线"]
LABELS = ["need.price", "pain.delivery", "pain.service", "need.training"]


def _corpus(visits: int = 12) -> list[tuple[VisitDoc, list[UtteranceDoc]]]:
    rng = random.Random(7)
    out = []
    for v in range(visits):
        zh = v % 2 == 0
        meta = dict(
            rep=f"rep{v % 3}",
            customer=f"cust{v}",
            industry="retail" if v % 4 else "energy",
            segment=("strategic", "basic")[v % 2],
            language="zh" if zh else "en",
            visit_date=date(2026, 1 + v % 6, 10),
        )
        utts = []
        for i in range(8):
            words = rng.sample(WORDS_ZH if zh else WORDS_EN, 3)
            utts.append(
                UtteranceDoc(
                    visit_id=f"v{v:02d}",
                    index=i,
                    start=i * 5.0,
                    end=i * 5.0 + 4,
                    text=("，" if zh else " ").join(words),
                    role=("rep", "customer")[i % 2],
                    labels=rng.sample(LABELS, rng.choice((0, 1, 2))),
                    sentiment=rng.choice(("positive", "neutral", "negative")),
                    risk=["risk.churn"] if rng.random() < 0.1 else [],
                    **meta,  # type: ignore[arg-type]
                )
            )
        visit = VisitDoc(
            visit_id=f"v{v:02d}",
            title=f"visit {v}",
            summary=" ".join(u.text for u in utts[:2]),
            labels=sorted({x for u in utts for x in u.labels}),
            text=" ".join(u.text for u in utts),
            **meta,  # type: ignore[arg-type]
        )
        out.append((visit, utts))
    return out


def _vectors(texts: list[str]) -> np.ndarray:
    """Stand-in embeddings: a hashed bag of words, a language offset, and a little noise of
    each text's own, so that no two texts tie."""
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    for row, text in enumerate(texts):
        out[row] = 0.05 * np.random.default_rng(sum(map(ord, text))).standard_normal(DIM)
        for word in text.replace("，", " ").split():
            out[row, hash(word) % DIM] += 1.0
        out[row, 0] += 2.0 if any("\u4e00" <= c <= "\u9fff" for c in text) else 0.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = (
        f"sqlite:///{tmp_path / 'db.sqlite'}"
        if request.param == "sqlite"
        else request.getfixturevalue("pg_database")
    )
    migrate(url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def vectors(request: pytest.FixtureRequest) -> VectorIndex:
    prefix = f"t{abs(hash(request.node.nodeid)) % 10**8}-"
    return VectorIndex(chromadb.EphemeralClient(), prefix=prefix)


def _load(sessions: sessionmaker[Session], vectors: VectorIndex) -> SearchIndex:
    """Every visit into both engines, and the same documents into one in-memory ranker."""
    with session_scope(sessions) as db:  # PostgreSQL's database is the module's: start clean
        keyword_index.reset(db)
    whole = SearchIndex()
    for visit, utts in _corpus():
        with session_scope(sessions) as db:
            db.merge(Visit(id=visit.visit_id, title=visit.title, content_sha256=visit.visit_id))
        uvec = _vectors([u.text for u in utts])
        vvec = _vectors([visit.summary])[0]
        replace_documents(sessions, vectors, utts, visit, (uvec, vvec))
        whole.add(utts, _as_stored(uvec))  # search scores with the rows' float16 vectors
        whole.add([visit], _as_stored(vvec.reshape(1, -1)))
    return whole


def _as_stored(vectors: np.ndarray) -> np.ndarray:
    return unpack([pack(v) for v in vectors])


def _search_engine(vectors: VectorIndex, candidates: int = 200) -> EngineSearch:
    """Candidates 200: more than the corpus holds, so ranks must equal the whole corpus's."""
    return EngineSearch(lambda: vectors, labels=load_labels(SHIPPED_PROMPTS), candidates=candidates)


def _passing(kind: str, f: SearchFilters) -> int:
    """How many documents of the kind pass the filters, counted in Python (a visit passes an
    utterance-level filter when one of its utterances does)."""
    n = 0
    for visit, utts in _corpus():
        if kind == "utterance":
            n += sum(_passes(u, f) for u in utts)
        elif f.label or f.risk or f.role or f.sentiment:
            n += any(_passes(u, f) for u in utts)
        else:
            n += _passes(visit, f)
    return n


def _passes(d: UtteranceDoc | VisitDoc, f: SearchFilters) -> bool:
    if f.visit_ids is not None and d.visit_id not in f.visit_ids:
        return False
    if f.date_from and (not d.visit_date or d.visit_date < f.date_from):
        return False
    if f.date_to and (not d.visit_date or d.visit_date > f.date_to):
        return False
    fields = ["rep", "customer", "industry", "segment", "language"]
    if isinstance(d, UtteranceDoc):
        fields += ["role", "sentiment"]
        if f.label and f.label not in d.labels or f.risk and f.risk not in d.risk:
            return False
    return all(getattr(f, x) in (None, getattr(d, x)) for x in fields)


QUERIES = ["pump leak", "售后 太慢", "price contract late", "工程师 报价", "training"]
FILTERS = [
    SearchFilters(),
    SearchFilters(role="customer"),
    SearchFilters(label="need.price", rep="rep1"),
    SearchFilters(language="zh", date_from=date(2026, 2, 1), date_to=date(2026, 4, 30)),
    SearchFilters(visit_ids=frozenset({"v01", "v02", "v05"}), sentiment="negative"),
    SearchFilters(risk="risk.churn"),
]


@pytest.mark.parametrize("kind", ["utterance", "visit"])
@pytest.mark.parametrize(
    ("prefilter", "first_scan", "overfetch"),
    [(5_000, 5_000, 5_000), (5_000, 3, 5_000), (3, 3, 1)],  # the database's vectors in one
    # scan, in a count and a scan; Chroma's own filter
)
def test_engines_rank_as_the_whole_corpus_in_memory(
    sessions: sessionmaker[Session],
    vectors: VectorIndex,
    kind: str,
    prefilter: int,
    first_scan: int,
    overfetch: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_search, "PREFILTER", prefilter)
    monkeypatch.setattr(engine_search, "FIRST_SCAN", first_scan)
    monkeypatch.setattr(engine_search, "OVERFETCH", overfetch)
    whole = _load(sessions, vectors)
    engine = _search_engine(vectors)
    for query in QUERIES:
        qvec = _vectors([query])[0]
        for f in FILTERS:
            with sessions() as db:
                page = engine.search(db, query, qvec, kind=kind, filters=f, limit=5)  # type: ignore[arg-type]
            want = whole.search(query, qvec, kind=kind, filters=f, limit=5)  # type: ignore[arg-type]
            assert _ranked(page.hits) == _ranked(want.hits), (query, f)
            assert page.close == want.close, (query, f)
            got, exp = [h.score for h in page.hits], [h.score for h in want.hits]
            assert got == pytest.approx(exp, abs=1e-4), (query, f)
            assert page.total == _passing(kind, f)


def _ranked(hits: list[SearchHit]) -> list[tuple[str, int | None]]:
    """Which documents, in which order; the scores are compared with a tolerance, since the
    engines' centroids are sums of float32 vectors and the in-memory ranker's of float16."""
    return [(h.visit_id, getattr(h.doc, "index", None)) for h in hits]


def test_every_stored_document_reads_back_with_its_vector(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    for kind, per_visit in (("utterance", 8), ("visit", 1)):
        docs, vecs = vectors.documents(kind)  # type: ignore[arg-type]
        assert len(docs) == 12 * per_visit and vecs.shape == (len(docs), DIM)


def test_keyword_side_alone_finds_chinese_and_english_words(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    engine = _search_engine(vectors)
    for query, word in (("漏油", "漏油"), ("hotline", "hotline")):
        with sessions() as db:
            page = engine.search(db, query, _vectors([query])[0], mode="bm25", limit=20)
        assert page.hits and all(word in h.doc.text for h in page.hits)  # type: ignore[union-attr]


_utterance_centroids = select(SearchCentroid).where(SearchCentroid.kind == "utterance")


def test_a_deleted_visit_leaves_both_engines_and_the_centroids(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    with session_scope(sessions) as db:
        before = {r.language: r.docs for r in db.scalars(_utterance_centroids)}
        db.delete(db.get(Visit, "v00"))  # the keyword rows go with the visit
    forget_visit(sessions, vectors, "v00")
    with sessions() as db:
        left = db.scalar(select(func.count()).where(SearchUtterance.visit_id == "v00"))
        after = {r.language: r.docs for r in db.scalars(_utterance_centroids)}
        page = _search_engine(vectors).search(db, "售后", _vectors(["售后"])[0], limit=50)
    assert left == 0
    assert after["zh"] == before["zh"] - 8
    assert "v00" not in {h.visit_id for h in page.hits}
    assert vectors.visit_documents("v00")[0] == []


@pytest.mark.parametrize("written_before_0010", [False, True])  # what it had: Chroma's
def test_reindexing_a_visit_keeps_the_centroids_exact(
    sessions: sessionmaker[Session], vectors: VectorIndex, written_before_0010: bool
) -> None:
    _load(sessions, vectors)
    visit, utts = _corpus()[3]
    with sessions() as db:
        before = keyword_index.corpus(db, "utterance", []).centroids
    for _ in range(2):
        if written_before_0010:
            with session_scope(sessions) as db:
                db.execute(delete(SearchDocument).where(SearchDocument.visit_id == visit.visit_id))
        uvec = _vectors([u.text for u in utts])
        replace_documents(sessions, vectors, utts, visit, (uvec, _vectors([visit.summary])[0]))
    with sessions() as db:
        after = keyword_index.corpus(db, "utterance", []).centroids
    for language, centroid in before.items():
        assert np.allclose(after[language], centroid, atol=1e-5)


def test_the_kept_document_frequencies_are_those_of_the_stored_rows(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    visit, utts = _corpus()[3]
    uvec = _vectors([u.text for u in utts])
    replace_documents(sessions, vectors, utts[:4], visit, (uvec[:4], _vectors([visit.summary])[0]))
    with session_scope(sessions) as db:
        db.delete(db.get(Visit, "v05"))
    forget_visit(sessions, vectors, "v05")
    with sessions() as db:
        for kind, model in (("utterance", SearchUtterance), ("visit", SearchVisit)):
            counted: dict[str, int] = {}
            for tokens in db.scalars(select(model.tokens)):
                for term in set(tokens.split()):
                    counted[term] = counted.get(term, 0) + 1
            rows = db.execute(
                select(SearchTerm.term, SearchTerm.docs).where(SearchTerm.kind == kind)
            )
            assert {term: n for term, n in rows} == counted, kind


def _state(sessions: sessionmaker[Session], vectors: VectorIndex) -> tuple[object, ...]:
    """What search reads: centroids, document frequencies, keyword rows, stored documents."""
    with sessions() as db:
        stats = {k: keyword_index.corpus(db, k, ["pump", "售后"]) for k in ("utterance", "visit")}
        rows = sorted(db.execute(select(SearchUtterance.id, SearchUtterance.tokens)).all())
        visits = sorted(db.scalars(select(SearchVisit.visit_id)))
        cases = sorted(db.scalars(select(CaseProfileRow.visit_id)))
    stored = {k: sorted(map(str, vectors.documents(k)[0])) for k in ("utterance", "visit")}  # type: ignore[arg-type]
    centroids = {
        k: {x: np.round(c, 5).tolist() for x, c in v.centroids.items()} for k, v in stats.items()
    }
    counts = {k: (v.docs, v.df) for k, v in stats.items()}
    return centroids, counts, rows, visits, cases, stored


def test_visits_written_in_batches_leave_what_one_by_one_leaves(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    one_by_one = _state(sessions, vectors)
    with session_scope(sessions) as db:
        keyword_index.reset(db)
        db.execute(delete(CaseProfileRow))
    vectors.reset()
    batch = [
        (utts, visit, (_vectors([u.text for u in utts]), _vectors([visit.summary])[0]))
        for visit, utts in _corpus()
    ]
    assert engine_search.replace_visits(sessions, vectors, batch[:5]) == {
        f"v{i:02d}" for i in range(5)
    }
    engine_search.replace_visits(sessions, vectors, batch[3:])  # v03 and v04 again: replaced
    assert _state(sessions, vectors) == one_by_one


def test_keyword_candidates_come_from_the_rarest_words_within_the_budget() -> None:
    df = {"rare": 3, "mid": 15_000, "common": 90_000, "absent": 0}
    assert keyword_index._rarest(["common", "mid", "rare", "absent"], df) == ["rare", "mid"]
    assert keyword_index._rarest(["common"], df) == ["common"]  # the rarest always
    assert keyword_index._rarest(["absent", "unknown"], df) == []


def test_similar_cases_start_from_the_nearest_customer_turns(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    customers = [u for _, utts in _corpus() for u in utts if u.role == "customer"]
    stored = _vectors([u.text for u in customers])
    rep_lines = [u for u in _corpus()[5][1] if u.role == "rep"]
    queries = _vectors([u.text for u in rep_lines])
    with sessions() as db:
        found = StoredCases(vectors, db).nearest_customer_turns(queries, n=2)
    nearest = np.argsort(-(queries @ stored.T), axis=1)[:, :2]  # each row's two customer turns
    assert found and found <= {customers[i].visit_id for i in nearest.ravel()}
    with sessions() as db:
        among = StoredCases(vectors, db).nearest_customer_turns(
            queries, n=2, among=frozenset({"v02"})
        )
    assert among == {"v02"}


def test_a_broad_filter_keeps_those_of_chromas_nearest_that_pass_it(
    sessions: sessionmaker[Session], vectors: VectorIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(sessions, vectors)
    monkeypatch.setattr(engine_search, "PREFILTER", 3)
    asked: list[SearchFilters] = []
    nearest = vectors.nearest
    monkeypatch.setattr(
        vectors,
        "nearest",
        lambda *a, filters, **k: asked.append(filters) or nearest(*a, filters=filters, **k),
    )
    engine = _search_engine(vectors, candidates=10)  # 20 wanted, 48 customers' turns among 96
    f = SearchFilters(role="customer")
    with sessions() as db:
        page = engine.search(db, "pump leak", _vectors(["pump leak"])[0], filters=f, limit=5)
    assert asked and all(a == SearchFilters() for a in asked)  # never Chroma's own filter
    assert page.hits and all(h.doc.role == "customer" for h in page.hits)  # type: ignore[union-attr]
    assert page.total == _passing("utterance", f)


def test_an_utterance_search_asks_the_engines_for_utterances_and_their_visits_only(
    sessions: sessionmaker[Session], vectors: VectorIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(sessions, vectors)
    asked: list[str] = []
    nearest, candidates = vectors.nearest, keyword_index.candidates
    monkeypatch.setattr(
        vectors, "nearest", lambda kind, *a, **k: asked.append(kind) or nearest(kind, *a, **k)
    )
    monkeypatch.setattr(
        keyword_index,
        "candidates",
        lambda db, kind, *a: asked.append(kind) or candidates(db, kind, *a),
    )
    engine = _search_engine(vectors, candidates=10)
    with sessions() as db:
        page = engine.search(db, "pump leak", _vectors(["pump leak"])[0], limit=5)
        assert asked == ["utterance", "utterance"] and page.hits
        asked.clear()
        engine.search(db, "pump leak", _vectors(["pump leak"])[0], kind="visit", limit=5)
    assert sorted(asked) == ["utterance", "utterance", "visit", "visit"]


def test_on_postgresql_the_label_and_risk_filters_read_the_label_index(
    pg_database: str, vectors: VectorIndex
) -> None:
    """The filter's expression is the index's (migration 0011), so the planner can use it."""
    migrate(pg_database)
    sessions = make_sessionmaker(make_engine(pg_database))
    _load(sessions, vectors)
    f = SearchFilters(label="need.price", risk="risk.churn")
    with sessions() as db:
        conditions = keyword_index._conditions(db, SearchUtterance, f)
        compiled = select(SearchUtterance.id).where(*conditions).compile(db.get_bind())
        connection = db.connection()
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        found = connection.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params)
        plan = "\n".join(row[0] for row in found)
    assert "ix_search_utterances_label_set" in plan, plan


def test_an_utterance_search_is_close_where_a_visit_is_though_no_utterance_is(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    """As over the whole corpus: when no utterance candidate is a close match the visits are
    asked for too, so the page does not say "no close matches" while a visit is one."""
    with session_scope(sessions) as db:
        keyword_index.reset(db)
    base, _ = _corpus(1)[0]
    for visit_id, text, labels in (("va", "pump leak", []), ("vb", "invoice contract", LABELS)):
        visit = dataclasses.replace(base, visit_id=visit_id, title="", summary=text, text=text)
        utt = UtteranceDoc(visit_id=visit_id, index=0, start=0, end=4, text=text, labels=labels)
        with session_scope(sessions) as db:
            db.merge(Visit(id=visit_id, title=visit_id, content_sha256=visit_id))
        vecs = _vectors([text])
        replace_documents(sessions, vectors, [utt], visit, (vecs, vecs[0]))
    f = SearchFilters(label=LABELS[0])  # "pump" is said in va, whose utterance lacks the label
    with sessions() as db:
        page = _search_engine(vectors, candidates=1).search(
            db, "pump", _vectors(["pump"])[0], filters=f
        )
    assert [h.visit_id for h in page.hits] == ["vb"] and page.close


def test_a_word_too_common_is_scored_in_the_first_documents_that_hold_it(
    sessions: sessionmaker[Session], vectors: VectorIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(sessions, vectors)
    monkeypatch.setattr(keyword_index, "MATCH_BUDGET", 3)
    with sessions() as db:
        term, held = db.execute(
            select(SearchTerm.term, SearchTerm.docs)
            .where(SearchTerm.kind == "utterance")
            .order_by(SearchTerm.docs.desc())
        ).first()  # type: ignore[misc]
        customers = SearchFilters(role="customer")
        found = keyword_index.candidates(db, "utterance", [term], customers, 50, {term: held})
        rows = keyword_index.rows_of(db, "utterance", found)
    assert held > 3 and len(found) == 3
    assert all(
        term in words and document[1]["role"] == "customer" for document, words, _ in rows.values()
    )  # type: ignore[index]


def test_similar_stored_ranks_as_similar_visits_over_every_profile(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    with sessions() as db:
        store = StoredCases(vectors, db)
        everyone = stored_profiles(store, [f"v{v:02d}" for v in range(12)])
        for visit_id, target in everyone.items():
            want = similar_visits(target, list(everyone.values()))
            got = similar_stored(store, target, among=None)
            assert [c.visit.visit_id for c in got] == [c.visit.visit_id for c in want], visit_id


def test_similar_case_profiles_are_read_from_the_database_as_from_chroma(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    ids = [f"v{v:02d}" for v in range(12)]
    with session_scope(sessions) as db:  # as a visit indexed before the database kept profiles
        db.delete(db.get(CaseProfileRow, "v03"))
    with sessions() as db:
        stored = stored_profiles(StoredCases(vectors, db), [*ids, "nope"])
    direct = stored_profiles(vectors, ids)
    assert list(stored) == ids
    assert sum(len(p.quotes) for p in stored.values()) > 12
    for visit_id, profile in stored.items():
        want = direct[visit_id]
        assert (profile.visit, profile.labels, profile.quote_docs) == (
            want.visit,
            want.labels,
            want.quote_docs,
        )
        assert np.allclose(profile.quote_vectors, want.quote_vectors, atol=1e-6)  # Chroma's float32
        assert np.allclose(profile.summary_vector, want.summary_vector, atol=1e-6)  # type: ignore[arg-type]


def test_a_visit_without_utterances_has_a_profile_of_its_document_alone(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    visit = _corpus()[0][0]
    with session_scope(sessions) as db:
        db.merge(Visit(id=visit.visit_id, title=visit.title, content_sha256=visit.visit_id))
    vvec = _vectors([visit.summary])[0]
    assert replace_documents(sessions, vectors, [], visit, (np.zeros(0, np.float32), vvec))
    with sessions() as db:
        doc, vector, quotes, _ = StoredCases(vectors, db).cases([visit.visit_id])[visit.visit_id]
    assert (doc.visit_id, quotes) == (visit.visit_id, [])
    assert np.allclose(vector, vvec)


def test_a_deleted_visit_is_left_out_while_chroma_still_holds_it(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    with session_scope(sessions) as db:  # its rows go with it; its vectors wait for a worker
        db.execute(delete(Visit).where(Visit.id == "v01"))
    assert vectors.visit_documents("v01")[0]
    engine = _search_engine(vectors)
    for f in (SearchFilters(), SearchFilters(visit_ids=frozenset({"v01", "v02"}))):
        with sessions() as db:
            page = engine.search(db, "price", _vectors(["price"])[0], filters=f, limit=50)
        assert page.hits and "v01" not in {h.visit_id for h in page.hits}


def test_rows_written_before_they_kept_vectors_are_completed_from_chroma(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    _load(sessions, vectors)
    engine = _search_engine(vectors)
    qvec = _vectors(["pump leak"])[0]
    narrow = SearchFilters(rep="rep1")
    with sessions() as db:
        before = [
            engine.search(db, "pump leak", qvec, filters=f) for f in (SearchFilters(), narrow)
        ]
    with session_scope(sessions) as db:  # as migration 0010 leaves an older deployment's rows
        db.execute(delete(SearchDocument))
        for model in (SearchUtterance, SearchVisit):
            db.execute(update(model).values(vector=None))
    with sessions() as db:
        after = [engine.search(db, "pump leak", qvec, filters=f) for f in (SearchFilters(), narrow)]
    for old, new in zip(before, after, strict=True):
        assert _ranked(new.hits) == _ranked(old.hits) and new.total == old.total
        assert [h.score for h in new.hits] == pytest.approx([h.score for h in old.hits], abs=1e-3)


def test_a_bad_filter_is_refused_before_any_engine_is_asked(
    sessions: sessionmaker[Session],
) -> None:
    engine = _search_engine(VectorIndex(object()))  # any call on it would fail
    with sessions() as db, pytest.raises(InvalidFilter):
        engine.search(db, "price", np.ones(DIM, np.float32), filters=SearchFilters(label="x.y"))


def test_a_visit_deleted_while_it_was_indexed_leaves_nothing_behind(
    sessions: sessionmaker[Session], vectors: VectorIndex
) -> None:
    visit, utts = _corpus()[0]
    visit = dataclasses.replace(visit, visit_id="gone")  # no Visit row: deleted meanwhile
    utts = [dataclasses.replace(u, visit_id="gone") for u in utts]
    uvec = _vectors([u.text for u in utts])
    assert not replace_documents(sessions, vectors, utts, visit, (uvec, uvec[0]))
    assert vectors.visit_documents(visit.visit_id)[0] == []
    with sessions() as db:
        assert keyword_index.rows_of(db, "utterance", [u.id for u in utts]) == {}
