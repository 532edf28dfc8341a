"""Figures for speakers and questions: role accuracy of a transcript, SPIN accuracy on a corpus."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from nlp.questions import classify_question
from nlp.types import Segment


def _field(item: Segment | Mapping[str, object], name: str) -> object:
    return item.get(name) if isinstance(item, Mapping) else getattr(item, name)


def _seconds(item: Segment | Mapping[str, object], name: str) -> float:
    value = _field(item, name)
    if not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds.")
    return float(value)


def role_accuracy(
    truth_turns: Sequence[Mapping[str, object]], segments: Sequence[Segment | Mapping[str, object]]
) -> float:
    """Share of truth speech time whose overlapping segment has the right role (as score.py)."""
    total = right = 0.0
    for turn in truth_turns:
        start, end = _seconds(turn, "start"), _seconds(turn, "end")
        total += end - start
        for seg in segments:
            overlap = min(end, _seconds(seg, "end")) - max(start, _seconds(seg, "start"))
            if overlap > 0 and _field(seg, "role") == turn["speaker"]:
                right += overlap
    return right / total if total else 0.0


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
