"""Customer-utterance analysis: need/pain labels, sentiment and risk from embeddings plus rules."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from nlp.embed import DEFAULT_EMBEDDER, Embedder, load_embedder
from nlp.labels import SENTIMENTS, LabelFileError, LabelSet, load_labels
from nlp.textrules import Rules, is_backchannel, load_rules, normalize, rule_features

Sentiment = Literal["positive", "neutral", "negative"]
F32 = npt.NDArray[np.float32]

WEIGHTS_FILE = Path("classifier") / "weights.npz"
_MAX_CHARS = 2000  # analysed prefix of a text: longer ones are truncated, keeping time bounded
_BATCH = 128  # texts per embedding batch
_RULE_WEIGHT = 0.5  # rule hits are noisy: they nudge the 512 unit-norm embedding dims
_DIRECT_SHARE = 0.4  # weight of the per-label head against the topic x kind factorisation
_C_LABELS = 8.0  # inverse L2 strength of the label heads
_SHORT_CHARS = 14  # a text this short borrows context from the previous turn
_PREV_WEIGHT = 0.35
_NEAR_DUPLICATE = 0.92  # cosine above which a correction overrides the model outright
_NEIGHBOUR = 0.55  # cosine above which corrections can raise a label (never lower one)
# a correction only as near as the same topic said otherwise nudges its labels by this much
# (times its share of the weak neighbours' vote): a label just under its threshold gets over it
_WEAK_NEIGHBOUR = 0.4
_WEAK_NUDGE = 0.05
_SEED = 13
_NGRAM_BUCKETS = 2**15  # hashed character 1-3-grams: no vocabulary to ship, the same on any machine
_NGRAM_SHARE = 0.5  # weight of the character n-gram heads against the embedding heads (labels)
_NGRAM_SHARE_SENT = 0.6  # the same for sentiment
_NGRAM_SHARE_RISK = 0.3  # the same for risk
_C_NGRAM = 4.0
_C_NGRAM_SENT = 16.0  # the sentiment n-gram head gains from weaker regularisation
_THR_SCALE = 1.25  # out-of-fold thresholds sit a little low for visit speech: scaled by this
# the examples' out-of-fold best thresholds transfer to visit speech only in part: this share of
# each, the rest 0.5
_LABEL_THR_PULL = 0.25
_RISK_RULE_RELIEF = 0.4  # a risk keyword hit lowers that risk's threshold to this share
_RISK_THR_SCALE = 1.2  # risk thresholds are raised, keyword hits then lower them a lot
_SENTENCE_SHARE = 0.75  # a sentence of a longer turn raises a label to this share of its own score
_SENTENCE_SHARE_SENT = 0.3  # weight of a longer turn's mean sentence sentiment
_MAX_SENTENCES = 8  # sentences of one text scored on their own, keeping time bounded
_FALLBACK = 0.7  # a turn with no label keeps its best one when prob/threshold reaches this

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff]")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+")
_LATIN_WORD = re.compile(r"[a-zA-Z\u00c0-\u024f']+")
_OTHER_SCRIPTS = {
    "ru": re.compile(r"[\u0400-\u04ff]"),
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "he": re.compile(r"[\u0590-\u05ff]"),
    "th": re.compile(r"[\u0e00-\u0e7f]"),
    "hi": re.compile(r"[\u0900-\u097f]"),
    "el": re.compile(r"[\u0370-\u03ff]"),
}
_EN_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "but",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "we",
        "you",
        "they",
        "i",
        "our",
        "your",
        "their",
        "my",
        "me",
        "us",
        "them",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "not",
        "no",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "there",
        "here",
        "what",
        "when",
        "where",
        "why",
        "how",
        "which",
        "who",
        "if",
        "so",
        "very",
        "just",
        "also",
        "about",
        "than",
        "then",
        "too",
        "more",
        "most",
        "all",
        "any",
        "some",
    ]
)
_FOREIGN_WORDS = {
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "des",
            "est",
            "une",
            "et",
            "pour",
            "dans",
            "avec",
            "nous",
            "vous",
            "pas",
            "que",
            "qui",
            "sur",
            "au",
            "du",
            "ce",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "nicht",
            "ein",
            "eine",
            "mit",
            "für",
            "wir",
            "sie",
            "ich",
            "auf",
            "den",
            "dem",
            "zu",
            "es",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "los",
            "las",
            "es",
            "una",
            "y",
            "para",
            "con",
            "nosotros",
            "que",
            "por",
            "del",
            "muy",
            "pero",
            "está",
            "son",
            "su",
        ]
    ),
    "it": frozenset(
        [
            "il",
            "gli",
            "della",
            "è",
            "una",
            "e",
            "per",
            "con",
            "noi",
            "che",
            "non",
            "sono",
            "del",
            "molto",
            "ma",
            "questo",
        ]
    ),
    "pt": frozenset(
        [
            "os",
            "uma",
            "para",
            "com",
            "nós",
            "que",
            "não",
            "são",
            "muito",
            "mas",
            "isso",
            "está",
            "do",
            "da",
            "em",
        ]
    ),
    "nl": frozenset(
        [
            "het",
            "een",
            "en",
            "is",
            "niet",
            "met",
            "wij",
            "voor",
            "van",
            "dat",
            "zijn",
            "op",
            "ook",
            "maar",
        ]
    ),
}


@dataclass(frozen=True)
class LabelScore:
    id: str
    confidence: float  # probability in [0, 1]


@dataclass
class TextAnalysis:
    labels: list[LabelScore] = field(default_factory=list)  # need.* / pain.*, best first
    sentiment: Sentiment = "neutral"
    sentiment_score: float = 0.0  # P(positive) - P(negative), in [-1, 1]
    risk: list[LabelScore] = field(default_factory=list)
    language: str = "und"  # "zh", "en", another ISO code, or "und" when there is no text
    unsupported: bool = False  # a language other than zh/en: no labels were guessed


def detect_language(text: str) -> str:
    """Cheap script and stop-word language guess: "zh", "en", another code, or "und"."""
    sample = text[:_MAX_CHARS]
    cjk = len(_CJK.findall(sample))
    kana = len(_KANA.findall(sample))
    if kana and kana >= 0.1 * (cjk + kana):
        return "ja"
    if len(_HANGUL.findall(sample)) > cjk:
        return "ko"
    words = [w.lower() for w in _LATIN_WORD.findall(sample)]
    other = {code: len(rx.findall(sample)) for code, rx in _OTHER_SCRIPTS.items()}
    best_other = max(other, key=lambda c: other[c])
    latin_chars = sum(len(w) for w in words)
    if cjk >= 2 or (cjk and cjk >= latin_chars / 4):
        return "zh"
    if other[best_other] > latin_chars and other[best_other] >= 2:
        return best_other
    if not words:
        return "und"
    en_hits = sum(w in _EN_WORDS for w in words)
    foreign = {c: sum(w in ws for w in words) for c, ws in _FOREIGN_WORDS.items()}
    best_foreign = max(foreign, key=lambda c: foreign[c])
    accented = sum(ch in "àâäçéèêëîïôöùûüñáíóúãõßœ" for ch in sample.lower())
    if foreign[best_foreign] > en_hits or (accented >= 2 and en_hits == 0):
        return best_foreign
    return "en"


@dataclass(frozen=True)
class Weights:
    """Linear heads over [embedding, rule features]; thresholds calibrated out of fold."""

    label_ids: tuple[str, ...]
    risk_ids: tuple[str, ...]
    label_w: F32  # (n_features, n_labels)
    label_b: F32
    label_thr: F32
    topic_w: F32  # (n_features, n_topics): the topic is mentioned at all
    topic_b: F32
    kind_w: F32  # (n_features, 2): some need / some pain is expressed
    kind_b: F32
    sent_w: F32  # (n_features, 3) in SENTIMENTS order
    sent_b: F32
    risk_w: F32
    risk_b: F32
    risk_thr: F32
    embedder: str
    examples_sha: str
    ngram_rows: npt.NDArray[np.int32] = field(default_factory=lambda: np.zeros(0, np.int32))
    ngram_idf: F32 = field(default_factory=lambda: np.zeros(0, np.float32))
    ngram_w: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))  # rows x labels
    ngram_b: F32 = field(default_factory=lambda: np.zeros(0, np.float32))
    ngram_sent_w: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    ngram_sent_b: F32 = field(default_factory=lambda: np.zeros(0, np.float32))
    ngram_risk_w: F32 = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    ngram_risk_b: F32 = field(default_factory=lambda: np.zeros(0, np.float32))


NON_FLOAT = frozenset({"meta", "ngram_rows"})
NGRAM_KEYS = (
    "ngram_idf",
    "ngram_w",
    "ngram_b",
    "ngram_sent_w",
    "ngram_sent_b",
    "ngram_risk_w",
    "ngram_risk_b",
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
    return hasher.transform([normalize(t[:_MAX_CHARS]) for t in texts]).tocsc()


def ngram_features(counts: Any, rows: npt.NDArray[np.int32], idf: F32) -> Any:
    """Sublinear tf-idf over the kept bucket rows, rows L2-normalised (sparse CSR)."""
    x = counts[:, rows].tocsr().astype(np.float32)
    x.data = 1.0 + np.log(x.data)
    x = x.multiply(idf[None, :]).tocsr()
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    scale = 1.0 / np.maximum(norms, 1e-12)
    return x.multiply(scale[:, None]).tocsr()


def _save_weights(path: Path, w: Weights) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "label_ids": w.label_ids,
        "risk_ids": w.risk_ids,
        "embedder": w.embedder,
        "examples_sha": w.examples_sha,
    }
    with path.open("wb") as f:
        np.savez_compressed(
            f,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            label_w=w.label_w.astype(np.float16),
            label_b=w.label_b,
            label_thr=w.label_thr,
            topic_w=w.topic_w.astype(np.float16),
            topic_b=w.topic_b,
            kind_w=w.kind_w.astype(np.float16),
            kind_b=w.kind_b,
            sent_w=w.sent_w.astype(np.float16),
            sent_b=w.sent_b,
            risk_w=w.risk_w.astype(np.float16),
            risk_b=w.risk_b,
            risk_thr=w.risk_thr,
            ngram_rows=w.ngram_rows.astype(np.int32),
            ngram_idf=w.ngram_idf.astype(np.float16),
            ngram_w=w.ngram_w.astype(np.float16),
            ngram_b=w.ngram_b,
            ngram_sent_w=w.ngram_sent_w.astype(np.float16),
            ngram_sent_b=w.ngram_sent_b,
            ngram_risk_w=w.ngram_risk_w.astype(np.float16),
            ngram_risk_b=w.ngram_risk_b,
        )


def _load_weights(path: Path) -> Weights:
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        arr = {k: np.asarray(z[k], dtype=np.float32) for k in z.files if k not in NON_FLOAT}
        rows = np.asarray(z["ngram_rows"], dtype=np.int32) if "ngram_rows" in z.files else None
    ngram = {k: arr[k] for k in NGRAM_KEYS if k in arr}
    if rows is not None:
        ngram["ngram_rows"] = rows  # type: ignore[assignment]  # int32 row indices
    return Weights(
        label_ids=tuple(meta["label_ids"]),
        risk_ids=tuple(meta["risk_ids"]),
        label_w=arr["label_w"],
        label_b=arr["label_b"],
        label_thr=arr["label_thr"],
        topic_w=arr["topic_w"],
        topic_b=arr["topic_b"],
        kind_w=arr["kind_w"],
        kind_b=arr["kind_b"],
        sent_w=arr["sent_w"],
        sent_b=arr["sent_b"],
        risk_w=arr["risk_w"],
        risk_b=arr["risk_b"],
        risk_thr=arr["risk_thr"],
        embedder=str(meta["embedder"]),
        examples_sha=str(meta["examples_sha"]),
        **ngram,  # type: ignore[arg-type]  # absent in weights trained before the n-gram heads
    )


@dataclass(frozen=True)
class Example:
    text: str
    labels: tuple[str, ...]
    sentiment: str
    risk: tuple[str, ...]
    language: str


def load_examples(prompts_dir: Path, labels: LabelSet) -> list[Example]:
    """Every example in prompts_dir/examples/*.jsonl, validated against the label set."""
    out: list[Example] = []
    for path in sorted((prompts_dir / "examples").glob("*.jsonl")):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                ex = Example(
                    text=str(row["text"]),
                    labels=tuple(row.get("labels", [])),
                    sentiment=str(row.get("sentiment", "neutral")),
                    risk=tuple(row.get("risk", [])),
                    language=str(row.get("language", "")),
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise LabelFileError(f"{path}:{n}: malformed example ({exc})") from exc
            labels.validate(ex.labels, allow_risk=False)
            labels.validate(ex.risk)
            if ex.sentiment not in SENTIMENTS:
                raise LabelFileError(f"{path}:{n}: unknown sentiment {ex.sentiment!r}")
            out.append(ex)
    return out


def label_probs(w: Weights, x: F32, ng: Any = None) -> F32:
    """Per-label scores: direct head and P(topic) x P(need or pain), blended with n-gram heads."""
    direct = _sigmoid(x @ w.label_w + w.label_b)
    topic = _sigmoid(x @ w.topic_w + w.topic_b)
    kind = _sigmoid(x @ w.kind_w + w.kind_b)
    factored = np.hstack([topic * kind[:, :1], topic * kind[:, 1:]])
    p = _DIRECT_SHARE * direct + (1 - _DIRECT_SHARE) * factored
    if ng is not None and w.ngram_w.size:
        p = (1 - _NGRAM_SHARE) * p + _NGRAM_SHARE * _sigmoid(np.asarray(ng @ w.ngram_w) + w.ngram_b)
    return np.asarray(p, dtype=np.float32)


def sentiment_probs(w: Weights, x: F32, ng: Any = None) -> F32:
    """P(positive, neutral, negative) per row."""
    p = _softmax(x @ w.sent_w + w.sent_b)
    if ng is not None and w.ngram_sent_w.size:
        p2 = _softmax(np.asarray(ng @ w.ngram_sent_w, dtype=np.float32) + w.ngram_sent_b)
        p = (1 - _NGRAM_SHARE_SENT) * p + _NGRAM_SHARE_SENT * p2
    return np.asarray(p, dtype=np.float32)


def risk_probs(w: Weights, x: F32, ng: Any = None) -> F32:
    """P(risk) per row and risk id."""
    p = _sigmoid(x @ w.risk_w + w.risk_b)
    if ng is not None and w.ngram_risk_w.size:
        p2 = _sigmoid(np.asarray(ng @ w.ngram_risk_w) + w.ngram_risk_b)
        p = (1 - _NGRAM_SHARE_RISK) * p + _NGRAM_SHARE_RISK * p2
    return np.asarray(p, dtype=np.float32)


def ngrams_for(w: Weights, texts: Sequence[str]) -> Any:
    """The n-gram features the weights' heads read, or None for weights without them."""
    if not w.ngram_w.size:
        return None
    return ngram_features(char_ngram_counts(texts), w.ngram_rows, w.ngram_idf)


def split_sentences(text: str) -> list[str]:
    """The sentences of a text (at most _MAX_SENTENCES, 4+ characters each), in order."""
    parts = (p.strip() for p in _SENTENCE_END.split(text[:_MAX_CHARS]))
    return [p for p in parts if len(p) >= 4][:_MAX_SENTENCES]


def _sigmoid(x: F32) -> F32:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -30, 30))), dtype=np.float32)


def _softmax(x: F32) -> F32:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True), dtype=np.float32)


def featurize(
    embedder: Embedder,
    rules: Rules,
    texts: Sequence[str],
    previous: Sequence[str | None] | None = None,
) -> F32:
    """Rows of [embedding, scaled rule features]; short texts borrow the previous turn's meaning."""
    texts = [t[:_MAX_CHARS] for t in texts]
    emb = embedder.encode(texts)
    if previous is not None:
        idx = [
            i
            for i, (t, p) in enumerate(zip(texts, previous, strict=True))
            if p and len(t.strip()) <= _SHORT_CHARS and not is_backchannel(t)
        ]
        if idx:
            prev = embedder.encode([str(previous[i])[:_MAX_CHARS] for i in idx])
            mixed = (1 - _PREV_WEIGHT) * emb[idx] + _PREV_WEIGHT * prev
            emb[idx] = mixed / np.linalg.norm(mixed, axis=1, keepdims=True)
    feats = (
        np.stack([rule_features(rules, t) for t in texts])
        if texts
        else np.zeros((0, rules.n_features), dtype=np.float32)
    )
    return np.asarray(np.hstack([emb, _RULE_WEIGHT * feats]), dtype=np.float32)


def _vote(
    weight: F32, rows: npt.NDArray[np.intp], labels: Sequence[frozenset[str]], ids: Sequence[str]
) -> F32:
    """Per label id: the weighted share of the correction rows that carry it."""
    votes = [sum(wt for wt, n in zip(weight, rows, strict=True) if lid in labels[n]) for lid in ids]
    return np.asarray(np.array(votes) / weight.sum(), dtype=np.float32)


class Classifier:
    """Trained heads, rules and corrections; `analyze` is safe to call from several threads."""

    def __init__(self, labels: LabelSet, rules: Rules, embedder: Embedder, weights: Weights):
        if weights.label_ids != labels.need_pain_ids or weights.risk_ids != labels.risk_ids:
            raise LabelFileError("classifier weights do not match prompts/labels.yaml: retrain")
        self.labels = labels
        self.rules = rules
        self.embedder = embedder
        self.weights = weights
        self._lock = threading.Lock()
        self._corr_vecs: F32 = np.zeros((0, embedder.dim), dtype=np.float32)
        self._corr_labels: list[frozenset[str]] = []
        self.corrections_seen = 0  # the caller's cursor: last stored correction id added here

    def add_corrections(self, items: Sequence[tuple[str, list[str]]]) -> None:
        """Use corrected label sets at once: near texts take (or lean towards) their labels."""
        if not items:
            return
        for _, ids in items:
            self.labels.validate(ids, allow_risk=False)
        vecs = self.embedder.encode([t for t, _ in items])
        with self._lock:
            self._corr_vecs = np.vstack([self._corr_vecs, vecs])
            self._corr_labels.extend(frozenset(ids) for _, ids in items)

    def _sentence_scores(self, texts: Sequence[str]) -> tuple[F32, F32, npt.NDArray[np.bool_]]:
        """Per text of 2+ sentences: its sentences' best label scores and mean sentiment."""
        w = self.weights
        labels = np.zeros((len(texts), len(w.label_ids)), dtype=np.float32)
        sent = np.zeros((len(texts), len(SENTIMENTS)), dtype=np.float32)
        owners: list[int] = []
        parts: list[str] = []
        for i, text in enumerate(texts):
            found = split_sentences(text)
            if len(found) > 1:
                owners += [i] * len(found)
                parts += found
        has = np.zeros(len(texts), dtype=bool)
        if not parts:
            return labels, sent, has
        xs = featurize(self.embedder, self.rules, parts)
        ng = ngrams_for(w, parts)
        probs = label_probs(w, xs, ng)
        sent_probs = sentiment_probs(w, xs, ng)
        counts = np.zeros(len(texts), dtype=np.float32)
        for row, i in enumerate(owners):
            labels[i] = np.maximum(labels[i], probs[row])
            sent[i] += sent_probs[row]
            counts[i] += 1
        has = counts > 0
        sent[has] /= counts[has, None]
        return labels, sent, has

    def _label_probs(
        self, x: F32, emb: F32, ng: Any, sentence_probs: F32 | None = None
    ) -> tuple[F32, npt.NDArray[np.bool_]]:
        w = self.weights
        probs = label_probs(w, x, ng)
        if sentence_probs is not None:  # a topic said in one sentence of a long turn counts
            probs = np.maximum(probs, _SENTENCE_SHARE * sentence_probs)
        keep = probs >= w.label_thr
        with self._lock:
            corr_vecs, corr_labels = self._corr_vecs, list(self._corr_labels)
        if not corr_labels:
            return probs, keep
        sims = emb @ corr_vecs.T
        ids = w.label_ids
        for i in range(len(x)):
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
        return probs, keep

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
        batch = [texts[i] for i in todo]
        x = featurize(self.embedder, self.rules, batch, prev)
        emb = x[:, : self.embedder.dim]
        w = self.weights
        ng = ngrams_for(w, batch)
        sentence_labels, sentence_sent, multi = self._sentence_scores(batch)
        probs, keep = self._label_probs(x, emb, ng, sentence_labels)
        sent = sentiment_probs(w, x, ng)
        mix = _SENTENCE_SHARE_SENT * multi[:, None]
        sent = np.asarray((1 - mix) * sent + mix * sentence_sent, dtype=np.float32)
        risk = risk_probs(w, x, ng)
        rule_risk = x[:, self.embedder.dim :][:, self.rules.risk_slice] > 0
        risk_thr = np.where(rule_risk, _RISK_RULE_RELIEF * w.risk_thr, w.risk_thr)
        for row, i in enumerate(todo):
            res = out[i]
            p = sent[row]
            res.sentiment = SENTIMENTS[int(np.argmax(p))]  # type: ignore[assignment]  # closed set
            res.sentiment_score = round(float(p[0] - p[2]), 3)
            if is_backchannel(texts[i]):
                res.sentiment, res.sentiment_score = "neutral", 0.0
                continue
            if roles is not None and roles[i] == "rep":
                continue
            if not keep[row].any():  # nearly sure of one label: keep it rather than none
                rel = probs[row] / w.label_thr
                best = int(np.argmax(rel))
                keep[row, best] = rel[best] >= _FALLBACK
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
                if risk[row, j] >= risk_thr[row, j]
            ]
        return out


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


def _fit_heads(x: F32, y: npt.NDArray[np.bool_], c: float) -> tuple[F32, F32]:
    """One balanced logistic head per column of y; a column with no positives never fires."""
    from sklearn.linear_model import LogisticRegression

    ws = np.zeros((x.shape[1], y.shape[1]), dtype=np.float32)
    bs = np.full(y.shape[1], -30.0, dtype=np.float32)
    for j in range(y.shape[1]):
        if 0 < y[:, j].sum() < len(y):
            m = LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, y[:, j])
            ws[:, j], bs[j] = m.coef_[0], m.intercept_[0]
    return ws, bs


def _fit_sparse_heads(x: Any, y: npt.NDArray[np.bool_], c: float) -> tuple[F32, F32]:
    """One balanced logistic head per column of y over sparse n-gram features."""
    from sklearn.linear_model import LogisticRegression

    ws = np.zeros((x.shape[1], y.shape[1]), dtype=np.float32)
    bs = np.full(y.shape[1], -30.0, dtype=np.float32)
    for j in range(y.shape[1]):
        if 0 < y[:, j].sum() < len(y):
            m = LogisticRegression(
                C=c, class_weight="balanced", solver="liblinear", random_state=_SEED
            ).fit(x, y[:, j])
            ws[:, j], bs[j] = m.coef_[0], m.intercept_[0]
    return ws, bs


def _ngram_vocabulary(counts: Any) -> tuple[npt.NDArray[np.int32], F32]:
    """Buckets seen in at least two texts, with their smoothed idf."""
    df = np.asarray((counts > 0).sum(axis=0)).ravel()
    rows = np.flatnonzero(df >= 2).astype(np.int32)
    n = counts.shape[0]
    idf = np.log((1 + n) / (1 + df[rows])) + 1.0
    return rows, np.asarray(idf, dtype=np.float16).astype(np.float32)


def _label_heads(x: F32, y: npt.NDArray[np.bool_], n_topics: int) -> dict[str, F32]:
    topic_y = y[:, :n_topics] | y[:, n_topics:]
    kind_y = np.stack([y[:, :n_topics].any(axis=1), y[:, n_topics:].any(axis=1)], axis=1)
    heads: dict[str, F32] = {}
    heads["label_w"], heads["label_b"] = _fit_heads(x, y, _C_LABELS)
    heads["topic_w"], heads["topic_b"] = _fit_heads(x, topic_y, _C_LABELS)
    heads["kind_w"], heads["kind_b"] = _fit_heads(x, kind_y, _C_LABELS)
    return heads


def _best_thresholds(
    probs: F32, y: npt.NDArray[np.bool_], floor: float, cap: float, pull: float = 0.5
) -> F32:
    """Per-column F1-best threshold over out-of-fold scores; `pull` of it, the rest 0.5."""
    grid = np.arange(floor, cap + 1e-6, 0.025)
    out = np.full(y.shape[1], 0.5, dtype=np.float32)
    for j in range(y.shape[1]):
        n_pos = int(y[:, j].sum())
        if n_pos < 5:
            continue
        f1 = [
            2 * float((probs[:, j] >= t)[y[:, j]].sum()) / (float((probs[:, j] >= t).sum()) + n_pos)
            for t in grid
        ]
        out[j] = pull * float(grid[int(np.argmax(f1))]) + (1 - pull) * 0.5
    return out


def _folds(n: int, folds: int = 5) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    from sklearn.model_selection import KFold

    split = KFold(folds, shuffle=True, random_state=_SEED).split(np.zeros((n, 1)))
    return [(np.asarray(tr), np.asarray(te)) for tr, te in split]


def train_weights(
    labels: LabelSet,
    rules: Rules,
    embedder: Embedder,
    examples: Sequence[Example],
    corrections: Sequence[tuple[str, list[str]]] = (),
    *,
    calibrate: bool = True,
) -> Weights:
    """Fit every head on the examples (+ corrections as extra examples); deterministic."""
    from sklearn.linear_model import LogisticRegression

    texts = [e.text for e in examples] + [t for t, _ in corrections]
    label_sets = [set(e.labels) for e in examples] + [set(ids) for _, ids in corrections]
    x = featurize(embedder, rules, texts)
    counts = char_ngram_counts(texts)
    ng_rows, ng_idf = _ngram_vocabulary(counts)
    ng = ngram_features(counts, ng_rows, ng_idf)
    n = len(examples)
    ids = labels.need_pain_ids
    nt = len(labels.topics)
    y = np.array([[lid in s for lid in ids] for s in label_sets])
    heads = _label_heads(x, y, nt)
    xs = x[:n]
    risk_y = np.array([[r in e.risk for r in labels.risk_ids] for e in examples])
    risk_w, risk_b = _fit_heads(xs, risk_y, 2.0)
    blank = np.zeros(len(labels.risk_ids), dtype=np.float32)
    sent_y = np.array([SENTIMENTS.index(e.sentiment) for e in examples])
    sm = LogisticRegression(C=2.0, class_weight="balanced", max_iter=3000).fit(xs, sent_y)
    ngs = ng[:n]
    sm_ng = LogisticRegression(C=_C_NGRAM_SENT, class_weight="balanced", max_iter=3000)
    sm_ng.fit(ngs, sent_y)
    ng_w, ng_b = _fit_sparse_heads(ng, y, _C_NGRAM)
    ng_risk_w, ng_risk_b = _fit_sparse_heads(ngs, risk_y, _C_NGRAM)
    weights = Weights(
        label_ids=ids,
        risk_ids=labels.risk_ids,
        label_w=heads["label_w"],
        label_b=heads["label_b"],
        label_thr=np.full(len(ids), 0.5, dtype=np.float32),
        topic_w=heads["topic_w"],
        topic_b=heads["topic_b"],
        kind_w=heads["kind_w"],
        kind_b=heads["kind_b"],
        sent_w=np.asarray(sm.coef_.T, dtype=np.float32),
        sent_b=np.asarray(sm.intercept_, dtype=np.float32),
        risk_w=risk_w,
        risk_b=risk_b,
        risk_thr=blank + 0.5,
        embedder=embedder.name,
        examples_sha=examples_digest(examples, corrections),
        ngram_rows=ng_rows,
        ngram_idf=ng_idf,
        ngram_w=ng_w,
        ngram_b=ng_b,
        ngram_sent_w=np.asarray(sm_ng.coef_.T, dtype=np.float32),
        ngram_sent_b=np.asarray(sm_ng.intercept_, dtype=np.float32),
        ngram_risk_w=ng_risk_w,
        ngram_risk_b=ng_risk_b,
    )
    if not calibrate:
        return weights

    oof = np.zeros(y.shape, dtype=np.float32)
    oof_risk = np.zeros(risk_y.shape, dtype=np.float32)
    for tr, te in _folds(len(y)):
        h = _label_heads(x[tr], y[tr], nt)
        h["ngram_w"], h["ngram_b"] = _fit_sparse_heads(ng[tr], y[tr], _C_NGRAM)
        fold = dataclasses.replace(
            weights,
            label_w=h["label_w"],
            label_b=h["label_b"],
            topic_w=h["topic_w"],
            topic_b=h["topic_b"],
            kind_w=h["kind_w"],
            kind_b=h["kind_b"],
            ngram_w=h["ngram_w"],
            ngram_b=h["ngram_b"],
        )
        oof[te] = label_probs(fold, x[te], ng[te])
    for tr, te in _folds(len(risk_y)):
        rw, rb = _fit_heads(xs[tr], risk_y[tr], 2.0)
        nw, nb = _fit_sparse_heads(ngs[tr], risk_y[tr], _C_NGRAM)
        fold = dataclasses.replace(weights, risk_w=rw, risk_b=rb, ngram_risk_w=nw, ngram_risk_b=nb)
        oof_risk[te] = risk_probs(fold, xs[te], ngs[te])
    return dataclasses.replace(
        weights,
        label_thr=_THR_SCALE * _best_thresholds(oof, y, 0.2, 0.8, _LABEL_THR_PULL),
        risk_thr=_RISK_THR_SCALE * _best_thresholds(oof_risk, risk_y, 0.15, 0.8),
    )


def train_classifier(
    prompts_dir: Path,
    corrections: Sequence[tuple[str, list[str]]] = (),
    embedder_name: str = DEFAULT_EMBEDDER,
) -> None:
    """Rebuild prompts_dir/classifier/weights.npz from prompts_dir/examples (+ corrections)."""
    labels = load_labels(prompts_dir)
    rules = load_rules(prompts_dir, labels.topics, labels.risk_ids)
    for _, ids in corrections:
        labels.validate(ids, allow_risk=False)
    weights = train_weights(
        labels, rules, load_embedder(embedder_name), load_examples(prompts_dir, labels), corrections
    )
    _save_weights(prompts_dir / WEIGHTS_FILE, weights)
    load_classifier.cache_clear()


_weights_stamp: dict[Path, float] = {}


def load_current_classifier(prompts_dir: Path, embedder_name: str = DEFAULT_EMBEDDER) -> Classifier:
    """load_classifier, loaded afresh when the weights file changed on disk (`visitlens train`)."""
    path = prompts_dir / WEIGHTS_FILE
    stamp = path.stat().st_mtime if path.exists() else 0.0
    if _weights_stamp.setdefault(path, stamp) != stamp:
        load_classifier.cache_clear()
        _weights_stamp[path] = stamp
    return load_classifier(prompts_dir, embedder_name)


@cache
def load_classifier(prompts_dir: Path, embedder_name: str = DEFAULT_EMBEDDER) -> Classifier:
    """The classifier for prompts_dir, cached per process (trained first if no weights exist)."""
    path = prompts_dir / WEIGHTS_FILE
    if not path.exists():
        train_classifier(prompts_dir, embedder_name=embedder_name)
    labels = load_labels(prompts_dir)
    weights = _load_weights(path)
    if weights.embedder != embedder_name:
        raise LabelFileError(
            f"{path} was trained with embedder {weights.embedder!r}, not {embedder_name!r}: retrain"
        )
    return Classifier(
        labels,
        load_rules(prompts_dir, labels.topics, labels.risk_ids),
        load_embedder(embedder_name),
        weights,
    )
