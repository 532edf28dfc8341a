"""A question asked across past visits: the matching moments grouped by visit, counts where the
question asks how many, and a written answer with numbered citations when an LLM endpoint is
set (else the quotes and counts themselves; never a made-up answer)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import httpx
import structlog
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.access import Caller, Me, rate_limit
from api.deps import Db
from api.links import audio_link
from api.routes.analysis import shared_classifier
from api.routes.search import embed_query, engines, index_reachable
from api.schemas import Body
from knowledge import insights, visits
from knowledge.bm25 import is_chinese
from knowledge.errors import InvalidInput
from knowledge.models import Visit
from knowledge.search_types import MAX_QUERY_CHARS, SearchFilters, SearchHit
from nlp.citations import CheckedAnswer, check_citations
from nlp.llm import ChatEndpoint, LLMError, answer_question
from nlp.vocabulary import Role

router = APIRouter(tags=["ask"])
log = structlog.get_logger()
HOW_MANY = re.compile(r"how many|how often|多少|几[个家位次]|数量|比例|占比", re.IGNORECASE)
MOMENTS = 40  # utterances looked at
CITED = 12  # quotes an answer may cite
PER_VISIT = 3


class AskIn(Body):
    question: str = Field(max_length=MAX_QUERY_CHARS)  # the longest query search takes
    limit: int = Field(default=8, ge=1, le=20, description="visits to show")


class LabelCountOut(BaseModel):
    utterances: int
    visits: int
    share_of_visits: float = Field(description="of the analysed visits the caller may see, 0..1")
    by_segment: dict[str, int] = Field(description="visits per customer segment")
    by_month: dict[str, int] = Field(description="visits per month (YYYY-MM), oldest first")


class AskVisitOut(BaseModel):
    visit_id: str
    title: str
    customer: str | None
    rep: str | None
    visit_date: str | None = Field(description="ISO date")
    outcome: str | None
    quotes: list[int] = Field(description="the numbers (n) of its citations")


class CitationOut(BaseModel):
    n: int = Field(description="the number the answer cites it by, from 1")
    visit_id: str
    start: float = Field(description="seconds from the start of the recording")
    role: str | None
    text: str = Field(description="what was said, masked for masked roles")
    labels: list[str]
    audio_url: str = Field(description="signed audio link that plays from start")


class WarningOut(BaseModel):
    code: str
    message: str


class AskOut(BaseModel):
    question: str
    answer: str
    answer_kind: Literal["written", "extractive"] = Field(
        description="written by the LLM endpoint, or the closest quotes themselves"
    )
    labels: list[str] = Field(description="need, pain and risk label ids the question is about")
    counts: dict[str, LabelCountOut] | None = Field(
        description="per label, when the question asks how many"
    )
    visits: list[AskVisitOut]
    citations: list[CitationOut]
    warnings: list[WarningOut] = Field(description="changes made to the written answer")
    as_of: str = Field(description="ISO date the counts are of")


def _counts(db: Db, labels: list[str], me: Caller) -> dict[str, Any]:
    """Per need/pain label the question is about: visits and utterances, by segment and month,
    over the visits the caller may see."""
    out: dict[str, Any] = {}
    kinds: tuple[insights.Kind, ...] = ("need", "pain")
    for kind in (k for k in kinds if any(x.startswith(f"{k}.") for x in labels)):
        result = insights.compute(
            db, kind=kind, filters=insights.InsightFilters(), period="month", scope=me.scope
        )
        for topic in result.topics:
            if topic.label in labels:
                out[topic.label] = {
                    "utterances": topic.total.utterances,
                    "visits": topic.total.visits,
                    "share_of_visits": topic.total.share,
                    "by_segment": {k: v.visits for k, v in topic.by_segment.items()},
                    "by_month": {k: v.visits for k, v in sorted(topic.by_period.items())},
                }
    return out


def _extractive(question: str, cited: list[dict[str, Any]], n_visits: int) -> str:
    if not cited:
        return (
            "过往拜访中没有找到相关的原话。"
            if is_chinese(question)
            else "No past visit says anything close to this."
        )
    best = " ".join(f"[{c['n']}] “{c['text']}”" for c in cited[:3])
    if is_chinese(question):
        return f"{n_visits} 次拜访中有相关原话。最接近的：{best}"
    return f"Related moments in {n_visits} visits. The closest: {best}"


def group_hits(hits: list[SearchHit], limit: int) -> dict[str, list[SearchHit]]:
    """The best quotes of the best visits: at most limit visits, PER_VISIT quotes each, in rank
    order (quotes are numbered in this order)."""
    by_visit: dict[str, list[SearchHit]] = {}
    for hit in hits:
        if hit.visit_id not in by_visit and len(by_visit) == limit:
            continue
        group = by_visit.setdefault(hit.visit_id, [])
        if len(group) < PER_VISIT:
            group.append(hit)
    return by_visit


def quote_line(title: str, visit_date: date | None, role: str | None, text: str) -> str:
    """One quote as the chat endpoint reads it: "(visit title, date) role: text"."""
    return f"({title}, {visit_date or ''}) {role or ''}: {text}"


@dataclass(frozen=True)
class Answer:
    text: str
    kind: Literal["written", "extractive"]
    warnings: list[dict[str, str]] = field(default_factory=list)


def _changes(checked: CheckedAnswer, quotes: int) -> list[dict[str, str]]:
    """A warning for each change made to what the endpoint wrote."""
    warnings = []
    dropped = checked.sentences - checked.kept
    if dropped:
        warnings.append(
            {
                "code": "uncited_sentences_dropped",
                "message": f"{dropped} of {checked.sentences} sentences of the written answer "
                "cited none of the quotes and were left out.",
            }
        )
    if checked.invalid_citations:
        warnings.append(
            {
                "code": "invalid_citations_removed",
                "message": f"The written answer cited {checked.invalid_citations} quote numbers "
                f"that do not exist (there are {quotes}); those citations were removed.",
            }
        )
    return warnings


def compose_answer(
    question: str,
    cited: list[dict[str, Any]],
    lines: list[str],
    n_visits: int,
    endpoint: ChatEndpoint | None,
    prompts_dir: Path,
    *,
    transport: httpx.BaseTransport | None = None,
) -> Answer:
    """The endpoint's answer over the quote lines (numbered 1..len(lines)), cut to the sentences
    that cite one of them; else, or when it fails or cites none, the extractive answer. Every
    change to what the endpoint wrote is said in a warning."""
    extractive = _extractive(question, cited, n_visits)
    if endpoint is None or not lines:
        return Answer(extractive, "extractive")
    try:
        written = answer_question(
            endpoint,
            prompts_dir,
            question=question,
            quotes=lines,
            language="zh" if is_chinese(question) else "en",
            transport=transport,
        )
    except LLMError as e:
        log.warning("ask.llm_failed", reason=e.reason)
        message = f"The written answer is unavailable ({e}); these are the quotes."
        return Answer(extractive, "extractive", [{"code": "llm_unavailable", "message": message}])
    checked = check_citations(written, len(lines))
    log.info(
        "ask.answer_checked",
        sentences=checked.sentences,
        kept=checked.kept,
        invalid_citations=checked.invalid_citations,
    )
    if not checked.kept:
        message = (
            "The written answer cited none of the quotes it was given, so it is not shown; "
            "these are the quotes."
        )
        return Answer(extractive, "extractive", [{"code": "answer_uncited", "message": message}])
    return Answer(checked.text, "written", _changes(checked, len(lines)))


def _quotes(
    db: Db, me: Caller, by_visit: dict[str, list[SearchHit]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """The numbered quotes (citations) as this caller sees them, the visits that hold them, and
    the lines of the first CITED quotes for the chat endpoint."""
    rows = {v.id: v for v in db.query(Visit).filter(Visit.id.in_(by_visit))}
    names = visits.contacts_of(db, visit_ids=by_visit) if me.scope.redacted else {}
    cited: list[dict[str, Any]] = []
    groups = []
    for visit_id, hits in by_visit.items():
        visit = rows.get(visit_id)
        if visit is None:  # deleted since it was indexed
            continue
        numbers = []
        for hit in hits:
            doc = hit.quote or hit.doc
            start = float(getattr(doc, "start", 0.0))
            cited.append(
                {
                    "n": len(cited) + 1,
                    "visit_id": visit_id,
                    "start": start,
                    "role": getattr(doc, "role", None),
                    "text": me.shown(getattr(doc, "text", ""), names.get(visit_id, [])),
                    "labels": list(getattr(doc, "labels", [])),
                    "audio_url": audio_link(me.signer, visit_id, start),
                }
            )
            numbers.append(len(cited))
        groups.append(
            {
                "visit_id": visit_id,
                "title": visit.title,
                "customer": visit.customer,
                "rep": visit.rep,
                "visit_date": visit.visit_date.isoformat() if visit.visit_date else None,
                "outcome": visit.outcome,
                "quotes": numbers,
            }
        )
    lines = [
        quote_line(rows[c["visit_id"]].title, rows[c["visit_id"]].visit_date, c["role"], c["text"])
        for c in cited[:CITED]
    ]
    return cited, groups, lines


@router.post("/ask", dependencies=[rate_limit("search")])
def ask(body: AskIn, request: Request, db: Db, me: Me) -> AskOut:
    question = body.question.strip()
    if not question:
        raise InvalidInput("The question is empty; ask something.", code="empty_question")
    with index_reachable():
        page = engines(request).search(
            db,
            question,
            embed_query(request, question),
            kind="utterance",
            filters=SearchFilters(visit_ids=visits.visible_ids(db, scope=me.scope)),
            limit=MOMENTS,
        )
    cited, groups, lines = _quotes(db, me, group_hits(page.hits, body.limit))
    said = shared_classifier(request).analyze([question], roles=[Role.CUSTOMER])[0]
    labels = [x.id for x in (*said.labels, *said.risk)]
    counts = _counts(db, labels, me) if HOW_MANY.search(question) else None
    settings = request.app.state.settings
    endpoint = (
        ChatEndpoint(
            settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout_s
        )
        if settings.llm_url
        else None
    )
    answer = compose_answer(question, cited, lines, len(groups), endpoint, settings.prompts_dir)
    return AskOut.model_validate(
        {
            "question": question,
            "answer": answer.text,
            "answer_kind": answer.kind,
            "labels": labels,
            "counts": counts,
            "visits": groups,
            "citations": cited,
            "warnings": answer.warnings,
            "as_of": date.today().isoformat(),
        }
    )
