"""Pure clustering steps of nlp/diarize.py on hand-made voice embeddings."""

from __future__ import annotations

import numpy as np

from nlp.diarize import MAX_FILL_S, _fill_pauses, _merge_close
from nlp.types import Segment


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


def test_a_short_pause_between_two_speakers_is_split_at_its_middle() -> None:
    segs = [
        Segment(0.0, 4.0, "a", speaker="S1"),
        Segment(5.0, 8.0, "b", speaker="S2"),
        Segment(9.0, 12.0, "c", speaker="S2"),
        Segment(12.0 + MAX_FILL_S + 1, 20.0, "d", speaker="S1"),
    ]
    out = _fill_pauses(segs)
    assert [(s.start, s.end) for s in out] == [
        (0.0, 4.5),
        (4.5, 9.0),  # the same speaker goes on over the pause
        (9.0, 12.0),  # a long pause is left as it is
        (12.0 + MAX_FILL_S + 1, 20.0),
    ]
    assert [s.speaker for s in out] == ["S1", "S2", "S2", "S1"]
