"""Pure clustering steps of nlp/diarize.py on hand-made voice embeddings."""

from __future__ import annotations

import numpy as np

from nlp.diarize import _merge_close


def _cloud(center: list[float], n: int = 5) -> np.ndarray:
    c = np.array(center, dtype=float)
    return np.tile(c / np.linalg.norm(c), (n, 1))


def test_two_clusters_of_one_voice_are_merged_when_three_or_more_remain() -> None:
    emb = np.vstack([_cloud([1, 0, 0]), _cloud([0.9, 0.5, 0]), _cloud([0, 0, 1])])
    labels = np.repeat([0, 1, 2], 5)
    merged = _merge_close(emb, labels, 0.8, min_clusters=3)
    assert merged.max() == 1
    assert len(set(merged[:10])) == 1 and merged[10] != merged[0]


def test_distinct_voices_are_kept_apart() -> None:
    emb = np.vstack([_cloud([1, 0, 0]), _cloud([0, 1, 0]), _cloud([0, 0, 1])])
    labels = np.repeat([0, 1, 2], 5)
    assert list(_merge_close(emb, labels, 0.45, min_clusters=3)) == list(labels)


def test_the_last_two_clusters_are_never_merged_with_min_clusters_three() -> None:
    emb = np.vstack([_cloud([1, 0, 0]), _cloud([0.99, 0.1, 0])])
    labels = np.repeat([0, 1], 5)
    assert _merge_close(emb, labels, 0.45, min_clusters=3).max() == 1
    assert _merge_close(emb, labels, 0.45).max() == 0
