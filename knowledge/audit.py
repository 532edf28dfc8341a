"""The audit log: who viewed, played, exported, changed or deleted what; rows are only added."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.models import AuditEvent

Action = Literal[
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "view",
    "play",
    "export",
    "upload",
    "change",
    "delete",
    "user_change",
    "token_create",
    "token_revoke",
]
ACTIONS: tuple[str, ...] = get_args(Action)


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    ip: str = ""


def record(
    db: Session,
    *,
    actor: Actor,
    action: Action,
    object_type: str = "",
    object_id: str = "",
    detail: str = "",
) -> None:
    """Add one event to the caller's transaction (it is kept when the action is)."""
    db.add(
        AuditEvent(
            user_id=actor.user_id,
            username=actor.username,
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:64],
            detail=detail[:2000],
            ip=actor.ip[:64],
        )
    )


@dataclass(frozen=True)
class AuditFilters:
    username: str | None = None
    action: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def listing(db: Session, *, filters: AuditFilters, limit: int, offset: int = 0) -> list[AuditEvent]:
    query = select(AuditEvent)
    if filters.username:
        query = query.where(AuditEvent.username == filters.username)
    if filters.action:
        query = query.where(AuditEvent.action == filters.action)
    if filters.object_id:
        query = query.where(AuditEvent.object_id == filters.object_id)
    if filters.since:
        query = query.where(AuditEvent.at >= filters.since)
    if filters.until:
        query = query.where(AuditEvent.at < filters.until)
    query = query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset)
    return list(db.scalars(query))
