"""Real weights: the embedder and the trained classifier."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.embed import load_embedder

pytestmark = pytest.mark.slow


def test_embedder_returns_unit_float32_rows_and_is_cached() -> None:
    embedder = load_embedder()
    vecs = embedder.encode(["价格太贵了", "The price is too high", ""])
    assert vecs.shape == (3, 512)
    assert vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert load_embedder() is embedder


def test_embedder_puts_translations_closer_than_unrelated_texts() -> None:
    vecs = load_embedder().encode(["价格太贵了", "The price is too high", "今天天气很好"])
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]


def test_embedder_bounds_a_huge_text() -> None:
    vecs = load_embedder().encode(["报价" * 50_000])
    assert vecs.shape == (1, 512)
