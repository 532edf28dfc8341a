"""Insights timing on synthetic rows: it reports every query and cleans up after itself."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from evals.kbbench import bench_insights
from knowledge.db import make_engine
from knowledge.models import UtteranceLabel, Visit


def test_bench_insights_reports_timings_and_leaves_no_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    out = bench_insights(2000, url, repeats=1)
    assert out["n_utterances"] == 2000 and out["backend"] == "sqlite"
    assert out["n_visits"] == 50 and out["n_label_rows"] > 100
    assert set(out["timings"]) == {"pain_all", "need_all_weekly", "pain_segment", "pain_rep_dates"}
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Visit)) == 0
        assert conn.scalar(select(func.count()).select_from(UtteranceLabel)) == 0
    engine.dispose()
