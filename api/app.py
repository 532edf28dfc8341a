"""The FastAPI app factory: one Settings in, routes, error handlers and shared clients wired."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse

from api import errors
from api.deps import require_token
from api.routes import analysis, insights, ledger, library, search, speakers, system, visits
from knowledge.db import make_engine, make_sessionmaker
from knowledge.live_index import LiveIndex
from knowledge.search import embed_label_examples
from knowledge.settings import Settings
from knowledge.vector_index import connect
from nlp.embed import load_embedder
from nlp.labels import load_labels
from workers.celery_app import make_celery

WEB = Path(__file__).resolve().parent / "web"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        app.state.settings = settings
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.celery = make_celery(settings)
        app.state.live = LiveIndex(
            lambda: connect(settings.chroma_url),
            app.state.sessionmaker,
            lambda: embed_label_examples(
                settings.prompts_dir,
                load_embedder(settings.embedding_model),
                settings.models_dir / "cache",
            ),
            label_ids=load_labels(settings.prompts_dir).need_pain_ids,
        )
        app.state.live.start()
        yield
        app.state.live.stop()
        engine.dispose()

    app = FastAPI(
        title="visitlens",
        version="0.1.0",
        lifespan=lifespan,
        description="Customer-visit recordings turned into searchable knowledge.",
    )
    errors.install(app)
    auth = [Depends(require_token)]
    for module in (system, visits, analysis, speakers, search, insights, ledger, library):
        app.include_router(module.router, prefix="/api", dependencies=auth)

    @app.get("/", include_in_schema=False)
    def index_page() -> FileResponse:
        return FileResponse(WEB / "index.html", media_type="text/html")

    return app
