"""The analysis document a visit keeps (its "analysis" result, stored as JSON): written by the
analysis step, read by the API, the index step and the ledger.

Every key is optional to a reader: documents stored by older versions lack some parts, and they
load as they are (nothing is converted); parts added later pass through.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict, cast

from sqlalchemy.orm import Session

from knowledge import visits

KIND = "analysis"


class CurvePointDoc(TypedDict):
    t: float  # seconds from the start: the middle of the window
    score: float  # mean customer sentiment in [-1, 1] over the window
    n: int  # utterances in the window


class AlertDoc(TypedDict):
    label: str  # a nlp.vocabulary.Risk
    confidence: float
    idx: int  # utterance index in the transcript
    start: float
    quote: str


class ActionDoc(TypedDict):
    owner: str  # rep | customer
    text: str
    due: str | None  # ISO date
    start: float | None  # seconds into the recording
    quote: str


class ScoreDoc(TypedDict):
    id: str
    confidence: float


class OpinionDoc(TypedDict):
    """The language model's labels of one utterance."""

    idx: int
    labels: list[ScoreDoc]
    risk: list[ScoreDoc]
    sentiment: str | None


class DisagreementDoc(TypedDict):
    idx: int
    start: float
    only_model: list[str]
    only_llm: list[str]


class MergedDoc(TypedDict):
    idx: int
    labels: list[str]  # the label and risk ids merged in


class SecondOpinionDoc(TypedDict):
    mode: str  # off | show | merge (Settings.llm_labels)
    asked: int
    answered: int
    utterances: list[OpinionDoc]
    disagreements: list[DisagreementDoc]
    merged: list[MergedDoc]


class LLMStatusDoc(TypedDict, total=False):
    model: str | None
    labels: str  # off, ok, partial, or why none came
    summary: str  # ok, skipped, or why none came


class AnalysisDocument(TypedDict, total=False):
    summary: str
    summary_builtin: str  # the built-in summary, when the language model wrote "summary"
    summary_source: Literal["builtin", "llm"]
    label_counts: dict[str, int]  # per label id, over the customer's utterances
    sentiment_score: float  # in [-1, 1]
    sentiment_counts: dict[str, int]  # per sentiment
    curve: list[CurvePointDoc]
    alerts: list[AlertDoc]
    actions: list[ActionDoc]
    llm: LLMStatusDoc
    second_opinion: SecondOpinionDoc
    alerted: bool  # the risk alert webhook was called for this visit


def get(db: Session, *, visit_id: str) -> AnalysisDocument | None:
    """The visit's stored analysis as it was stored; None before the analysis step wrote it."""
    data = visits.get_result(db, visit_id=visit_id, kind=KIND)
    return None if data is None else cast(AnalysisDocument, data)


def put(db: Session, *, visit_id: str, document: AnalysisDocument) -> None:
    visits.put_result(db, visit_id=visit_id, kind=KIND, data=cast(dict[str, Any], document))
