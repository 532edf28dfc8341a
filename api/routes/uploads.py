"""Uploading a visit: a recording, kept (encrypted when a key is set) and queued for
transcription, or a transcript made elsewhere, imported and queued for speaker roles."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import structlog
from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from api.access import Caller, Me, rate_limit
from api.deps import Config, Db
from api.routes.visits import visit_out
from api.schemas import VisitOut, check_text
from api.visit_fields import OUTCOMES, SEGMENTS, choice, names, optional, parse_date, speaker_count
from knowledge import audio_store, audit, steps, visits
from knowledge.audio_store import StagedFile
from knowledge.errors import Conflict, InvalidInput, UnsupportedMedia
from knowledge.models import Role, Step, StepStatus, Visit, VisitStatus
from knowledge.settings import Settings
from nlp import transcript_formats
from nlp.audio import AudioError, probe
from workers import dispatch

router = APIRouter(tags=["visits"])
log = structlog.get_logger()

TRANSCRIPT_SUFFIXES = {".json": "json", ".srt": "srt", ".vtt": "vtt", ".txt": "txt"}
AUDIO_HINT = (
    "Upload audio (mp3, m4a, wav, ogg, opus, flac, webm or mp4) "
    "or a transcript (json, srt, vtt, txt)."
)
TRANSCRIPT_HINT = "A transcript made elsewhere can be imported as json, srt, vtt or txt."


@router.post(
    "/visits",
    status_code=202,
    response_model=VisitOut,
    responses={200: {"model": VisitOut, "description": "the same file, uploaded before"}},
    dependencies=[rate_limit("upload")],
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
    visit = Visit(
        segment=choice("segment", segment, SEGMENTS),
        outcome=choice("outcome", outcome, OUTCOMES),
        language_hint=choice("language", language, ("zh", "en", "auto")) or "auto",
        visit_date=parse_date(visit_date),
        speakers_hint=speaker_count(speakers),
        title=optional(title),
        rep=optional(rep) or (me.display_name if me.role == Role.REP else None),
        customer=optional(customer),
        contacts=names(contacts),
        industry=optional(industry),
    )
    staged = audio_store.stage(
        settings.audio_dir, _chunks(file), max_bytes=settings.max_upload_bytes
    )
    try:
        stored = _store_once(db, settings, me, _queued(visit, file, staged, me), staged)
    finally:
        audio_store.discard(staged)
    if isinstance(stored, Response):
        return stored
    log.info("upload.accepted", visit_id=visit.id, bytes=staged.size_bytes, source=visit.source)
    try:
        dispatch.enqueue(request.app.state.celery, visit_id=visit.id, step=stored)
    except Exception:  # the reaper enqueues it later; the upload itself is safe
        log.warning("upload.enqueue_failed", visit_id=visit.id, exc_info=True)
    return _visit_json(db, visit, me, 202)


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    while chunk := upload.file.read(audio_store.CHUNK):
        yield chunk


def _queued(visit: Visit, file: UploadFile, staged: StagedFile, me: Caller) -> Visit:
    """The visit with what the upload itself says: a new id, the file, its owner."""
    filename = Path(file.filename or "upload").name
    visit.id = uuid.uuid4().hex
    visit.title = visit.title or Path(filename).stem
    visit.filename = filename
    visit.content_sha256 = staged.sha256
    visit.size_bytes = staged.size_bytes
    visit.content_type = file.content_type
    visit.status = VisitStatus.QUEUED
    visit.warnings = []
    visit.owner_id = me.user_id
    visit.team = me.teams[0] if me.teams else None
    return visit


def _store_once(
    db: Db, settings: Settings, me: Caller, visit: Visit, staged: StagedFile
) -> Step | JSONResponse:
    """Store the visit and return its first step, or answer with the visit of the same file."""
    existing = visits.find_by_hash(db, sha256=staged.sha256)
    if existing is not None:
        return _existing(db, existing, me)
    try:
        return _store(db, settings, me, visit, staged)
    except IntegrityError:  # the same file uploaded at the same moment: that one won
        existing = visits.find_by_hash(db, sha256=staged.sha256)
        if existing is None:
            raise
        return _existing(db, existing, me)


def _store(db: Db, settings: Settings, me: Caller, visit: Visit, staged: StagedFile) -> Step:
    """Keep the recording (or import the transcript) and commit the visit; returns the first step
    to run. A failed upload leaves no recording behind."""
    suffix = Path(visit.filename).suffix.lower()
    try:
        if suffix in TRANSCRIPT_SUFFIXES:
            first = _import_transcript(db, visit, staged.path, TRANSCRIPT_SUFFIXES[suffix])
        else:
            visit.duration_s = _check_audio(staged.path, settings.max_audio_s, visit.filename)
            visit.audio_path = str(
                audio_store.keep(
                    settings.audio_dir,
                    staged,
                    visit_id=visit.id,
                    suffix=suffix or ".audio",
                    key=settings.audio_keyring.current,
                )
            )
            visits.create(db, visit=visit, steps=dispatch.ORDER)
            first = Step.TRANSCRIBE
        audit.record(db, actor=me.actor, action="upload", object_type="visit", object_id=visit.id)
        db.commit()
    except BaseException:
        db.rollback()
        audio_store.delete(visit.audio_path)
        raise
    return first


def _visit_json(db: Db, visit: Visit, me: Caller, status: int) -> JSONResponse:
    return JSONResponse(visit_out(db, visit, me.signer).model_dump(mode="json"), status)


def _existing(db: Db, visit: Visit, me: Caller) -> JSONResponse:
    """The answer to a second upload of the same file: the visit, when the caller may see it."""
    if not visits.visible(db, scope=me.scope, visit_ids=[visit.id]):
        raise Conflict(
            "This recording was already uploaded by someone else; ask them or a manager to "
            "share the visit.",
            code="duplicate_upload",
        )
    log.info("upload.duplicate", visit_id=visit.id)
    return _visit_json(db, visit, me, 200)


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
