"""VectorIndex against a real `chroma run` server on a free port with a temporary path."""

import dataclasses
import subprocess
import time
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from evals.servers import CHROMA, free_port
from knowledge.search_types import SearchFilters, UtteranceDoc, VisitDoc
from knowledge.vector_index import IndexUnavailable, VectorIndex, connect

pytestmark = pytest.mark.skipif(not Path(CHROMA).exists(), reason="chroma CLI not installed")


@pytest.fixture
def index(chroma_url, request):
    import chromadb

    port = int(chroma_url.rsplit(":", 1)[1])
    prefix = f"t{abs(hash(request.node.name)) % 10**8}_"
    return VectorIndex(chromadb.HttpClient(host="127.0.0.1", port=port), prefix=prefix)


def utterances(visit_id, n, text="line"):
    return [
        UtteranceDoc(
            visit_id=visit_id,
            index=i,
            start=i * 5.0,
            end=i * 5.0 + 4,
            text=f"{text} {i}",
            role="customer",
            labels=["pain.service"] if i else [],
            sentiment="negative",
            risk=["risk.churn"] if i == 1 else [],
            language="en",
            rep="ann",
            customer="Acme",
            industry="labs",
            segment="basic",
            visit_date=date(2026, 4, 1),
        )
        for i in range(n)
    ]


def vectors(n, seed=0):
    v = np.random.default_rng(seed).standard_normal((n, 16)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_utterances_round_trip_with_their_metadata(index):
    docs = utterances("v1", 3)
    vecs = vectors(3)
    index.upsert_utterances(docs, vecs)
    back, back_vecs = index.visit_documents("v1")
    by_id = {
        d.id: (d, v) for d, v in zip(back, back_vecs, strict=True) if isinstance(d, UtteranceDoc)
    }
    assert set(by_id) == {"v1:0", "v1:1", "v1:2"}
    doc, vec = by_id["v1:1"]
    assert doc == docs[1]
    np.testing.assert_allclose(vec, vecs[1], rtol=1e-5)


def test_writing_a_visit_again_replaces_its_utterances(index):
    index.upsert_utterances(utterances("v1", 4), vectors(4))
    index.upsert_utterances(utterances("v1", 2, text="new"), vectors(2, seed=1))
    back, _ = index.visit_documents("v1")
    assert sorted(d.text for d in back) == ["new 0", "new 1"]  # type: ignore[union-attr]


def test_visit_documents_round_trip(index):
    doc = VisitDoc(
        visit_id="v9",
        title="Late engineer",
        summary="S",
        labels=["pain.service"],
        outcome="open",
        segment="basic",
        visit_date=date(2026, 1, 2),
        coaching_score=0.7,
        rep_talk_share=0.62,
        next_steps=3,
        text="S and quotes",
    )
    index.upsert_visit(doc, vectors(1)[0])
    index.upsert_visit(doc, vectors(1, seed=2)[0])
    back, vecs = index.visit_documents("v9")
    assert back == [doc]
    assert vecs.shape == (1, 16)


def test_delete_visit_removes_utterances_and_visit_doc(index):
    index.upsert_utterances(utterances("v1", 2) + utterances("v2", 2), vectors(4))
    index.upsert_visit(VisitDoc(visit_id="v1"), vectors(1)[0])
    index.delete_visit("v1")
    index.delete_visit("never-there")
    assert index.visit_documents("v1")[0] == []
    assert len(index.visit_documents("v2")[0]) == 2
    assert index.count() == (2, 0)


def test_chroma_filtered_query_matches_metadata(index):
    index.upsert_utterances(utterances("v1", 3), vectors(3))
    found = index.nearest(
        "utterance", vectors(1, seed=5)[0], n=5, filters=SearchFilters(label="pain.service")
    )
    assert sorted(found) == ["v1:1", "v1:2"]


def test_reading_pages_through_large_visits(index, monkeypatch):
    import knowledge.vector_index as vi

    monkeypatch.setattr(vi, "_PAGE", 7)
    index.upsert_utterances(utterances("big", 30), vectors(30))
    back, vecs = index.visit_documents("big")
    assert len(back) == 30 and vecs.shape == (30, 16)


def test_nearest_ids_and_documents_by_id(index):
    docs = utterances("v1", 3)
    index.upsert_utterances(docs, vectors(3))
    index.upsert_visit(VisitDoc(visit_id="v1", title="Late engineer"), vectors(1)[0])
    ids = index.nearest("utterance", vectors(3)[2], n=5, filters=SearchFilters())
    assert ids[0] == "v1:2" and sorted(ids) == ["v1:0", "v1:1", "v1:2"]
    nobody = SearchFilters(rep="nobody")
    assert index.nearest("utterance", vectors(1)[0], n=5, filters=nobody) == []
    assert index.nearest("visit", vectors(1)[0], n=5, filters=SearchFilters()) == ["v1"]
    back = index.stored("utterance", ["v1:2", "gone:0", "v1:0"])
    assert sorted(back) == ["v1:0", "v1:2"] and back["v1:2"][0] == docs[2]
    assert np.allclose(back["v1:2"][1], vectors(3)[2], atol=1e-6)


def test_unreachable_server_raises_index_unavailable():
    with pytest.raises(IndexUnavailable, match="unreachable"):
        connect(f"http://127.0.0.1:{free_port()}")


def test_server_going_away_raises_index_unavailable(tmp_path):
    import chromadb

    port = free_port()
    proc = subprocess.Popen(
        [CHROMA, "run", "--path", str(tmp_path), "--port", str(port), "--host", "127.0.0.1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 30
        while True:
            try:
                client = chromadb.HttpClient(host="127.0.0.1", port=port)
                break
            except ValueError:
                if time.time() > deadline:
                    pytest.fail("chroma run did not start")
                time.sleep(0.3)
        index = VectorIndex(client)
        index.upsert_utterances(utterances("v1", 1), vectors(1))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with pytest.raises(IndexUnavailable):
        index.upsert_utterances(utterances("v1", 1), vectors(1))


def _stored_visits(index, n_visits):
    """n_visits visits, each with a visit document and four customer utterances (one rep's)."""
    for k in range(n_visits):
        vid = f"v{k}"
        docs = utterances(vid, 4, text=f"visit {k} says")
        docs[0].role = "rep"
        index.upsert_utterances(docs, vectors(4, seed=k))
        index.upsert_visit(VisitDoc(visit_id=vid, title=vid, language="en"), vectors(1, 100 + k))


def test_nearest_neighbours_for_similar_cases_keep_to_the_callers_visits(index):
    _stored_visits(index, 4)
    target = vectors(1, 102)[0]  # visit v2's own document vector
    assert index.nearest_visits(target, n=2)[0] == "v2"
    assert set(index.nearest_visits(target, n=10, among=frozenset({"v0", "v1"}))) == {"v0", "v1"}
    assert index.nearest_visits(target, n=10, among=frozenset()) == []
    quotes = vectors(4, seed=3)[1:3]  # two utterances of v3
    assert [row[0] for row in index.nearest_utterances(quotes, n=1)] == ["v3:1", "v3:2"]
    among_v0 = index.nearest_utterances(quotes, n=5, among=frozenset({"v0"}))
    assert len(among_v0) == 2 and all(i.startswith("v0:") for row in among_v0 for i in row)
    assert index.nearest_utterances(quotes, n=5, among=frozenset()) == []


def test_cases_hold_each_visits_document_and_customer_utterances(index):
    _stored_visits(index, 3)
    cases = index.cases(["v1", "v2", "nope"])
    assert set(cases) == {"v1", "v2"}
    doc, vec, utts, vecs = cases["v1"]
    assert doc.visit_id == "v1" and vec.shape == (16,)
    assert [u.index for u in sorted(utts, key=lambda u: u.index)] == [1, 2, 3]  # no rep line
    assert vecs.shape == (3, 16)
    assert index.cases([]) == {}


def test_a_reset_leaves_no_labels_behind_for_the_next_documents(index):
    # Chroma's delete_collection leaves list-valued metadata behind, and the next records that
    # reuse its internal ids inherit it (chroma-core/chroma#7594)
    index.upsert_utterances(utterances("v1", 3), vectors(3))
    index.reset()
    plain = [dataclasses.replace(u, labels=[], risk=[]) for u in utterances("v1", 3)]
    index.upsert_utterances(plain, vectors(3, seed=1))
    back, _ = index.visit_documents("v1")
    assert len(back) == 3 and not any(d.labels or d.risk for d in back)
