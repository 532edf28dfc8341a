"""The text analysis measured three ways: cross-validation, the blind set and the corpus.

The blind set (evals/blind, written by a writer nobody who tunes reads) is the headline; the
corpus is a test, never a tuning target. Both are folders laid out like ../shared/corpus. Labels
are judged as the reference scorer judges them (each text alone, through the classifier), action
items on the scripted turns."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.cv import act_cv, label_figures, run_cv
from nlp.actions import ActPredictor
from nlp.classify import Classifier
from nlp.labeleval import evaluate_actions, load_gold_utterances, prf


def text_figures(folder: Path, classifier: Classifier, acts: ActPredictor) -> dict[str, Any]:
    """Labels, sentiment and risk of every labelled customer text; action items of the visits."""
    gold = load_gold_utterances(folder)
    preds = []
    started = time.monotonic()
    for lang in ("zh", "en"):
        batch = [g for g in gold if g.language == lang]
        preds += list(
            zip(batch, classifier.analyze([g.text for g in batch], language=lang), strict=True)
        )
    seconds = time.monotonic() - started
    ids = classifier.weights.label_ids
    y = np.array([[lid in g.labels for lid in ids] for g, _ in preds], dtype=bool)
    pred = np.array(
        [[lid in {s.id for s in p.labels} for lid in ids] for _, p in preds], dtype=bool
    )
    risk = [(g.risk, {s.id for s in p.risk}) for g, p in preds]
    rp, rr, _ = prf(
        sum(len(g & p) for g, p in risk),
        sum(len(p - g) for g, p in risk),
        sum(len(g - p) for g, p in risk),
    )
    n = max(len(preds), 1)
    out: dict[str, Any] = {
        "n": len(preds),
        **label_figures(pred, y, ids),
        "sentiment_acc": round(sum(p.sentiment == g.sentiment for g, p in preds) / n, 3),
        "risk_p": round(rp, 3),
        "risk_r": round(rr, 3),
        "ms_per_utterance": round(1000 * seconds / n, 1),
    }
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
