"""What a query is compared with (label examples, visit-feature descriptions) and what text of a
document gets embedded and keyword-indexed."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from knowledge.search_types import VISIT_FEATURES, Encoder, FloatArray, UtteranceDoc, VisitDoc, top


@dataclass(frozen=True)
class VisitFeatureText:
    """What each end of each visit feature means (prompts/search.yaml), embedded: a visit query
    close to one end of a feature prefers the visits at that end."""

    features: list[str]  # VISIT_FEATURES key of each description row
    signs: FloatArray  # +1 for a description of the high end, -1 for the low end
    vectors: FloatArray  # (m, dim), unit rows
    min_similarity: float = 0.4
    weight: float = 0.5

    def preferences(self, qvec: FloatArray) -> dict[str, float]:
        """Per feature, how much the query leans to its high (+) or low (-) end."""
        sims = self.vectors @ qvec
        out: dict[str, float] = {}
        for name in dict.fromkeys(self.features):
            rows = np.array([f == name for f in self.features])
            high = float(np.max(sims[rows & (self.signs > 0)], initial=-1.0))
            low = float(np.max(sims[rows & (self.signs < 0)], initial=-1.0))
            if max(high, low) >= self.min_similarity:
                out[name] = high - low
        return out


@dataclass
class LabelExamples:
    """What a query is compared with: label examples (prompts/examples) and what the ends of
    the visit features mean (prompts/search.yaml)."""

    vectors: FloatArray  # (m, dim), unit rows
    labels: list[list[str]]  # need.* / pain.* / risk.* ids of each example
    visit_features: VisitFeatureText | None = None


def read_label_examples(prompts_dir: Path) -> tuple[list[str], list[list[str]]]:
    """Texts and label ids (labels plus risk) of prompts/examples/*.jsonl."""
    texts: list[str] = []
    labels: list[list[str]] = []
    for path in sorted((prompts_dir / "examples").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                texts.append(row["text"])
                labels.append([*row.get("labels", []), *row.get("risk", [])])
    return texts, labels


def read_visit_features(
    prompts_dir: Path,
) -> tuple[list[str], list[float], list[str], dict[str, float]]:
    """Features, signs and description texts of prompts/search.yaml, and its two constants."""
    path = prompts_dir / "search.yaml"
    if not path.exists():
        return [], [], [], {}
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    features: list[str] = []
    signs: list[float] = []
    texts: list[str] = []
    for feature, ends in (raw.get("features") or {}).items():
        if feature not in VISIT_FEATURES:
            valid = ", ".join(VISIT_FEATURES)
            raise ValueError(f"{path}: unknown visit feature {feature!r}; use one of {valid}.")
        for end, sign in (("high", 1.0), ("low", -1.0)):
            for text in (ends or {}).get(end) or []:
                features.append(feature)
                signs.append(sign)
                texts.append(str(text))
    knobs = {k: float(raw[k]) for k in ("min_similarity", "weight") if k in raw}
    return features, signs, texts, knobs


def embed_label_examples(
    prompts_dir: Path, embedder: Encoder, cache_dir: Path | None = None
) -> LabelExamples | None:
    """The query priors from the project's label examples and visit features (None if neither).
    With cache_dir, the vectors are kept there per embedder and texts, so a process starts
    without embedding thousands of examples again."""
    texts, labels = read_label_examples(prompts_dir)
    features, signs, feature_texts, knobs = read_visit_features(prompts_dir)
    if not texts and not feature_texts:
        return None
    everything = texts + feature_texts
    vectors = None
    path = None
    if cache_dir is not None:
        digest = hashlib.sha256(
            "\n".join([str(getattr(embedder, "name", "")), *everything]).encode()
        )
        path = cache_dir / f"label_examples-{digest.hexdigest()[:16]}.npy"
        if path.exists():
            vectors = np.load(path)
    if vectors is None:
        vectors = np.asarray(embedder.encode(everything), dtype=np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(tmp, vectors)
            tmp.replace(path)  # atomic: another process may be writing the same file
    described = None
    if feature_texts:
        rows = np.asarray(signs, dtype=np.float32)
        described = VisitFeatureText(features, rows, vectors[len(texts) :], **knobs)
    return LabelExamples(vectors[: len(texts)], labels, described)


def guess_labels(examples: LabelExamples, vector: FloatArray, *, k: int = 10) -> dict[str, float]:
    """Label id -> share (0..1) of the similarity of the k label examples nearest to vector."""
    if not examples.labels or examples.vectors.shape[1] != vector.shape[0]:
        return {}
    sims = examples.vectors @ vector
    near = top(sims, k)
    weight = np.clip(sims[near], 0.0, None)
    total = float(weight.sum())
    if total <= 0:
        return {}
    shares: dict[str, float] = {}
    for i, w in zip(near.tolist(), weight.tolist(), strict=True):
        for label in set(examples.labels[i]):
            shares[label] = shares.get(label, 0.0) + w / total
    return dict(sorted(shares.items(), key=lambda kv: -kv[1]))


def highlight(text: str, qtokens: Sequence[str]) -> tuple[list[str], list[tuple[int, int]]]:
    """Query terms present in text and their merged [start, end) character spans."""
    lowered = text.lower()
    terms: list[str] = []
    spans: list[tuple[int, int]] = []
    for term in dict.fromkeys(qtokens):
        at = lowered.find(term)
        if at < 0:
            continue
        terms.append(term)
        while at >= 0:
            spans.append((at, at + len(term)))
            at = lowered.find(term, at + len(term))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return terms, merged


STRONG_FEATURE = 0.3  # a visit feature this far from 0 is described in the visit's text


def feature_sentences(prompts_dir: Path) -> dict[tuple[str, float], str]:
    """Per feature end, its descriptions in prompts/search.yaml joined into one text."""
    features, signs, texts, _ = read_visit_features(prompts_dir)
    out: dict[tuple[str, float], list[str]] = {}
    for feature, sign, text in zip(features, signs, texts, strict=True):
        out.setdefault((feature, sign), []).append(text)
    return {key: " ".join(parts[:2]) for key, parts in out.items()}


def visit_embedding_text(
    doc: VisitDoc, sentences: Mapping[tuple[str, float], str] | None = None
) -> str:
    """Text to embed for a visit: title, summary and what its strong features mean (the
    descriptions of prompts/search.yaml, see feature_sentences)."""
    parts = [doc.title, doc.summary]
    for name, value_of in VISIT_FEATURES.items():
        value = value_of(doc)
        if sentences and abs(value) >= STRONG_FEATURE:
            parts.append(sentences.get((name, 1.0 if value > 0 else -1.0), ""))
    return "\n".join(p for p in parts if p)


def utterance_embedding_texts(docs: Sequence[UtteranceDoc]) -> list[str]:
    """Text to embed for each utterance: its words between the same speaker's segments just
    before and after it in its visit, so a sentence the recogniser cut in two is embedded whole.
    The hit, its quote and its keywords stay the segment's own."""
    order = sorted(range(len(docs)), key=lambda i: (docs[i].visit_id, docs[i].index))
    texts: list[str] = []
    for pos, here in enumerate(order):
        speaker = (docs[here].visit_id, docs[here].role)
        turn = [docs[order[at]] for at in (pos - 1, pos, pos + 1) if 0 <= at < len(order)]
        texts.append(" ".join(t.text for t in turn if (t.visit_id, t.role) == speaker))
    return [texts[pos] for pos in np.argsort(order).tolist()]


def keyword_text(doc: UtteranceDoc | VisitDoc) -> str:
    if isinstance(doc, VisitDoc):
        return "\n".join((doc.title, doc.text or doc.summary))
    return doc.text
