"""Per-user rate limits counted in the database, so every API process shares them."""

from __future__ import annotations

import time

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from knowledge.errors import TooManyRequests
from knowledge.models import RateCount


def take(
    db: Session, *, user_id: int, bucket: str, limit: int, window_s: int, now: float | None = None
) -> None:
    """Count one request (the caller commits it, over the limit too); TooManyRequests past
    `limit` in this window."""
    start = int(time.time() if now is None else now) // window_s * window_s
    key = dict(user_id=user_id, bucket=bucket, window=start)
    bump = (
        update(RateCount)
        .where(*(getattr(RateCount, k) == v for k, v in key.items()))
        .values(count=RateCount.count + 1)
        .returning(RateCount.count)
    )
    count = db.scalar(bump)
    if count is None:
        try:
            with db.begin_nested():
                db.add(RateCount(**key, count=1))
            count = 1
        except IntegrityError:  # another process made the row first
            count = db.scalar(bump)
    db.execute(  # this user's earlier windows of this kind: a look-up by primary key
        delete(RateCount).where(
            RateCount.user_id == user_id, RateCount.bucket == bucket, RateCount.window < start
        )
    )
    if count is not None and count > limit:
        wait = start + window_s - int(time.time() if now is None else now)
        raise TooManyRequests(
            f"Too many {bucket} requests: at most {limit} per {window_s // 60 or 1} minute(s). "
            f"Try again in {max(wait, 1)} s."
        )
