"""Reps and their enrolled voice prints."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge.errors import NotFound
from knowledge.models import Rep


def voiceprint_of(db: Session, *, name: str) -> np.ndarray | None:
    rep = db.get(Rep, name)
    if rep is None or rep.voiceprint is None:
        return None
    return np.frombuffer(rep.voiceprint, dtype=np.float32).copy()


def enrol(db: Session, *, name: str, voiceprint: np.ndarray, sample_s: float) -> Rep:
    rep = db.get(Rep, name) or Rep(name=name)
    rep.voiceprint = np.asarray(voiceprint, dtype=np.float32).tobytes()
    rep.sample_s = round(sample_s, 2)
    db.add(rep)
    db.flush()
    return rep


def forget(db: Session, *, name: str) -> None:
    rep = db.get(Rep, name)
    if rep is None or rep.voiceprint is None:
        raise NotFound(f"No voice is enrolled for rep '{name}'.", code="rep_not_found")
    rep.voiceprint = None


def listing(db: Session) -> list[Rep]:
    return list(db.scalars(select(Rep).order_by(Rep.name)).all())
