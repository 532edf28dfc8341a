"""Celery tasks, one per pipeline step; each is thin and safe to run twice."""

from __future__ import annotations

import structlog
from celery.signals import worker_process_init, worker_ready

from knowledge import audio_store
from knowledge.errors import TransientError
from knowledge.models import Step
from nlp.commitments import load_act_classifier
from workers import analyse, diarize, dispatch, index, reaper, retention, transcribe
from workers.celery_app import app
from workers.runner import run_step
from workers.runtime import runtime

log = structlog.get_logger()

TASK_OPTIONS = dict(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(TransientError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)


def send(visit_id: str, step: Step) -> None:
    dispatch.enqueue(app, visit_id=visit_id, step=step)


@app.task(name="pipeline.transcribe", **TASK_OPTIONS)
def transcribe_task(visit_id: str) -> None:
    run_step(visit_id, Step.TRANSCRIBE, transcribe.work, send=send)


@app.task(name="pipeline.diarize", **TASK_OPTIONS)
def diarize_task(visit_id: str) -> None:
    run_step(visit_id, Step.DIARIZE, diarize.work, send=send)


@app.task(name="pipeline.analyse", **TASK_OPTIONS)
def analyse_task(visit_id: str) -> None:
    run_step(visit_id, Step.ANALYSE, analyse.work, send=send)


@app.task(name="pipeline.index", **TASK_OPTIONS)
def index_task(visit_id: str) -> None:
    run_step(visit_id, Step.INDEX, index.work, send=send)


@app.task(name="maintenance.expire_visits", acks_late=True)
def expire_visits_task() -> int:
    """Beat runs this hourly: delete the visits past the retention period."""
    rt = runtime()
    return retention.expire(
        rt.settings,
        rt.sessions,
        lambda v: index.vector_index(rt.settings.chroma_url).delete_visit(v),
    )


@app.task(name="maintenance.reconcile_index", acks_late=True)
def reconcile_index_task() -> int:
    """Beat runs this hourly: remove vectors whose visit is gone (a crash mid-deletion)."""
    rt = runtime()
    return index.reconcile(rt.settings, rt.sessions)


@worker_process_init.connect
def warm_models(**_: object) -> None:
    """Load the models once per worker process, before the first task."""
    settings = runtime().settings
    transcribe.whisper(settings)
    analyse.classifier(settings)
    load_act_classifier(settings.prompts_dir)
    log.info("worker.models_loaded", asr_model=settings.asr_model)


@worker_ready.connect
def start_reaper(**_: object) -> None:
    reaper.start(runtime(), send, every_s=max(10.0, runtime().settings.stale_step_s / 3))
    # decrypted copies and staged uploads left by a crash
    removed = audio_store.sweep_tmp(
        runtime().settings.audio_dir, older_than_s=audio_store.TMP_MAX_AGE_S
    )
    log.info("worker.tmp_swept", removed=removed)
