"""The frame every pipeline step runs in: claim, heartbeat, work, record, hand on."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy.exc import OperationalError
from structlog.typing import FilteringBoundLogger

from knowledge import steps, visits
from knowledge.db import session_scope
from knowledge.errors import TransientError, VisitlensError, VisitNotFound
from knowledge.models import Step, StepStatus, VisitStatus
from workers import dispatch
from workers.runtime import Runtime, runtime

log = structlog.get_logger()

STATUS_OF_STEP = {
    Step.TRANSCRIBE: VisitStatus.TRANSCRIBING,
    Step.DIARIZE: VisitStatus.ANALYSING,
    Step.ANALYSE: VisitStatus.ANALYSING,
    Step.INDEX: VisitStatus.INDEXING,
}
HEARTBEAT_S = 15.0


@dataclass
class StepContext:
    visit_id: str
    step: Step
    rt: Runtime
    _last_progress: float = field(default=0.0)

    def progress(self, fraction: float) -> None:
        """Record progress 0..1 of this step, at most every two seconds."""
        now = time.monotonic()
        if now - self._last_progress < 2.0 and fraction < 1.0:
            return
        self._last_progress = now
        with session_scope(self.rt.sessions) as db:
            visits.get(db, visit_id=self.visit_id).progress = round(min(max(fraction, 0.0), 1.0), 3)


def _beat(rt: Runtime, visit_id: str, step: Step, worker: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            with session_scope(rt.sessions) as db:
                steps.heartbeat(db, visit_id=visit_id, step=step, worker=worker)
        except OperationalError:
            log.warning("step.heartbeat_failed", visit_id=visit_id, step=step)


def run_step(
    visit_id: str,
    step: Step,
    work: Callable[[StepContext], None],
    *,
    send: Callable[[str, Step], None],
) -> None:
    """Run one step once: skipped when done or held by a live worker, failed for good on a
    permanent error, retried by Celery (TransientError) on a passing one."""
    rt = runtime()
    bound = log.bind(visit_id=visit_id, step=step.value)
    if not _claim(rt, visit_id, step, bound):
        return
    started = time.monotonic()
    if not _work(rt, visit_id, step, work, bound):
        return
    seconds = round(time.monotonic() - started, 3)
    following = dispatch.next_step(step)
    with session_scope(rt.sessions) as db:
        steps.finish(db, visit_id=visit_id, step=step)
        if following is None:
            visits.set_status(db, visit_id=visit_id, status=VisitStatus.DONE, progress=1.0)
    bound.info("step.done", seconds=seconds)
    if following is not None:
        send(visit_id, following)


def _claim(rt: Runtime, visit_id: str, step: Step, bound: FilteringBoundLogger) -> bool:
    """Take the step for this worker and show it on the visit; False when it is not ours to run
    (done, held by a live worker, or the visit is gone)."""
    try:
        with session_scope(rt.sessions) as db:
            if not steps.claim(
                db,
                visit_id=visit_id,
                step=step,
                worker=rt.worker_id,
                stale_s=rt.settings.stale_step_s,
            ):
                bound.info("step.skipped", status=steps.status_of(db, visit_id=visit_id, step=step))
                return False
            visits.set_status(
                db,
                visit_id=visit_id,
                status=STATUS_OF_STEP[step],
                progress=0.0 if step == Step.TRANSCRIBE else None,
            )
    except VisitNotFound:
        bound.info("step.visit_gone")
        return False
    except OperationalError as e:
        raise TransientError(f"Database unavailable: {e.__class__.__name__}") from e
    return True


def _work(
    rt: Runtime,
    visit_id: str,
    step: Step,
    work: Callable[[StepContext], None],
    bound: FilteringBoundLogger,
) -> bool:
    """Do the step's work under a heartbeat; False when it ended otherwise (failed for good, or
    the visit was deleted meanwhile). Passing faults are raised as TransientError."""
    stop = threading.Event()
    beater = threading.Thread(
        target=_beat, args=(rt, visit_id, step, rt.worker_id, stop), daemon=True
    )
    beater.start()
    try:
        work(StepContext(visit_id, step, rt))
    except VisitNotFound:
        bound.info("step.visit_gone")
        return False
    except TransientError:
        bound.warning("step.transient_error", exc_info=True)
        raise
    except OperationalError as e:
        bound.warning("step.database_error", exc_info=True)
        raise TransientError("Database unavailable.") from e
    except VisitlensError as e:
        bound.info("step.failed", code=e.code)
        _fail(rt, visit_id, step, e.code, e.message)
        return False
    except Exception:  # noqa: BLE001 (any crash fails the step for good, with its traceback logged)
        if _gone(rt, visit_id):  # deleted while the step worked: its writes had nowhere to go
            bound.info("step.visit_gone")
            return False
        bound.exception("step.crashed")
        _fail(
            rt,
            visit_id,
            step,
            "internal",
            f"The {step.value} step failed unexpectedly; the error is in the worker log.",
        )
        return False
    finally:
        stop.set()
    return True


def _gone(rt: Runtime, visit_id: str) -> bool:
    with session_scope(rt.sessions) as db:
        return not visits.existing(db, visit_ids=[visit_id])


def _fail(rt: Runtime, visit_id: str, step: Step, code: str, message: str) -> None:
    with session_scope(rt.sessions) as db:
        steps.finish(
            db, visit_id=visit_id, step=step, status=StepStatus.FAILED, code=code, message=message
        )
        visits.fail(db, visit_id=visit_id, code=code, message=message)
