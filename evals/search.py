"""Search quality and similar-case hit@3 on a labelled corpus folder, and the synthetic
utterances that evals.scalebench grows a corpus from."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt

from evals.engine_folder import EngineFolder
from knowledge.ranking import SearchIndex
from knowledge.search_text import (
    LabelExamples,
    embed_label_examples,
    feature_sentences,
    utterance_embedding_texts,
    visit_embedding_text,
)
from knowledge.search_types import (
    Encoder,
    FloatArray,
    FusionWeights,
    Kind,
    Mode,
    SearchFilters,
    SearchPage,
    UtteranceDoc,
    VisitDoc,
)
from knowledge.similar import profile_from_visit, similar_visits
from nlp.labels import SHIPPED_PROMPTS, load_labels
from nlp.vocabulary import Segment, Sentiment

MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25")


@dataclass
class CorpusVisit:
    """One corpus visit turned into index documents, plus what evaluation needs of it."""

    visit: VisitDoc
    utterances: list[UtteranceDoc]
    similar_to: list[str]


def load_corpus(corpus_dir: Path) -> list[CorpusVisit]:
    """Index documents from visits/*.json; ground-truth labels, annotated questions and
    commitments stand in for the analysis and coaching steps."""
    out = []
    for path in sorted((corpus_dir / "visits").glob("*.json")):
        raw = json.loads(path.read_text(encoding="utf-8"))
        customer = raw.get("customer", {})
        day = date.fromisoformat(raw["date"]) if raw.get("date") else None
        meta = {
            "language": raw.get("language", ""),
            "rep": raw.get("rep", ""),
            "customer": customer.get("company", ""),
            "industry": customer.get("industry", ""),
            "segment": customer.get("segment", ""),
            "visit_date": day,
        }
        utterances = []
        for i, turn in enumerate(raw["turns"]):
            utterances.append(
                UtteranceDoc(
                    visit_id=raw["id"],
                    index=i,
                    start=float(turn.get("start", i * 10.0)),
                    end=float(turn.get("end", i * 10.0 + 10.0)),
                    text=turn["text"],
                    role=turn["speaker"],
                    labels=list(turn.get("labels", [])),
                    sentiment=turn.get("sentiment") or "neutral",
                    risk=list(turn.get("risk", [])),
                    **meta,
                )
            )
        quotes = [u.text for u in utterances if u.role == "customer" and u.labels]
        labels = sorted({x for u in utterances for x in u.labels})
        visit = VisitDoc(
            visit_id=raw["id"],
            title=raw.get("title", ""),
            summary=raw.get("summary", ""),
            labels=labels,
            outcome=raw.get("outcome", ""),
            question_quality=_question_quality(raw["turns"]),
            rep_talk_share=_rep_talk_share(raw["turns"]),
            next_steps=len(raw.get("actions") or []),
            text="\n".join([raw.get("summary", ""), *quotes]),
            **meta,
        )
        out.append(CorpusVisit(visit, utterances, list(raw.get("similar_to", []))))
    return out


def _question_quality(turns: list[dict[str, Any]]) -> float | None:
    """Question quality in 0..1: mean of the open and the problem-probing question shares."""
    questions = [t["question"] for t in turns if t.get("speaker") == "rep" and t.get("question")]
    if not questions:
        return None
    open_share = sum(bool(q.get("open")) for q in questions) / len(questions)
    deep = ("problem", "implication", "need_payoff")
    deep_share = sum(q.get("spin") in deep for q in questions) / len(questions)
    return (open_share + deep_share) / 2


def _rep_talk_share(turns: list[dict[str, Any]]) -> float | None:
    """The rep's share of what was said, in characters (the coaching step uses seconds)."""
    said = {"rep": 0, "customer": 0}
    for t in turns:
        if t.get("speaker") in said:
            said[t["speaker"]] += len(t.get("text", ""))
    total = sum(said.values())
    return said["rep"] / total if total else None


def build_index(
    visits: Sequence[CorpusVisit],
    embedder: Encoder,
    weights: FusionWeights | None = None,
    label_examples: LabelExamples | None = None,
) -> SearchIndex:
    """A SearchIndex holding every utterance and visit document of the corpus."""
    index = SearchIndex(weights=weights, label_examples=label_examples)
    sentences = feature_sentences(SHIPPED_PROMPTS)
    for cv in visits:
        texts = [
            *utterance_embedding_texts(cv.utterances),
            visit_embedding_text(cv.visit, sentences),
        ]
        vectors = _encode(embedder, texts)
        index.add([*cv.utterances, cv.visit], vectors)
    return index


class Searcher(Protocol):
    """The in-memory ranker over a folder, or the folder in the product's engines."""

    def __len__(self) -> int: ...

    def search(
        self,
        query: str,
        query_vector: FloatArray,
        *,
        kind: Kind = "utterance",
        filters: SearchFilters | None = None,
        limit: int = 20,
        mode: Mode = "hybrid",
    ) -> SearchPage: ...


def rank_visits(
    index: Searcher, query: dict[str, Any], query_vector: npt.NDArray[np.float32], mode: Mode
) -> list[str]:
    """Distinct visit ids in hit order for one queries.json entry, as the reference scorer sees."""
    raw_filters = query.get("filters") or {}
    filters = SearchFilters(**raw_filters)
    page = index.search(
        query["query"],
        query_vector,
        kind=query.get("kind", "utterance"),
        filters=filters,
        limit=20,
        mode=mode,
    )
    ranked: list[str] = []
    for hit in page.hits:
        if hit.visit_id not in ranked:
            ranked.append(hit.visit_id)
    return ranked


def score_ranking(ranked: Sequence[str], relevant: Sequence[str]) -> tuple[float, float]:
    """(recall@5, reciprocal rank of the first relevant visit) exactly like score.py search."""
    rel = set(relevant)
    recall = len(set(ranked[:5]) & rel) / len(rel)
    rank = next((i + 1 for i, vid in enumerate(ranked) if vid in rel), None)
    return recall, (1.0 / rank if rank else 0.0)


def evaluate_search(
    corpus_dir: Path,
    embedder: Encoder,
    weights: FusionWeights | None = None,
    prompts_dir: Path = SHIPPED_PROMPTS,
    *,
    engines: bool = True,
) -> dict[str, Any]:
    """recall@5 and MRR per mode on queries.json, similar-case hit@3, query latency in ms; over
    the product's engines (as the API searches), or with engines=False the in-memory ranker
    over the whole folder (what the fusion constants were chosen with)."""
    visits = load_corpus(corpus_dir)
    examples = embed_label_examples(prompts_dir, embedder)
    index: Searcher
    if engines:
        index = EngineFolder(
            [(cv.visit, cv.utterances) for cv in visits],
            embedder,
            weights=weights,
            label_examples=examples,
        )
    else:
        index = build_index(visits, embedder, weights, examples)
    queries = json.loads((corpus_dir / "queries.json").read_text(encoding="utf-8"))
    qvecs = _encode(embedder, [q["query"] for q in queries])
    result: dict[str, Any] = {"queries": len(queries), "utterances": len(index)}
    latencies: list[float] = []
    per_query: list[dict[str, Any]] = []
    for mode in MODES:
        recalls, rrs = [], []
        for q, qv in zip(queries, qvecs, strict=True):
            t0 = time.perf_counter()
            ranked = rank_visits(index, q, qv, mode)
            if mode == "hybrid":
                latencies.append((time.perf_counter() - t0) * 1000)
            recall, rr = score_ranking(ranked, q["relevant"])
            recalls.append(recall)
            rrs.append(rr)
            if mode == "hybrid":
                per_query.append(
                    {"query": q["query"], "recall5": round(recall, 3), "rr": round(rr, 3)}
                )
        result[mode] = {
            "recall5": round(float(np.mean(recalls)), 3),
            "mrr": round(float(np.mean(rrs)), 3),
        }
    result["per_query"] = per_query
    result["no_close_matches"] = _no_close_matches(index, embedder, queries, corpus_dir)
    result["latency_ms"] = _percentiles(latencies)
    result["similar"] = evaluate_similar(visits, embedder)
    if isinstance(index, EngineFolder):
        index.close()
    return result


def _no_close_matches(
    index: Searcher, embedder: Encoder, queries: Sequence[dict[str, Any]], corpus_dir: Path
) -> dict[str, Any]:
    """Share of real queries told "no close matches", and of offtopic.json's queries (when the
    folder has one), where that is what a user wants to hear."""

    def empty(texts: list[str]) -> list[bool]:
        vectors = _encode(embedder, texts)
        return [not index.search(t, v, limit=5).close for t, v in zip(texts, vectors, strict=True)]

    out: dict[str, Any] = {"real": round(float(np.mean(empty([q["query"] for q in queries]))), 3)}
    offtopic = corpus_dir / "offtopic.json"
    if offtopic.exists():
        out["offtopic"] = round(
            float(np.mean(empty(json.loads(offtopic.read_text(encoding="utf-8"))))), 3
        )
    return out


def evaluate_similar(visits: Sequence[CorpusVisit], embedder: Encoder) -> dict[str, Any]:
    """hit@3 (a trainer's similar case among the top 3) and recall@3 over visits' similar_to."""
    profiles = []
    for cv in visits:
        texts = [*utterance_embedding_texts(cv.utterances), cv.visit.summary or cv.visit.title]
        vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
        profiles.append(profile_from_visit(cv.visit, cv.utterances, vectors[:-1], vectors[-1]))
    hits, recalls = [], []
    for cv, profile in zip(visits, profiles, strict=True):
        if not cv.similar_to:
            continue
        top = [c.visit.visit_id for c in similar_visits(profile, profiles, limit=3)]
        hits.append(any(v in top for v in cv.similar_to))
        recalls.append(len(set(top) & set(cv.similar_to)) / len(cv.similar_to))
    return {
        "visits": len(hits),
        "hit3": round(float(np.mean(hits)), 3) if hits else 0.0,
        "recall3": round(float(np.mean(recalls)), 3) if recalls else 0.0,
    }


_TEMPLATES_ZH = (
    "{who}说{topic}的问题已经拖了{n}个月，{feeling}",
    "我们希望{topic}方面能有{n}个改进，{feeling}",
    "上次{topic}出了问题，{who}等了{n}天才解决",
)
_TEMPLATES_EN = (
    "{who} says the {topic} issue has dragged on for {n} months and {feeling}",
    "we would like {n} improvements around {topic}, {feeling}",
    "last time {topic} broke, {who} waited {n} days for a fix",
)
_FILL_ZH = {
    "who": ["老板", "采购", "厂长", "设备科", "财务"],
    "topic": ["价格", "交付", "售后", "质量", "对接", "培训", "定制", "功能", "合规", "沟通"],
    "feeling": ["大家很不满意", "还算可以", "希望尽快处理", "我们在考虑别家"],
}
_FILL_EN = {
    "who": ["the plant manager", "our buyer", "finance", "the CTO", "the head nurse"],
    "topic": ["pricing", "delivery", "support", "quality", "integration", "training", "billing"],
    "feeling": ["nobody is happy", "it is fine", "please fix it soon", "we may switch vendors"],
}


def synthetic_docs(
    n: int, *, seed: int = 0, per_visit: int = 40, first_visit: int = 0
) -> list[UtteranceDoc]:
    """n template utterances in zh and en with random labels and metadata, per_visit per visit,
    in visits v<first_visit>, v<first_visit + 1>, ... (a corpus grown in slices)."""
    rng = random.Random(seed)
    labels = load_labels(SHIPPED_PROMPTS)
    docs = []
    for i in range(n):
        zh = rng.random() < 0.5
        templates, fill = (_TEMPLATES_ZH, _FILL_ZH) if zh else (_TEMPLATES_EN, _FILL_EN)
        text = rng.choice(templates).format(
            n=rng.randint(2, 9), **{k: rng.choice(v) for k, v in fill.items()}
        )
        visit = first_visit + i // per_visit
        vrng = random.Random(visit)
        docs.append(
            UtteranceDoc(
                visit_id=f"v{visit}",
                index=i % per_visit,
                start=(i % per_visit) * 12.0,
                end=(i % per_visit) * 12.0 + 10.0,
                text=text,
                role=rng.choice(("rep", "customer")),
                labels=rng.sample(labels.need_pain_ids, rng.choice((0, 1, 1, 2))),
                sentiment=rng.choice(tuple(Sentiment)),
                risk=[labels.risk_ids[0]] if rng.random() < 0.05 else [],
                language="zh" if zh else "en",
                rep=f"rep{vrng.randint(0, 49)}",
                customer=f"customer{vrng.randint(0, 999)}",
                industry=f"industry{vrng.randint(0, 19)}",
                segment=vrng.choice(tuple(Segment)),
                visit_date=date(2026, 1, 1).fromordinal(
                    date(2026, 1, 1).toordinal() + vrng.randint(0, 300)
                ),
            )
        )
    return docs


def _encode(embedder: Encoder, texts: list[str]) -> npt.NDArray[np.float32]:
    return cast(npt.NDArray[np.float32], np.asarray(embedder.encode(texts), dtype=np.float32))


def _percentiles(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {"p50": 0.0, "p95": 0.0}
    ordered = sorted(ms)
    return {
        "p50": round(ordered[len(ordered) // 2], 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
    }
