"""Shared fixtures: real PostgreSQL and Redis, a real Celery worker process, the API app."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from evals.servers import chroma_server
from knowledge import users
from knowledge.db import make_engine, make_sessionmaker, migrate
from knowledge.models import Role
from knowledge.settings import Settings
from workers.celery_app import worker_command

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
MODELS = ROOT / "models"
PG_ADMIN = os.environ.get("VISITLENS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("VISITLENS_TEST_REDIS", "redis://127.0.0.1:6379/9")


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[psycopg.Connection[Any]]:
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN} (.ci/run starts it): {e}")
    yield admin
    admin.close()


@pytest.fixture(scope="module")
def pg_database(pg_admin: psycopg.Connection[Any]) -> Iterator[str]:
    """A fresh PostgreSQL database for one test module, dropped at its end."""
    name = f"visitlens_test_{uuid.uuid4().hex[:8]}"
    pg_admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    pg_admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).flushdb()
    except redis.ConnectionError as e:
        pytest.fail(f"Redis is not reachable at {REDIS_URL} (.ci/run starts it): {e}")
    return REDIS_URL


def settings_for(tmp: Path, kind: str, **overrides: Any) -> Settings:
    """Settings of one isolated stack: "embedded" (SQLite, SQL broker) or "production"."""
    values: dict[str, Any] = dict(
        data_dir=tmp,
        audio_dir=tmp / "audio",
        models_dir=MODELS,
        chroma_url="http://127.0.0.1:1",  # no index unless a test starts one
        stale_step_s=8,
    )
    if kind == "embedded":
        values |= dict(
            database_url=f"sqlite:///{tmp}/visitlens.db",
            broker_url=f"sqla+sqlite:///{tmp}/broker.db",
        )
    values |= overrides
    return Settings(**values)


def make_user(
    settings: Settings,
    username: str,
    role: Role = Role.ADMIN,
    *,
    teams: tuple[str, ...] = (),
    password: str | None = None,
    display_name: str = "",
) -> str:
    """A user in the stack's database; returns an API token of theirs."""
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            user = users.create(
                db,
                username=username,
                role=role,
                teams=teams,
                password=password,
                display_name=display_name,
            )
            secret = users.create_token(db, user=user, name="tests").secret
            db.commit()
    finally:
        engine.dispose()
    return secret


def signed_in(client: TestClient, settings: Settings) -> TestClient:
    """The client, sending a new admin's token on every request."""
    token = make_user(settings, f"admin-{uuid.uuid4().hex[:8]}")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def env_of(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):  # str() would pass the mask, not the secret
            value = value.get_secret_value()
        elif isinstance(value, list):
            value = json.dumps(
                [v.get_secret_value() if isinstance(v, SecretStr) else v for v in value]
            )
        if value is not None:
            env[f"VISITLENS_{name.upper()}"] = str(value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Stack:
    settings: Settings
    client: TestClient
    tmp: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self) -> subprocess.Popen[bytes]:
        name = f"t{len(self.workers)}-{uuid.uuid4().hex[:6]}@%h"
        log = (self.tmp / f"worker{len(self.workers)}.log").open("wb")
        proc = subprocess.Popen(
            worker_command(concurrency=1, hostname=name, heartbeat=False),
            cwd=ROOT,
            env=env_of(self.settings),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.workers.append(proc)
        return proc

    def kill_worker(self, proc: subprocess.Popen[bytes]) -> None:
        """kill -9 the worker and its pool children, as a crash would."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)

    def upload(self, path: Path, **fields: str) -> Any:
        with path.open("rb") as f:
            return self.client.post("/api/visits", files={"file": (path.name, f)}, data=fields)

    def wait(
        self, visit_id: str, *, until: tuple[str, ...] = ("done", "failed"), timeout: float = 180
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            visit: dict[str, Any] = self.client.get(f"/api/visits/{visit_id}").json()
            if visit["status"] in until:
                return visit
            time.sleep(0.5)
        logs = "\n".join(
            (self.tmp / f"worker{i}.log").read_text()[-3000:] for i in range(len(self.workers))
        )
        raise AssertionError(f"visit {visit_id} still {visit['status']} after {timeout} s\n{logs}")


def make_stack(
    tmp: Path, kind: str, pg_url: str | None = None, redis: str | None = None, **overrides: Any
) -> Stack:
    if kind == "production":
        overrides = dict(database_url=pg_url, broker_url=redis) | overrides
    settings = settings_for(tmp, kind, **overrides)
    migrate(settings.database_url)
    client = TestClient(create_app(settings))
    client.__enter__()
    return Stack(settings=settings, client=signed_in(client, settings), tmp=tmp)


@pytest.fixture(scope="module", params=["embedded", "production"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The API in-process and one real Celery worker, on embedded or production settings."""
    kind = request.param
    pg = request.getfixturevalue("pg_database") if kind == "production" else None
    rd = request.getfixturevalue("redis_url") if kind == "production" else None
    chroma = request.getfixturevalue("chroma_url")
    s = make_stack(tmp_path_factory.mktemp(kind), kind, pg, rd, chroma_url=chroma)
    s.start_worker()
    yield s
    s.stop()
    s.client.__exit__(None, None, None)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    """The API alone (no worker) on SQLite and on PostgreSQL, for routes over stored data."""
    overrides: dict[str, Any] = {}
    if request.param == "postgresql":
        overrides["database_url"] = request.getfixturevalue("pg_database")
    settings = settings_for(tmp_path_factory.mktemp(request.param), "embedded", **overrides)
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as c:
        yield signed_in(c, settings)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    """The API alone on embedded settings (no worker): for validation and error paths."""
    settings = settings_for(tmp_path, "embedded", max_upload_mb=1, max_audio_s=20)
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as client:
        yield signed_in(client, settings)


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free port with a temporary path."""
    with chroma_server(tmp_path_factory.mktemp("chroma")) as (url, _):
        yield url


def assert_stores_agree(settings: Settings, *, chroma_shared: bool = False) -> None:
    """After a fault: the database, the audio store and Chroma agree, no orphan either way
    (chroma_shared: the module's Chroma also holds another stack's visits, not counted)."""
    from dataclasses import replace

    from workers.consistency import find

    engine = make_engine(settings.database_url)
    try:
        found = find(settings, make_sessionmaker(engine), older_than_s=0)
    finally:
        engine.dispose()
    if chroma_shared:
        found = replace(found, vectors_without_visit=frozenset())
    assert found.total == 0, found
