"""Ask across visits (POST /api/ask): recall@5 of the visits behind each written question.

The questions (evals/ask_questions.json) are about the taxonomy's labels, not about any one set of
visits; the visits behind a question are those where a customer turn carries one of its labels by
the folder's own truth. The ranking is the route's: the question's best utterances (hybrid
search), their visits in order."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from api.routes.ask import MOMENTS
from evals.search import _encode, build_index, load_corpus
from knowledge.search import PROMPTS_DIR, Encoder, embed_label_examples

QUESTIONS = Path(__file__).resolve().parent / "ask_questions.json"
TOP = 5


def evaluate_ask(folder: Path, embedder: Encoder) -> dict[str, Any]:
    """Mean recall@5 (found / min(5, visits behind it)) over the questions whose labels some
    visit of the folder carries; None where the folder has no labelled turns."""
    visits = load_corpus(folder)
    questions = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    behind = [
        {
            cv.visit.visit_id
            for cv in visits
            for u in cv.utterances
            if u.role == "customer" and set(q["labels"]) & {*u.labels, *u.risk}
        }
        for q in questions
    ]
    asked = [(q, rel) for q, rel in zip(questions, behind, strict=True) if rel]
    if not asked:
        return {"questions": 0, "recall5": None}
    index = build_index(visits, embedder, None, embed_label_examples(PROMPTS_DIR, embedder))
    vectors = _encode(embedder, [q["question"] for q, _ in asked])
    recalls = []
    for (q, rel), vector in zip(asked, vectors, strict=True):
        page = index.search(q["question"], vector, kind="utterance", limit=MOMENTS)
        ranked = list(dict.fromkeys(hit.visit_id for hit in page.hits))[:TOP]
        recalls.append(len(set(ranked) & rel) / min(TOP, len(rel)))
    return {"questions": len(asked), "recall5": round(float(np.mean(recalls)), 3)}
