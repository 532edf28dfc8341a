"""Database tables: the source of truth for visits, pipeline state and everything derived."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from nlp.vocabulary import Sentiment


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in UTC that reads back aware on every engine (SQLite drops the zone): every
    answer writes times the same way, "...+00:00"."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    pass


class VisitStatus(StrEnum):
    QUEUED = "queued"
    TRANSCRIBING = "transcribing"
    ANALYSING = "analysing"
    INDEXING = "indexing"
    DONE = "done"
    FAILED = "failed"


class Step(StrEnum):
    TRANSCRIBE = "transcribe"
    DIARIZE = "diarize"
    ANALYSE = "analyse"
    INDEX = "index"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"


class Visit(Base):
    __tablename__ = "visits"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    rep: Mapped[str | None] = mapped_column(String(200), index=True)
    customer: Mapped[str | None] = mapped_column(String(200), index=True)
    industry: Mapped[str | None] = mapped_column(String(200))
    segment: Mapped[str | None] = mapped_column(String(32))  # nlp.vocabulary.Segment
    visit_date: Mapped[date | None] = mapped_column(Date)
    outcome: Mapped[str | None] = mapped_column(String(8))  # nlp.vocabulary.Outcome; None: unknown
    language_hint: Mapped[str] = mapped_column(String(8), default="auto")
    language: Mapped[str | None] = mapped_column(String(8))
    speakers_hint: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16), default="audio")  # audio | transcript
    filename: Mapped[str] = mapped_column(String(500), default="")
    audio_path: Mapped[str | None] = mapped_column(String(1000))
    content_type: Mapped[str | None] = mapped_column(String(100))
    content_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    duration_s: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default=VisitStatus.QUEUED, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[list[str]] = mapped_column(JSON, default=list)
    owner_id: Mapped[int | None] = mapped_column(  # who uploaded it; a rep sees their own
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    team: Mapped[str | None] = mapped_column(String(100), index=True)  # its manager's scope
    contacts: Mapped[list[str] | None] = mapped_column(JSON)  # the customer's people: masked
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class PipelineStep(Base):
    __tablename__ = "pipeline_steps"

    visit_id: Mapped[str] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=StepStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)


class SegmentRow(Base):
    __tablename__ = "segments"

    visit_id: Mapped[str] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    speaker: Mapped[str | None] = mapped_column(String(16))
    role: Mapped[str | None] = mapped_column(String(16))
    words: Mapped[list[Any]] = mapped_column(JSON, default=list)


class VisitResult(Base):
    """One derived document per visit and kind (speakers, coaching, analysis); replaced on rerun."""

    __tablename__ = "visit_results"

    visit_id: Mapped[str] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Rep(Base):
    __tablename__ = "reps"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    voiceprint: Mapped[bytes | None] = mapped_column(LargeBinary)
    sample_s: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class Utterance(Base):
    """One analysed transcript segment: what the customer (or rep) said and what it means."""

    __tablename__ = "utterances"

    visit_id: Mapped[str] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    role: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    labels: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"id", "confidence"}]
    sentiment: Mapped[str] = mapped_column(String(16), default=Sentiment.NEUTRAL)
    sentiment_score: Mapped[float] = mapped_column(Float, default=0.0)
    risk: Mapped[list[Any]] = mapped_column(JSON, default=list)
    corrected: Mapped[bool] = mapped_column(default=False)


class UtteranceLabel(Base):
    """One row per (utterance, label): what insights count and search filters on."""

    __tablename__ = "utterance_labels"
    __table_args__ = (
        Index("ix_utterance_labels_label_visit", "label", "visit_id", "confidence", "idx"),
    )

    visit_id: Mapped[str] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    confidence: Mapped[float] = mapped_column(Float, default=1.0)


class Correction(Base):
    """A person's corrected label set for one utterance; kept across re-analysis."""

    __tablename__ = "corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[str | None] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), index=True
    )
    idx: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    sentiment: Mapped[str | None] = mapped_column(String(16))
    risk: Mapped[list[str]] = mapped_column(JSON, default=list)
    author: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LedgerEntry(Base):
    """A follow-up to close: an action item or a pain point someone owns until it is solved."""

    __tablename__ = "ledger"
    __table_args__ = (Index("ux_ledger_visit_source", "visit_id", "source", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[str | None] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # action | pain
    source: Mapped[str | None] = mapped_column(String(64))  # e.g. "action:2", "utterance:14"
    title: Mapped[str] = mapped_column(Text)
    label: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(200))
    due: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done | dropped
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Playlist(Base):
    __tablename__ = "playlists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Clip(Base):
    """A best-practice moment: a time range of a visit with a trainer's note and tags."""

    __tablename__ = "clips"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    playlist_id: Mapped[int | None] = mapped_column(
        ForeignKey("playlists.id", ondelete="CASCADE"), index=True
    )
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    note: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Role(StrEnum):
    """What a user may do; api/access.py maps each route to the roles it admits."""

    ADMIN = "admin"  # users, settings, retention, the audit log; every visit
    MANAGER = "manager"  # the visits of their teams, the ledger
    REP = "rep"  # uploads; their own visits, the library
    TRAINER = "trainer"  # analysed visits, the library, playlists
    PRODUCT = "product"  # aggregated insights with redacted quotes; no audio, no transcripts


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))  # Role
    teams: Mapped[list[str]] = mapped_column(JSON, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id; None: tokens only
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)


class ApiToken(Base):
    """A script's credential: only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class WebSession(Base):
    """A signed-in browser: the cookie's SHA-256, its CSRF token and when it ends."""

    __tablename__ = "web_sessions"

    secret_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class ServerSecret(Base):
    """Secrets every API process shares (the audio-link signing key) when settings give none."""

    __tablename__ = "server_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))


class AuditEvent(Base):
    """Who viewed, played, exported, changed or deleted what, and when; never edited."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(Integer, index=True)  # kept after user deletion
    username: Mapped[str] = mapped_column(String(100), default="")
    action: Mapped[str] = mapped_column(String(32), index=True)
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class RateCount(Base):
    """Requests of one user to one limited kind of route in one time window."""

    __tablename__ = "rate_counts"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(32), primary_key=True)
    window: Mapped[int] = mapped_column(Integer, primary_key=True)  # start, s since the epoch
    count: Mapped[int] = mapped_column(Integer, default=0)


class PlaybookAnswer(Base):
    """A rep's answer to a customer's objection (pain point or doubt), what followed it and its
    vectors; written when the visit is indexed, read by the playbooks."""

    __tablename__ = "playbook_answers"
    __table_args__ = (Index("ix_playbook_answers_label_visit", "label", "visit_id"),)

    visit_id: Mapped[str] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer_idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    objection_idx: Mapped[int] = mapped_column(Integer)
    objection_text: Mapped[str] = mapped_column(Text)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    sentiment_delta: Mapped[float] = mapped_column(Float, default=0.0)
    positive: Mapped[bool] = mapped_column(default=False)
    commitment: Mapped[bool] = mapped_column(default=False)
    objection_vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, unit length
    answer_vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)


class PlaybookCuration(Base):
    """A trainer's pin, hide or note on one answer of one objection's playbook."""

    __tablename__ = "playbook_curation"

    visit_id: Mapped[str] = mapped_column(
        ForeignKey("visits.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(64), primary_key=True)
    answer_idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    pinned: Mapped[bool] = mapped_column(default=False)
    hidden: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(
        UtcDateTime(), default=utcnow, onupdate=utcnow, index=True
    )
