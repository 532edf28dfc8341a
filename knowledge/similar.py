"""Similar past cases: visits ranked by shared problems, matching quotes and customer profile."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from knowledge.search_types import UtteranceDoc, VisitDoc
from nlp.vocabulary import Role

FloatArray = npt.NDArray[np.float32]


@dataclass
class CaseProfile:
    """What a visit (or a described situation) is about: problem labels, quotes, profile."""

    labels: list[str]  # need.* / pain.* / risk.* ids, repeated as often as they occur
    quotes: list[str]  # customer utterances that carry the labels, or the free text
    quote_vectors: FloatArray  # (len(quotes), dim), unit rows
    visit: VisitDoc | None = None  # None for a free-text profile
    quote_docs: list[UtteranceDoc] = field(default_factory=list)  # parallel to quotes if known
    summary_vector: FloatArray | None = None
    industry: str = ""
    segment: str = ""


@dataclass
class QuotePair:
    """A target quote and the most similar quote of the candidate visit."""

    target: str
    candidate: str
    similarity: float  # cosine, -1..1
    candidate_start: float | None = None  # seconds, to play the candidate quote


@dataclass
class SimilarCase:
    """One past visit like the target, with the reasons it was chosen."""

    visit: VisitDoc
    score: float
    shared_labels: list[str]  # problem labels both share, the rarest first
    quote_pairs: list[QuotePair]  # best matching quotes, most similar first
    same_industry: bool
    same_segment: bool


@dataclass(frozen=True)
class SimilarWeights:
    """How the evidence combines into one score."""

    labels: float = 1.0  # idf-weighted overlap of problem labels, 0..1
    quotes: float = 1.0  # mean of the best quote-to-quote cosines
    summary: float = 0.5  # cosine of the visit summaries
    profile: float = 0.15  # same industry, same segment (half each)
    quote_pairs: int = 3  # best pairs averaged and reported
    center_by_language: bool = True  # compare candidates of each language on their own baseline


def is_quote(utterance: UtteranceDoc) -> bool:
    """Whether an utterance is one of its visit's profile quotes: a customer's, with a label."""
    return utterance.role == Role.CUSTOMER and bool(utterance.labels or utterance.risk)


def profile_from_visit(
    visit: VisitDoc,
    utterances: Sequence[UtteranceDoc],
    vectors: FloatArray,
    summary_vector: FloatArray | None = None,
) -> CaseProfile:
    """Profile of an analysed visit from its labelled customer utterances (vectors align)."""
    keep = [i for i, u in enumerate(utterances) if is_quote(u)]
    labels = [x for i in keep for x in (*utterances[i].labels, *utterances[i].risk)]
    return CaseProfile(
        labels=labels or list(visit.labels),
        quotes=[utterances[i].text for i in keep],
        quote_vectors=_unit(np.asarray(vectors, dtype=np.float32)[keep]),
        visit=visit,
        quote_docs=[utterances[i] for i in keep],
        summary_vector=None if summary_vector is None else _unit(summary_vector[None])[0],
        industry=visit.industry,
        segment=visit.segment,
    )


def profile_from_text(
    text: str,
    vector: FloatArray,
    *,
    labels: Sequence[str],
    industry: str = "",
    segment: str = "",
) -> CaseProfile:
    """Profile of a described situation with its need/pain/risk labels."""
    unit = _unit(np.asarray(vector, dtype=np.float32).reshape(1, -1))
    return CaseProfile(
        labels=list(labels),
        quotes=[text],
        quote_vectors=unit,
        summary_vector=unit[0],
        industry=industry,
        segment=segment,
    )


def similar_visits(
    target: CaseProfile,
    candidates: Sequence[CaseProfile],
    *,
    limit: int = 5,
    weights: SimilarWeights | None = None,
) -> list[SimilarCase]:
    """Candidates most like the target, best first; the target's own visit is skipped."""
    w = weights or SimilarWeights()
    own = target.visit.visit_id if target.visit else None
    pool = [
        c
        for c in candidates
        if c.visit is not None and c.visit.visit_id != own and not _same_recording(target, c)
    ]
    idf = _label_idf(pool)
    pairs_of = [_quote_pairs(target, cand, w.quote_pairs) for cand in pool]
    quote = np.array(
        [np.mean([p.similarity for p in pairs]) if pairs else 0.0 for pairs in pairs_of],
        dtype=np.float32,
    )
    summary = np.array(
        [
            float(target.summary_vector @ cand.summary_vector)
            if target.summary_vector is not None and cand.summary_vector is not None
            else 0.0
            for cand in pool
        ],
        dtype=np.float32,
    )
    languages = [cand.visit.language if cand.visit else "" for cand in pool]
    if w.center_by_language:
        codes = np.unique(languages, return_inverse=True)[1]
        quote, summary = minus_group_means(quote, codes), minus_group_means(summary, codes)
    cases = []
    for i, cand in enumerate(pool):
        assert cand.visit is not None  # filtered above
        shared, label_score = _label_overlap(target.labels, cand.labels, idf)
        same_industry = bool(target.industry) and target.industry == cand.industry
        same_segment = bool(target.segment) and target.segment == cand.segment
        score = (
            w.labels * label_score
            + w.quotes * float(quote[i])
            + w.summary * float(summary[i])
            + w.profile * (0.5 * same_industry + 0.5 * same_segment)
        )
        cases.append(
            SimilarCase(cand.visit, score, shared, pairs_of[i], same_industry, same_segment)
        )
    cases.sort(key=lambda c: -c.score)
    return cases[:limit]


class CaseStore(Protocol):
    """Where visits' profiles are stored and searched (knowledge.case_store.StoredCases)."""

    def nearest_visits(
        self, vector: FloatArray, *, n: int, among: frozenset[str] | None = None
    ) -> list[str]: ...

    def nearest_customer_turns(
        self, vectors: FloatArray, *, n: int, among: frozenset[str] | None = None
    ) -> set[str]: ...

    def cases(
        self, visit_ids: Sequence[str]
    ) -> dict[str, tuple[VisitDoc, FloatArray, list[UtteranceDoc], FloatArray]]: ...


@dataclass(frozen=True)
class CandidateLimits:
    """Which stored visits are compared with a target: those nearest to its summary, and
    those whose customers said something near one of its quotes."""

    visits: int = 100  # nearest visit documents
    per_quote: int = 20  # nearest customer utterances per target quote


def stored_profiles(store: CaseStore, visit_ids: Sequence[str]) -> dict[str, CaseProfile]:
    """Profiles of these visits from what the store holds (visits without a document skipped)."""
    return {
        vid: profile_from_visit(doc, utts, vecs, vvec)
        for vid, (doc, vvec, utts, vecs) in store.cases(visit_ids).items()
    }


def similar_stored(
    store: CaseStore,
    target: CaseProfile,
    *,
    among: frozenset[str] | None,
    limit: int = 5,
    limits: CandidateLimits = CandidateLimits(),
) -> list[SimilarCase]:
    """similar_visits over the stored visits (those among, None: every one) that the store's
    nearest-neighbour queries put forward; no process holds every visit's vectors."""
    ids: set[str] = set()
    if target.summary_vector is not None:
        ids.update(store.nearest_visits(target.summary_vector, n=limits.visits, among=among))
    ids |= store.nearest_customer_turns(target.quote_vectors, n=limits.per_quote, among=among)
    if target.visit is not None:
        ids.discard(target.visit.visit_id)
    candidates = stored_profiles(store, sorted(ids))
    return similar_visits(target, list(candidates.values()), limit=limit)


_SAME_WORDS = 0.97  # cosine at which two customer quotes are the same words, transcribed again


def _same_recording(a: CaseProfile, b: CaseProfile) -> bool:
    """b is another upload of a's recording: nearly every customer quote of either is said,
    in the same words, in the other."""
    if len(a.quotes) < 3 or len(b.quotes) < 3:
        return False
    sims = a.quote_vectors @ b.quote_vectors.T
    return bool(
        np.mean(sims.max(axis=1) >= _SAME_WORDS) >= 0.8
        and np.mean(sims.max(axis=0) >= _SAME_WORDS) >= 0.8
    )


def _label_idf(pool: Sequence[CaseProfile]) -> dict[str, float]:
    """Rarer labels say more: log(1 + N / visits with the label)."""
    df: Counter[str] = Counter()
    for cand in pool:
        df.update(set(cand.labels))
    n = max(len(pool), 1)
    return {label: math.log(1.0 + n / count) for label, count in df.items()}


def _label_overlap(
    target: Sequence[str], cand: Sequence[str], idf: dict[str, float]
) -> tuple[list[str], float]:
    """Shared problem labels (rarest first) and their idf-weighted Jaccard overlap in 0..1."""
    a, b = set(target), set(cand)
    default = max(idf.values(), default=1.0)
    shared = sorted(a & b, key=lambda x: -idf.get(x, default))
    union = sum(idf.get(x, default) for x in a | b)
    return shared, (sum(idf.get(x, default) for x in shared) / union if union else 0.0)


def _quote_pairs(target: CaseProfile, cand: CaseProfile, k: int) -> list[QuotePair]:
    """For each target quote its best candidate quote; the k most similar pairs."""
    if not len(target.quotes) or not len(cand.quotes):
        return []
    sims = target.quote_vectors @ cand.quote_vectors.T
    best = sims.argmax(axis=1)
    pairs = []
    for i, j in enumerate(best.tolist()):
        start = cand.quote_docs[j].start if j < len(cand.quote_docs) else None
        pairs.append(QuotePair(target.quotes[i], cand.quotes[j], float(sims[i, j]), start))
    pairs.sort(key=lambda p: -p.similarity)
    return pairs[:k]


def _unit(vectors: FloatArray) -> FloatArray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: FloatArray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


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
