"""Visits: upload (audio or an existing transcript), status, listing, metadata edits, transcript,
audio, delete."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import structlog
from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from api.access import Caller, Me, rate_limit
from api.audio_response import audio_response
from api.csv_export import also_as
from api.deps import Config, Db, Offset
from api.links import Signer, audio_link
from api.schemas import Body, SegmentOut, TranscriptOut, VisitOut, VisitPage, check_text
from knowledge import audio_store, audit, steps, visits
from knowledge.errors import Conflict, InvalidInput, NotFound, NotReady, UnsupportedMedia
from knowledge.models import Outcome, Role, Step, StepStatus, Visit, VisitStatus
from nlp import transcript_formats
from nlp.audio import AudioError, probe
from nlp.redact import redact
from workers import dispatch, retention

router = APIRouter(tags=["visits"])
log = structlog.get_logger()

SEGMENTS = ("strategic", "high_potential", "basic", "low_efficiency")
OUTCOMES = tuple(o.value for o in Outcome)
TRANSCRIPT_SUFFIXES = {".json": "json", ".srt": "srt", ".vtt": "vtt", ".txt": "txt"}
AUDIO_HINT = (
    "Upload audio (mp3, m4a, wav, ogg, opus, flac, webm or mp4) "
    "or a transcript (json, srt, vtt, txt)."
)
TRANSCRIPT_HINT = "A transcript made elsewhere can be imported as json, srt, vtt or txt."
VisitId = Annotated[str, "visit id"]


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    while chunk := upload.file.read(audio_store.CHUNK):
        yield chunk


def _names(value: str | None) -> list[str]:
    """People's names from a form field: comma, 、 or ; separated."""
    return [n.strip() for n in re.split(r"[,，;；、]", value or "") if n.strip()][:50]


def _optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _parse_date(value: str | None) -> date | None:
    value = _optional(value)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as e:
        raise InvalidInput(
            f"visit_date '{value}' is not a date like 2026-03-10.", code="invalid_field"
        ) from e


def _choice(name: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    value = _optional(value)
    if value is not None and value not in allowed:
        raise InvalidInput(
            f"{name} '{value}' is not one of: {', '.join(allowed)}.", code="invalid_field"
        )
    return value


def visits_out(db: Db, rows: list[Visit], signer: Signer) -> list[VisitOut]:
    """The visits as the API shows them, their steps and risks loaded in one query each."""
    ids = [v.id for v in rows]
    steps_of, risks_of = visits.steps_of(db, visit_ids=ids), visits.risks_of(db, visit_ids=ids)
    return [
        VisitOut.from_row(v, steps_of[v.id], risks_of[v.id], audio=audio_link(signer, v.id))
        for v in rows
    ]


def visit_out(db: Db, visit: Visit, signer: Signer) -> VisitOut:
    return visits_out(db, [visit], signer)[0]


def _visit_json(db: Db, visit: Visit, signer: Signer, status: int) -> JSONResponse:
    return JSONResponse(visit_out(db, visit, signer).model_dump(mode="json"), status)


def _existing(db: Db, visit: Visit, me: Caller) -> JSONResponse:
    """The answer to a second upload of the same file: the visit, when the caller may see it."""
    if not visits.visible(db, scope=me.scope, visit_ids=[visit.id]):
        raise Conflict(
            "This recording was already uploaded by someone else; ask them or a manager to "
            "share the visit.",
            code="duplicate_upload",
        )
    log.info("upload.duplicate", visit_id=visit.id)
    return _visit_json(db, visit, me.signer, 200)


@router.post(
    "/visits", status_code=202, response_model=VisitOut, dependencies=[rate_limit("upload")]
)
def upload_visit(
    request: Request,
    db: Db,
    settings: Config,
    me: Me,
    file: Annotated[UploadFile, File(description="a recording or a transcript")],
    title: Annotated[str | None, Form(max_length=300)] = None,
    rep: Annotated[str | None, Form(max_length=200)] = None,
    customer: Annotated[str | None, Form(max_length=200)] = None,
    contacts: Annotated[
        str | None,
        Form(
            max_length=2000,
            description="the customer's people, comma-separated: masked like phones",
        ),
    ] = None,
    industry: Annotated[str | None, Form(max_length=200)] = None,
    segment: Annotated[str | None, Form(max_length=40)] = None,
    visit_date: Annotated[str | None, Form(max_length=40)] = None,
    language: Annotated[str | None, Form(max_length=10)] = None,
    speakers: Annotated[str | None, Form(max_length=10)] = None,
    outcome: Annotated[str | None, Form(max_length=10, description="won, lost or open")] = None,
) -> Response:
    check_text([title, rep, customer, contacts, industry, file.filename or ""], "form")
    seg = _choice("segment", segment, SEGMENTS)
    result = _choice("outcome", outcome, OUTCOMES)
    lang = _choice("language", language, ("zh", "en", "auto")) or "auto"
    when = _parse_date(visit_date)
    n_speakers = None
    if _optional(speakers) is not None:
        given = str(speakers).strip()
        if not (given.isascii() and given.isdecimal()) or not 1 <= int(given) <= 10:
            raise InvalidInput(
                "speakers must be a whole number from 1 to 10.", code="invalid_field"
            )
        n_speakers = int(given)
    filename = Path(file.filename or "upload").name
    suffix = Path(filename).suffix.lower()

    staged = audio_store.stage(
        settings.audio_dir, _chunks(file), max_bytes=settings.max_upload_bytes
    )
    try:
        existing = visits.find_by_hash(db, sha256=staged.sha256)
        if existing is not None:
            return _existing(db, existing, me)

        visit_id = uuid.uuid4().hex
        visit = Visit(
            id=visit_id,
            title=_optional(title) or Path(filename).stem,
            rep=_optional(rep) or (me.display_name if me.role == Role.REP else None),
            customer=_optional(customer),
            contacts=_names(contacts),
            industry=_optional(industry),
            segment=seg,
            visit_date=when,
            outcome=result,
            language_hint=lang,
            speakers_hint=n_speakers,
            filename=filename,
            content_sha256=staged.sha256,
            size_bytes=staged.size_bytes,
            content_type=file.content_type,
            status=VisitStatus.QUEUED,
            warnings=[],
            owner_id=me.user_id,
            team=me.teams[0] if me.teams else None,
        )
        try:
            if suffix in TRANSCRIPT_SUFFIXES:
                first = _import_transcript(db, visit, staged.path, TRANSCRIPT_SUFFIXES[suffix])
            else:
                visit.duration_s = _check_audio(staged.path, settings.max_audio_s, filename)
                visit.audio_path = str(
                    audio_store.keep(
                        settings.audio_dir,
                        staged,
                        visit_id=visit_id,
                        suffix=suffix or ".audio",
                        key=settings.audio_keyring.current,
                    )
                )
                visits.create(db, visit=visit, steps=dispatch.ORDER)
                first = Step.TRANSCRIBE
            audit.record(
                db, actor=me.actor, action="upload", object_type="visit", object_id=visit_id
            )
            db.commit()
        except IntegrityError:  # the same file uploaded at the same moment: that one won
            db.rollback()
            audio_store.delete(visit.audio_path)
            existing = visits.find_by_hash(db, sha256=staged.sha256)
            if existing is None:
                raise
            return _existing(db, existing, me)
        except BaseException:  # no recording is left behind by a failed upload
            db.rollback()
            audio_store.delete(visit.audio_path)
            raise
    finally:
        audio_store.discard(staged)

    log.info("upload.accepted", visit_id=visit_id, bytes=staged.size_bytes, source=visit.source)
    try:
        dispatch.enqueue(request.app.state.celery, visit_id=visit_id, step=first)
    except Exception:  # the reaper enqueues it later; the upload itself is safe
        log.warning("upload.enqueue_failed", visit_id=visit_id, exc_info=True)
    return _visit_json(db, visit, me.signer, 202)


def _check_audio(path: Path, max_audio_s: int, filename: str) -> float:
    try:
        info = probe(path, max_duration_s=max_audio_s)
    except AudioError as e:
        message = e.message.replace(path.name, filename)  # never show our temporary file name
        if e.code == "not_audio":
            raise UnsupportedMedia(f"{message} {TRANSCRIPT_HINT}", code=e.code) from e
        raise InvalidInput(message, code=e.code) from e
    return info.duration_s


def _import_transcript(db: Db, visit: Visit, path: Path, fmt: str) -> Step:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise UnsupportedMedia(
            f"This file is neither audio nor UTF-8 text. {AUDIO_HINT}", code="not_audio"
        ) from e
    try:
        segments = transcript_formats.parse_transcript(text, fmt)
    except transcript_formats.TranscriptFormatError as e:
        raise InvalidInput(
            f"The transcript could not be read: {e}", code="invalid_transcript"
        ) from e
    visit.source = "transcript"
    visit.duration_s = max(s.end for s in segments)
    visit.language = None if visit.language_hint == "auto" else visit.language_hint
    visits.create(db, visit=visit, steps=dispatch.ORDER)
    visits.replace_segments(db, visit_id=visit.id, segments=segments)
    steps.finish(db, visit_id=visit.id, step=Step.TRANSCRIBE, status=StepStatus.SKIPPED)
    return Step.DIARIZE


@router.get("/visits", response_model=VisitPage)
def list_visits(
    db: Db,
    me: Me,
    status: Literal["queued", "transcribing", "analysing", "indexing", "done", "failed"]
    | None = None,
    rep: str | None = None,
    customer: str | None = None,
    industry: str | None = None,
    segment: Literal["strategic", "high_potential", "basic", "low_efficiency"] | None = None,
    language: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    outcome: Literal["won", "lost", "open"] | None = None,
    risk: Literal["risk.churn", "risk.doubt"] | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Offset = 0,
) -> VisitPage:
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
        name: _optional(getattr(body, name))
        for name in ("rep", "customer", "industry")
        if name in given
    }
    if "title" in given:
        changes["title"] = _optional(body.title)
        if changes["title"] is None:
            raise InvalidInput("title cannot be empty.", code="invalid_field")
    if "contacts" in given:
        changes["contacts"] = _names(",".join(body.contacts or []))
    if "segment" in given:
        changes["segment"] = _choice("segment", body.segment, SEGMENTS)
    if "visit_date" in given:
        changes["visit_date"] = _parse_date(body.visit_date)
    if "outcome" in given:
        changes["outcome"] = _choice("outcome", body.outcome, OUTCOMES)
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
        forget=request.app.state.live.forget_visit,
    )
    return Response(status_code=204)


@router.delete("/customers/{customer}/visits")
def delete_customer_visits(
    customer: Annotated[str, PathParam(min_length=1, max_length=200)],
    db: Db,
    request: Request,
    me: Me,
) -> dict[str, int]:
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
        forget=request.app.state.live.forget_visit,
    )
    return {"deleted": deleted}


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
