"""Search over the knowledge base and similar past cases."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from api.access import Caller, Me, rate_limit
from api.deps import Db, Offset
from api.links import Signer, audio_link
from api.routes.analysis import shared_classifier
from api.schemas import Body
from knowledge import analysis_document, visits
from knowledge.case_store import StoredCases
from knowledge.engine_search import EngineSearch
from knowledge.errors import InvalidInput, NotReady, Unavailable
from knowledge.models import Visit
from knowledge.search_types import (
    InvalidFilter,
    InvalidQuery,
    SearchFilters,
    SearchHit,
    SearchPage,
    UtteranceDoc,
    check_query,
)
from knowledge.similar import (
    CaseProfile,
    SimilarCase,
    profile_from_text,
    similar_stored,
    stored_profiles,
)
from knowledge.vector_index import IndexUnavailable, shared
from nlp.embed import load_embedder

router = APIRouter(tags=["search"])


class SimilarIn(Body):
    text: str = Field(min_length=1, max_length=10_000)
    industry: str = ""
    segment: str = ""
    labels: list[str] | None = None
    limit: int = Field(default=5, ge=1, le=50)


class HitQuoteOut(BaseModel):
    """The utterance a hit plays, with its analysis."""

    idx: int
    start: float = Field(description="seconds from the start of the recording")
    end: float
    role: str
    text: str
    labels: list[str]
    sentiment: str
    risk: list[str]


class HitVisitOut(BaseModel):
    id: str
    title: str
    rep: str | None
    customer: str | None
    industry: str | None
    segment: str | None
    visit_date: date | None
    summary: str | None = Field(description="for visit hits")


class HitOut(BaseModel):
    visit_id: str
    score: float
    text: str = Field(description="the quote, or the visit's summary")
    highlight: str | None = Field(description="the quote as HTML, query terms in <mark>")
    highlights: list[str] = Field(description="query terms found")
    start: float
    end: float | None
    role: str | None
    quote: HitQuoteOut | None
    visit: HitVisitOut
    audio_url: str = Field(description="signed audio link that plays from start")
    link: str = Field(description="the visit in the web page, at start")


class SearchOut(BaseModel):
    query: str
    kind: Literal["utterance", "visit"]
    mode: Literal["hybrid", "dense", "bm25"]
    results: list[HitOut]
    total: int
    close: bool = Field(description="false: nothing shares a word or comes near in meaning")
    limit: int
    offset: int
    took_ms: float


class QuotePairOut(BaseModel):
    target: str
    candidate: str
    similarity: float = Field(description="cosine, -1..1")
    candidate_start: float | None = Field(description="seconds, to play the candidate quote")


class ReasonsOut(BaseModel):
    shared_labels: list[str] = Field(description="problem labels both share, the rarest first")
    matching_quotes: list[QuotePairOut]
    same_industry: bool
    same_segment: bool


class CaseOut(BaseModel):
    visit_id: str
    title: str
    score: float
    reasons: ReasonsOut
    customer: str
    industry: str
    segment: str
    visit_date: date | None
    outcome: str | None
    summary: str
    actions: list[dict[str, Any]] = Field(description="the visit's action items")
    sentiment_score: float | None


class SimilarVisitsOut(BaseModel):
    visit_id: str
    results: list[CaseOut]


class SimilarTextOut(BaseModel):
    query: str
    labels: list[str] = Field(description="the labels compared: given, or read in the text")
    results: list[CaseOut]


def engines(request: Request) -> EngineSearch:
    engine: EngineSearch = request.app.state.search
    return engine


@contextmanager
def index_reachable() -> Iterator[None]:
    """IndexUnavailable as the 503 every route gives, and a fresh connection next time."""
    try:
        yield
    except IndexUnavailable as e:
        shared.cache_clear()
        raise Unavailable(str(e), code="index_unavailable") from e


def embed_query(request: Request, text: str) -> np.ndarray:
    embedder = load_embedder(request.app.state.settings.embedding_model)
    return np.asarray(embedder.encode([text])[0], dtype=np.float32)


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    out, last = [], 0
    for start, end in sorted(spans):
        out += [html.escape(text[last:start]), "<mark>", html.escape(text[start:end]), "</mark>"]
        last = end
    return "".join(out) + html.escape(text[last:])


def _quote(doc: UtteranceDoc | None) -> HitQuoteOut | None:
    if doc is None:
        return None
    return HitQuoteOut(
        idx=doc.index,
        start=doc.start,
        end=doc.end,
        role=doc.role,
        text=doc.text,
        labels=doc.labels,
        sentiment=doc.sentiment,
        risk=doc.risk,
    )


def _hit_out(hit: SearchHit, visit: Visit, signer: Signer) -> HitOut:
    quote = hit.quote
    start = quote.start if quote else 0.0
    return HitOut(
        visit_id=hit.visit_id,
        score=round(hit.score, 4),
        text=quote.text if quote else getattr(hit.doc, "summary", ""),
        highlight=_marked(quote.text, hit.spans) if quote else None,
        highlights=hit.highlights,
        start=start,
        end=quote.end if quote else None,
        role=quote.role if quote else None,
        quote=_quote(quote),
        visit=HitVisitOut(
            id=visit.id,
            title=visit.title,
            rep=visit.rep,
            customer=visit.customer,
            industry=visit.industry,
            segment=visit.segment,
            visit_date=visit.visit_date,
            summary=getattr(hit.doc, "summary", None),
        ),
        audio_url=audio_link(signer, hit.visit_id, start),
        link=f"/#visit={hit.visit_id}&t={start:.1f}",
    )


def _within(db: Db, me: Caller, visit_id: str | None) -> frozenset[str] | None:
    """The visits a search may return: the caller's, or the one asked for (when theirs)."""
    if visit_id is None:
        return visits.visible_ids(db, scope=me.scope)
    return frozenset({visits.get(db, visit_id=visit_id, scope=me.scope).id})


@router.get("/search", dependencies=[rate_limit("search")])
def search(
    request: Request,
    db: Db,
    me: Me,
    q: Annotated[str, Query(max_length=10_000)],
    kind: Literal["utterance", "visit"] = "utterance",
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid",
    label: str | None = None,
    role: str | None = None,
    sentiment: str | None = None,
    risk: str | None = None,
    rep: str | None = None,
    customer: str | None = None,
    industry: str | None = None,
    segment: str | None = None,
    language: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    visit: Annotated[str | None, Query(description="search within this visit only")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = 0,
) -> SearchOut:
    """Hybrid (dense + BM25) search over utterances or visits, with exact filters."""
    try:
        check_query(q)
    except InvalidQuery as e:
        raise InvalidInput(str(e), code=e.code) from e
    filters = SearchFilters(
        label=label,
        role=role,
        sentiment=sentiment,
        risk=risk,
        rep=rep,
        customer=customer,
        industry=industry,
        segment=segment,
        language=language,
        date_from=date_from,
        date_to=date_to,
        visit_ids=_within(db, me, visit),
    )
    try:
        with index_reachable():
            page = engines(request).search(
                db,
                q,
                embed_query(request, q),
                kind=kind,
                filters=filters,
                limit=limit,
                offset=offset,
                mode=mode,
            )
    except InvalidFilter as e:
        raise InvalidInput(str(e), code="invalid_filter") from e
    except InvalidQuery as e:
        raise InvalidInput(str(e), code=e.code) from e
    return _page_out(db, me, q, page)


def _page_out(db: Db, me: Caller, q: str, page: SearchPage) -> SearchOut:
    """A page of hits as the caller sees them (hits of visits deleted meanwhile left out)."""
    rows = {v.id: v for v in db.query(Visit).filter(Visit.id.in_({h.visit_id for h in page.hits}))}
    results = [_hit_out(h, rows[h.visit_id], me.signer) for h in page.hits if h.visit_id in rows]
    return SearchOut(
        query=q,
        kind=page.kind,
        mode=page.mode,
        results=results,
        total=page.total,
        close=page.close,
        limit=page.limit,
        offset=page.offset,
        took_ms=round(page.took_ms, 1),
    )


def _case_out(case: SimilarCase, db: Db) -> CaseOut:
    visit_id = case.visit.visit_id
    report = analysis_document.get(db, visit_id=visit_id) or {}
    row = db.get(Visit, visit_id)  # the database has an outcome edited since indexing
    return CaseOut(
        visit_id=visit_id,
        title=case.visit.title,
        score=round(case.score, 4),
        reasons=ReasonsOut(
            shared_labels=case.shared_labels,
            matching_quotes=[QuotePairOut(**asdict(p)) for p in case.quote_pairs],
            same_industry=case.same_industry,
            same_segment=case.same_segment,
        ),
        customer=case.visit.customer,
        industry=case.visit.industry,
        segment=case.visit.segment,
        visit_date=case.visit.visit_date,
        outcome=row.outcome if row is not None else case.visit.outcome or None,
        summary=report.get("summary", case.visit.summary),
        actions=[dict(a) for a in report.get("actions", [])],
        sentiment_score=report.get("sentiment_score"),
    )


def _similar(
    request: Request, db: Db, me: Caller, target: CaseProfile, limit: int
) -> list[SimilarCase]:
    """The caller's stored visits most like the target."""
    with index_reachable():
        return similar_stored(
            StoredCases(engines(request).vectors, db),
            target,
            among=visits.visible_ids(db, scope=me.scope),
            limit=limit,
        )


@router.get("/visits/{visit_id}/similar", dependencies=[rate_limit("search")])
def similar_to_visit(
    visit_id: str,
    request: Request,
    db: Db,
    me: Me,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> SimilarVisitsOut:
    """Past visits whose customers had the same problems, with the reasons and how they ended."""
    visit = visits.get(db, visit_id=visit_id, scope=me.scope)
    with index_reachable():
        target = stored_profiles(StoredCases(engines(request).vectors, db), [visit_id]).get(
            visit_id
        )
    if target is None:
        raise NotReady(f"This visit is not in the knowledge base yet; it is {visit.status}.")
    cases = _similar(request, db, me, target, limit)
    return SimilarVisitsOut(visit_id=visit_id, results=[_case_out(c, db) for c in cases])


@router.post("/similar", dependencies=[rate_limit("search")])
def similar_to_text(body: SimilarIn, request: Request, db: Db, me: Me) -> SimilarTextOut:
    """Past visits like a described situation ("after-sales too slow, threatens to switch")."""
    labels = body.labels
    valid = engines(request).labels.all_ids
    for label in labels or []:
        if label not in valid:
            raise InvalidInput(str(InvalidFilter("label", label, valid)), code="invalid_filter")
    if labels is None:  # read by the classifier that labelled the visits, so the labels compare
        said = shared_classifier(request).analyze([body.text], roles=["customer"])[0]
        labels = [x.id for x in (*said.labels, *said.risk)]
    profile = profile_from_text(
        body.text,
        embed_query(request, body.text),
        labels=labels,
        industry=body.industry,
        segment=body.segment,
    )
    cases = _similar(request, db, me, profile, body.limit)
    return SimilarTextOut(
        query=body.text, labels=profile.labels, results=[_case_out(c, db) for c in cases]
    )
