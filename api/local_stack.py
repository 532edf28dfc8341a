"""`visitlens up`: the processes of a one-machine install, run and stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import typer

from knowledge.settings import Settings
from workers.celery_app import worker_command

BIN = Path(sys.executable).parent
WORKER_NICE = 10  # the embedded workers' CPU priority below the API's
MAX_RESTARTS, RESTART_WINDOW_S = 5, 60.0  # `up` gives up on a component stopping more often


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


ASGI_APP = "api.main:app"  # what uvicorn serves, however the API is started


def api_command(settings: Settings) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        ASGI_APP,
        "--host",
        settings.api_host,
        "--port",
        str(settings.api_port),
    ]


def embedded_audio_key(settings: Settings) -> dict[str, str]:
    """Without a configured key, `up` encrypts with one made once and kept in data_dir/audio.key
    (mode 0600); returns the environment its processes need for it."""
    if settings.audio_key is not None:
        return {}
    from knowledge.audio_crypto import AudioKey

    path = settings.data_dir / "audio.key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(AudioKey.generate().to_text() + "\n")
        typer.echo(
            f"recordings are encrypted with a new key in {path}: back it up, without it they "
            "cannot be read"
        )
    text = path.read_text().strip()
    try:
        AudioKey.from_text(text)
    except ValueError as e:
        typer.echo(f"{path}: {e}", err=True)
        raise typer.Exit(2) from None
    return {"VISITLENS_AUDIO_KEY": text}


def _wait_http(url: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return True
        except httpx.HTTPError:
            time.sleep(0.3)
    return False


@dataclass
class Children:
    """The processes `up` started; stopped together, the last started first."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def add(self, proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()


def _start_chroma(settings: Settings, children: Children) -> None:
    """Start the Chroma server when it is local and not answering yet."""
    heartbeat = settings.chroma_url + "/api/v2/heartbeat"
    is_local = urlparse(settings.chroma_url).hostname in ("127.0.0.1", "localhost")
    if not is_local or _wait_http(heartbeat, 0.5):
        return
    log_file = (settings.data_dir / "chroma.log").open("ab")
    children.add(
        subprocess.Popen(chroma_command(settings), stdout=log_file, stderr=subprocess.STDOUT)
    )
    if not _wait_http(heartbeat, 60):
        typer.echo(f"the Chroma server did not start; see {log_file.name}", err=True)
        raise typer.Exit(1)


def _components(settings: Settings, workers: int) -> dict[str, list[str]]:
    """Each worker's command line (the first one also sends the scheduled tasks) and the API's."""
    return {
        **{
            f"worker {i}": worker_command(
                concurrency=settings.worker_concurrency,
                hostname=f"w{i}@%h",
                beat_schedule=settings.data_dir / "celerybeat-schedule" if i == 0 else None,
            )
            for i in range(workers)
        },
        "api": api_command(settings),
    }


def _keep_running(
    running: dict[str, subprocess.Popen[bytes]],
    start: Callable[[str], subprocess.Popen[bytes]],
) -> None:
    """Start again whichever component stops; give up when they stop too often."""
    restarts: list[float] = []
    while True:
        time.sleep(1)
        for name, proc in running.items():
            if proc.poll() is None:
                continue
            now = time.monotonic()
            restarts = [t for t in restarts if now - t < RESTART_WINDOW_S] + [now]
            if len(restarts) > MAX_RESTARTS:
                typer.echo(f"{name} keeps stopping; shutting down the rest", err=True)
                raise typer.Exit(1)
            typer.echo(f"{name} stopped (exit {proc.returncode}); starting it again", err=True)
            running[name] = start(name)


def run(settings: Settings, *, workers: int) -> None:
    """Run Chroma (when local), the Celery workers and the API until Ctrl-C or SIGTERM."""
    child_env = {**os.environ, **embedded_audio_key(settings)}
    children = Children()

    def terminate(*_: object) -> None:
        children.stop()
        sys.exit(0)

    signal.signal(signal.SIGTERM, terminate)
    try:
        _start_chroma(settings, children)
        commands = _components(settings, workers)

        def start(name: str) -> subprocess.Popen[bytes]:
            # workers yield the cores to the API, so search stays quick while audio transcribes
            nice = (lambda: os.nice(WORKER_NICE)) if name.startswith("worker") else None
            return children.add(subprocess.Popen(commands[name], env=child_env, preexec_fn=nice))  # noqa: PLW1509 (os.nice only)

        running = {name: start(name) for name in commands}
        typer.echo(
            f"visitlens is running at http://{settings.api_host}:{settings.api_port} "
            "(Ctrl-C stops it)"
        )
        _keep_running(running, start)
    except KeyboardInterrupt:
        pass
    finally:
        children.stop()
