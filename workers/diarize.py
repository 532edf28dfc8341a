"""The speakers step: who spoke when (diarization) and who is the rep (roles)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import structlog

from knowledge import audio_store, reps, visits
from knowledge.db import session_scope
from nlp.audio import decode_chunks
from nlp.diarize import diarize_chunks
from nlp.roles import RoleAssignment, assign_roles
from nlp.types import Segment
from nlp.voiceprint import load_encoder
from workers.runner import StepContext

log = structlog.get_logger()


def work(ctx: StepContext) -> None:
    with session_scope(ctx.rt.sessions) as db:
        visit = visits.get(db, visit_id=ctx.visit_id)
        segments = visits.segments_of(db, visit_id=ctx.visit_id)
        rep_print = reps.voiceprint_of(db, name=visit.rep) if visit.rep else None
        audio_path, hint, language = visit.audio_path, visit.speakers_hint, visit.language
    if not segments:
        return
    embeddings: dict[str, np.ndarray] = {}
    try:
        if audio_path:
            settings = ctx.rt.settings
            with audio_store.decrypted(
                settings.audio_dir, Path(audio_path), settings.audio_keyring
            ) as plain:
                chunks = decode_chunks(plain)
                result = diarize_chunks(load_encoder(), chunks, segments, num_speakers=hint)
            segments, embeddings = result.segments, result.speaker_embeddings
        elif any(s.role is None for s in segments):
            segments = [replace(s, speaker=s.speaker or s.role) for s in segments]
        assignment = assign_roles(segments, embeddings, rep_voiceprint=rep_print, language=language)
    except Exception as e:  # diarization must never cost the transcript
        log.warning("diarize.failed", visit_id=ctx.visit_id, exc_info=True)
        with session_scope(ctx.rt.sessions) as db:
            visits.add_warning(
                db,
                visit_id=ctx.visit_id,
                warning=(
                    "Speakers could not be told apart in this recording "
                    f"({e.__class__.__name__}); the transcript has no speaker labels."
                ),
            )
        return
    labelled = [
        replace(
            s,
            role=s.role
            if s.role and not audio_path
            else assignment.roles.get(s.speaker or "", None),
        )
        for s in segments
    ]
    _save(ctx, labelled, assignment)


def _save(ctx: StepContext, labelled: list[Segment], assignment: RoleAssignment) -> None:
    """The segments with their roles, the speakers document, and a warning when unsure."""
    with session_scope(ctx.rt.sessions) as db:
        visits.replace_segments(db, visit_id=ctx.visit_id, segments=labelled)
        visits.put_result(
            db,
            visit_id=ctx.visit_id,
            kind="speakers",
            data=speakers_document(
                labelled,
                assignment.roles,
                assignment.confidence,
                assignment.method,
                {k: asdict(v) for k, v in assignment.evidence.items()},
            ),
        )
        if assignment.confidence < 0.6:
            visits.add_warning(
                db,
                visit_id=ctx.visit_id,
                warning=(
                    f"Roles were inferred with low confidence ({assignment.confidence:.2f}); "
                    "check them, or enrol the rep's voice."
                ),
            )


def speakers_document(
    segments: list[Segment],
    roles: Mapping[str, str],
    confidence: float,
    method: str,
    evidence: dict[str, object],
) -> dict[str, object]:
    talk: dict[str, float] = {}
    for s in segments:
        if s.speaker:
            talk[s.speaker] = talk.get(s.speaker, 0.0) + s.end - s.start
    return {
        "num_speakers": len(talk),
        "roles": roles,
        "confidence": round(confidence, 3),
        "method": method,
        "talk_s": {k: round(v, 1) for k, v in talk.items()},
        "evidence": evidence,
    }
