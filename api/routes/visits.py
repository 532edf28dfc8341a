"""Visits: status, listing, metadata edits, retry, delete, transcript and audio (uploads are in
api/routes/uploads.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from api.access import Me
from api.audio_response import audio_response
from api.csv_export import also_as
from api.deps import Db, Offset
from api.links import Signer, audio_link
from api.schemas import Body, SegmentOut, TranscriptOut, VisitOut, VisitPage
from api.visit_fields import OUTCOMES, SEGMENTS, choice, names, optional, parse_date
from knowledge import audit, steps, visits
from knowledge.engine_search import FORGET_TASK, forget_visit
from knowledge.errors import InvalidInput, NotFound, NotReady
from knowledge.models import Step, StepStatus, Visit, VisitStatus
from knowledge.vector_index import IndexUnavailable, shared
from nlp import transcript_formats
from nlp.redact import redact
from nlp.vocabulary import Outcome, Risk, Segment
from workers import dispatch, retention

router = APIRouter(tags=["visits"])
log = structlog.get_logger()

VisitId = Annotated[str, "visit id"]


class DeletedOut(BaseModel):
    deleted: int = Field(description="visits removed")


def visits_out(db: Db, rows: list[Visit], signer: Signer) -> list[VisitOut]:
    """The visits as the API shows them, their steps and risks loaded in one query each."""
    ids = [v.id for v in rows]
    steps_of, risks_of = visits.steps_of(db, visit_ids=ids), visits.risks_of(db, visit_ids=ids)
    scores = visits.scores_of(db, visit_ids=ids)
    return [
        VisitOut.from_row(
            v,
            steps_of[v.id],
            risks_of[v.id],
            audio=audio_link(signer, v.id),
            score=scores.get(v.id),
        )
        for v in rows
    ]


def visit_out(db: Db, visit: Visit, signer: Signer) -> VisitOut:
    return visits_out(db, [visit], signer)[0]


@router.get("/visits", response_model=VisitPage)
def list_visits(
    db: Db,
    me: Me,
    status: VisitStatus | None = None,
    rep: str | None = None,
    customer: str | None = None,
    industry: str | None = None,
    segment: Segment | None = None,
    language: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    outcome: Outcome | None = None,
    risk: Risk | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    sort: visits.VisitSort = "newest",
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Offset = 0,
) -> VisitPage:
    """The caller's visits, newest first, or by coaching scorecard (`score_high`, `score_low`;
    visits not yet scored last)."""
    rows, total = visits.listing(
        db,
        filters=visits.VisitFilters(
            status=status,
            rep=rep,
            customer=customer,
            industry=industry,
            segment=segment,
            language=language,
            date_from=date_from,
            date_to=date_to,
            outcome=outcome,
            risk=risk,
            q=q,
        ),
        scope=me.scope,
        limit=limit,
        offset=offset,
        sort=sort,
    )
    return VisitPage(items=visits_out(db, rows, me.signer), total=total, limit=limit, offset=offset)


@router.get("/visits/{visit_id}", response_model=VisitOut)
def read_visit(visit_id: VisitId, db: Db, me: Me) -> VisitOut:
    return visit_out(db, visits.get(db, visit_id=visit_id, scope=me.scope), me.signer)


class VisitPatch(Body):
    """New values for some of a visit's metadata; null or "" clears a field (not the title)."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, max_length=300)
    rep: str | None = Field(default=None, max_length=200)
    customer: str | None = Field(default=None, max_length=200)
    contacts: list[Annotated[str, Field(max_length=200)]] | None = Field(
        default=None, max_length=50
    )
    industry: str | None = Field(default=None, max_length=200)
    segment: str | None = Field(default=None, description=", ".join(SEGMENTS))
    visit_date: str | None = Field(default=None, description="like 2026-03-10")
    outcome: str | None = Field(default=None, description=", ".join(OUTCOMES))


def _changes(body: VisitPatch) -> dict[str, str | date | list[str] | None]:
    """The fields the body names, validated as at upload."""
    given = body.model_fields_set
    changes: dict[str, str | date | list[str] | None] = {
        name: optional(getattr(body, name))
        for name in ("rep", "customer", "industry")
        if name in given
    }
    if "title" in given:
        changes["title"] = optional(body.title)
        if changes["title"] is None:
            raise InvalidInput("title cannot be empty.", code="invalid_field")
    if "contacts" in given:
        changes["contacts"] = names(",".join(body.contacts or []))
    if "segment" in given:
        changes["segment"] = choice("segment", body.segment, SEGMENTS)
    if "visit_date" in given:
        changes["visit_date"] = parse_date(body.visit_date)
    if "outcome" in given:
        changes["outcome"] = choice("outcome", body.outcome, OUTCOMES)
    return changes


@router.patch("/visits/{visit_id}", response_model=VisitOut)
def edit_visit(visit_id: VisitId, body: VisitPatch, db: Db, request: Request, me: Me) -> VisitOut:
    """Change metadata; a visit already indexed is indexed again so search sees the change."""
    changes = _changes(body)
    visit = visits.get(db, visit_id=visit_id, scope=me.scope)
    changed = visits.update_metadata(db, visit_id=visit_id, changes=changes)
    audit.record(
        db,
        actor=me.actor,
        action="change",
        object_type="visit",
        object_id=visit_id,
        detail=", ".join(changed),
    )
    reindex = bool(changed) and visit.status == VisitStatus.DONE
    if reindex:
        steps.reset(db, visit_id=visit_id, steps=[Step.INDEX])
        # not done until indexed again; the reaper re-sends the step if this enqueue is lost
        visit.status = VisitStatus.INDEXING
    db.commit()
    log.info("visit.edited", visit_id=visit_id, fields=changed, reindex=reindex)
    if reindex:
        try:
            dispatch.enqueue(request.app.state.celery, visit_id=visit_id, step=Step.INDEX)
        except Exception:  # the reaper enqueues it later; the edit itself is saved
            log.warning("edit.enqueue_failed", visit_id=visit_id, exc_info=True)
    return visit_out(db, visit, me.signer)


@router.post("/visits/{visit_id}/retry", status_code=202, response_model=VisitOut)
def retry_visit(visit_id: VisitId, db: Db, request: Request, me: Me) -> VisitOut:
    visit = visits.get(db, visit_id=visit_id, scope=me.scope)
    if visit.status != VisitStatus.FAILED:
        raise NotReady(f"Only a failed visit can be retried; this one is {visit.status}.")
    rows = {r.step: r.status for r in visits.steps_of(db, visit_ids=[visit_id])[visit_id]}
    again = [
        s for s in dispatch.ORDER if rows.get(s) in (StepStatus.FAILED, StepStatus.PENDING, None)
    ]
    steps.reset(db, visit_id=visit_id, steps=again)
    visit.status, visit.error_code, visit.error_message = VisitStatus.QUEUED, None, None
    db.commit()
    dispatch.enqueue(request.app.state.celery, visit_id=visit_id, step=again[0])
    return visit_out(db, visit, me.signer)


@router.delete("/visits/{visit_id}", status_code=204)
def delete_visit(visit_id: VisitId, db: Db, request: Request, me: Me) -> Response:
    """Remove the visit everywhere: rows, clips, ledger entries, vectors, the recording."""
    visits.get(db, visit_id=visit_id, scope=me.scope)
    db.rollback()  # each deletion runs in a transaction of its own
    retention.delete_visits(
        request.app.state.sessionmaker,
        [visit_id],
        actor=me.actor,
        reason="deleted on request",
        forget=_forget(request),
    )
    return Response(status_code=204)


@router.delete("/customers/{customer}/visits")
def delete_customer_visits(
    customer: Annotated[str, PathParam(min_length=1, max_length=200)],
    db: Db,
    request: Request,
    me: Me,
) -> DeletedOut:
    """Erase every visit of one customer (a deletion request under PIPL/GDPR)."""
    found = visits.of_customer(db, customer=customer, scope=me.scope)
    if not found:
        raise NotFound(f"No visit of the customer '{customer}'.", code="customer_not_found")
    db.rollback()
    deleted = retention.delete_visits(
        request.app.state.sessionmaker,
        found,
        actor=me.actor,
        reason=f"every visit of customer {customer}",
        forget=_forget(request),
    )
    return DeletedOut(deleted=deleted)


@router.get(
    "/visits/{visit_id}/transcript",
    response_model=TranscriptOut,
    responses=also_as("text/plain", "application/x-subrip", "text/vtt"),
)
def read_transcript(
    visit_id: VisitId,
    db: Db,
    me: Me,
    format: Literal["json", "txt", "srt", "vtt"] = "json",  # noqa: A002 (the public query name)
    masked: Annotated[
        bool | None,
        Query(description="personal data masked; exports are unless false (where allowed)"),
    ] = None,
) -> Response:
    visit = visits.get(db, visit_id=visit_id, scope=me.scope)
    segments = visits.segments_of(db, visit_id=visit_id)
    if me.scope.redacted or (masked if masked is not None else format != "json"):
        names = visit.contacts or []
        segments = [replace(s, text=redact(s.text, names=names), words=[]) for s in segments]
    audit.record(
        db,
        actor=me.actor,
        action="view" if format == "json" else "export",
        object_type="transcript",
        object_id=visit_id,
        detail=format,
    )
    db.commit()
    if not segments:
        if visit.status == VisitStatus.FAILED:
            raise NotReady(
                f"This visit failed ({visit.error_code}): {visit.error_message}",
                code="visit_failed",
            )
        raise NotReady(f"The transcript is not ready yet; the visit is {visit.status}.")
    if format == "json":
        out = TranscriptOut(
            visit_id=visit_id,
            language=visit.language,
            duration=visit.duration_s,
            segments=[SegmentOut.from_segment(s) for s in segments],
        )
        return JSONResponse(out.model_dump(mode="json"))
    render = {
        "txt": transcript_formats.to_txt,
        "srt": transcript_formats.to_srt,
        "vtt": transcript_formats.to_vtt,
    }[format]
    media = {"txt": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}[format]
    return PlainTextResponse(
        render(segments),
        media_type=f"{media}; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{visit_id}.{format}"'},
    )


@router.get("/visits/{visit_id}/audio", responses=also_as("audio/*"))
def read_audio(visit_id: VisitId, db: Db, me: Me, request: Request) -> Response:
    visit = visits.get_recording(db, visit_id=visit_id, scope=me.scope)
    if request.headers.get("range", "bytes=0-").startswith("bytes=0-"):  # a play, not a seek
        audit.record(db, actor=me.actor, action="play", object_type="visit", object_id=visit_id)
        db.commit()
    if not visit.audio_path or not Path(visit.audio_path).exists():
        raise NotReady(
            "This visit has no recording (it was imported as a transcript).", code="no_audio"
        )
    return audio_response(
        Path(visit.audio_path),
        request.app.state.settings.audio_keyring,
        range_header=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        filename=visit.filename,
        media_type=visit.content_type or "application/octet-stream",
    )


def _forget(request: Request) -> Callable[[str], None]:
    """Takes a deleted visit out of both search engines; when Chroma cannot be reached, a
    worker does it as soon as it can (search already leaves the visit out)."""
    sessions, url = request.app.state.sessionmaker, request.app.state.settings.chroma_url
    celery = request.app.state.celery

    def forget(visit_id: str) -> None:
        try:
            forget_visit(sessions, shared(url), visit_id)
        except IndexUnavailable:
            shared.cache_clear()
            celery.send_task(FORGET_TASK, args=[visit_id])
            raise

    return forget
