"""Per-process worker state: settings and database sessions, built once."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cache

from sqlalchemy.orm import Session, sessionmaker

from knowledge.db import make_engine, make_sessionmaker
from knowledge.settings import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]

    @property
    def worker_id(self) -> str:
        return f"{socket.gethostname()}:{os.getpid()}"  # pid differs per prefork child


@cache
def runtime() -> Runtime:
    settings = Settings()
    return Runtime(
        settings=settings, sessions=make_sessionmaker(make_engine(settings.database_url))
    )
