"""Customer-utterance analysis: need/pain labels, sentiment and risk from the trained heads."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from nlp.embed import Embedder, load_embedder, load_latent_terms
from nlp.labels import SENTIMENTS, LabelFileError, LabelSet, WeightsMissing, load_labels
from nlp.language import detect_language
from nlp.textmodel import (
    F32,
    Weights,
    char_ngram_counts,
    embed,
    head_scores,
    label_probs,
    load_hyper,
    load_weights,
    ngram_features,
    risk_probs,
    save_weights,
    sentences_of,
    sentiment_probs,
    with_rules,
    with_sentences,
)
from nlp.textrules import Rules, is_backchannel, load_rules
from nlp.vocabulary import Role, Sentiment
from nlp.weight_versions import LABEL_WEIGHTS, SHIPPED, current_weights

_BATCH = 128  # texts per embedding batch
_SHORT_CHARS = 14  # a text this short borrows context from the previous turn
_PREV_WEIGHT = 0.35
_NEAR_DUPLICATE = 0.92  # cosine above which a correction overrides the model outright
_NEIGHBOUR = 0.55  # cosine above which corrections can raise a label (never lower one)
# a correction only as near as the same topic said otherwise nudges its labels by this much
# (times its share of the weak neighbours' vote): a label just under its threshold gets over it
_WEAK_NEIGHBOUR = 0.4
_WEAK_NUDGE = 0.05


@dataclass(frozen=True)
class LabelScore:
    id: str
    confidence: float  # probability in [0, 1]


@dataclass
class TextAnalysis:
    labels: list[LabelScore] = field(default_factory=list)  # need.* / pain.*, best first
    sentiment: Sentiment = Sentiment.NEUTRAL
    sentiment_score: float = 0.0  # P(positive) - P(negative), in [-1, 1]
    risk: list[LabelScore] = field(default_factory=list)
    language: str = "und"  # "zh", "en", another ISO code, or "und" when there is no text
    unsupported: bool = False  # a language other than zh/en: no labels were guessed


def _vote(
    weight: F32, rows: npt.NDArray[np.intp], labels: Sequence[frozenset[str]], ids: Sequence[str]
) -> F32:
    """Per label id: the weighted share of the correction rows that carry it."""
    votes = [sum(wt for wt, n in zip(weight, rows, strict=True) if lid in labels[n]) for lid in ids]
    return np.asarray(np.array(votes) / weight.sum(), dtype=np.float32)


class Classifier:
    """Trained heads, rules and corrections; `analyze` is safe to call from several threads."""

    def __init__(
        self, labels: LabelSet, rules: Rules, embedders: Sequence[Embedder], weights: Weights
    ):
        if weights.label_ids != labels.need_pain_ids or weights.risk_ids != labels.risk_ids:
            raise LabelFileError("classifier weights do not match prompts/labels.yaml: retrain")
        self.labels = labels
        self.rules = rules
        self.embedders = tuple(embedders)
        self.weights = weights
        self._lock = threading.Lock()
        # corrections are compared in the first encoder's space
        self._corr_vecs: F32 = np.zeros((0, self.embedders[0].dim), dtype=np.float32)
        self._corr_labels: list[frozenset[str]] = []
        self.corrections_seen = 0  # the caller's cursor: last stored correction id added here

    def add_corrections(self, items: Sequence[tuple[str, list[str]]]) -> None:
        """Use corrected label sets at once: near texts take (or lean towards) their labels."""
        if not items:
            return
        for _, ids in items:
            self.labels.validate(ids, allow_risk=False)
        vecs = self.embedders[0].encode([t for t, _ in items])
        with self._lock:
            self._corr_vecs = np.vstack([self._corr_vecs, vecs])
            self._corr_labels.extend(frozenset(ids) for _, ids in items)

    def _features(self, texts: Sequence[str], previous: Sequence[str | None] | None) -> F32:
        """Embeddings (+ rule features); short texts borrow the previous turn's meaning."""
        emb = embed(self.embedders, texts)
        if previous is not None:
            idx = [
                i
                for i, (t, p) in enumerate(zip(texts, previous, strict=True))
                if p and len(t.strip()) <= _SHORT_CHARS and not is_backchannel(t)
            ]
            if idx:
                prev = embed(self.embedders, [str(previous[i]) for i in idx])
                emb[idx] = (1 - _PREV_WEIGHT) * emb[idx] + _PREV_WEIGHT * prev
        return with_rules(emb, self.rules, texts, self.weights.hyper.rule_weight)

    def _latent(self, texts: Sequence[str], wanted: npt.NDArray[np.bool_]) -> Any:
        """The wanted texts' latent terms (empty rows for the others), or None where the weights
        have no latent-term heads."""
        if not self.weights.latent_rows.size:
            return None
        from scipy.sparse import csr_matrix

        encoder = load_latent_terms()
        rows = np.flatnonzero(wanted)
        if not rows.size:
            return csr_matrix((len(texts), encoder.dim), dtype=np.float32)
        found = encoder.encode([texts[i] for i in rows.tolist()])
        place = csr_matrix(
            (np.ones(rows.size, np.float32), (rows, np.arange(rows.size))),
            shape=(len(texts), rows.size),
        )
        return (place @ found).tocsr()

    def _blend(self, blend: Any, h: Any, wanted: npt.NDArray[np.bool_]) -> F32:
        """blend(h, hyper) per row, without the latent-term heads where they were not wanted."""
        hyper = self.weights.hyper
        if wanted.all():
            return np.asarray(blend(h, hyper), dtype=np.float32)
        plain = blend(h, dataclasses.replace(hyper, latent_share=0.0))
        return np.asarray(np.where(wanted[:, None], blend(h, hyper), plain), dtype=np.float32)

    def _scores(
        self,
        texts: Sequence[str],
        previous: Sequence[str | None] | None,
        wanted: npt.NDArray[np.bool_],
    ) -> Any:
        """Features, label, sentiment and risk scores; latent terms only for the wanted rows
        (they cost about as much as the rest of the analysis)."""
        w = self.weights
        x = self._features(texts, previous)
        ng = ngram_features(char_ngram_counts(texts), w.ngram_rows, w.ngram_idf)
        h = head_scores(w, x, ng, self._latent(texts, wanted))
        probs = self._blend(label_probs, h, wanted)
        parts, owners = sentences_of(texts) if w.hyper.sentence_share > 0 else ([], [])
        if parts:
            sx = with_rules(embed(self.embedders, parts), self.rules, parts, w.hyper.rule_weight)
            sng = ngram_features(char_ngram_counts(parts), w.ngram_rows, w.ngram_idf)
            part_wanted = wanted[owners]
            sh = head_scores(w, sx, sng, self._latent(parts, part_wanted))
            sentence = self._blend(label_probs, sh, part_wanted)
            probs = with_sentences(probs, sentence, owners, w.hyper.sentence_share)
        return x, probs, self._blend(sentiment_probs, h, wanted), self._blend(risk_probs, h, wanted)

    def _apply_corrections(self, emb: F32, probs: F32) -> npt.NDArray[np.bool_]:
        """Labels kept per row: over threshold, after near corrections had their say."""
        w = self.weights
        keep = probs >= w.label_thr
        with self._lock:
            corr_vecs, corr_labels = self._corr_vecs, list(self._corr_labels)
        if not corr_labels:
            return keep
        sims = emb @ corr_vecs.T
        ids = w.label_ids
        for i in range(len(emb)):
            j = int(np.argmax(sims[i]))
            if sims[i, j] >= _NEAR_DUPLICATE:
                target = np.array([lid in corr_labels[j] for lid in ids])
                probs[i] = np.where(target, np.maximum(probs[i], 0.95), np.minimum(probs[i], 0.05))
                keep[i] = target
                continue
            near = np.flatnonzero(sims[i] >= _NEIGHBOUR)
            if near.size:
                vote = _vote(sims[i, near] - _NEIGHBOUR + 0.05, near, corr_labels, ids)
                share = min(1.0, 0.6 + near.size / 10)  # more agreeing neighbours, more say
                probs[i] = np.maximum(probs[i], share * vote)
            weak = np.flatnonzero((sims[i] >= _WEAK_NEIGHBOUR) & (sims[i] < _NEIGHBOUR))
            if weak.size:
                vote = _vote(sims[i, weak] - _WEAK_NEIGHBOUR + 0.02, weak, corr_labels, ids)
                probs[i] = np.minimum(1.0, probs[i] + _WEAK_NUDGE * vote)
            keep[i] = probs[i] >= w.label_thr
        return keep

    def analyze(
        self,
        texts: Sequence[str],
        *,
        language: str | None = None,
        previous: Sequence[str | None] | None = None,
        roles: Sequence[str | None] | None = None,
    ) -> list[TextAnalysis]:
        """Analyse texts in batches; rep turns never get need/pain labels."""
        if previous is not None and len(previous) != len(texts):
            raise ValueError("previous must have one entry per text")
        if roles is not None and len(roles) != len(texts):
            raise ValueError("roles must have one entry per text")
        results: list[TextAnalysis] = []
        for start in range(0, len(texts), _BATCH):
            stop = start + _BATCH
            results += self._analyze_batch(
                [t or "" for t in texts[start:stop]],
                language,
                None if previous is None else previous[start:stop],
                None if roles is None else roles[start:stop],
            )
        return results

    def _analyze_batch(
        self,
        texts: list[str],
        language: str | None,
        previous: Sequence[str | None] | None,
        roles: Sequence[str | None] | None,
    ) -> list[TextAnalysis]:
        out = [TextAnalysis() for _ in texts]
        todo: list[int] = []
        for i, text in enumerate(texts):
            detected = detect_language(text)
            if detected == "und":
                out[i].language = language if language in ("zh", "en") else "und"
                continue  # empty or punctuation only: nothing to say
            if language not in (None, "", "auto", "zh", "en"):
                out[i].language, out[i].unsupported = str(language), True
                continue
            out[i].language = detected
            if detected not in ("zh", "en"):
                out[i].unsupported = True
                continue
            todo.append(i)
        if not todo:
            return out
        prev = None if previous is None else [previous[i] for i in todo]
        # a rep's turn gets its sentiment only: no latent terms for it
        customer = np.array([roles is None or roles[i] != Role.REP for i in todo])
        x, probs, sent, risk = self._scores([texts[i] for i in todo], prev, customer)
        keep = self._apply_corrections(x[:, : self.embedders[0].dim], probs)
        w = self.weights
        for row, i in enumerate(todo):
            res = out[i]
            p = sent[row]
            res.sentiment = SENTIMENTS[int(np.argmax(p))]
            res.sentiment_score = round(float(p[0] - p[2]), 3)
            if is_backchannel(texts[i]):
                res.sentiment, res.sentiment_score = Sentiment.NEUTRAL, 0.0
                continue
            if roles is not None and roles[i] == Role.REP:
                continue
            res.labels = sorted(
                (
                    LabelScore(w.label_ids[j], round(float(probs[row, j]), 3))
                    for j in np.flatnonzero(keep[row])
                ),
                key=lambda s: -s.confidence,
            )
            res.risk = [
                LabelScore(w.risk_ids[j], round(float(risk[row, j]), 3))
                for j in range(len(w.risk_ids))
                if risk[row, j] >= w.risk_thr[j]
            ]
        return out


def train_classifier(
    prompts_dir: Path,
    corrections: Sequence[tuple[str, list[str]]] = (),
    out_dir: Path | None = None,
) -> Weights:
    """Train on prompts_dir/examples (+ corrections) with the settings of
    prompts_dir/training.yaml; write the weights into out_dir (default: the shipped ones in
    prompts_dir/classifier)."""
    from nlp.training import load_examples, train_weights

    labels = load_labels(prompts_dir)
    rules = load_rules(prompts_dir, labels.topics, labels.risk_ids)
    for _, ids in corrections:
        labels.validate(ids, allow_risk=False)
    hyper = load_hyper(prompts_dir)
    embedders = [load_embedder(name) for name in hyper.encoders]
    examples = load_examples(prompts_dir, labels)
    weights = train_weights(labels, rules, embedders, examples, hyper, corrections)
    save_trained(prompts_dir, weights, out_dir)
    return weights


def save_trained(prompts_dir: Path, weights: Weights, out_dir: Path | None = None) -> None:
    """Write weights into out_dir (default: the shipped ones in prompts_dir/classifier)."""
    save_weights((out_dir or prompts_dir / SHIPPED) / LABEL_WEIGHTS, weights)
    load_classifier.cache_clear()


def load_current_classifier(prompts_dir: Path, models_dir: Path) -> Classifier:
    """The classifier of the current weights (`visitlens train`'s last version in models_dir,
    else the shipped ones); a newly published version is loaded at the next call."""
    return load_classifier(prompts_dir, current_weights(models_dir, prompts_dir))


@lru_cache(maxsize=4)  # a retrain adds a version; the ones before it need not stay loaded
def load_classifier(prompts_dir: Path, weights_dir: Path | None = None) -> Classifier:
    """The classifier for prompts_dir with the weights in weights_dir (default: the shipped
    ones), cached per process."""
    path = (weights_dir or prompts_dir / SHIPPED) / LABEL_WEIGHTS
    if not path.exists():
        raise WeightsMissing("label classifier", path)
    labels = load_labels(prompts_dir)
    weights = load_weights(path)
    if weights.latent_rows.size:
        load_latent_terms()  # loaded with the other models, not in the first analysis
    return Classifier(
        labels,
        load_rules(prompts_dir, labels.topics, labels.risk_ids),
        [load_embedder(name) for name in weights.hyper.encoders],
        weights,
    )
