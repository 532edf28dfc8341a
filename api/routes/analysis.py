"""Analysis: free text, a visit's analysis, and people's corrections of labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api.access import Me
from api.deps import Config, Db, Index
from api.schemas import Body, ErrorOut
from knowledge import analysis, analysis_document, audit, visits
from knowledge.access import Scope
from knowledge.analysis_document import ActionDoc, AnalysisDocument
from knowledge.errors import InvalidInput, NotReady
from knowledge.models import Step, VisitStatus
from nlp.classify import Classifier, load_current_classifier
from nlp.labels import LabelInfo, UnknownLabelError, load_labels
from nlp.redact import redact
from nlp.vocabulary import Sentiment
from workers import dispatch

router = APIRouter(tags=["analysis"])
MAX_TEXTS = 1000
MAX_CHARS = 100_000


class AnalyzeTextIn(Body):
    texts: list[str]
    language: Literal["zh", "en", "auto"] = "auto"


class CorrectionBody(Body):
    labels: list[str] = Field(description="the complete, corrected need/pain label set")
    sentiment: Sentiment | None = None
    risk: list[str] = []
    author: str | None = None


class ScoreOut(BaseModel):
    id: str = Field(description="a label id: need.*, pain.* or risk.*")
    confidence: float


class TextResultOut(BaseModel):
    labels: list[ScoreOut]
    sentiment: Sentiment
    sentiment_score: float
    risk: list[ScoreOut]
    language: str | None
    unsupported: ErrorOut | None = Field(
        default=None, description="only when the text is in a language not analysed"
    )


class TextResultsOut(BaseModel):
    results: list[TextResultOut] = Field(description="one per text, in order")


class LabelsOut(BaseModel):
    labels: list[LabelInfo] = Field(description="need.<topic> and pain.<topic>")
    risk: list[LabelInfo]
    sentiments: list[str]
    topics: list[str]


class LabelQuoteOut(BaseModel):
    idx: int
    start: float
    text: str


class UtteranceOut(BaseModel):
    idx: int
    start: float = Field(description="seconds from the start of the recording")
    end: float
    role: str | None
    text: str = Field(description="masked for masked roles")
    labels: list[ScoreOut]
    sentiment: str
    sentiment_score: float
    risk: list[ScoreOut]
    corrected: bool = Field(description="a person corrected its labels")
    second_opinion: dict[str, Any] | None = Field(
        default=None, description="the LLM's labels, when it gave a second opinion"
    )
    disagrees: bool | None = Field(default=None, description="with the second opinion")


class AnalysisOut(BaseModel):
    """A visit's stored analysis; documents stored by older versions may lack some parts, and
    parts added later are passed on as they are."""

    model_config = ConfigDict(extra="allow")

    visit_id: str
    summary: str | None = None
    summary_source: str | None = Field(default=None, description="builtin or llm")
    label_counts: dict[str, int] | None = Field(default=None, description="per label id")
    sentiment_score: float | None = None
    sentiment_counts: dict[str, int] | None = None
    curve: list[dict[str, Any]] | None = Field(default=None, description="the mood over time")
    alerts: list[dict[str, Any]] | None = None
    actions: list[dict[str, Any]] | None = Field(default=None, description="action items")
    llm: dict[str, Any] | None = Field(default=None, description="what the LLM endpoint did")
    second_opinion: dict[str, Any] | None = None
    alerts_sent: bool
    quotes: dict[str, list[LabelQuoteOut]] = Field(description="per label id, where it was said")
    utterances: list[UtteranceOut]


class CorrectionOut(BaseModel):
    correction_id: int
    visit_id: str
    idx: int
    labels: list[str]
    sentiment: str
    risk: list[str]
    corrected: bool


class StoredCorrectionOut(BaseModel):
    id: int
    visit_id: str | None
    idx: int | None
    text: str
    labels: list[str]
    sentiment: str | None
    risk: list[str]
    author: str | None
    created_at: datetime


class CorrectionsOut(BaseModel):
    items: list[StoredCorrectionOut]


def shared_classifier(request: Request) -> Classifier:
    """The API process's classifier, kept up to date with retrained weights and corrections."""
    settings = request.app.state.settings
    model = load_current_classifier(settings.prompts_dir, settings.models_dir)
    with request.app.state.sessionmaker() as db:
        analysis.teach_corrections(db, model)
    return model


def result_out(res: Any) -> TextResultOut:
    out = TextResultOut(
        labels=[ScoreOut(id=x.id, confidence=round(x.confidence, 3)) for x in res.labels],
        sentiment=res.sentiment,
        sentiment_score=round(res.sentiment_score, 3),
        risk=[ScoreOut(id=x.id, confidence=round(x.confidence, 3)) for x in res.risk],
        language=res.language,
    )
    if res.unsupported:
        out.unsupported = ErrorOut(
            code="unsupported_language",
            message=f"Only Chinese and English are analysed ({res.language}).",
        )
    return out


@router.post("/analyze/text", response_model=TextResultsOut, response_model_exclude_unset=True)
def analyze_text(body: AnalyzeTextIn, request: Request) -> TextResultsOut:
    if len(body.texts) > MAX_TEXTS:
        raise InvalidInput(
            f"Send at most {MAX_TEXTS} texts per request ({len(body.texts)} sent).",
            code="too_many_texts",
        )
    if any(len(t) > MAX_CHARS for t in body.texts):
        raise InvalidInput(
            f"A text is longer than {MAX_CHARS} characters; split it.", code="text_too_long"
        )
    model = shared_classifier(request)
    language = None if body.language == "auto" else body.language
    return TextResultsOut(
        results=[result_out(r) for r in model.analyze(body.texts, language=language)]
    )


@router.get("/labels")
def list_labels(settings: Config) -> LabelsOut:
    labels = load_labels(settings.prompts_dir)
    return LabelsOut(
        labels=list(labels.need_pain),
        risk=list(labels.risks),
        sentiments=list(labels.sentiments),
        topics=list(labels.topics),
    )


def _ready_document(db: Db, visit_id: str, scope: Scope) -> AnalysisDocument:
    visit = visits.get(db, visit_id=visit_id, scope=scope)
    document = analysis_document.get(db, visit_id=visit_id)
    if document is None:
        if visit.status == VisitStatus.FAILED:
            raise NotReady(
                f"This visit failed ({visit.error_code}): {visit.error_message}",
                code="visit_failed",
            )
        raise NotReady(f"The analysis is not ready yet; the visit is {visit.status}.")
    return document


@router.get(
    "/visits/{visit_id}/analysis", response_model=AnalysisOut, response_model_exclude_unset=True
)
def read_analysis(visit_id: str, db: Db, me: Me) -> dict[str, Any]:
    """The visit's analysis; only the parts its stored document has."""
    document = _ready_document(db, visit_id, me.scope)
    audit.record(db, actor=me.actor, action="view", object_type="analysis", object_id=visit_id)
    db.commit()
    names = visits.get(db, visit_id=visit_id).contacts or []

    utterances: list[dict[str, Any]] = [
        {
            "idx": u.idx,
            "start": u.start,
            "end": u.end,
            "role": u.role,
            "text": me.shown(u.text, names),
            "labels": u.labels,
            "sentiment": u.sentiment,
            "sentiment_score": u.sentiment_score,
            "risk": u.risk,
            "corrected": u.corrected,
        }
        for u in analysis.utterances_of(db, visit_id=visit_id)
    ]
    quotes: dict[str, list[dict[str, Any]]] = {}
    for u in utterances:
        for label in u["labels"]:
            quotes.setdefault(label["id"], []).append(
                {"idx": u["idx"], "start": u["start"], "text": u["text"]}
            )
    if me.scope.redacted:
        document = _masked(document, names)
    parts = _with_second_opinion(document, utterances)
    return {
        "visit_id": visit_id,
        **{k: v for k, v in parts.items() if k != "alerted"},
        "alerts_sent": document.get("alerted", False),
        "quotes": quotes,
        "utterances": utterances,
    }


def _masked(document: AnalysisDocument, names: list[str]) -> AnalysisDocument:
    """The analysis with personal data masked in its summary, alerts and action items."""

    def shown(value: object) -> str:
        return redact(str(value), names=names)

    out: AnalysisDocument = {**document, "summary": shown(document.get("summary", ""))}
    out["alerts"] = [
        {**a, "quote": shown(a["quote"])} if a.get("quote") else {**a}
        for a in document.get("alerts") or []
    ]
    out["actions"] = []
    for a in document.get("actions") or []:
        action: ActionDoc = {**a}
        if a.get("text"):
            action["text"] = shown(a["text"])
        if a.get("quote"):
            action["quote"] = shown(a["quote"])
        out["actions"].append(action)
    return out


def _with_second_opinion(
    document: AnalysisDocument, utterances: list[dict[str, Any]]
) -> dict[str, Any]:
    """Put the LLM's labels beside each utterance's own ("second_opinion", "disagrees"); the
    visit-level part (mode, counts, disagreements, merged) stays in document["second_opinion"]."""
    second = document.get("second_opinion")
    if not isinstance(second, dict):
        return {**document}
    opinions = {o["idx"]: o for o in second.get("utterances", [])}
    disagreeing = {d["idx"] for d in second.get("disagreements", [])}
    for u in utterances:
        opinion = opinions.get(u["idx"])
        if opinion is not None:
            u["second_opinion"] = {k: v for k, v in opinion.items() if k != "idx"}
            u["disagrees"] = u["idx"] in disagreeing
    visit_level = {k: v for k, v in second.items() if k != "utterances"}
    return {**document, "second_opinion": visit_level}


@router.put("/visits/{visit_id}/utterances/{idx}/labels")
def correct_labels(
    visit_id: str,
    idx: Index,
    body: CorrectionBody,
    db: Db,
    settings: Config,
    request: Request,
    me: Me,
) -> CorrectionOut:
    _ready_document(db, visit_id, me.scope)
    label_set = load_labels(settings.prompts_dir)
    try:
        labels = label_set.validate(body.labels, allow_risk=False)
        risk = label_set.validate(body.risk)
    except UnknownLabelError as e:
        raise InvalidInput(str(e), code="invalid_label") from e
    if not set(risk) <= set(label_set.risk_ids):
        raise InvalidInput(
            f"risk takes only {', '.join(label_set.risk_ids)}.", code="invalid_label"
        )
    utterance = analysis.get_utterance(db, visit_id=visit_id, idx=idx)
    correction = analysis.add_correction(
        db,
        utterance=utterance,
        correction=analysis.CorrectionIn(
            labels=labels,
            sentiment=body.sentiment,
            risk=tuple(risk),
            author=body.author or me.display_name,
        ),
    )
    audit.record(
        db,
        actor=me.actor,
        action="change",
        object_type="labels",
        object_id=visit_id,
        detail=f"utterance {idx}",
    )
    dispatch.rerun_from(db, request.app.state.celery, visit_id=visit_id, step=Step.ANALYSE)
    return CorrectionOut(
        correction_id=correction.id,
        visit_id=visit_id,
        idx=idx,
        labels=labels,
        sentiment=utterance.sentiment,
        risk=risk,
        corrected=True,
    )


@router.get("/corrections")
def list_corrections(db: Db, me: Me, visit_id: str | None = None) -> CorrectionsOut:
    rows = analysis.corrections(db, visit_id=visit_id, scope=me.scope)
    return CorrectionsOut(
        items=[StoredCorrectionOut.model_validate(c, from_attributes=True) for c in rows]
    )
