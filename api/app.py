"""The FastAPI app factory: one Settings in, routes, error handlers and shared clients wired."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.base import RequestResponseEndpoint

from api import errors
from api.access import (
    API_PREFIX,
    LINK_SECRET,
    OPENAI_PREFIX,
    authorize,
    authorize_openai,
    check_rules,
    require_sign_in,
)
from api.routes import (
    account,
    admin,
    analysis,
    ask,
    insights,
    ledger,
    library,
    openai_audio,
    playbooks,
    search,
    speakers,
    system,
    uploads,
    visits,
)
from knowledge import users
from knowledge.db import check_schema, make_engine, make_sessionmaker
from knowledge.engine_search import EngineSearch
from knowledge.search_text import embed_label_examples
from knowledge.settings import Settings
from knowledge.vector_index import shared
from nlp.classify import load_current_classifier
from nlp.embed import load_embedder
from nlp.labels import load_labels
from nlp.transcript_formats import UNSTORABLE
from workers.celery_app import make_celery

WEB = Path(__file__).resolve().parent / "web"
ROUTERS = tuple(
    m.router
    for m in (
        system,
        account,
        admin,
        uploads,
        visits,
        analysis,
        speakers,
        search,
        ask,
        insights,
        ledger,
        library,
        playbooks,
    )
)
OPENAI_ROUTERS = (openai_audio.router,)  # under /v1, errors in OpenAI's shape
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
        "'unsafe-inline'; img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def max_body_bytes(settings: Settings) -> int:
    """The largest request body: an upload at its limit plus its form fields."""
    return settings.max_upload_bytes + 1024 * 1024


def _link_secret(settings: Settings, sessionmaker: Any) -> str:
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    with sessionmaker() as db:
        secret = users.server_secret(db, name=LINK_SECRET)
        db.commit()
    return secret


def create_app(settings: Settings) -> FastAPI:
    app = FastAPI(
        title="visitlens",
        version="0.1.0",
        lifespan=_lifespan(settings),
        description="Customer-visit recordings turned into searchable knowledge.",
        docs_url=None,  # served below, to signed-in callers only
        redoc_url=None,
        openapi_url=None,
    )
    errors.install(app)
    _include_routers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "X-CSRF-Token"],
        )
    _add_guard(app, settings)
    _add_pages(app)
    return app


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """What the app holds while it runs: engine, Celery client and search (no corpus: that stays
    in the engines); the query embedder, the classifier and the label examples' vectors are
    loaded here, so no request waits for a model."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        check_schema(engine)  # before the models: an old schema stops the start at once
        load_embedder(settings.embedding_model)
        load_current_classifier(settings.prompts_dir, settings.models_dir)
        app.state.settings = settings
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.link_secret = _link_secret(settings, app.state.sessionmaker)
        app.state.celery = make_celery(settings)
        app.state.search = EngineSearch(
            partial(shared, settings.chroma_url),
            labels=load_labels(settings.prompts_dir),
            label_examples=embed_label_examples(
                settings.prompts_dir,
                load_embedder(settings.embedding_model),
                settings.models_dir / "cache",
            ),
        )
        yield
        engine.dispose()

    return lifespan


def _include_routers(app: FastAPI) -> None:
    """The /api routes (signed in, access rules) and the OpenAI-shaped /v1 routes."""
    check_rules(ROUTERS)
    for router in ROUTERS:
        app.include_router(
            router,
            prefix=API_PREFIX,
            dependencies=[Depends(authorize)],
            responses=errors.API_ERRORS,
        )
    check_rules(OPENAI_ROUTERS, OPENAI_PREFIX)
    for router in OPENAI_ROUTERS:
        app.include_router(
            router,
            prefix=OPENAI_PREFIX,
            dependencies=[Depends(authorize_openai)],
            responses=errors.OPENAI_ERRORS,
        )


def _add_guard(app: FastAPI, settings: Settings) -> None:
    @app.middleware("http")
    async def guard_and_headers(request: Request, call_next: RequestResponseEndpoint) -> Response:
        """Refuse unstorable addresses and oversized bodies up front; security headers on all."""
        length = request.headers.get("content-length", "")
        if UNSTORABLE.search(request.url.path + unquote(request.url.query)):
            response: Response = errors.error_response(
                422,
                "invalid_characters",
                "The address holds a NUL or an unpaired surrogate character; send plain text.",
                path=request.url.path,
            )
        elif length.isascii() and length.isdecimal() and int(length) > max_body_bytes(settings):
            response = errors.error_response(  # refused before a byte of it is spooled
                413,
                "file_too_large",
                f"The file is larger than the limit of {settings.max_upload_mb} MB.",
                path=request.url.path,
            )
        else:
            response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def _add_pages(app: FastAPI) -> None:
    """The web page, its vendored libraries, and the API docs (signed-in callers only)."""

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_sign_in)])
    def openapi_schema() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False, dependencies=[Depends(require_sign_in)])
    def api_docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="visitlens API")

    @app.get("/", include_in_schema=False)
    def index_page() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html")

    # the page's vendored libraries (api/web/vendor/README.md): served here, never from a CDN
    app.mount("/vendor", StaticFiles(directory=WEB / "vendor"), name="vendor")
