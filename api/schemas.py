"""Response shapes of the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from knowledge.errors import InvalidInput
from knowledge.models import PipelineStep, Visit
from nlp.transcript_formats import UNSTORABLE
from nlp.types import Segment
from workers import dispatch


def check_text(value: object, where: str = "request") -> None:
    """InvalidInput when a string anywhere in value holds a character no database can store."""
    if isinstance(value, str):
        if UNSTORABLE.search(value):
            raise InvalidInput(
                f"The {where} holds a NUL or an unpaired surrogate character; send plain text.",
                code="invalid_characters",
            )
    elif isinstance(value, dict):
        for item in value.values():
            check_text(item, where)
    elif isinstance(value, list | tuple):
        for item in value:
            check_text(item, where)


class Body(BaseModel):
    """A request body: its strings are checked for characters no database can store."""

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        check_text(data)
        return data


class ErrorOut(BaseModel):
    code: str
    message: str


class StepOut(BaseModel):
    step: str
    status: str
    attempts: int
    seconds: float | None
    error: ErrorOut | None

    @classmethod
    def from_row(cls, row: PipelineStep) -> StepOut:
        seconds = None
        if row.started_at and row.finished_at and row.status == "done":
            seconds = round((row.finished_at - row.started_at).total_seconds(), 3)
        error = (
            ErrorOut(code=row.error_code, message=row.error_message or "")
            if row.error_code
            else None
        )
        return cls(
            step=row.step, status=row.status, attempts=row.attempts, seconds=seconds, error=error
        )


class VisitOut(BaseModel):
    id: str
    title: str
    status: str
    progress: float
    rep: str | None
    customer: str | None
    contacts: list[str]  # the customer's people, masked where personal data is
    industry: str | None
    segment: str | None
    visit_date: date | None
    outcome: str | None
    language: str | None
    language_hint: str
    duration_s: float | None
    source: str
    filename: str
    size_bytes: int
    created_at: datetime
    updated_at: datetime
    error: ErrorOut | None
    warnings: list[str]
    risks: list[str]  # risk signals some utterance carries (risk.churn, risk.doubt)
    score: float | None = Field(
        default=None, description="the coaching scorecard's total, 0..100; null before coaching"
    )
    steps: list[StepOut]
    timings: dict[str, float]
    links: dict[str, str]

    @classmethod
    def from_row(
        cls,
        visit: Visit,
        steps: list[PipelineStep],
        risks: list[str],
        *,
        audio: str,
        score: float | None = None,
    ) -> VisitOut:
        order = {step.value: i for i, step in enumerate(dispatch.ORDER)}
        step_out = [StepOut.from_row(s) for s in sorted(steps, key=lambda s: order.get(s.step, 9))]
        base = f"/api/visits/{visit.id}"
        return cls(
            id=visit.id,
            title=visit.title,
            status=visit.status,
            progress=visit.progress,
            rep=visit.rep,
            customer=visit.customer,
            contacts=list(visit.contacts or []),
            industry=visit.industry,
            segment=visit.segment,
            visit_date=visit.visit_date,
            outcome=visit.outcome,
            language=visit.language,
            language_hint=visit.language_hint,
            duration_s=visit.duration_s,
            source=visit.source,
            filename=visit.filename,
            size_bytes=visit.size_bytes,
            created_at=visit.created_at,
            updated_at=visit.updated_at,
            error=ErrorOut(code=visit.error_code, message=visit.error_message or "")
            if visit.error_code
            else None,
            warnings=list(visit.warnings or []),
            risks=list(risks),
            score=score,
            steps=step_out,
            timings={s.step: s.seconds for s in step_out if s.seconds is not None},
            links={
                "self": base,
                "transcript": f"{base}/transcript",
                "audio": audio,
                "analysis": f"{base}/analysis",
                "coaching": f"{base}/coaching",
            },
        )


class VisitPage(BaseModel):
    items: list[VisitOut]
    total: int
    limit: int
    offset: int


class SegmentOut(BaseModel):
    start: float
    end: float
    speaker: str | None
    role: str | None
    text: str
    language: str | None

    @classmethod
    def from_segment(cls, s: Segment) -> SegmentOut:
        return cls(
            start=s.start,
            end=s.end,
            speaker=s.speaker,
            role=s.role,
            text=s.text,
            language=s.language,
        )


class TranscriptOut(BaseModel):
    visit_id: str
    language: str | None
    duration: float | None
    segments: list[SegmentOut]
