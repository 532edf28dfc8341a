"""Training the text classifier: examples, heads, out-of-fold scores and thresholds."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from nlp.embed import Embedder, SparseEncoder, load_latent_terms
from nlp.labels import SENTIMENTS, LabelFileError, LabelSet
from nlp.textmodel import (
    F32,
    HeadScores,
    Hyper,
    Weights,
    char_ngram_counts,
    embed,
    head_scores,
    label_probs,
    latent_vocabulary,
    ngram_features,
    ngram_vocabulary,
    risk_probs,
    sentences_of,
    with_rules,
    with_sentences,
)
from nlp.textrules import Rules

_SEED = 13
_CORRECTION = "correction"  # the writer of a person's label correction used as an example
_C_SENT = 2.0  # sentiment and risk embedding heads: a softer fit than the label heads
_C_NGRAM_SENT = 16.0
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Example:
    text: str
    labels: tuple[str, ...]
    sentiment: str
    risk: tuple[str, ...]
    language: str
    writer: str = ""  # who wrote it: cross-validation holds out one writer at a time


def jsonl_rows(folder: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) of every line of folder/*.jsonl, in file order; where is "file:line"."""
    for path in sorted(folder.glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise LabelFileError(f"{path}:{n}: malformed example ({exc})") from exc
            yield f"{path}:{n}", row


def load_examples(prompts_dir: Path, labels: LabelSet) -> list[Example]:
    """Every example in prompts_dir/examples/*.jsonl, validated, in an order that does not depend
    on file names (by writer, then by the text's hash)."""
    out: list[Example] = []
    for where, row in jsonl_rows(prompts_dir / "examples"):
        try:
            ex = Example(
                text=str(row["text"]),
                labels=tuple(row.get("labels", [])),
                sentiment=str(row.get("sentiment", "neutral")),
                risk=tuple(row.get("risk", [])),
                language=str(row.get("language", "")),
                writer=str(row.get("writer", "")),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise LabelFileError(f"{where}: malformed example ({exc})") from exc
        labels.validate(ex.labels, allow_risk=False)
        labels.validate(ex.risk)
        if ex.sentiment not in SENTIMENTS:
            raise LabelFileError(f"{where}: unknown sentiment {ex.sentiment!r}")
        out.append(ex)
    return by_writer(out)


def by_writer(examples: list[Any]) -> list[Any]:
    """Examples ordered by writer, then by their text's hash: no file name decides the order."""
    return sorted(examples, key=lambda e: (e.writer, hashlib.sha1(e.text.encode()).hexdigest()))


def examples_digest(
    examples: Sequence[Example], corrections: Sequence[tuple[str, list[str]]]
) -> str:
    """A stable hash of the training data, stored with the weights."""
    h = hashlib.sha256()
    for ex in examples:
        h.update(json.dumps([ex.text, ex.labels, ex.sentiment, ex.risk]).encode())
    for text, ids in corrections:
        h.update(json.dumps([text, sorted(ids)]).encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Data:
    """Examples turned into what the heads read: features, n-gram counts and targets."""

    x: F32
    counts: Any  # sparse n-gram counts
    y: Bools  # (n, labels)
    risk_y: Bools  # (n, risks)
    sent_y: npt.NDArray[np.intp]
    groups: list[str]
    is_example: Bools  # False for corrections: they teach labels, not sentiment or risk
    sentence_x: F32  # features of the sentences of longer texts
    sentence_counts: Any
    owners: npt.NDArray[np.intp]  # the text each sentence belongs to
    latent: Any = None  # e5's latent terms (sparse), None when hyper.latent_share is 0
    sentence_latent: Any = None


def prepare(
    labels: LabelSet,
    rules: Rules,
    embedders: Sequence[Embedder],
    examples: Sequence[Example],
    hyper: Hyper,
    latent_terms: SparseEncoder | None = None,
) -> Data:
    """Features and targets; latent terms only where hyper.latent_share > 0 (latent_terms:
    the encoder to use, default nlp.embed's)."""
    texts = [e.text for e in examples]
    parts, owners = sentences_of(texts) if hyper.sentence_share > 0 else ([], [])
    emb = embed(embedders, texts + parts)
    x = with_rules(emb, rules, texts + parts, hyper.rule_weight)
    counts = char_ngram_counts(texts + parts)
    n = len(texts)
    latent = None
    if hyper.latent_share > 0:
        latent = (latent_terms or load_latent_terms()).encode(texts + parts)
    return Data(
        x=x[:n],
        counts=counts[:n],
        y=np.array([[lid in e.labels for lid in labels.need_pain_ids] for e in examples]),
        risk_y=np.array([[r in e.risk for r in labels.risk_ids] for e in examples]),
        sent_y=np.array([SENTIMENTS.index(e.sentiment) for e in examples]),
        groups=[e.writer for e in examples],
        is_example=np.array([e.writer != _CORRECTION for e in examples]),
        sentence_x=x[n:],
        sentence_counts=counts[n:],
        owners=np.asarray(owners, dtype=np.intp),
        latent=None if latent is None else latent[:n],
        sentence_latent=None if latent is None else latent[n:],
    )


def _fit_heads(x: Any, y: Bools, c: float, sparse: bool = False) -> tuple[F32, F32]:
    """One balanced logistic head per column of y; a column with no positives never fires."""
    from sklearn.linear_model import LogisticRegression

    ws = np.zeros((x.shape[1], y.shape[1]), dtype=np.float32)
    bs = np.full(y.shape[1], -30.0, dtype=np.float32)
    for j in range(y.shape[1]):
        if 0 < y[:, j].sum() < len(y):
            if sparse:
                m = LogisticRegression(
                    C=c, class_weight="balanced", solver="liblinear", random_state=_SEED
                )
            else:
                m = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
            m.fit(x, y[:, j])
            ws[:, j], bs[j] = m.coef_[0], m.intercept_[0]
    return ws, bs


def fit_softmax(x: Any, y: npt.NDArray[np.intp], c: float) -> tuple[F32, F32]:
    from sklearn.linear_model import LogisticRegression

    m = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, y)
    return np.asarray(m.coef_.T, dtype=np.float32), np.asarray(m.intercept_, dtype=np.float32)


Family = Literal["emb", "ngram", "latent"]
FAMILIES: tuple[Family, ...] = ("emb", "ngram", "latent")
FAMILY_HEADS: dict[Family, tuple[str, ...]] = {  # the HeadScores each sparse family scores
    "ngram": ("ngram", "ngram_sent", "ngram_risk"),
    "latent": ("latent", "latent_sent", "latent_risk"),
}


def _blank(rows: int, cols: int) -> tuple[F32, F32]:
    """Weights of a head left out: it scores ~0."""
    return np.zeros((rows, cols), dtype=np.float32), np.full(cols, -30.0, dtype=np.float32)


def fit(
    data: Data,
    rows: npt.NDArray[np.intp],
    labels: LabelSet,
    hyper: Hyper,
    sha: str = "",
    families: Sequence[Family] = FAMILIES,
) -> Weights:
    """The heads of the given families fitted on the given rows (thresholds left at 0.5); a
    family left out is blank (tuning fits each family once per setting that moves it), and so
    are the latent-term heads where the data has no latent terms."""
    x, y = data.x[rows], data.y[rows]
    ng_rows, ng_idf = ngram_vocabulary(data.counts[rows])
    ng = ngram_features(data.counts[rows], ng_rows, ng_idf)
    ex = data.is_example[rows]
    sent_y, risk_y = data.sent_y[rows][ex], data.risk_y[rows][ex]
    (label_w, label_b), (topic_w, topic_b), (kind_w, kind_b), (sent_w, sent_b), (risk_w, risk_b) = (
        _embedding_heads(x, y, ex, sent_y, risk_y, len(labels.topics), hyper)
        if "emb" in families
        else _blank_embedding_heads(x.shape[1], y.shape[1], len(labels.topics), risk_y.shape[1])
    )
    (ngram_w, ngram_b), (ngram_sent_w, ngram_sent_b), (ngram_risk_w, ngram_risk_b) = (
        _ngram_heads(ng, y, ex, sent_y, risk_y, hyper)
        if "ngram" in families
        else _blank_ngram_heads(ng.shape[1], y.shape[1], risk_y.shape[1])
    )
    latent_heads = {}
    if "latent" in families and data.latent is not None:
        latent_heads = _latent_heads(data.latent[rows], y, ex, sent_y, risk_y, hyper)
    return Weights(
        **latent_heads,
        label_ids=labels.need_pain_ids,
        risk_ids=labels.risk_ids,
        hyper=hyper,
        examples_sha=sha,
        label_w=label_w,
        label_b=label_b,
        topic_w=topic_w,
        topic_b=topic_b,
        kind_w=kind_w,
        kind_b=kind_b,
        sent_w=sent_w,
        sent_b=sent_b,
        risk_w=risk_w,
        risk_b=risk_b,
        ngram_rows=ng_rows,
        ngram_idf=ng_idf,
        ngram_w=ngram_w,
        ngram_b=ngram_b,
        ngram_sent_w=ngram_sent_w,
        ngram_sent_b=ngram_sent_b,
        ngram_risk_w=ngram_risk_w,
        ngram_risk_b=ngram_risk_b,
        label_thr=np.full(len(labels.need_pain_ids), 0.5, dtype=np.float32),
        risk_thr=np.full(len(labels.risk_ids), 0.5, dtype=np.float32),
    )


Head = tuple[F32, F32]  # weights and biases


def _embedding_heads(
    x: Any, y: Bools, ex: Bools, sent_y: Any, risk_y: Bools, nt: int, hyper: Hyper
) -> tuple[Head, Head, Head, Head, Head]:
    """The embedding family: label, topic, kind (need or pain), sentiment and risk heads."""
    topic_y = y[:, :nt] | y[:, nt:]
    kind_y = np.stack([y[:, :nt].any(axis=1), y[:, nt:].any(axis=1)], axis=1)
    return (
        _fit_heads(x, y, hyper.c_emb),
        _fit_heads(x, topic_y, hyper.c_emb),
        _fit_heads(x, kind_y, hyper.c_emb),
        fit_softmax(x[ex], sent_y, _C_SENT),
        _fit_heads(x[ex], risk_y, _C_SENT),
    )


def _blank_embedding_heads(
    d: int, nl: int, nt: int, nr: int
) -> tuple[Head, Head, Head, Head, Head]:
    return _blank(d, nl), _blank(d, nt), _blank(d, 2), _blank(d, 3), _blank(d, nr)


def _ngram_heads(
    ng: Any, y: Bools, ex: Bools, sent_y: Any, risk_y: Bools, hyper: Hyper
) -> tuple[Head, Head, Head]:
    """The n-gram family: label, sentiment and risk heads (fitted in this order)."""
    sent = fit_softmax(ng[ex], sent_y, _C_NGRAM_SENT)
    label = _fit_heads(ng, y, hyper.c_ngram, sparse=True)
    risk = _fit_heads(ng[ex], risk_y, hyper.c_ngram, sparse=True)
    return label, sent, risk


def _latent_heads(
    latent: Any, y: Bools, ex: Bools, sent_y: Any, risk_y: Bools, hyper: Hyper
) -> dict[str, Any]:
    """The latent-term family: label, sentiment and risk heads over the dimensions that two or
    more of these texts use."""
    rows = latent_vocabulary(latent)
    lt = latent[:, rows]
    (label_w, label_b), (sent_w, sent_b), (risk_w, risk_b) = (
        _fit_heads(lt, y, hyper.c_latent, sparse=True),
        fit_softmax(lt[ex], sent_y, hyper.c_latent),
        _fit_heads(lt[ex], risk_y, hyper.c_latent, sparse=True),
    )
    return {
        "latent_rows": rows,
        "latent_w": label_w,
        "latent_b": label_b,
        "latent_sent_w": sent_w,
        "latent_sent_b": sent_b,
        "latent_risk_w": risk_w,
        "latent_risk_b": risk_b,
    }


def _blank_ngram_heads(g: int, nl: int, nr: int) -> tuple[Head, Head, Head]:
    return _blank(g, nl), _blank(g, 3), _blank(g, nr)


@dataclass(frozen=True)
class FoldScores:
    """Out-of-fold head scores of every example (and of the sentences of longer ones)."""

    heads: HeadScores
    sentence_heads: HeadScores
    fold_of: npt.NDArray[np.intp]  # which fold held each example out


def folds(groups: Sequence[str]) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    """Leave one writer out when there are 3+ writers, else 5 shuffled folds."""
    from sklearn.model_selection import GroupKFold, KFold

    n = len(groups)
    dummy = np.zeros((n, 1))
    if len(set(groups)) >= 3:
        split = GroupKFold(len(set(groups))).split(dummy, groups=groups)
    else:
        split = KFold(5, shuffle=True, random_state=_SEED).split(dummy)
    return [(np.asarray(tr), np.asarray(te)) for tr, te in split]


def _stack(parts: list[tuple[npt.NDArray[np.intp], HeadScores]], n: int) -> HeadScores:
    fields = {}
    for f in dataclasses.fields(HeadScores):
        width = getattr(parts[0][1], f.name).shape[1]
        arr = np.zeros((n, width), dtype=np.float32)
        for rows, h in parts:
            arr[rows] = getattr(h, f.name)
        fields[f.name] = arr
    return HeadScores(**fields)


def out_of_fold(
    data: Data, labels: LabelSet, hyper: Hyper, families: Sequence[Family] = FAMILIES
) -> FoldScores:
    """Each example scored by heads fitted without its writer."""
    n = len(data.y)
    fold_of = np.zeros(n, dtype=np.intp)
    parts: list[tuple[npt.NDArray[np.intp], HeadScores]] = []
    sentence_parts: list[tuple[npt.NDArray[np.intp], HeadScores]] = []
    for k, (tr, te) in enumerate(folds(data.groups)):
        fold_of[te] = k
        w = fit(data, tr, labels, hyper, families=families)
        ng = ngram_features(data.counts[te], w.ngram_rows, w.ngram_idf)
        lt = None if not w.latent_rows.size else data.latent[te]
        parts.append((te, head_scores(w, data.x[te], ng, lt)))
        rows = np.flatnonzero(np.isin(data.owners, te))
        if rows.size:
            sng = ngram_features(data.sentence_counts[rows], w.ngram_rows, w.ngram_idf)
            slt = None if lt is None else data.sentence_latent[rows]
            sentence_parts.append((rows, head_scores(w, data.sentence_x[rows], sng, slt)))
    sentence_heads = _stack(sentence_parts, len(data.owners)) if sentence_parts else parts[0][1]
    return FoldScores(_stack(parts, n), sentence_heads, fold_of)


def oof_label_probs(scores: FoldScores, data: Data, hyper: Hyper) -> F32:
    probs = label_probs(scores.heads, hyper)
    if hyper.sentence_share > 0 and len(data.owners):
        sentence = label_probs(scores.sentence_heads, hyper)
        probs = with_sentences(probs, sentence, list(data.owners), hyper.sentence_share)
    return probs


def best_f1_thresholds(probs: F32, y: Bools) -> F32:
    """Per column, the threshold with the best F1 over these scores (0.5 with < 5 positives)."""
    grid = np.arange(0.1, 0.901, 0.025)
    out = np.full(y.shape[1], 0.5, dtype=np.float32)
    for j in range(y.shape[1]):
        n_pos = int(y[:, j].sum())
        if n_pos < 5:
            continue
        f1 = [
            2 * float((probs[:, j] >= t)[y[:, j]].sum()) / (float((probs[:, j] >= t).sum()) + n_pos)
            for t in grid
        ]
        out[j] = float(grid[int(np.argmax(f1))])
    return out


def recall_at_precision_thresholds(probs: F32, y: Bools, precision: float) -> F32:
    """Per column, the lowest threshold whose precision over these scores is >= precision (the
    most recall there); the F1-best one when none reaches it."""
    grid = np.arange(0.05, 0.951, 0.025)
    out = best_f1_thresholds(probs, y)
    for j in range(y.shape[1]):
        if y[:, j].sum() < 5:
            continue
        for t in grid:
            fired = probs[:, j] >= t
            if fired.sum() and float(y[fired, j].mean()) >= precision:
                out[j] = float(t)
                break
    return out


def train_weights(
    labels: LabelSet,
    rules: Rules,
    embedders: Sequence[Embedder],
    examples: Sequence[Example],
    hyper: Hyper,
    corrections: Sequence[tuple[str, list[str]]] = (),
    latent_terms: SparseEncoder | None = None,
) -> Weights:
    """Heads fitted on every example (+ corrections as examples); thresholds from scores of
    heads that never saw the example's writer. Deterministic."""
    extra = [Example(t, tuple(ids), "neutral", (), "", _CORRECTION) for t, ids in corrections]
    data = prepare(labels, rules, embedders, [*examples, *extra], hyper, latent_terms)
    scores = out_of_fold(data, labels, hyper)
    weights = fit(
        data, np.arange(len(data.y)), labels, hyper, examples_digest(examples, corrections)
    )
    return dataclasses.replace(
        weights,
        label_thr=best_f1_thresholds(oof_label_probs(scores, data, hyper), data.y),
        risk_thr=recall_at_precision_thresholds(
            risk_probs(scores.heads, hyper)[data.is_example],
            data.risk_y[data.is_example],
            hyper.risk_precision,
        ),
    )
