"""The API process's in-memory search index: warmed from Chroma, kept fresh from the database."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from knowledge.errors import Unavailable
from knowledge.models import DeletedVisit, PipelineStep, Step, StepStatus, Visit, utcnow
from knowledge.search import LabelExamples, SearchIndex
from knowledge.vector_index import IndexUnavailable, VectorIndex, warm_search_index

log = structlog.get_logger()
CLOCK_SKEW = timedelta(seconds=10)  # workers' clocks may run a little behind ours


class LiveIndex:
    """Holds the SearchIndex; a daemon thread warms it and adds each newly indexed visit."""

    def __init__(
        self,
        connect: Callable[[], VectorIndex],
        sessions: sessionmaker[Session],
        label_examples: Callable[[], LabelExamples | None],
        *,
        label_ids: Sequence[str],
        every_s: float = 2.0,
    ) -> None:
        self._label_ids = tuple(label_ids)
        self._connect = connect
        self._sessions = sessions
        self._label_examples = label_examples
        self._every_s = every_s
        self._stop = threading.Event()
        self._vectors: VectorIndex | None = None
        self.search: SearchIndex | None = None
        self.error: str | None = "The search index is still loading."
        self._since: datetime | None = None
        self._loaded: dict[str, datetime | None] = {}  # visit -> index step finish we loaded
        self._cleared: dict[str, datetime] = {}  # deleted visit -> its deletion, Chroma cleared

    def start(self) -> None:
        threading.Thread(target=self._loop, name="visitlens-live-index", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def require(self) -> tuple[SearchIndex, VectorIndex]:
        if self.search is None or self._vectors is None:
            raise Unavailable(
                self.error or "The search index is unavailable.", code="index_unavailable"
            )
        return self.search, self._vectors

    def vectors(self) -> VectorIndex | None:
        return self._vectors

    def forget_visit(self, visit_id: str) -> None:
        """Remove a deleted visit from Chroma and from memory (raises IndexUnavailable)."""
        vectors = self._vectors or self._connect()
        vectors.delete_visit(visit_id)
        if self.search is not None:
            self.search.remove_visit(visit_id)

    def refresh(self) -> int:
        """Warm the index if needed, drop visits deleted meanwhile (by any API process), then
        load the visits indexed since the last look."""
        if self.search is None:
            started = utcnow()
            self._vectors = self._connect()
            search = warm_search_index(
                self._vectors, label_examples=self._label_examples(), label_ids=self._label_ids
            )
            with self._sessions() as db:  # vectors a delete could not remove from Chroma
                existing = set(db.scalars(select(Visit.id)))
            for stale in search.visit_ids() - existing:
                search.remove_visit(stale)
            self.search, self._since, self.error = search, started - CLOCK_SKEW, None
            log.info("search.warmed", utterances=len(search), visits=search.visit_count)
            return 0
        assert self._vectors is not None and self._since is not None
        now = utcnow()
        with self._sessions() as db:
            rows = db.execute(
                select(PipelineStep.visit_id, PipelineStep.finished_at).where(
                    PipelineStep.step == Step.INDEX,
                    PipelineStep.status == StepStatus.DONE,
                    PipelineStep.finished_at >= self._since,
                )
            ).all()
            gone = db.execute(  # deleted through any API process
                select(DeletedVisit.visit_id, DeletedVisit.deleted_at).where(
                    DeletedVisit.deleted_at >= self._since
                )
            ).all()
        for visit_id, deleted_at in gone:
            if visit_id not in self._cleared:  # a deletion that met Chroma down left them there
                self._vectors.delete_visit(visit_id)
                self._cleared[visit_id] = deleted_at
            self.search.remove_visit(visit_id)
        fresh = [(v, at) for v, at in rows if self._loaded.get(v) != at]
        for visit_id, finished_at in fresh:
            docs, vectors = self._vectors.visit_documents(visit_id)
            self.search.remove_visit(visit_id)
            if docs:
                self.search.add(docs, vectors)
            self._loaded[visit_id] = finished_at  # only once loaded: Chroma may be down
        self._since = now - CLOCK_SKEW
        self._loaded = {v: at for v, at in self._loaded.items() if at and at >= self._since}
        self._cleared = {v: at for v, at in self._cleared.items() if at >= self._since}
        return len(fresh)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.refresh()
            except IndexUnavailable as e:
                self.error = str(e)
                log.warning("search.index_unavailable")
            except Exception:
                log.exception("search.refresh_failed")
            self._stop.wait(self._every_s if self.search is not None else 5.0)
