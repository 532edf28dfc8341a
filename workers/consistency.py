"""Whether the database, the audio store and Chroma agree, and removing what a crash left behind
(the database is the truth: whatever it does not know is an orphan)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from knowledge import audio_store
from knowledge.case_store import CaseProfileRow
from knowledge.db import session_scope
from knowledge.models import PipelineStep, Step, StepStatus, Visit
from knowledge.search_tables import SearchDocument, SearchVisit
from knowledge.settings import Settings
from knowledge.vector_index import shared
from workers.index import index_visit, reconcile

log = structlog.get_logger()
REINDEX_PER_RUN = 500  # visits indexed again per hourly run


@dataclass(frozen=True)
class Disagreements:
    """What one store holds that the others lack; all empty when they agree."""

    vectors_without_visit: frozenset[str]  # in Chroma, no row (a delete while Chroma was down)
    indexed_without_vectors: frozenset[str]  # index step done, nothing in Chroma (lost writes)
    indexed_without_keywords: frozenset[str]  # index step done, no keyword rows, search
    # documents or similar-case profile (written by a version before them)
    files_without_visit: tuple[Path, ...]  # recordings no row points at (a crash mid-upload)
    visits_without_file: frozenset[str]  # rows whose recording is missing (a lost upload)
    leftovers: tuple[Path, ...]  # entries in audio_dir/tmp: staged uploads, decrypted copies

    @property
    def total(self) -> int:
        return sum(self.counts().values())

    def counts(self) -> dict[str, int]:
        return {
            "vectors_without_visit": len(self.vectors_without_visit),
            "indexed_without_vectors": len(self.indexed_without_vectors),
            "indexed_without_keywords": len(self.indexed_without_keywords),
            "files_without_visit": len(self.files_without_visit),
            "visits_without_file": len(self.visits_without_file),
            "leftovers": len(self.leftovers),
        }


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.lstat().st_mtime < cutoff
    except FileNotFoundError:
        return False


def find(
    settings: Settings, sessions: sessionmaker[Session], *, older_than_s: float
) -> Disagreements:
    """Compare the three stores; files younger than older_than_s may belong to work in flight
    and are not counted."""
    cutoff = time.time() - older_than_s
    in_chroma = shared(settings.chroma_url).visit_ids()
    with session_scope(sessions) as db:
        rows = {v: p for v, p in db.execute(select(Visit.id, Visit.audio_path))}
        indexed = set(
            db.scalars(
                select(PipelineStep.visit_id).where(
                    PipelineStep.step == Step.INDEX, PipelineStep.status == StepStatus.DONE
                )
            )
        )
        keyworded = (
            set(db.scalars(select(SearchVisit.visit_id)))
            & set(db.scalars(select(CaseProfileRow.visit_id)))
            & set(db.scalars(select(SearchDocument.id).where(SearchDocument.kind == "visit")))
        )
    known_files = {str(Path(p)) for p in rows.values() if p}
    stored = audio_store.stored_files(settings.audio_dir)
    tmp = settings.audio_dir / audio_store.TMP
    return Disagreements(
        vectors_without_visit=frozenset(in_chroma - set(rows)),
        indexed_without_vectors=frozenset(indexed - in_chroma),
        indexed_without_keywords=frozenset(indexed - keyworded),
        files_without_visit=tuple(
            p for p in stored if str(p) not in known_files and _older(p, cutoff)
        ),
        visits_without_file=frozenset(v for v, p in rows.items() if p and not Path(p).exists()),
        leftovers=tuple(
            sorted(p for p in tmp.iterdir() if _older(p, cutoff)) if tmp.is_dir() else ()
        ),
    )


def repair(settings: Settings, sessions: sessionmaker[Session], *, older_than_s: float) -> int:
    """Remove the orphans: vectors and recordings of visits the database lacks, and leftovers
    in audio_dir/tmp, each older than older_than_s; index again (up to REINDEX_PER_RUN) the
    visits keyword search or similar cases lack (those of a version before them); returns how
    many were mended. What is missing otherwise (lost vectors or recordings) is only reported
    by `find`."""
    removed = reconcile(settings, sessions)
    found = find(settings, sessions, older_than_s=older_than_s)
    for visit_id in sorted(found.indexed_without_keywords)[:REINDEX_PER_RUN]:
        index_visit(settings, sessions, visit_id)
        removed += 1
    with session_scope(sessions) as db:  # a row committed since find() looked
        rows = {str(Path(p)) for p in db.scalars(select(Visit.audio_path)) if p}
    for path in found.files_without_visit:
        if str(path) not in rows:
            path.unlink(missing_ok=True)
            log.warning("audio.orphan_removed", path=path.name)
            removed += 1
    for path in found.leftovers:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed += 1
    return removed
