"""OpenAI-compatible transcription: POST /v1/audio/transcriptions and GET /v1/models.

An OpenAI client pointed at <server>/v1 with a visitlens API token as its key gets the
project's own transcription: the same workers and Whisper model as the pipeline (asked through
the broker, answered through Celery's result backend; workers/results.py), nothing stored.
With store=true the file goes through the visits upload instead and the answer is read back
from the stored visit once its speakers are known.
"""

from __future__ import annotations

import json
import math
import re
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

import structlog
from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from pydantic import BaseModel, Field

from api.access import Me, rate_limit
from api.deps import Config, Db
from api.errors import error_response
from api.openai_schemas import StoredLaterOut, TranscriptionAnswer
from api.routes import uploads
from knowledge import audio_store, visits
from knowledge.errors import InvalidInput, UnsupportedMedia, VisitlensError
from knowledge.models import Step, StepStatus, VisitStatus
from knowledge.settings import Settings
from nlp import transcript_formats
from nlp.audio import AudioError, probe
from nlp.redact import redact
from nlp.types import Segment, Transcript
from workers import results

router = APIRouter(tags=["openai"])
log = structlog.get_logger()

FORMATS = ("json", "text", "srt", "vtt", "verbose_json", "diarized_json")
GRANULARITIES = ("word", "segment")
MODEL_IDS = ("whisper-1",)  # what OpenAI clients send; every name is served by the one model
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
LANGUAGE_NAMES = {  # verbose_json names the language in words, as OpenAI does
    "en": "english",
    "zh": "chinese",
    "ja": "japanese",
    "ko": "korean",
    "de": "german",
    "fr": "french",
    "es": "spanish",
}
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
STORED_POLL_S = 0.2


class ModelOut(BaseModel):
    id: str
    object: Literal["model"]
    created: int = Field(description="Unix time; 0, as the model is the project's own")
    owned_by: str


class ModelsOut(BaseModel):
    """OpenAI's model list."""

    object: Literal["list"]
    data: list[ModelOut]


def _too_long(duration_s: float, limit_s: int) -> InvalidInput:
    return InvalidInput(
        f"This recording is {duration_s:.0f} s long; /v1/audio/transcriptions answers recordings "
        f"up to {limit_s} s while you wait. Send it with store=true (or upload it to "
        "POST /api/visits) and read the transcript from the visit when it is done.",
        code="too_long",
    )


def _check_audio(path: Path, filename: str, max_audio_s: int) -> float:
    """The recording's duration in seconds; refuses what is not audio or cannot be decoded."""
    try:
        info = probe(path, max_duration_s=max_audio_s)
    except AudioError as e:
        message = e.message.replace(path.name, filename)  # never show our temporary file name
        if e.code == "not_audio":
            raise UnsupportedMedia(message, code=e.code) from e
        raise InvalidInput(message, code=e.code) from e
    return info.duration_s


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    while chunk := upload.file.read(audio_store.CHUNK):
        yield chunk


def join_text(segments: Sequence[Segment]) -> str:
    """The segments' text as one string: a space between them, none between CJK characters."""
    out = ""
    for s in segments:
        text = s.text.strip()
        if out and text and not (CJK.match(out[-1]) and CJK.match(text[0])):
            out += " "
        out += text
    return out


def _usage(duration_s: float) -> dict[str, Any]:
    return {"type": "duration", "seconds": math.ceil(duration_s)}


def _verbose_segment(i: int, s: Segment) -> dict[str, Any]:
    data = s.text.encode("utf-8")
    logprobs = [math.log(max(w.probability, 1e-6)) for w in s.words]
    return {
        "id": i,
        "seek": int(s.start * 100),  # in Whisper's 10 ms frames
        "start": s.start,
        "end": s.end,
        "text": s.text,
        "tokens": [],  # the project keeps words, not tokens
        "temperature": 0.0,
        "avg_logprob": round(sum(logprobs) / len(logprobs), 4) if logprobs else 0.0,
        "compression_ratio": round(len(data) / max(1, len(zlib.compress(data))), 4),
        "no_speech_prob": 0.0,
    }


def _speaker(s: Segment) -> str:
    return s.role or s.speaker or "unknown"


def render(
    transcript: Transcript,
    response_format: str,
    granularities: Sequence[str],
    extra: dict[str, Any],
) -> Response:
    """The transcript in one of OpenAI's response formats; extra joins the JSON ones."""
    segments = transcript.segments
    plain = [replace(s, speaker=None, role=None) for s in segments]
    text = join_text(segments)
    if response_format == "text":
        return PlainTextResponse(text + "\n")
    if response_format == "srt":
        return PlainTextResponse(transcript_formats.to_srt(plain))
    if response_format == "vtt":
        return PlainTextResponse(transcript_formats.to_vtt(plain), media_type="text/vtt")
    body: dict[str, Any] = {"text": text, "usage": _usage(transcript.duration)}
    if response_format == "verbose_json":
        body = {
            "task": "transcribe",
            "language": LANGUAGE_NAMES.get(transcript.language, transcript.language),
            "duration": transcript.duration,
            "text": text,
            "usage": body["usage"],
        }
        if "segment" in granularities or not granularities:
            body["segments"] = [_verbose_segment(i, s) for i, s in enumerate(segments)]
        if "word" in granularities:
            body["words"] = [
                {"word": w.text.strip(), "start": w.start, "end": w.end}
                for s in segments
                for w in s.words
            ]
    elif response_format == "diarized_json":
        body = {
            "task": "transcribe",
            "duration": transcript.duration,
            "text": text,
            "segments": [
                {
                    "type": "transcript.text.segment",
                    "id": f"seg_{i:03d}",
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "speaker": _speaker(s),
                }
                for i, s in enumerate(segments)
            ],
            "usage": body["usage"],
        }
    return JSONResponse(body | extra)


def _sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event, ensure_ascii=False)}\n\n"


def _events(
    request: Request,
    task_id: str,
    staged: audio_store.StagedFile,
    response_format: str,
    deadline: float,
) -> Iterator[str]:
    """transcript.text.delta per segment as the worker finishes each chunk, the diarized
    segments (diarized_json), then transcript.text.done; an error as OpenAI streams one."""
    text = ""
    try:
        for item in results.follow(request.app.state.celery, task_id, deadline=deadline):
            if isinstance(item, results.NowResult):
                if response_format == "diarized_json":
                    for i, s in enumerate(item.transcript.segments):
                        yield _sse(
                            {
                                "type": "transcript.text.segment",
                                "id": f"seg_{i:03d}",
                                "start": s.start,
                                "end": s.end,
                                "text": s.text,
                                "speaker": _speaker(s),
                            }
                        )
                yield _sse({"type": "transcript.text.done", "text": text})
                return
            for s in item:
                joined = join_text([Segment(0, 0, text), s]) if text else s.text.strip()
                delta, text = joined[len(text) :], joined
                yield _sse({"type": "transcript.text.delta", "delta": delta})
    except VisitlensError as e:
        log.info("openai.stream_failed", code=e.code)
        body = json.loads(bytes(error_response(503, e.code, e.message, "/v1/").body))
        yield _sse(body)
    finally:
        audio_store.discard(staged)


def _stored(
    request: Request,
    db: Db,
    me: Me,
    upload: Response,
    response_format: str,
    granularities: list[str],
    deadline: float,
) -> Response:
    """The answer of store=true: the visit's own transcript once its speakers are known."""
    visit_id = json.loads(bytes(upload.body))["id"]
    visit = visits.get(db, visit_id=visit_id, scope=me.scope)
    extra = {"visit_id": visit_id}
    limit_s = request.app.state.settings.sync_max_audio_s
    if visit.duration_s and visit.duration_s > limit_s:  # the visit goes on; read it later
        return JSONResponse(
            {
                "text": "",
                "visit_id": visit_id,
                "status": visit.status,
                "message": f"Stored as visit {visit_id}; too long to wait for. Its transcript "
                f"will be at /api/visits/{visit_id}/transcript when the visit is done.",
            },
            status_code=202,
        )
    db.rollback()
    while True:
        with request.app.state.sessionmaker() as fresh:
            row = visits.get(fresh, visit_id=visit_id)
            steps = visits.steps_of(fresh, visit_ids=[visit_id])[visit_id]
            states = {s.step: s.status for s in steps}
            if row.status == VisitStatus.FAILED:
                raise InvalidInput(
                    f"The stored visit failed ({row.error_code}): {row.error_message}",
                    code=row.error_code or "visit_failed",
                )
            if states.get(Step.DIARIZE) in (StepStatus.DONE, StepStatus.SKIPPED):
                segments = visits.segments_of(fresh, visit_id=visit_id)
                if me.scope.redacted:
                    names = row.contacts or []
                    segments = [
                        replace(s, text=redact(s.text, names=names), words=[]) for s in segments
                    ]
                transcript = Transcript(
                    language=row.language or "", duration=row.duration_s or 0.0, segments=segments
                )
                return render(transcript, response_format, granularities, extra)
        if time.time() > deadline:
            return JSONResponse(
                {
                    "text": "",
                    "visit_id": visit_id,
                    "status": row.status,
                    "message": f"Stored as visit {visit_id}; its transcript is not ready yet. It "
                    f"will be at /api/visits/{visit_id}/transcript.",
                },
                status_code=202,
            )
        time.sleep(STORED_POLL_S)


@router.get("/models")
def list_models(settings: Config) -> ModelsOut:
    """The transcription model under the names OpenAI clients use."""
    return ModelsOut(
        object="list",
        data=[
            ModelOut(id=name, object="model", created=0, owned_by="visitlens")
            for name in (*MODEL_IDS, settings.asr_model)
        ],
    )


@router.post(
    "/audio/transcriptions",
    dependencies=[rate_limit("upload")],
    responses={
        200: {
            "model": TranscriptionAnswer,
            "description": "json, verbose_json or diarized_json; text, srt and vtt as text; "
            "stream=true as server-sent events",
            "content": {"text/plain": {}, "text/vtt": {}, "text/event-stream": {}},
        },
        202: {"model": StoredLaterOut, "description": "store=true: stored, not yet transcribed"},
    },
)
def create_transcription(
    request: Request,
    db: Db,
    settings: Config,
    me: Me,
    file: Annotated[UploadFile | None, File(description="the recording")] = None,
    model: Annotated[str, Form(max_length=200)] = MODEL_IDS[0],
    language: Annotated[str | None, Form(max_length=10)] = None,
    prompt: Annotated[str | None, Form(max_length=2000)] = None,
    temperature: Annotated[float | None, Form(ge=0.0, le=1.0)] = None,
    response_format: Annotated[str, Form(max_length=40)] = "json",
    timestamp_granularities: Annotated[
        list[str] | None, Form(alias="timestamp_granularities[]")
    ] = None,
    stream: Annotated[bool, Form()] = False,
    store: Annotated[bool, Form(description="also keep it as a visit (the upload path)")] = False,
) -> Response:
    """Transcribe a short recording while the caller waits (OpenAI's request and answers)."""
    granularities, lang = _checked(response_format, timestamp_granularities, language)
    if file is None:
        raise InvalidInput("Send the recording as the multipart field 'file'.", code="missing_file")
    deadline = time.time() + settings.sync_timeout_s
    if store:
        if stream:
            raise InvalidInput(
                "stream=true and store=true cannot be combined; store the visit without streaming.",
                code="invalid_request",
            )
        upload = uploads.upload_visit(
            request, db, settings, me, file, language=lang if lang in ("zh", "en") else "auto"
        )
        return _stored(request, db, me, upload, response_format, granularities, deadline)
    return _transcribe_now(
        request,
        settings,
        file,
        results.NowRequest(
            staged_name="",  # once staged
            language=lang,
            prompt=prompt or None,
            temperature=temperature,
            speakers=response_format == "diarized_json",
            stream=stream,
            chunk_s=settings.stream_chunk_s if stream else settings.asr_chunk_s,
            deadline=deadline,
        ),
        response_format,
        granularities,
        model,
    )


def _checked(
    response_format: str, timestamp_granularities: list[str] | None, language: str | None
) -> tuple[list[str], str | None]:
    """The timestamp granularities and the language code asked for, checked."""
    if response_format not in FORMATS:
        raise InvalidInput(
            f"response_format '{response_format}' is not supported; use one of: "
            f"{', '.join(FORMATS)}.",
            code="unsupported_response_format",
        )
    granularities = timestamp_granularities or []
    if any(g not in GRANULARITIES for g in granularities):
        raise InvalidInput(
            "timestamp_granularities[] takes word and/or segment.",
            code="invalid_timestamp_granularities",
        )
    lang = (language or "").strip().lower() or None
    if lang is not None and not LANGUAGE_CODE.fullmatch(lang):
        raise InvalidInput(
            f"language '{language}' is not an ISO-639-1 code such as en or zh.",
            code="invalid_language",
        )
    return granularities, lang


def _transcribe_now(
    request: Request,
    settings: Settings,
    file: UploadFile,
    asked: results.NowRequest,
    response_format: str,
    granularities: list[str],
    model: str,
) -> Response:
    """Send the recording to a worker and answer with its transcript, or stream it as it comes."""
    filename = Path(file.filename or "upload").name
    staged = audio_store.stage(
        settings.audio_dir, _chunks(file), max_bytes=settings.max_upload_bytes
    )
    streaming = False
    try:
        duration_s = _check_audio(staged.path, filename, settings.max_audio_s)
        if duration_s > settings.sync_max_audio_s:
            raise _too_long(duration_s, settings.sync_max_audio_s)
        req = replace(asked, staged_name=staged.path.name)
        task_id = results.send(request.app.state.celery, req)
        log.info("openai.transcription_sent", seconds=round(duration_s, 1), model=model)
        if req.stream:
            streaming = True  # the stream removes the staged file when it ends
            return StreamingResponse(
                _events(request, task_id, staged, response_format, req.deadline),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        result = results.wait(request.app.state.celery, task_id, deadline=req.deadline)
    finally:
        if not streaming:
            audio_store.discard(staged)
    extra = {"warnings": result.warnings} if result.warnings else {}
    return render(result.transcript, response_format, granularities, extra)
