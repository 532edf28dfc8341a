"""A question asked across past visits: the matching moments grouped by visit, counts where the
question asks how many, and a written answer with numbered citations when an LLM endpoint is
set (else the quotes and counts themselves; never a made-up answer)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import structlog
from fastapi import APIRouter, Request
from pydantic import Field

from api.access import Caller, Me, rate_limit
from api.deps import Db
from api.links import audio_link
from api.routes.analysis import shared_classifier
from api.routes.search import embed_query
from api.schemas import Body
from knowledge import insights, visits
from knowledge.bm25 import is_chinese
from knowledge.errors import InvalidInput
from knowledge.models import Visit
from knowledge.search import SearchFilters, SearchHit
from nlp.llm import ChatEndpoint, LLMError, answer_question

router = APIRouter(tags=["ask"])
log = structlog.get_logger()
HOW_MANY = re.compile(r"how many|how often|多少|几[个家位次]|数量|比例|占比", re.IGNORECASE)
MOMENTS = 40  # utterances looked at
CITED = 12  # quotes an answer may cite
PER_VISIT = 3


class AskIn(Body):
    question: str = Field(max_length=2000)
    limit: int = Field(default=8, ge=1, le=20, description="visits to show")


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


@router.post("/ask", dependencies=[rate_limit("search")])
def ask(body: AskIn, request: Request, db: Db, me: Me) -> dict[str, Any]:
    question = body.question.strip()
    if not question:
        raise InvalidInput("The question is empty; ask something.", code="empty_question")
    index, _ = request.app.state.live.require()
    page = index.search(
        question,
        embed_query(request, question),
        kind="utterance",
        filters=SearchFilters(visit_ids=visits.visible_ids(db, scope=me.scope)),
        limit=MOMENTS,
    )
    by_visit: dict[str, list[SearchHit]] = {}  # best visits first, their best quotes
    for hit in page.hits:
        if hit.visit_id not in by_visit and len(by_visit) == body.limit:
            continue
        group = by_visit.setdefault(hit.visit_id, [])
        if len(group) < PER_VISIT:
            group.append(hit)
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
            text = me.shown(getattr(doc, "text", ""), names.get(visit_id, []))
            start = float(getattr(doc, "start", 0.0))
            cited.append(
                {
                    "n": len(cited) + 1,
                    "visit_id": visit_id,
                    "start": start,
                    "role": getattr(doc, "role", None),
                    "text": text,
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
    said = shared_classifier(request).analyze([question], roles=["customer"])[0]
    labels = [x.id for x in (*said.labels, *said.risk)]
    counts = _counts(db, labels, me) if HOW_MANY.search(question) else None
    warnings: list[dict[str, str]] = []
    answer, kind = _extractive(question, cited, len(groups)), "extractive"
    settings = request.app.state.settings
    if settings.llm_url and cited:
        endpoint = ChatEndpoint(
            settings.llm_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout_s
        )
        lines = [
            f"({rows[c['visit_id']].title}, {rows[c['visit_id']].visit_date or ''}) "
            f"{c['role'] or ''}: {c['text']}"
            for c in cited[:CITED]
        ]
        try:
            answer = answer_question(
                endpoint,
                settings.prompts_dir,
                question=question,
                quotes=lines,
                language="zh" if is_chinese(question) else "en",
            )
            kind = "written"
        except LLMError as e:
            log.warning("ask.llm_failed", reason=e.reason)
            warnings.append(
                {
                    "code": "llm_unavailable",
                    "message": f"The written answer is unavailable ({e}); these are the quotes.",
                }
            )
    return {
        "question": question,
        "answer": answer,
        "answer_kind": kind,
        "labels": labels,
        "counts": counts,
        "visits": groups,
        "citations": cited,
        "warnings": warnings,
        "as_of": date.today().isoformat(),
    }
