"""`python -m evals.engine_check CORPUS`: do the engines rank a running deployment's documents
as the whole-corpus ranker would? The folder's queries.json is ranked over the documents the
service indexed (its settings' database and Chroma), by engine search as the API serves it and
by the in-memory ranker holding every stored document (what the fusion constants were chosen
with); recall@5 and MRR of each, and the queries where they differ. Meant for a small corpus:
every stored document is read into memory."""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from evals.engine_folder import EngineSearcher
from evals.search import MODES, Searcher, rank_visits, score_ranking
from knowledge.db import make_engine, make_sessionmaker
from knowledge.engine_search import EngineSearch
from knowledge.models import Visit
from knowledge.ranking import SearchIndex
from knowledge.search_text import embed_label_examples
from knowledge.settings import Settings
from knowledge.vector_index import shared
from nlp.embed import load_embedder
from nlp.labels import load_labels


def compare(corpus: Path, settings: Settings) -> dict[str, Any]:
    """recall@5 and MRR per mode, served and whole-corpus, and the per-query differences."""
    embedder = load_embedder(settings.embedding_model)
    labels = load_labels(settings.prompts_dir)
    examples = embed_label_examples(settings.prompts_dir, embedder, settings.models_dir / "cache")
    served = EngineSearch(
        partial(shared, settings.chroma_url), labels=labels, label_examples=examples
    )
    whole = SearchIndex(labels=labels, label_examples=examples)
    for kind in ("utterance", "visit"):
        whole.add(*served.vectors.documents(kind))
    queries = json.loads((corpus / "queries.json").read_text(encoding="utf-8"))
    qvecs = np.asarray(embedder.encode([q["query"] for q in queries]), dtype=np.float32)
    sessions = make_sessionmaker(make_engine(settings.database_url))
    out: dict[str, Any] = {"utterances": len(whole), "differ": []}
    with sessions() as db:
        title = {v.id: v.title for v in db.query(Visit)}
    searchers: dict[str, Searcher] = {
        "served": EngineSearcher(served, sessions, len(whole)),
        "whole": whole,
    }
    for mode in MODES:
        for name, searcher in searchers.items():
            scores = []
            for q, qv in zip(queries, qvecs, strict=True):
                ranked = [title.get(v, v) for v in rank_visits(searcher, q, qv, mode)]
                scores.append(score_ranking(ranked, q["relevant"]))
            out.setdefault(mode, {})[name] = {
                "recall5": round(float(np.mean([s[0] for s in scores])), 3),
                "mrr": round(float(np.mean([s[1] for s in scores])), 3),
                "per_query": scores,
            }
        a, b = (out[mode][n].pop("per_query") for n in searchers)
        out["differ"] += [
            (mode, q["query"], x, y) for q, x, y in zip(queries, a, b, strict=True) if x != y
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", type=Path, help="a folder with queries.json")
    args = parser.parse_args()
    print(json.dumps(compare(args.corpus, Settings()), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
