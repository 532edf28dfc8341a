"""Pipeline step state: claiming a step with a lease, heartbeats, and finding abandoned work."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from knowledge.models import PipelineStep, Step, StepStatus, Visit, VisitStatus, utcnow


def claim(db: Session, *, visit_id: str, step: Step, worker: str, stale_s: int) -> bool:
    """Take a step for this worker; False when it is done, failed or held by a live worker."""
    now = utcnow()
    result = db.execute(
        update(PipelineStep)
        .where(
            PipelineStep.visit_id == visit_id,
            PipelineStep.step == step,
            or_(
                PipelineStep.status == StepStatus.PENDING,
                and_(
                    PipelineStep.status == StepStatus.RUNNING,
                    or_(
                        PipelineStep.worker == worker,
                        PipelineStep.heartbeat_at < now - timedelta(seconds=stale_s),
                    ),
                ),
            ),
        )
        .values(
            status=StepStatus.RUNNING,
            worker=worker,
            attempts=PipelineStep.attempts + 1,
            started_at=now,
            heartbeat_at=now,
            error_code=None,
            error_message=None,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def status_of(db: Session, *, visit_id: str, step: Step) -> str | None:
    return db.scalar(
        select(PipelineStep.status).where(
            PipelineStep.visit_id == visit_id, PipelineStep.step == step
        )
    )


def heartbeat(db: Session, *, visit_id: str, step: Step, worker: str) -> bool:
    """Renew the lease; False when another worker has taken the step over."""
    result = db.execute(
        update(PipelineStep)
        .where(
            PipelineStep.visit_id == visit_id,
            PipelineStep.step == step,
            PipelineStep.worker == worker,
            PipelineStep.status == StepStatus.RUNNING,
        )
        .values(heartbeat_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def finish(
    db: Session,
    *,
    visit_id: str,
    step: Step,
    status: StepStatus = StepStatus.DONE,
    code: str | None = None,
    message: str | None = None,
) -> None:
    row = db.get(PipelineStep, (visit_id, step))
    if row is None:
        row = PipelineStep(visit_id=visit_id, step=step)
        db.add(row)
    row.status = status
    row.finished_at = utcnow()
    row.error_code = code
    row.error_message = message


def reset(db: Session, *, visit_id: str, steps: list[Step]) -> None:
    """Mark steps to run again (a retry or a correction upstream)."""
    for step in steps:
        row = db.get(PipelineStep, (visit_id, step))
        if row is None:
            db.add(PipelineStep(visit_id=visit_id, step=step, status=StepStatus.PENDING))
        else:
            row.status = StepStatus.PENDING
            row.worker = None
            row.error_code = row.error_message = None


def abandoned(db: Session, *, stale_s: int, now: datetime | None = None) -> list[tuple[str, str]]:
    """(visit_id, step) pairs to enqueue again: a running step whose worker stopped beating,
    or the first pending step of a visit that has waited with nothing running."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=stale_s)
    running = db.execute(
        select(PipelineStep.visit_id, PipelineStep.step).where(
            PipelineStep.status == StepStatus.RUNNING, PipelineStep.heartbeat_at < cutoff
        )
    ).all()
    waiting = db.execute(
        select(Visit.id).where(
            Visit.status.not_in([VisitStatus.DONE, VisitStatus.FAILED]),
            Visit.updated_at < cutoff,
        )
    ).all()
    out = [(v, s) for v, s in running]
    order = list(Step)
    for (visit_id,) in waiting:
        rows = {
            r.step: r.status
            for r in db.scalars(select(PipelineStep).where(PipelineStep.visit_id == visit_id))
        }
        if StepStatus.RUNNING in rows.values():
            continue
        pending = [s for s in order if rows.get(s) == StepStatus.PENDING]
        if pending:
            out.append((visit_id, pending[0]))
    return out
