"""Asking the workers for a transcription and waiting for it (/v1/audio/transcriptions).

The task travels through the broker like the pipeline's steps and runs in the same worker
processes, on the Whisper model they hold. Its answer comes back through Celery's result
backend (settings.result_backend_url): Redis in production, a table in the SQL broker's
database when embedded. The API polls it, reads it once and forgets it, so no transcript
outlives the request; one nobody read expires (celery_app.RESULT_EXPIRES_S).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from celery import Celery

from knowledge.errors import InvalidInput, Unavailable, UnsupportedMedia, VisitlensError
from nlp.types import Segment, Transcript, Word

TASK = "asr.transcribe_now"
POLL_S = 0.05  # one GET (Redis) or one indexed SELECT (SQL) per poll


@dataclass(frozen=True)
class NowRequest:
    """What the API asks a worker for; crosses the broker as a dict."""

    staged_name: str  # a file in <audio_dir>/tmp, never a path the caller chose
    language: str | None = None  # ISO 639-1; None: detected
    prompt: str | None = None
    temperature: float | None = None  # None or 0: the pipeline's fallback ladder
    speakers: bool = False  # diarize and name each speaker rep, customer or other
    stream: bool = False  # report each chunk's segments as it finishes
    chunk_s: float = 600.0
    deadline: float = 0.0  # epoch seconds; a result finished later is dropped


@dataclass
class NowResult:
    transcript: Transcript
    warnings: list[str] = field(default_factory=list)
    streamed: list[Segment] = field(default_factory=list)  # as reported chunk by chunk


def segment_of(data: dict[str, Any]) -> Segment:
    return Segment(**{**data, "words": [Word(**w) for w in data.get("words") or []]})


def transcript_of(data: dict[str, Any]) -> Transcript:
    return Transcript(
        language=data["language"],
        duration=data["duration"],
        segments=[segment_of(s) for s in data["segments"]],
    )


def send(app: Celery, req: NowRequest) -> str:
    """Enqueue the transcription; a worker that picks it up after the deadline drops it."""
    task_id = f"now:{uuid.uuid4().hex}"
    app.send_task(
        TASK, args=[asdict(req)], task_id=task_id, expires=max(1.0, req.deadline - time.time())
    )
    return task_id


def _failure(error: dict[str, str]) -> VisitlensError:
    code, message = error.get("code", "internal"), error.get("message", "")
    if code == "not_audio":
        return UnsupportedMedia(message, code=code)
    if code in ("timeout", "audio_missing"):
        return Unavailable(message, code=code)
    return InvalidInput(message, code=code)


def follow(app: Celery, task_id: str, *, deadline: float) -> Iterator[list[Segment] | NowResult]:
    """Segments as the worker reports them (stream requests), then the result; raises the
    worker's error as a VisitlensError, or Unavailable past the deadline. Forgets the result."""
    backend = app.backend
    seen = 0
    try:
        while True:
            meta = backend.get_task_meta(task_id, cache=False)
            state, value = meta.get("status"), meta.get("result")
            if state == "PROGRESS" and isinstance(value, dict):
                reported = value.get("segments", [])
                if len(reported) > seen:
                    yield [segment_of(s) for s in reported[seen:]]
                    seen = len(reported)
            elif state == "SUCCESS" and isinstance(value, dict):
                if "error" in value:
                    raise _failure(value["error"])
                streamed = [segment_of(s) for s in value.get("streamed", [])]
                if len(streamed) > seen:
                    yield streamed[seen:]
                yield NowResult(transcript_of(value["transcript"]), value["warnings"], streamed)
                return
            elif state in ("FAILURE", "REVOKED"):
                raise Unavailable(
                    "The transcription failed in the worker; the error is in the worker log.",
                    code="worker_failed",
                )
            if time.time() > deadline:
                raise Unavailable(
                    "No worker finished this transcription in time (they may be busy with long "
                    "visits). Try again later, or send it with store=true or to POST /api/visits "
                    "and read the transcript when the visit is done.",
                    code="timeout",
                )
            time.sleep(POLL_S)
    finally:
        backend.forget(task_id)


def wait(app: Celery, task_id: str, *, deadline: float) -> NowResult:
    for item in follow(app, task_id, deadline=deadline):
        if isinstance(item, NowResult):
            return item
    raise Unavailable("The worker gave no result.", code="worker_failed")
