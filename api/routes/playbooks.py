"""Objection playbooks: how reps answered each customer pain point or doubt, ranked by what
followed, curated by trainers, and suggested for a sentence a customer just said."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from api.access import Caller, Me
from api.deps import MAX_ID, Db
from api.links import audio_link
from api.routes.analysis import shared_classifier
from api.routes.search import embed_query, engines, index_reachable
from api.schemas import Body
from knowledge import audit, playbooks
from knowledge.errors import Forbidden, InvalidInput
from knowledge.models import Role
from knowledge.playbooks import AnswerView, GroupView, TopicNotFound
from nlp.labels import LabelInfo, load_labels
from nlp.playbook import is_objection
from nlp.vocabulary import Outcome
from nlp.vocabulary import Role as SpeakerRole

router = APIRouter(tags=["playbooks"])
CURATORS = frozenset({Role.ADMIN, Role.MANAGER, Role.TRAINER})
NO_ANSWERS = "no answers yet"
OTHERS_SHOWN = 5


class SuggestIn(Body):
    text: str = Field(max_length=2000, description="what the customer said")
    limit: int = Field(default=3, ge=1, le=20, description="answer groups to return")


class CurationIn(Body):
    pinned: bool | None = None
    hidden: bool | None = None
    note: str | None = Field(default=None, max_length=5000, description='"" clears the note')


def objections(request: Request) -> dict[str, LabelInfo]:
    """The objection topics: every pain.<topic> label, risk.doubt and risk.churn."""
    labels = load_labels(request.app.state.settings.prompts_dir)
    return {x.id: x for x in (*labels.need_pain, *labels.risks) if is_objection(x.id)}


def check_topic(request: Request, topic: str) -> LabelInfo:
    known = objections(request)
    if topic not in known:
        raise TopicNotFound(
            f"No objection topic '{topic}'. Use one of: {', '.join(known)}.",
        )
    return known[topic]


class AnswerOut(BaseModel):
    """One rep answer to a customer's objection, as this caller may read it."""

    visit_id: str
    visit_title: str
    topic: str
    answer_idx: int
    start: float = Field(description="seconds from the start of the recording")
    end: float
    text: str = Field(description="masked for product and trainer roles")
    objection: str = Field(description="what the customer said")
    audio_url: str | None = Field(description="plays from start; None for product roles")
    link: str = Field(description="the visit in the web page, at start")
    score: float
    similarity: float | None = Field(description="to a suggested sentence")
    followed_by_positive: bool
    next_step_agreed: bool
    sentiment_change: float
    outcome: str | None
    pinned: bool
    hidden: bool
    note: str | None


class SimilarAnswerOut(BaseModel):
    visit_id: str
    answer_idx: int
    start: float
    text: str


class GroupOut(BaseModel):
    """Near-identical answers: the best one and how they went."""

    answer: AnswerOut
    count: int
    positive_share: float
    next_step_share: float
    won: int
    lost: int
    won_share: float | None = Field(description="None: no visit won or lost yet")
    score: float
    pinned: bool
    similar_answers: list[SimilarAnswerOut] = Field(description=f"up to {OTHERS_SHOWN}")


class TopicSummaryOut(BaseModel):
    topic: str
    name_zh: str
    name_en: str
    answers: int
    visits: int
    best: AnswerOut | None


class PlaybooksOut(BaseModel):
    items: list[TopicSummaryOut]


class PlaybookOut(BaseModel):
    topic: str
    name_zh: str
    name_en: str
    answers: int
    groups: list[GroupOut]
    message: str | None = Field(description=f'"{NO_ANSWERS}" when there are none')


class CurationOut(BaseModel):
    topic: str
    visit_id: str
    answer_idx: int
    pinned: bool
    hidden: bool
    note: str | None
    updated_by: str


class SuggestOut(BaseModel):
    text: str
    topics: list[str] = Field(description="the objection topics read in the text")
    groups: list[GroupOut]
    message: str | None = Field(description=f'"{NO_ANSWERS}" when there are none')


def answer_out(v: AnswerView, me: Caller) -> AnswerOut:
    """One answer as this caller may read it (masked for product and trainer roles)."""
    return AnswerOut(
        visit_id=v.visit_id,
        visit_title=v.visit_title,
        topic=v.label,
        answer_idx=v.answer_idx,
        start=v.start,
        end=v.end,
        text=me.shown(v.text, v.contacts),
        objection=me.shown(v.objection_text, v.contacts),
        audio_url=None if me.role == Role.PRODUCT else audio_link(me.signer, v.visit_id, v.start),
        link=f"/#visit={v.visit_id}&t={v.start:.1f}",
        score=v.score,
        similarity=v.similarity,
        followed_by_positive=v.positive,
        next_step_agreed=v.commitment,
        sentiment_change=v.sentiment_delta,
        outcome=v.outcome,
        pinned=v.pinned,
        hidden=v.hidden,
        note=v.note,
    )


def group_out(g: GroupView, me: Caller) -> GroupOut:
    n = len(g.members)
    won = sum(m.outcome == Outcome.WON for m in g.members)
    lost = sum(m.outcome == Outcome.LOST for m in g.members)
    return GroupOut(
        answer=answer_out(g.best, me),
        count=n,
        positive_share=round(sum(m.positive for m in g.members) / n, 3),
        next_step_share=round(sum(m.commitment for m in g.members) / n, 3),
        won=won,
        lost=lost,
        won_share=round(won / (won + lost), 3) if won + lost else None,
        score=g.score,
        pinned=g.pinned,
        similar_answers=[
            SimilarAnswerOut(
                visit_id=m.visit_id,
                answer_idx=m.answer_idx,
                start=m.start,
                text=me.shown(m.text, m.contacts),
            )
            for m in g.members[1 : 1 + OTHERS_SHOWN]
        ],
    )


@router.get("/playbooks")
def list_playbooks(request: Request, db: Db, me: Me) -> PlaybooksOut:
    """Per objection topic: answered objections in the caller's visits, and the best answer."""
    known = objections(request)
    found = playbooks.overview(db, labels=list(known), scope=me.scope)
    return PlaybooksOut(
        items=[
            TopicSummaryOut(
                topic=label,
                name_zh=info.name_zh,
                name_en=info.name_en,
                answers=len(found[label]),
                visits=len({v.visit_id for v in found[label]}),
                best=answer_out(found[label][0], me) if found[label] else None,
            )
            for label, info in known.items()
        ]
    )


@router.get("/playbooks/{topic}")
def read_playbook(
    topic: Annotated[str, Path(max_length=64)],
    request: Request,
    db: Db,
    me: Me,
    hidden: Annotated[bool, Query(description="curators: include hidden answers")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> PlaybookOut:
    """The rep answers to one objection, near-identical ones grouped, pinned then best first."""
    info = check_topic(request, topic)
    if hidden and me.role not in CURATORS:
        raise Forbidden("Only trainers, managers and admins may see hidden answers.")
    groups = playbooks.topic(db, label=topic, scope=me.scope, include_hidden=hidden)
    return PlaybookOut(
        topic=topic,
        name_zh=info.name_zh,
        name_en=info.name_en,
        answers=sum(len(g.members) for g in groups),
        groups=[group_out(g, me) for g in groups[:limit]],
        message=None if groups else NO_ANSWERS,
    )


@router.put("/playbooks/{topic}/answers/{visit_id}/{answer_idx}")
def curate_answer(
    topic: Annotated[str, Path(max_length=64)],
    visit_id: Annotated[str, Path(max_length=32)],
    answer_idx: Annotated[int, Path(ge=0, le=MAX_ID)],
    body: CurationIn,
    request: Request,
    db: Db,
    me: Me,
) -> CurationOut:
    """Pin, hide or annotate one answer of a topic's playbook (trainers, managers, admins)."""
    check_topic(request, topic)
    if body.pinned is None and body.hidden is None and body.note is None:
        raise InvalidInput("Send pinned, hidden or note.", code="empty_change")
    row = playbooks.curate(
        db,
        label=topic,
        visit_id=visit_id,
        answer_idx=answer_idx,
        author=me.username,
        pinned=body.pinned,
        hidden=body.hidden,
        note=body.note,
    )
    audit.record(
        db,
        actor=me.actor,
        action="change",
        object_type="playbook",
        object_id=visit_id,
        detail=f"{topic} #{answer_idx}",
    )
    db.commit()
    return CurationOut(
        topic=topic,
        visit_id=visit_id,
        answer_idx=answer_idx,
        pinned=row.pinned,
        hidden=row.hidden,
        note=row.note,
        updated_by=row.updated_by,
    )


@router.post("/playbooks/suggest")
def suggest(body: SuggestIn, request: Request, db: Db, me: Me) -> SuggestOut:
    """The best answers to stored objections like this customer sentence (Chinese or English)."""
    text = body.text.strip()
    if not text:
        raise InvalidInput("The text is empty; paste what the customer said.", code="empty_text")
    said = shared_classifier(request).analyze([text], roles=[SpeakerRole.CUSTOMER])[0]
    labels = [x.id for x in (*said.labels, *said.risk) if is_objection(x.id)]
    with index_reachable():
        groups = playbooks.suggest(
            db,
            engines(request).vectors,
            vector=embed_query(request, text),
            labels=labels,
            scope=me.scope,
            limit=body.limit,
        )
    return SuggestOut(
        text=text,
        topics=labels,
        groups=[group_out(g, me) for g in groups],
        message=None if groups else NO_ANSWERS,
    )
