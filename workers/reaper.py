"""Takes over abandoned work: steps whose worker died (kill -9) and visits whose task was lost."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from sqlalchemy.exc import OperationalError

from knowledge import steps, visits
from knowledge.db import session_scope
from knowledge.models import Step, utcnow
from workers.runtime import Runtime

log = structlog.get_logger()

Send = Callable[[str, Step], None]


def sweep(rt: Runtime, send: Send) -> int:
    """Enqueue every abandoned step once; returns how many were enqueued."""
    with session_scope(rt.sessions) as db:
        found = steps.abandoned(db, stale_s=rt.settings.stale_step_s)
        for visit_id, _step in found:
            visits.get(db, visit_id=visit_id).updated_at = utcnow()
    for visit_id, step in found:
        log.info("reaper.requeued", visit_id=visit_id, step=step)
        send(visit_id, Step(step))
    return len(found)


def start(rt: Runtime, send: Send, *, every_s: float) -> threading.Event:
    """Sweep now and then every `every_s` seconds in a daemon thread; set the event to stop."""
    stop = threading.Event()

    def loop() -> None:
        while True:
            try:
                sweep(rt, send)
            except OperationalError:
                log.warning("reaper.database_unavailable")
            except Exception:
                log.exception("reaper.crashed")
            if stop.wait(every_s):
                return

    threading.Thread(target=loop, name="visitlens-reaper", daemon=True).start()
    return stop
