"""The Celery app: broker from settings, late acks, one task at a time per process; and the
worker's command line."""

from __future__ import annotations

import sys
from pathlib import Path

from celery import Celery

from knowledge.settings import Settings

QUEUE = "visitlens"
EXPIRE_EVERY_S = 3600.0  # how often visits past the retention period are looked for
RESULT_EXPIRES_S = 3600  # a /v1 result nobody read (the caller gave up) is dropped after this
WORKER_APP = "workers.main"  # what `celery -A` loads in a worker process


def worker_command(
    *, concurrency: int, hostname: str, beat_schedule: Path | None = None, heartbeat: bool = True
) -> list[str]:
    """A Celery worker's command line; with beat_schedule it also sends the scheduled tasks
    (run exactly one such worker)."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        WORKER_APP,
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(concurrency),
        "--hostname",
        hostname,
        "--without-gossip",
        "--without-mingle",
        *([] if heartbeat else ["--without-heartbeat"]),
        *(["--beat", "--schedule", str(beat_schedule)] if beat_schedule else []),
    ]


def make_celery(settings: Settings) -> Celery:
    app = Celery(
        "visitlens",
        broker=settings.broker_url,
        # only asr.transcribe_now keeps a result: /v1 reads it once, then forgets it
        backend=settings.result_backend_url,
        include=["workers.tasks"],
    )
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,
        result_expires=RESULT_EXPIRES_S,
        result_extended=False,
        task_default_queue=QUEUE,
        task_serializer="json",
        accept_content=["json"],
        worker_prefetch_multiplier=1,
        worker_concurrency=settings.worker_concurrency,
        worker_hijack_root_logger=False,
        broker_connection_retry_on_startup=True,
        broker_transport_options=_transport_options(settings.broker_url),
        database_engine_options=(
            {"connect_args": {"timeout": 30}}
            if settings.result_backend_url.startswith("db+sqlite")
            else {}
        ),
        # one beat process sends these (`visitlens up` runs it in its first worker)
        beat_schedule={
            "expire-visits": {"task": "maintenance.expire_visits", "schedule": EXPIRE_EVERY_S},
            "reconcile-index": {
                "task": "maintenance.reconcile_index",
                "schedule": EXPIRE_EVERY_S,
            },
        },
    )
    return app


def _transport_options(broker_url: str) -> dict[str, object]:
    if broker_url.startswith(("redis://", "rediss://")):
        # Redis redelivers an unacked task after this long; the step lease (knowledge/steps.py)
        # takes over much sooner and makes the late copy a no-op.
        return {"visibility_timeout": 6 * 3600}
    if broker_url.startswith(("sqla+", "sqlalchemy+")):
        # kombu hands every option of this transport to create_engine, so its poll interval
        # (1 s, paid at each of the four step hand-offs) is set on the class instead.
        from kombu.transport.sqlalchemy import Transport

        Transport.polling_interval = 0.1
        return {"connect_args": {"timeout": 30}}
    return {}
