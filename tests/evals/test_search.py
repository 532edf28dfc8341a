"""Search figures: ranking scored like the reference scorer, speed on synthetic utterances."""

from __future__ import annotations

from evals.search import bench_search, score_ranking


def test_score_ranking_counts_relevant_visits_like_the_reference_scorer() -> None:
    assert score_ranking(["a", "b", "c", "d", "e", "f"], ["b", "f"]) == (0.5, 0.5)
    assert score_ranking(["x"], ["y"]) == (0.0, 0.0)


def test_bench_search_reports_latency_percentiles_and_throughput() -> None:
    result = bench_search(400, queries=4)
    assert result["n"] == 400 and result["index_utterances_per_s"] > 0
    assert set(result["utterance/label+sentiment"]) == {"p50", "p95"}
