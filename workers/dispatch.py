"""Enqueueing pipeline steps by name, so the API never imports the model code."""

from __future__ import annotations

from celery import Celery
from sqlalchemy.orm import Session

from knowledge import steps
from knowledge.models import Step

ORDER = [Step.TRANSCRIBE, Step.DIARIZE, Step.ANALYSE, Step.INDEX]


def task_name(step: Step) -> str:
    return f"pipeline.{step.value}"


def enqueue(app: Celery, *, visit_id: str, step: Step) -> None:
    app.send_task(task_name(step), args=[visit_id], task_id=f"{visit_id}:{step.value}")


def next_step(step: Step) -> Step | None:
    i = ORDER.index(step)
    return ORDER[i + 1] if i + 1 < len(ORDER) else None


def rerun_from(db: Session, app: Celery, *, visit_id: str, step: Step) -> None:
    """Mark step and the steps after it to run again, commit, and enqueue step."""
    steps.reset(db, visit_id=visit_id, steps=ORDER[ORDER.index(step) :])
    db.commit()
    enqueue(app, visit_id=visit_id, step=step)
