"""Deleting visits everywhere they live: rows (the database cascades to everything derived,
clips and ledger entries included), vectors in Chroma, the recording; each deletion audited."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta

import structlog
from sqlalchemy.orm import Session, sessionmaker

from knowledge import audio_store, audit, visits
from knowledge.audit import Actor
from knowledge.db import session_scope
from knowledge.models import utcnow
from knowledge.settings import Settings
from knowledge.vector_index import IndexUnavailable

log = structlog.get_logger()
RETENTION = Actor(None, "retention")

ForgetVectors = Callable[[str], None]  # removes one visit from the search index


def delete_visits(
    sessions: sessionmaker[Session],
    visit_ids: Iterable[str],
    *,
    actor: Actor,
    reason: str,
    forget: ForgetVectors,
) -> int:
    """Delete each visit in its own transaction; returns how many were deleted."""
    deleted = 0
    for visit_id in visit_ids:
        with session_scope(sessions) as db:
            visit = visits.remove(db, visit_id=visit_id)
            audit.record(
                db,
                actor=actor,
                action="delete",
                object_type="visit",
                object_id=visit_id,
                detail=reason,
            )
            audio_path = visit.audio_path
        try:
            forget(visit_id)
        except IndexUnavailable:  # search skips visits that are gone; `visitlens reindex` tidies
            log.warning("visit.vectors_left", visit_id=visit_id)
        audio_store.delete(audio_path)
        log.info("visit.deleted", visit_id=visit_id, reason=reason)
        deleted += 1
    return deleted


def expire(settings: Settings, sessions: sessionmaker[Session], forget: ForgetVectors) -> int:
    """Delete the visits uploaded longer ago than the retention period (none without one)."""
    if settings.retention_days is None:
        return 0
    with session_scope(sessions) as db:
        due = visits.expired(db, uploaded_before=utcnow() - timedelta(days=settings.retention_days))
    return delete_visits(
        sessions,
        due,
        actor=RETENTION,
        reason=f"retention: older than {settings.retention_days} days",
        forget=forget,
    )
