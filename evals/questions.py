"""SPIN and open/closed accuracy of the rep-question classifier on a corpus folder."""

from __future__ import annotations

import json
from pathlib import Path

from nlp.questions import classify_question


def evaluate_questions(corpus_dir: Path) -> dict[str, float | int]:
    """SPIN and open/closed accuracy on the labelled rep questions of corpus_dir/visits/*.json.

    A question the classifier misses counts as wrong for both; `detected` is the share found, and
    `false_questions` counts rep turns without a label that were called questions.
    """
    n = spin_ok = open_ok = detected = false_questions = statements = 0
    for path in sorted((corpus_dir / "visits").glob("*.json")):
        visit = json.loads(path.read_text(encoding="utf-8"))
        language = visit.get("language")
        for turn in visit.get("turns", []):
            if turn.get("speaker") != "rep":
                continue
            got = classify_question(turn["text"], language)
            gold = turn.get("question")
            if not gold:
                statements += 1
                false_questions += got is not None
                continue
            n += 1
            if got is None:
                continue
            detected += 1
            spin_ok += got.spin == gold["spin"]
            open_ok += got.open == gold["open"]
    return {
        "questions": n,
        "spin_accuracy": round(spin_ok / n, 3) if n else 0.0,
        "open_accuracy": round(open_ok / n, 3) if n else 0.0,
        "detected": round(detected / n, 3) if n else 0.0,
        "rep_statements": statements,
        "false_questions": false_questions,
    }
