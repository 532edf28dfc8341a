"""The Celery app: broker from settings, late acks, one task at a time per process."""

from __future__ import annotations

from celery import Celery

from knowledge.settings import Settings

QUEUE = "visitlens"
EXPIRE_EVERY_S = 3600.0  # how often visits past the retention period are looked for
RESULT_EXPIRES_S = 3600  # a /v1 result nobody read (the caller gave up) is dropped after this


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


app = make_celery(Settings())
