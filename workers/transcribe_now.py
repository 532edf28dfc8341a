"""Transcription on demand for /v1/audio/transcriptions: a staged upload in, timed segments (and
optionally rep/customer roles) out, nothing stored; the API waits for the result and deletes the
staged file itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import structlog

from knowledge import audio_store
from knowledge.glossary import load_hotwords
from knowledge.settings import Settings
from nlp import asr
from nlp.audio import AudioError, decode_chunks
from nlp.diarize import diarize_chunks
from nlp.roles import assign_roles
from nlp.types import Segment, Transcript
from nlp.voiceprint import load_encoder
from workers.results import NowRequest
from workers.transcribe import whisper

log = structlog.get_logger()


def options_for(prompt: str | None, temperature: float | None) -> asr.AsrOptions:
    """The pipeline's decoding settings, with the caller's prompt and starting temperature."""
    opts = asr.AsrOptions()
    if temperature:
        ladder = tuple(t for t in opts.temperature if t > temperature)
        opts = replace(opts, temperature=(temperature, *ladder))
    if prompt:
        opts = replace(opts, initial_prompt=prompt)
    return opts


def _whisper_languages() -> frozenset[str]:
    from faster_whisper.tokenizer import _LANGUAGE_CODES  # the list Whisper checks against

    return frozenset(_LANGUAGE_CODES)


def with_roles(path: Path, transcript: Transcript) -> list[Segment]:
    """The segments split by speaker, each speaker named rep, customer or other."""
    result = diarize_chunks(load_encoder(), decode_chunks(path), transcript.segments)
    assignment = assign_roles(
        result.segments, result.speaker_embeddings, language=transcript.language
    )
    return [replace(s, role=assignment.roles.get(s.speaker or "")) for s in result.segments]


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def work(
    settings: Settings,
    req: NowRequest,
    on_segments: Callable[[list[Segment]], None] | None = None,
) -> dict[str, Any]:
    """{"transcript": {...}, "warnings": [...]} or {"error": {code, message}}."""
    if req.deadline and time.time() > req.deadline:
        return _error("timeout", "Nobody is waiting for this transcription any more.")
    path = settings.audio_dir / audio_store.TMP / Path(req.staged_name).name
    if not path.is_file():
        return _error("audio_missing", "The uploaded file is gone; send it again.")
    if req.language is not None and req.language not in _whisper_languages():
        return _error("invalid_language", f"Whisper does not know the language '{req.language}'.")
    glossary = settings.glossary_path or settings.prompts_dir / "glossary.yaml"
    started = time.monotonic()
    try:
        transcript = asr.transcribe(
            whisper(settings),
            path,
            language=req.language,
            hotwords=load_hotwords(glossary),
            chunk_s=req.chunk_s,
            options=options_for(req.prompt, req.temperature),
            on_segments=on_segments,
        )
    except AudioError as e:
        return _error(e.code, e.message)
    warnings: list[str] = []
    if req.speakers and transcript.segments:
        try:
            transcript = replace(transcript, segments=with_roles(path, transcript))
        except Exception as e:  # speakers must never cost the transcript
            log.warning("transcribe_now.speakers_failed", exc_info=True)
            warnings.append(f"Speakers could not be told apart ({e.__class__.__name__}).")
    if req.deadline and time.time() > req.deadline:  # the caller gave up: keep no text anywhere
        return _error("timeout", "Nobody is waiting for this transcription any more.")
    log.info(
        "transcribe_now.done",
        duration_s=transcript.duration,
        segments=len(transcript.segments),
        seconds=round(time.monotonic() - started, 2),
    )
    return {"transcript": asdict(transcript), "warnings": warnings}
