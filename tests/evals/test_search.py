"""Search figures: ranking scored like the reference scorer; the synthetic corpus."""

from __future__ import annotations

from evals.search import score_ranking, synthetic_docs


def test_score_ranking_counts_relevant_visits_like_the_reference_scorer() -> None:
    assert score_ranking(["a", "b", "c", "d", "e", "f"], ["b", "f"]) == (0.5, 0.5)
    assert score_ranking(["x"], ["y"]) == (0.0, 0.0)


def test_synthetic_docs_grow_in_slices_of_whole_visits() -> None:
    first = synthetic_docs(80)
    later = synthetic_docs(40, seed=2, first_visit=2)
    assert [d.visit_id for d in first[::40]] == ["v0", "v1"]
    assert {d.visit_id for d in later} == {"v2"} and [d.index for d in later] == list(range(40))
    assert later[0].rep == synthetic_docs(120)[80].rep  # a visit's metadata follows its id
