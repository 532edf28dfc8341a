"""The transcription step: recording in, timed segments out."""

from __future__ import annotations

from pathlib import Path

from knowledge import audio_store, visits
from knowledge.db import session_scope
from knowledge.errors import InvalidInput
from knowledge.glossary import load_hotwords
from knowledge.settings import Settings
from nlp import asr
from nlp.audio import AudioError
from nlp.whisper_model import load_whisper, resolve_model
from workers.runner import StepContext


def whisper(settings: Settings):  # type: ignore[no-untyped-def]  # faster-whisper is untyped
    return load_whisper(
        resolve_model(settings.asr_model, settings.models_dir),
        settings.asr_device,
        settings.asr_compute_type,
    )


def work(ctx: StepContext) -> None:
    settings = ctx.rt.settings
    with session_scope(ctx.rt.sessions) as db:
        visit = visits.get(db, visit_id=ctx.visit_id)
        audio_path, hint = visit.audio_path, visit.language_hint
    if not audio_path or not Path(audio_path).exists():
        raise InvalidInput(
            "The recording of this visit is missing from the audio store.", code="audio_missing"
        )
    try:
        with audio_store.decrypted(
            settings.audio_dir, Path(audio_path), settings.audio_keyring
        ) as plain:
            transcript = asr.transcribe(
                whisper(settings),
                plain,
                language=None if hint == "auto" else hint,
                hotwords=load_hotwords(
                    settings.glossary_path or settings.prompts_dir / "glossary.yaml"
                ),
                on_progress=ctx.progress,
                chunk_s=settings.asr_chunk_s,
            )
    except AudioError as e:
        raise InvalidInput(e.message, code=e.code) from e
    if not transcript.segments:
        raise InvalidInput(
            "No speech was found in this recording (it is silent or holds only music or noise).",
            code="no_speech",
        )
    with session_scope(ctx.rt.sessions) as db:
        visits.replace_segments(db, visit_id=ctx.visit_id, segments=transcript.segments)
        visit = visits.get(db, visit_id=ctx.visit_id)
        visit.language = transcript.language
        visit.duration_s = transcript.duration
