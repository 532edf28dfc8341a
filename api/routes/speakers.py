"""Speakers and roles: rep voice enrolment, a visit's speakers, and corrections of them."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, File, Path, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.access import Caller, Me
from api.deps import Config, Db, Index
from api.links import audio_link
from api.routes.library import ClipOut, clip_out
from api.schemas import Body
from knowledge import audio_store, audit, library, reps, visits
from knowledge.errors import Forbidden, InvalidInput, NotReady, UnsupportedMedia
from knowledge.models import Role as UserRole
from knowledge.models import Step
from knowledge.settings import Settings
from nlp.audio import AudioError, probe
from nlp.coaching_tips import coaching_tips, load_tips, read_item_scores
from nlp.scorecard import Direction, load_scorecard
from nlp.vocabulary import Role
from workers import dispatch, voice

router = APIRouter(tags=["speakers"])
MAX_SAMPLE_S = 300


class RolesIn(Body):
    roles: dict[str, Role]


class SegmentFix(Body):
    speaker: str | None = None
    role: Role | None = None


class RepOut(BaseModel):
    name: str
    enrolled: bool = Field(description="a voice print is stored")
    sample_s: float | None = Field(description="seconds of the recording it was made from")


class RepsOut(BaseModel):
    items: list[RepOut]


class EvidenceOut(BaseModel):
    """What the role inference saw for one speaker; later parts are passed on as they are."""

    model_config = ConfigDict(extra="allow")

    speech_s: float | None = None
    questions: int | None = None
    rep_cues: int | None = None
    customer_cues: int | None = None
    opens: bool | None = Field(default=None, description="spoke first")


class SpeakersOut(BaseModel):
    """A visit's stored speakers document; documents stored by older versions, or made by a
    correction before diarization, may lack some parts, and parts added later are passed on as
    they are."""

    model_config = ConfigDict(extra="allow")

    visit_id: str
    num_speakers: int | None = None
    roles: dict[str, str] | None = Field(
        default=None, description="per speaker label (S1, S2...): rep, customer or other"
    )
    confidence: float | None = Field(default=None, description="0..1; 1 once corrected")
    method: str | None = Field(default=None, description="voiceprint, inferred or corrected")
    talk_s: dict[str, float] | None = Field(default=None, description="seconds per speaker")
    evidence: dict[str, EvidenceOut] | None = Field(default=None, description="per speaker")


class SpanOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    start: float = Field(description="seconds from the start of the recording")
    end: float
    note: str = Field(default="", description="what the stretch shows")


class QuestionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    start: float
    end: float
    text: str
    spin: str = Field(description="situation, problem, implication or need_payoff")
    open: bool


class StageOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(description="opening, discovery, answering or closing")
    start: float
    end: float


class ItemScoreOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    label: str
    metric: str
    value: float | None = Field(description="None when the visit cannot show it")
    passed: bool | None
    score: float = Field(description="0..1")
    weight: float
    evidence: list[SpanOut]
    moment: SpanOut | None = Field(
        default=None, description="a failed item: the rep's own stretch that shows the miss"
    )


class ScorecardOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    total: float = Field(description="0..100")
    items: list[ItemScoreOut]


class TipMomentOut(BaseModel):
    start: float
    end: float
    note: dict[str, str] = Field(description="per language (zh, en): what the moment shows")
    link: str = Field(description="signed audio link that plays from start")


class TipOut(BaseModel):
    item: str = Field(description="scorecard item id")
    label: str
    metric: str
    direction: Direction = Field(description="low: under the item's min, high: over its max")
    value: float
    target: float
    points_lost: float
    text: dict[str, str] = Field(description="per language (zh, en)")
    moment: TipMomentOut | None = Field(description="the rep's own stretch of this visit")
    example: ClipOut | None = Field(description="a library clip of another visit for the item")


class CoachingOut(BaseModel):
    """A visit's stored coaching report with tips; documents stored by older versions may lack
    some parts, and parts added later are passed on as they are."""

    model_config = ConfigDict(extra="allow")

    visit_id: str
    duration_s: float | None = None
    rep_speech_s: float | None = None
    customer_speech_s: float | None = None
    other_speech_s: float | None = None
    talk_ratio: float | None = None
    longest_rep_monologue_s: float | None = None
    longest_customer_story_s: float | None = None
    interactivity_per_min: float | None = None
    patience_s: float | None = None
    question_rate_per_10min: float | None = None
    questions: list[QuestionOut] | None = None
    stages: list[StageOut] | None = None
    scorecard: ScorecardOut | None = None
    metrics: dict[str, float | None] | None = Field(default=None, description="per metric")
    warnings: list[str] | None = None
    tips: list[TipOut] = Field(description="at most three, the costliest first")


class SegmentOut(BaseModel):
    idx: int
    start: float = Field(description="seconds from the start of the recording")
    end: float
    speaker: str | None
    role: str | None
    text: str


@router.post("/reps/{name}/voice", status_code=201)
def enrol_voice(
    name: Annotated[str, Path(min_length=1, max_length=200)],
    file: Annotated[UploadFile, File()],
    db: Db,
    settings: Config,
    me: Me,
    request: Request,
) -> RepOut:
    """Store a rep's voice print from a short recording of the rep alone (10-60 s is plenty);
    a worker makes the print while the request waits."""
    if me.role == UserRole.REP and name != me.display_name:
        raise Forbidden(f"A rep enrols their own voice only (as {me.display_name}).")
    staged = audio_store.stage(
        settings.audio_dir, iter(lambda: file.file.read(1 << 20), b""), max_bytes=50 * 1024 * 1024
    )
    try:
        try:
            info = probe(staged.path, max_duration_s=MAX_SAMPLE_S)
        except AudioError as e:
            cls = UnsupportedMedia if e.code == "not_audio" else InvalidInput
            raise cls(e.message, code=e.code) from e
        vector = voice.voiceprint_of(
            request.app.state.celery, staged.path.name, timeout_s=settings.sync_timeout_s
        )
    finally:
        audio_store.discard(staged)
    rep = reps.enrol(db, name=name, voiceprint=vector, sample_s=info.duration_s)
    db.commit()
    return RepOut(name=rep.name, enrolled=True, sample_s=rep.sample_s)


@router.get("/reps")
def list_reps(db: Db) -> RepsOut:
    return RepsOut(
        items=[
            RepOut(name=r.name, enrolled=r.voiceprint is not None, sample_s=r.sample_s)
            for r in reps.listing(db)
        ]
    )


@router.delete("/reps/{name}/voice", status_code=204)
def forget_voice(name: str, db: Db, me: Me) -> Response:
    reps.forget(db, name=name)
    audit.record(db, actor=me.actor, action="delete", object_type="voiceprint", object_id=name)
    db.commit()
    return Response(status_code=204)


def _rerun_downstream(db: Db, request: Request, visit_id: str) -> None:
    """A correction upstream re-runs analysis and indexing with it."""
    dispatch.rerun_from(db, request.app.state.celery, visit_id=visit_id, step=Step.ANALYSE)


def _segments_or_409(db: Db, visit_id: str, me: Caller) -> list[Any]:
    visit = visits.get(db, visit_id=visit_id, scope=me.scope)
    segments = visits.segments_of(db, visit_id=visit_id)
    if not segments:
        raise NotReady(f"The transcript is not ready yet; the visit is {visit.status}.")
    return segments


@router.get("/visits/{visit_id}/speakers", response_model_exclude_unset=True)
def read_speakers(visit_id: str, db: Db, me: Me) -> SpeakersOut:
    _segments_or_409(db, visit_id, me)
    document = visits.get_result(db, visit_id=visit_id, kind="speakers")
    if document is None:
        raise NotReady("Speakers are not known yet for this visit.")
    return SpeakersOut.model_validate({"visit_id": visit_id, **document})


@router.put("/visits/{visit_id}/speakers", response_model_exclude_unset=True)
def correct_roles(visit_id: str, body: RolesIn, db: Db, request: Request, me: Me) -> SpeakersOut:
    """Name the role of each speaker (e.g. {"S1": "customer", "S2": "rep"})."""
    segments = _segments_or_409(db, visit_id, me)
    known = {s.speaker for s in segments if s.speaker}
    unknown = sorted(set(body.roles) - known)
    if unknown:
        raise InvalidInput(
            f"Unknown speaker(s) {', '.join(unknown)}; this visit has "
            f"{', '.join(sorted(known)) or 'no speaker labels'}.",
            code="unknown_speaker",
        )
    fixed = [
        s if s.speaker not in body.roles else replace(s, role=body.roles[s.speaker])
        for s in segments
    ]
    visits.replace_segments(db, visit_id=visit_id, segments=fixed)
    document = visits.get_result(db, visit_id=visit_id, kind="speakers") or {}
    document = {
        **document,
        "roles": {**document.get("roles", {}), **body.roles},
        "method": "corrected",
        "confidence": 1.0,
    }
    visits.put_result(db, visit_id=visit_id, kind="speakers", data=document)
    audit.record(db, actor=me.actor, action="change", object_type="speakers", object_id=visit_id)
    _rerun_downstream(db, request, visit_id)
    return SpeakersOut.model_validate({"visit_id": visit_id, **document})


@router.patch("/visits/{visit_id}/segments/{idx}")
def correct_segment(
    visit_id: str,
    idx: Index,
    body: SegmentFix,
    db: Db,
    request: Request,
    me: Me,
) -> SegmentOut:
    """Correct who said one segment."""
    segments = _segments_or_409(db, visit_id, me)
    if idx >= len(segments):
        raise InvalidInput(
            f"Segment {idx} does not exist; this visit has {len(segments)}.",
            code="segment_not_found",
        )
    changes = body.model_dump(exclude_unset=True)
    segments[idx] = replace(segments[idx], **changes)
    visits.replace_segments(db, visit_id=visit_id, segments=segments)
    audit.record(
        db,
        actor=me.actor,
        action="change",
        object_type="segment",
        object_id=visit_id,
        detail=f"segment {idx}",
    )
    _rerun_downstream(db, request, visit_id)
    s = segments[idx]
    return SegmentOut(
        idx=idx, start=s.start, end=s.end, speaker=s.speaker, role=s.role, text=s.text
    )


@router.get("/visits/{visit_id}/coaching", response_model_exclude_unset=True)
def read_coaching(visit_id: str, db: Db, me: Me, settings: Config) -> CoachingOut:
    """How the rep ran the visit: talk shares, questions, stages, the scorecard (`scorecard`:
    `total` 0..100 and `items`, each with `evidence` stretches and, when it failed, the
    `moment` that shows it), and `tips`: at most three written tips from the failed items that
    cost the most points, first the costliest; none when every item passed. A tip has `item`,
    `label`, `metric`, `direction` (`low`: under the item's min, `high`: over its max),
    `value`, `target`, `points_lost`, `text` (`{"zh", "en"}`, from prompts/coaching_tips.yaml),
    `moment` (the rep's own stretch of this visit: `start`, `end`, `note` `{"zh", "en"}` and a
    `link` that plays it; null when there is none) and `example` (a library clip tagged with the
    item's id, from another visit: `id`, `visit_id`, `visit_title`, `start`, `end`, `note`,
    `tags`, `text`, `link`; null when the library has none)."""
    visit = visits.get(db, visit_id=visit_id, scope=me.scope)
    document = visits.get_result(db, visit_id=visit_id, kind="coaching")
    if document is None:
        raise NotReady(f"Coaching is not ready yet; the visit is {visit.status}.")
    tips = _tips(db, me, settings, visit_id, document)
    document = _shown_questions(document, me, visit.contacts or [])
    return CoachingOut.model_validate({"visit_id": visit_id, **document, "tips": tips})


def _shown_questions(document: dict[str, Any], me: Caller, names: list[str]) -> dict[str, Any]:
    """The report with the rep's questions as this caller may read them (masked for some)."""
    if not me.scope.redacted or not document.get("questions"):
        return document
    questions = [
        {**q, "text": me.shown(q["text"], names)} if isinstance(q.get("text"), str) else q
        for q in document["questions"]
    ]
    return {**document, "questions": questions}


def _tips(
    db: Db, me: Caller, settings: Settings, visit_id: str, document: dict[str, Any]
) -> list[TipOut]:
    tips = coaching_tips(
        read_item_scores(document),
        load_scorecard(settings.prompts_dir / "scorecard.yaml"),
        load_tips(settings.prompts_dir / "coaching_tips.yaml"),
    )
    found = library.examples(db, items=[t.item for t in tips], exclude_visit_id=visit_id)
    contacts = visits.contacts_of(db, visit_ids={v.clip.visit_id for v in found.values()})
    out = []
    for tip in tips:
        moment, example = tip.moment, found.get(tip.item)
        out.append(
            TipOut(
                item=tip.item,
                label=tip.label,
                metric=tip.metric,
                direction=tip.direction,
                value=tip.value,
                target=tip.target,
                points_lost=tip.points_lost,
                text=tip.text,
                moment=(
                    TipMomentOut(
                        start=moment.start,
                        end=moment.end,
                        note=tip.moment_note,
                        link=audio_link(me.signer, visit_id, moment.start),
                    )
                    if moment
                    else None
                ),
                example=(
                    clip_out(example, me, contacts[example.clip.visit_id]) if example else None
                ),
            )
        )
    return out
