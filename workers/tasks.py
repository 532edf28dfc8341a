"""Celery tasks, one per pipeline step; each is thin and safe to run twice."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

import structlog
from celery import Task
from celery.signals import worker_init, worker_process_init, worker_ready
from sqlalchemy.exc import SQLAlchemyError

from knowledge import audio_store
from knowledge.db import check_schema, make_engine
from knowledge.engine_search import FORGET_TASK, forget_visit
from knowledge.errors import TransientError
from knowledge.models import Step
from knowledge.vector_index import IndexUnavailable, shared
from nlp.commitments import load_current_acts
from nlp.embed import load_embedder
from nlp.types import Segment
from nlp.voiceprint import load_encoder
from nlp.weight_versions import current_weights
from workers import (
    analyse,
    consistency,
    diarize,
    dispatch,
    index,
    reaper,
    results,
    retention,
    transcribe,
    transcribe_now,
    voice,
)
from workers.celery_app import QUEUE
from workers.main import app
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


@app.task(name=results.TASK, bind=True, ignore_result=False, acks_late=False)
def transcribe_now_task(self: Task, request: dict[str, Any]) -> dict[str, Any]:
    """/v1/audio/transcriptions: the API waits for this result and then forgets it."""
    req = results.NowRequest(**request)
    streamed: list[dict[str, Any]] = []

    def report(segments: list[Segment]) -> None:
        streamed.extend(asdict(s) for s in segments)
        self.update_state(state="PROGRESS", meta={"segments": streamed})

    out = transcribe_now.work(runtime().settings, req, on_segments=report if req.stream else None)
    return out | {"streamed": streamed} if req.stream and "error" not in out else out


@app.task(name=voice.TASK, ignore_result=False, acks_late=False)
def voiceprint_task(staged_name: str, deadline: float) -> dict[str, Any]:
    """A rep's voice enrolment: the API waits for this result and then forgets it."""
    return voice.work(runtime().settings, staged_name, deadline)


@app.task(name="maintenance.expire_visits", acks_late=True)
def expire_visits_task() -> int:
    """Beat runs this hourly: delete the visits past the retention period."""
    rt = runtime()
    return retention.expire(
        rt.settings,
        rt.sessions,
        lambda v: forget_visit(rt.sessions, shared(rt.settings.chroma_url), v),
    )


@app.task(name=FORGET_TASK, bind=True, acks_late=True, max_retries=None)
def forget_visit_task(self: Task, visit_id: str) -> None:
    """A deleted visit's vectors, when the API could not reach Chroma: retried until it can."""
    rt = runtime()
    try:
        forget_visit(rt.sessions, shared(rt.settings.chroma_url), visit_id)
    except IndexUnavailable as e:
        shared.cache_clear()
        raise self.retry(countdown=2, exc=e) from e


@app.task(name="maintenance.reconcile_index", acks_late=True)
def reconcile_index_task() -> int:
    """Beat runs this hourly: remove vectors whose visit is gone (a crash mid-deletion) and
    recordings and staged files a crash left (older than any step lasts)."""
    rt = runtime()
    return consistency.repair(rt.settings, rt.sessions, older_than_s=audio_store.TMP_MAX_AGE_S)


@worker_init.connect
def refuse_an_old_schema(**_: object) -> None:
    """A worker started after an upgrade, before `visitlens migrate`, stops with a sentence
    that says so instead of failing every task (SchemaBehind). On an engine of its own, closed
    before the pool forks: a connection the children inherited would be shared by all."""
    engine = make_engine(runtime().settings.database_url)
    try:
        check_schema(engine)
    finally:
        engine.dispose()


@worker_init.connect
def declare_queue(**_: object) -> None:
    """Create the embedded broker's queue row before consuming: kombu's SQL transport checks
    and then inserts, so two workers starting at once race and the loser would crash."""
    if not runtime().settings.broker_url.startswith(("sqla+", "sqlalchemy+")):
        return
    for attempt in range(5):
        try:
            with app.connection_for_write() as conn:
                conn.default_channel.queue_declare(queue=QUEUE)
            return
        except SQLAlchemyError:  # the other worker's insert won; the next look finds it
            log.info("worker.queue_declare_raced", attempt=attempt)
            time.sleep(0.2 * (attempt + 1))


@worker_process_init.connect
def warm_models(**_: object) -> None:
    """Load the models once per worker process, before the first task."""
    settings = runtime().settings
    transcribe.whisper(settings)
    load_encoder()
    analyse.classifier(settings)
    load_current_acts(settings.prompts_dir, settings.models_dir)
    load_embedder(settings.embedding_model)
    log.info(
        "worker.models_loaded",
        asr_model=settings.asr_model,
        weights=str(current_weights(settings.models_dir, settings.prompts_dir)),
    )


@worker_ready.connect
def start_reaper(**_: object) -> None:
    reaper.start(runtime(), send, every_s=max(10.0, runtime().settings.stale_step_s / 3))
    # decrypted copies and staged uploads left by a crash
    removed = audio_store.sweep_tmp(
        runtime().settings.audio_dir, older_than_s=audio_store.TMP_MAX_AGE_S
    )
    log.info("worker.tmp_swept", removed=removed)
