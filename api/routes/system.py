"""Health of the service and its parts."""

from __future__ import annotations

import time
from typing import Literal

import httpx
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.deps import Db
from knowledge.settings import Settings
from nlp.llm import ChatEndpoint, LLMError, probe

router = APIRouter(tags=["system"])
LLM_PROBE_S = 60.0  # the optional chat endpoint is asked at most once a minute
BROKER_TIMEOUT_S = 2.0


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded: a part the service needs is down"
    )
    parts: dict[str, str] = Field(
        description="database, index, broker and llm: ok, off, or unavailable with why"
    )
    version: str


@router.get("/health")
def health(request: Request, db: Db) -> HealthOut:
    parts: dict[str, str] = {}
    try:
        db.execute(text("SELECT 1"))
        parts["database"] = "ok"
    except Exception as e:  # noqa: BLE001 (reported, not raised: health must answer)
        parts["database"] = f"unavailable: {e.__class__.__name__}"
    parts["index"] = index_health(request)
    parts["broker"] = broker_health(request)
    ok = all(v == "ok" for v in parts.values())
    # optional: reported, never counted against the service (the built-in analysis stands alone)
    parts["llm"] = llm_health(request)
    return HealthOut(status="ok" if ok else "degraded", parts=parts, version=request.app.version)


def index_health(request: Request) -> str:
    """ok, or unavailable with why: does Chroma answer its heartbeat within 2 s?"""
    url = request.app.state.settings.chroma_url.rstrip("/")
    try:
        httpx.get(f"{url}/api/v2/heartbeat", timeout=2.0).raise_for_status()
    except httpx.HTTPError as e:
        return f"unavailable: {e.__class__.__name__}"
    return "ok"


def broker_health(request: Request) -> str:
    """ok, or unavailable with why: can the API hand work to the workers?"""
    try:
        with request.app.state.celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
        return "ok"
    except Exception as e:  # noqa: BLE001 (reported, not raised: health must answer)
        return f"unavailable: {e.__class__.__name__}"


def llm_health(request: Request) -> str:
    """off, ok or unreachable (with why), from a probe cached for LLM_PROBE_S."""
    settings: Settings = request.app.state.settings
    if not settings.llm_url:
        return "off"
    cached: tuple[float, str] | None = getattr(request.app.state, "llm_health", None)
    if cached is not None and time.monotonic() - cached[0] < LLM_PROBE_S:
        return cached[1]
    endpoint = ChatEndpoint(settings.llm_url, settings.llm_model, settings.llm_api_key)
    try:
        probe(endpoint)
        state = "ok"
    except LLMError as e:
        state = f"unreachable: {e.reason}"
    request.app.state.llm_health = (time.monotonic(), state)
    return state
