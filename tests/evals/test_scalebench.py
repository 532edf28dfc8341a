"""The scale benchmark's in-process part on a tiny corpus: SQLite (FTS5), in-process Chroma."""

from __future__ import annotations

import uuid
from pathlib import Path

import chromadb
import numpy as np

from evals.scalebench import FILTERS, grow, make_stack, profile_search, time_search, time_similar
from knowledge.vector_index import VectorIndex


def test_grown_corpus_is_searched_and_timed_with_0_1_and_3_filters(tmp_path: Path) -> None:
    vectors = VectorIndex(chromadb.EphemeralClient(), prefix=f"s{uuid.uuid4().hex[:12]}-")
    stack = make_stack(f"sqlite:///{tmp_path / 'scale.sqlite'}", vectors, None)

    assert grow(stack, 0, 4) > 0
    assert grow(stack, 4, 8) > 0  # the same corpus, grown
    assert vectors.count() == (8 * 40, 8)

    queries = ["售后响应太慢，工程师好几天才来", "support takes days", "价格太高了"]
    qvecs = np.random.default_rng(0).standard_normal((3, 512)).astype(np.float32)
    timed = time_search(stack, queries, qvecs)
    assert set(timed) == {f"{k}/{n}_filters" for k in ("utterance", "visit") for n in FILTERS}
    assert all(cell["p95"] >= cell["p50"] > 0 for cell in timed.values())
    similar = time_similar(stack, ["v1", "v6"])
    assert similar["similar"]["p50"] > 0
    assert "waiting_for_chroma" in profile_search(stack, queries, qvecs, FILTERS["0"])
