"""The text analysis measured three ways: cross-validation, the blind set and the corpus.

The blind set (evals/blind, written by a writer nobody who tunes reads) is the headline; the
corpus is a test, never a tuning target. Both are folders laid out like ../shared/corpus. Labels
are judged as the reference scorer judges them (each text alone, through the classifier), action
items on the scripted turns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from evals.cv import act_cv, run_cv
from nlp.actions import ActPredictor
from nlp.classify import Classifier
from nlp.labeleval import evaluate_actions, evaluate_labels


def text_figures(folder: Path, classifier: Classifier, acts: ActPredictor) -> dict[str, Any]:
    """Labels, sentiment and risk of every labelled customer text, each read alone as the
    reference scorer reads it; action items of the visits."""
    out = evaluate_labels(folder, classifier)
    if (folder / "visits").is_dir():
        actions = evaluate_actions(folder, acts)
        actions.pop("visits")
        out["actions"] = actions
    return out


def three_way(
    prompts_dir: Path,
    classifier: Classifier,
    acts: ActPredictor,
    dev: Path | None,
    blind: Path | None,
    corpus: Path | None,
    cache_dir: Path,
) -> dict[str, Any]:
    """{"cv", "dev", "blind", "corpus"}: the same figures, each from its own data. cv: the
    classifiers with one writer held out; dev: evals/dev, own visits used to choose the
    action-item rules (never trained on)."""
    out: dict[str, Any] = {
        "cv": {**run_cv(prompts_dir, cache_dir), "commitments": act_cv(prompts_dir, cache_dir)}
    }
    for name, folder in (("dev", dev), ("blind", blind), ("corpus", corpus)):
        if folder is not None:
            out[name] = text_figures(folder, classifier, acts)
    return out
