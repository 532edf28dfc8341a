"""Faults against a whole stack of real processes (a Chroma server, Redis, Celery workers, the
API under uvicorn) and the figures they give: server errors per 10,000 fuzzed requests, takeover
and finish after a worker kill, search latency under load, orphans after the fault suite.

    python -m evals.faults [--stack sqlite|postgres]        (also `visitlens bench-faults`)

tests/integration/test_fault_suite.py runs the same scenarios with assertions.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx
import numpy as np
import structlog
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from api.local_stack import ASGI_APP
from evals.servers import free_port
from knowledge import users
from knowledge.audio_crypto import AudioKey
from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.models import PipelineStep, Role, Visit
from knowledge.settings import Settings
from nlp.audio import decode_chunks
from workers import consistency
from workers.celery_app import worker_command

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
BIN = Path(sys.executable).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
WORKER_NICE = 10  # as `visitlens up` runs its workers
StackKind = Literal["sqlite", "postgres"]
T = TypeVar("T")


class FaultFailed(AssertionError):
    """A fault left the stack in a state the product promises it never reaches."""


def wait_for(
    check: Callable[[], T | None], *, timeout_s: float, what: str, every_s: float = 0.2
) -> T:
    """Poll check until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except (httpx.HTTPError, OSError):
            value = None
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise FaultFailed(f"{what}: not within {timeout_s} s")
        time.sleep(every_s)


def _stop(proc: subprocess.Popen[bytes] | None, *, sig: int = signal.SIGTERM) -> None:
    """Stop a process started in a session of its own, and its children."""
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGCONT)  # a paused process cannot act on SIGTERM
    os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def srt(lines: list[tuple[str, str]]) -> bytes:
    """An SRT transcript of (speaker, text) lines, 4 s each."""
    cues = []
    for i, (who, said) in enumerate(lines):
        a, b = i * 4, i * 4 + 3
        cues.append(f"{i + 1}\n00:00:{a:02d},000 --> 00:00:{b:02d},500\n{who}: {said}\n")
    return "\n".join(cues).encode()


def seed_transcript(word: str) -> bytes:
    """A short rep/customer transcript that search finds by the made-up word."""
    return srt(
        [
            ("Rep", "How is the packing line running this month?"),
            ("Customer", f"The {word} pumps leak every week and deliveries are late."),
            ("Rep", "I will send a technician by Friday."),
            ("Customer", f"We may switch supplier if the {word} problem continues."),
        ]
    )


def tone_wav(seconds: float, freq_hz: float, *, rate: int = 48000) -> bytes:
    """A stereo 16-bit tone: a distinct, valid recording of a chosen size (no speech)."""
    t = np.arange(int(seconds * rate)) / rate
    wave_ = (0.2 * 32767 * np.sin(2 * np.pi * freq_hz * t)).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.repeat(wave_, 2).tobytes())
    return out.getvalue()


@dataclass
class FaultStack:
    """One isolated stack: its own folder, database, Chroma server, broker, workers and API."""

    kind: StackKind
    tmp: Path
    settings: Settings
    env: dict[str, str]
    engine: Engine
    sessions: sessionmaker[Session]
    api_url: str
    chroma_port: int
    redis_port: int | None
    token: str = ""
    chroma: subprocess.Popen[bytes] | None = None
    redis: subprocess.Popen[bytes] | None = None
    api: subprocess.Popen[bytes] | None = None
    more_apis: list[subprocess.Popen[bytes]] = field(default_factory=list)  # other API processes
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _started: int = 0

    @classmethod
    def create(
        cls, tmp: Path, kind: StackKind, *, database_url: str | None = None, **overrides: Any
    ) -> FaultStack:
        """Settings of a fresh stack in tmp (database_url: an empty PostgreSQL database for
        the postgres kind); nothing is started yet."""
        chroma_port, api_port = free_port(), free_port()
        redis_port = free_port() if kind == "postgres" else None
        values: dict[str, Any] = dict(
            data_dir=tmp,
            audio_dir=tmp / "audio",
            models_dir=ROOT / "models",
            database_url=f"sqlite:///{tmp}/visitlens.db",
            broker_url=f"sqla+sqlite:///{tmp}/broker.db",
            chroma_url=f"http://127.0.0.1:{chroma_port}",
            api_port=api_port,
            audio_key=AudioKey.generate().to_text(),  # `visitlens up` encrypts by default
            searches_per_minute=1_000_000,  # latency is measured here, not the limits
            uploads_per_hour=1_000_000,
        )
        if kind == "postgres":
            if database_url is None:
                raise ValueError("the postgres stack needs a database_url")
            values |= dict(
                database_url=database_url, broker_url=f"redis://127.0.0.1:{redis_port}/0"
            )
        values |= overrides
        env = {k: v for k, v in os.environ.items() if not k.startswith("VISITLENS_")}
        env |= {f"VISITLENS_{k.upper()}": str(v) for k, v in values.items()}
        env["PYTHONUNBUFFERED"] = "1"
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]  # pydantic-settings init kwarg
        engine = make_engine(settings.database_url)
        return cls(
            kind=kind,
            tmp=tmp,
            settings=settings,
            env=env,
            engine=engine,
            sessions=make_sessionmaker(engine),
            api_url=f"http://127.0.0.1:{api_port}",
            chroma_port=chroma_port,
            redis_port=redis_port,
        )

    # processes

    def _spawn(
        self, name: str, command: list[str], *, nice: bool = False
    ) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{name}.log").open("ab")
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=(lambda: os.nice(WORKER_NICE)) if nice else None,  # noqa: PLW1509 (os.nice only)
        )

    def start(self, *, workers: int = 2) -> FaultStack:
        migrate(self.settings.database_url)
        self.token = self._admin_token()
        self.start_chroma()
        if self.redis_port is not None:
            self.start_redis()
        for _ in range(workers):
            self.start_worker()
        self.start_api()
        return self

    def stop(self) -> None:
        for proc in [self.api, *self.more_apis, *self.workers, self.chroma, self.redis]:
            _stop(proc)
        self.engine.dispose()

    def start_chroma(self) -> None:
        self.chroma = self._spawn(
            "chroma",
            [
                str(BIN / "chroma"),
                "run",
                "--path",
                str(self.tmp / "chroma"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.chroma_port),
            ],
        )
        url = f"{self.settings.chroma_url}/api/v2/heartbeat"
        wait_for(lambda: httpx.get(url, timeout=2).is_success, timeout_s=60, what="chroma start")

    def start_redis(self) -> None:
        self.redis = self._spawn(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(self.redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.tmp),
            ],
        )

        def up() -> bool:
            with socket.create_connection(("127.0.0.1", self.redis_port or 0), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")

        wait_for(up, timeout_s=20, what="redis start")

    def start_worker(self) -> subprocess.Popen[bytes]:
        self._started += 1
        proc = self._spawn(
            f"worker{self._started}",
            worker_command(
                concurrency=1,
                hostname=f"f{self._started}-{uuid.uuid4().hex[:6]}@%h",
                heartbeat=False,
            ),
            nice=True,
        )
        self.workers.append(proc)
        return proc

    def start_api(self, port: int | None = None) -> str:
        """Start the stack's API process, or with a port another one beside it (as behind a
        load balancer); returns its URL once it answers."""
        url = self.api_url if port is None else f"http://127.0.0.1:{port}"
        proc = self._spawn(
            "api" if port is None else f"api-{port}",
            [
                sys.executable,
                "-m",
                "uvicorn",
                ASGI_APP,
                "--host",
                "127.0.0.1",
                "--port",
                url.rsplit(":", 1)[1],
            ],
        )
        if port is None:
            self.api = proc
        else:
            self.more_apis.append(proc)
        wait_for(
            lambda: httpx.get(f"{url}/api/health", timeout=2).is_success,
            timeout_s=60,
            what="API start",
        )
        return url

    def kill_api(self) -> None:
        assert self.api is not None
        os.killpg(self.api.pid, signal.SIGKILL)
        self.api.wait()

    def kill_worker(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        self.workers.remove(proc)

    def _admin_token(self) -> str:
        with self.sessions() as db:
            user = users.create(db, username=f"faults-{uuid.uuid4().hex[:6]}", role=Role.ADMIN)
            secret = users.create_token(db, user=user, name="faults").secret
            db.commit()
        return secret

    # the API

    def client(self, timeout_s: float = 60, *, url: str | None = None) -> httpx.Client:
        """A signed-in client of the stack's API (url: another API process of the stack)."""
        return httpx.Client(
            base_url=url or self.api_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=timeout_s,
        )

    def upload(self, name: str, content: bytes, **fields: str) -> dict[str, Any]:
        with self.client() as c:
            res = c.post("/api/visits", files={"file": (name, content)}, data=fields)
        if res.status_code not in (200, 202):
            raise FaultFailed(f"upload {name}: {res.status_code} {res.text[:200]}")
        visit: dict[str, Any] = res.json()
        return visit

    def visit(self, visit_id: str) -> dict[str, Any] | None:
        with self.client() as c:
            res = c.get(f"/api/visits/{visit_id}")
        return None if res.status_code == 404 else dict(res.json())

    def wait(self, visit_id: str, *, timeout_s: float = 180) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            v = self.visit(visit_id)
            return v if v and v["status"] in ("done", "failed") else None

        return wait_for(finished, timeout_s=timeout_s, what=f"visit {visit_id} done", every_s=0.3)

    def search_hits(self, query: str, *, url: str | None = None) -> set[str]:
        with self.client(url=url) as c:
            res = c.get("/api/search", params={"q": query, "limit": 50})
        return {h["visit_id"] for h in res.json().get("results", [])} if res.is_success else set()

    def step_row(self, visit_id: str, step: str) -> PipelineStep | None:
        with self.sessions() as db:
            return db.get(PipelineStep, (visit_id, step))

    # consistency

    def disagreements(self) -> consistency.Disagreements:
        return consistency.find(self.settings, self.sessions, older_than_s=0)

    def settle(self, *, timeout_s: float = 60) -> None:
        """Wait until no visit is queued or in a step (every step finished or failed)."""

        def idle() -> bool:
            with self.sessions() as db:
                busy = db.scalar(
                    select(Visit.id).where(Visit.status.not_in(["done", "failed"])).limit(1)
                )
            return busy is None

        wait_for(idle, timeout_s=timeout_s, what="pipeline idle", every_s=0.5)


@contextmanager
def postgres_database(admin_url: str = PG_ADMIN) -> Iterator[str]:
    """A fresh PostgreSQL database for one run, dropped at its end."""
    import psycopg

    name = f"visitlens_faults_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_stack(
    kind: StackKind, *, pg_admin: str = PG_ADMIN, **overrides: Any
) -> Iterator[FaultStack]:
    """A started stack in a temporary folder, stopped and removed at the end."""
    with tempfile.TemporaryDirectory(prefix=f"visitlens-faults-{kind}-") as folder:
        if kind == "postgres":
            with postgres_database(pg_admin) as url:
                stack = FaultStack.create(Path(folder), kind, database_url=url, **overrides)
                try:
                    yield stack.start()
                finally:
                    stack.stop()
        else:
            stack = FaultStack.create(Path(folder), kind, **overrides)
            try:
                yield stack.start()
            finally:
                stack.stop()


# scenarios: each returns its measurements and raises FaultFailed on a broken promise


def seed(stack: FaultStack, words: list[str]) -> dict[str, str]:
    """Indexed visits that search finds by their word; returns word -> visit id."""
    ids = {w: stack.upload(f"seed-{w}.srt", seed_transcript(w), language="en")["id"] for w in words}
    for word, visit_id in ids.items():
        if stack.wait(visit_id)["status"] != "done":
            raise FaultFailed(f"seed visit {word} failed")
    wait_for(
        lambda: all(v in stack.search_hits(w) for w, v in ids.items()),
        timeout_s=30,
        what="seed visits searchable",
    )
    return ids


def kill_worker_mid_transcription(stack: FaultStack, audio: Path) -> dict[str, Any]:
    """kill -9 the worker transcribing a recording; another worker's reaper takes the step
    over. Takeover: from the kill until the step is claimed again; finish: until done."""
    stack.workers = [p for p in stack.workers if p.poll() is None]
    while len(stack.workers) < 2:
        stack.start_worker()
    time.sleep(1.0)
    visit_id = stack.upload(audio.name, audio.read_bytes(), language="zh")["id"]

    def holder() -> PipelineStep | None:
        row = stack.step_row(visit_id, "transcribe")
        return row if row and row.status == "running" and row.worker else None

    row = wait_for(holder, timeout_s=120, what="transcription started", every_s=0.1)
    time.sleep(1.0)
    pid = int(str(row.worker).rsplit(":", 1)[1])
    victim = next(p for p in stack.workers if p.pid == os.getpgid(pid))
    stack.kill_worker(victim)
    killed = time.monotonic()
    wait_for(
        lambda: (r := stack.step_row(visit_id, "transcribe")) and r.attempts >= 2,
        timeout_s=120,
        what="takeover",
        every_s=0.2,
    )
    takeover_s = time.monotonic() - killed
    stack.start_worker()  # back to two, as a supervisor would
    done = stack.wait(visit_id, timeout_s=300)
    finish_s = time.monotonic() - killed
    with stack.client() as c:
        segments = c.get(f"/api/visits/{visit_id}/transcript").json().get("segments", [])
    starts = [s["start"] for s in segments]
    transcribe = next(s for s in done["steps"] if s["step"] == "transcribe")
    return {
        "visit_id": visit_id,
        "status": done["status"],
        "takeover_s": round(takeover_s, 1),
        "finish_s": round(finish_s, 1),
        "attempts": transcribe["attempts"],
        "segments": len(segments),
        "duplicate_segments": len(starts) - len(set(starts)),
        "ordered": starts == sorted(starts),
    }


def chroma_killed_while_indexing(stack: FaultStack, word: str) -> dict[str, Any]:
    """kill -9 the Chroma server as a visit reaches indexing, start it again: the visit ends
    searchable, and what was indexed before is still there."""
    before = _chroma_visits(stack)
    visit_id = stack.upload(f"{word}.srt", seed_transcript(word), language="en")["id"]
    wait_for(
        lambda: (v := stack.visit(visit_id)) and v["status"] in ("indexing", "done", "failed"),
        timeout_s=120,
        what="indexing reached",
        every_s=0.05,
    )
    assert stack.chroma is not None
    os.killpg(stack.chroma.pid, signal.SIGKILL)
    stack.chroma.wait()
    killed = time.monotonic()
    hit_mid_indexing = (stack.visit(visit_id) or {}).get("status") == "indexing"
    time.sleep(3)
    stack.start_chroma()
    done = stack.wait(visit_id, timeout_s=180)
    wait_for(lambda: visit_id in stack.search_hits(word), timeout_s=60, what="searchable again")
    lost = before - _chroma_visits(stack)
    return {
        "status": done["status"],
        "killed_mid_indexing": hit_mid_indexing,
        "searchable_after_s": round(time.monotonic() - killed, 1),
        "index_attempts": next(s for s in done["steps"] if s["step"] == "index")["attempts"],
        "lost_visits": sorted(lost),
    }


def _chroma_visits(stack: FaultStack) -> set[str]:
    from knowledge.vector_index import connect

    return connect(stack.settings.chroma_url).visit_ids()


def _open_transactions(stack: FaultStack) -> int:
    """Sessions of this stack's database inside a transaction and waiting (PostgreSQL); on
    SQLite, 1 when a write cannot start at once (someone holds the write lock)."""
    if stack.kind == "postgres":
        with stack.engine.connect() as conn:
            return int(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                    )
                )
                or 0
            )
    import sqlite3

    lite = sqlite3.connect(str(stack.tmp / "visitlens.db"), timeout=0.5)
    try:
        lite.execute("BEGIN IMMEDIATE")
        lite.rollback()
        return 0
    except sqlite3.OperationalError:
        return 1
    finally:
        lite.close()


def chroma_paused(stack: FaultStack, seeded: dict[str, str]) -> dict[str, Any]:
    """SIGSTOP the Chroma server: search and a deletion answer within the Chroma timeout
    (search with 503: it holds no copy of the index), nothing holds a database transaction,
    and all recovers after SIGCONT (a worker takes the deleted visit's vectors out)."""
    assert stack.chroma is not None
    word, victim = next(iter(seeded.items()))
    other_word, other = list(seeded.items())[1]
    os.killpg(stack.chroma.pid, signal.SIGSTOP)
    paused = time.monotonic()
    answers: dict[str, Any] = {}

    def delete() -> None:
        started = time.monotonic()
        with stack.client(timeout_s=120) as c:
            res = c.delete(f"/api/visits/{victim}")
        answers["delete"] = (res.status_code, round(time.monotonic() - started, 1))

    deleter = threading.Thread(target=delete)
    deleter.start()
    try:
        time.sleep(1.0)
        started = time.monotonic()
        with stack.client(timeout_s=120) as c:
            search = c.get("/api/search", params={"q": other_word})
            health = c.get("/api/health")
        answers["search"] = (search.status_code, round(time.monotonic() - started, 2))
        answers["search_found"] = other in {h["visit_id"] for h in search.json().get("results", [])}
        answers["health"] = health.status_code
        transactions = _open_transactions(stack)
        late = stack.upload(f"paused-{word}.srt", seed_transcript(f"paused{word}"), language="en")
        deleter.join(timeout=120)
    finally:
        os.killpg(stack.chroma.pid, signal.SIGCONT)
    resumed_after = time.monotonic() - paused
    done = stack.wait(late["id"], timeout_s=180)
    wait_for(
        lambda: late["id"] in stack.search_hits(f"paused{word}"), timeout_s=60, what="searchable"
    )
    wait_for(
        lambda: victim not in _chroma_visits(stack), timeout_s=30, what="deleted vectors cleared"
    )
    return {
        "delete_status": answers["delete"][0],
        "delete_s": answers["delete"][1],
        "search_status": answers["search"][0],
        "search_s": answers["search"][1],
        "search_found": answers["search_found"],
        "health_status": answers["health"],
        "open_transactions": transactions,
        "paused_s": round(resumed_after, 1),
        "upload_during_pause": done["status"],
    }


def redis_restarted(stack: FaultStack, word: str) -> dict[str, Any]:
    """Kill the broker (Redis, no persistence: queued tasks are lost) while visits are in the
    pipeline and one is uploaded meanwhile; start it again: every visit finishes."""
    assert stack.redis is not None
    first = stack.upload(f"{word}-1.srt", seed_transcript(f"{word}one"), language="en")["id"]
    time.sleep(0.3)
    _stop(stack.redis, sig=signal.SIGKILL)
    down = time.monotonic()
    second = stack.upload(f"{word}-2.srt", seed_transcript(f"{word}two"), language="en")["id"]
    time.sleep(2)
    stack.start_redis()
    results = [stack.wait(v, timeout_s=180) for v in (first, second)]
    return {
        "statuses": [r["status"] for r in results],
        "finished_after_s": round(time.monotonic() - down, 1),
    }


def api_restarted_during_uploads(stack: FaultStack, *, files: int = 8) -> dict[str, Any]:
    """kill -9 the API while uploads stream in, start it again; every client retries until
    answered. No duplicate visit, no lost upload; orphans are left to the reconciliation."""
    contents = [tone_wav(6 + i, 300 + 40 * i) for i in range(files)]
    answered: dict[int, str] = {}
    failures: list[str] = []

    def client(i: int) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with stack.client() as c:
                    res = c.post("/api/visits", files={"file": (f"restart-{i}.wav", contents[i])})
            except httpx.TransportError:
                time.sleep(0.5)
                continue
            if res.status_code in (200, 202):
                answered[i] = res.json()["id"]
                return
            if res.status_code >= 500:
                failures.append(f"{i}: {res.status_code}")
            time.sleep(0.5)
        failures.append(f"{i}: no answer")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(files)]
    for t in threads:
        t.start()
    time.sleep(0.4)
    stack.kill_api()
    stack.start_api()
    for t in threads:
        t.join()
    hashes = [hashlib.sha256(c).hexdigest() for c in contents]
    with stack.sessions() as db:
        per_hash = {
            h: list(db.scalars(select(Visit.id).where(Visit.content_sha256 == h))) for h in hashes
        }
    for visit_id in answered.values():
        stack.wait(visit_id, timeout_s=180)
    return {
        "uploads": files,
        "answered": len(answered),
        "server_errors": failures,
        "duplicates": sum(max(len(v) - 1, 0) for v in per_hash.values()),
        "lost": sum(
            1 for i, h in enumerate(hashes) if i in answered and per_hash[h] != [answered[i]]
        ),
    }


def delete_during_steps(stack: FaultStack, recordings: list[Path]) -> dict[str, Any]:
    """Delete a visit while each pipeline step runs (one recording per step, all at once); the
    visit must end gone from every store."""
    steps = ["transcribe", "diarize", "analyse", "index"]
    uploads = {
        step: stack.upload(f"del-{step}{path.suffix}", path.read_bytes(), language="auto")["id"]
        for step, path in zip(steps, recordings, strict=True)
    }
    hit: dict[str, bool] = {}

    def delete_when_running(step: str, visit_id: str) -> None:
        def running() -> bool | None:
            row = stack.step_row(visit_id, step)
            if row is None or row.status in ("done", "failed", "skipped"):
                return True  # too late: delete anyway
            return row.status == "running" or None

        wait_for(running, timeout_s=240, what=f"{step} running", every_s=0.02)
        row = stack.step_row(visit_id, step)
        hit[step] = row is not None and row.status == "running"
        with stack.client() as c:
            res = c.delete(f"/api/visits/{visit_id}")
        if res.status_code not in (204, 404):
            raise FaultFailed(f"delete during {step}: {res.status_code} {res.text[:200]}")

    threads = [threading.Thread(target=delete_when_running, args=kv) for kv in uploads.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stack.settle(timeout_s=120)
    time.sleep(2)  # a step that was running when its visit went finishes on its own
    with stack.sessions() as db:
        rows = db.scalars(select(Visit.id).where(Visit.id.in_(list(uploads.values())))).all()
    crashed = [
        line
        for log in stack.tmp.glob("worker*.log")
        for line in log.read_text(errors="replace").splitlines()
        if "step.crashed" in line and any(v in line for v in uploads.values())
    ]
    return {"deleted_while_running": hit, "rows_left": len(rows), "steps_crashed": len(crashed)}


# figures


def search_latency(
    stack: FaultStack, audio: list[Path], words: list[str], *, clients: int = 50
) -> dict[str, Any]:
    """p50 and p95 of search for `clients` concurrent clients while one worker transcribes a
    recording (the recordings joined into one longer one)."""
    samples = np.concatenate([x for p in audio for _, x in decode_chunks(p)])  # 16 kHz mono
    joined = io.BytesIO()
    with wave.open(joined, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    visit_id = stack.upload("latency.wav", joined.getvalue(), language="zh")["id"]
    wait_for(
        lambda: (v := stack.visit(visit_id)) and v["status"] == "transcribing",
        timeout_s=120,
        what="transcribing",
        every_s=0.1,
    )
    stop = threading.Event()
    times: list[float] = []
    errors: list[int] = []

    def client(n: int) -> None:
        with stack.client(timeout_s=60) as c:
            i = n
            while not stop.is_set():
                started = time.perf_counter()
                res = c.get("/api/search", params={"q": words[i % len(words)]})
                if res.is_success:
                    times.append(time.perf_counter() - started)
                else:
                    errors.append(res.status_code)
                i += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and (stack.visit(visit_id) or {}).get("status") == "transcribing"
    ):
        time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    transcribing = (stack.visit(visit_id) or {}).get("status") == "transcribing"
    stack.wait(visit_id, timeout_s=300)
    ms = sorted(t * 1000 for t in times)
    return {
        "clients": clients,
        "requests": len(ms),
        "errors": len(errors),
        "p50_ms": round(statistics.median(ms), 1) if ms else None,
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1) if ms else None,
        "still_transcribing_at_end": transcribing,
    }


def fuzz(stack: FaultStack, *, examples: int) -> dict[str, Any]:
    """Schemathesis over the OpenAPI schema, signed in and out, `examples` cases per operation
    (fixed seed): server errors (5xx) per 10,000 requests."""
    import schemathesis
    from hypothesis import HealthCheck, Phase, given
    from hypothesis import settings as hyp_settings
    from hypothesis import strategies as st

    with stack.client() as c:
        document = c.get("/openapi.json").raise_for_status().json()
    # revoking its own token would leave the rest of the run signed out
    schema = schemathesis.openapi.from_dict(document).exclude(
        method="DELETE", path="/api/tokens/{token_id}"
    )
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    counts = {"requests": 0, "server_errors": 0}
    failing: dict[str, int] = {}
    signed_in = {"Authorization": f"Bearer {stack.token}"}
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # a broken schema should raise

        @given(case=st.one_of(*(operation.as_strategy(generation_mode=m) for m in modes)))
        @hyp_settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            for headers in (signed_in, {}):
                try:
                    res = case.call(base_url=stack.api_url, headers=headers, timeout=60)
                except Exception:  # noqa: BLE001 (a dropped connection counts as a server error)
                    status = 599
                else:
                    status = res.status_code
                counts["requests"] += 1
                if status >= 500:
                    counts["server_errors"] += 1
                    key = f"{case.method} {case.path} {status}"
                    failing[key] = failing.get(key, 0) + 1

        run()
    per_10k = 10_000 * counts["server_errors"] / max(counts["requests"], 1)
    return {**counts, "per_10000": round(per_10k, 2), "failing": failing}


def run_all(kind: StackKind, *, fuzz_examples: int, pg_admin: str = PG_ADMIN) -> dict[str, Any]:
    """The whole fault suite on one stack, then the orphans the reconciliation finds, then
    the fuzzing (last: it may change users and visits at random)."""
    out: dict[str, Any] = {"stack": kind}
    clock = time.monotonic()
    with running_stack(kind, pg_admin=pg_admin) as stack:
        words = ["zebrafin", "quokkavalve", "marmotgear", "ibexbelt", "okapiseal", "tapirhose"]
        seeded = seed(stack, words)
        out["search_under_load"] = search_latency(
            stack,
            [
                FIXTURES / "zh_three_voices.mp3",
                FIXTURES / "zh_noisy.mp3",
                FIXTURES / "zh_short.mp3",
            ],
            words,
        )
        out["worker_kill"] = kill_worker_mid_transcription(stack, FIXTURES / "zh_noisy.mp3")
        out["chroma_kill"] = chroma_killed_while_indexing(stack, "wombatcog")
        out["chroma_pause"] = chroma_paused(stack, seeded)
        if kind == "postgres":
            out["redis_restart"] = redis_restarted(stack, "lemurpipe")
        out["api_restart"] = api_restarted_during_uploads(stack)
        out["delete_during_steps"] = delete_during_steps(
            stack,
            [
                FIXTURES / "zh_short.mp3",
                FIXTURES / "en_short.mp3",
                FIXTURES / "rep_voice_zh.mp3",
                FIXTURES / "en_one_speaker.mp3",
            ],
        )
        stack.settle(timeout_s=180)
        found = stack.disagreements()
        out["orphans_after_suite"] = {"total": found.total, **found.counts()}
        out["reconciliation_removed"] = consistency.repair(
            stack.settings, stack.sessions, older_than_s=0
        )
        out["orphans_after_reconciliation"] = stack.disagreements().total
        out["fuzz"] = fuzz(stack, examples=fuzz_examples)
    out["seconds"] = round(time.monotonic() - clock, 1)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", choices=["sqlite", "postgres"], action="append")
    parser.add_argument("--fuzz-examples", type=int, default=25, help="cases per operation")
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="PostgreSQL admin URL (postgres)")
    args = parser.parse_args(argv)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))  # JSON on stdout
    kinds: list[StackKind] = args.stack or ["sqlite", "postgres"]
    result = [run_all(k, fuzz_examples=args.fuzz_examples, pg_admin=args.pg_admin) for k in kinds]
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
