"""Health of the service and its parts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from api.deps import Db

router = APIRouter(tags=["system"])


@router.get("/health")
def health(request: Request, db: Db) -> dict[str, object]:
    parts: dict[str, str] = {}
    try:
        db.execute(text("SELECT 1"))
        parts["database"] = "ok"
    except Exception as e:  # reported, not raised: health must answer
        parts["database"] = f"unavailable: {e.__class__.__name__}"
    live = request.app.state.live
    parts["index"] = "ok" if live.search is not None else f"unavailable: {live.error}"
    ok = all(v == "ok" for v in parts.values())
    return {"status": "ok" if ok else "degraded", "parts": parts, "version": request.app.version}
