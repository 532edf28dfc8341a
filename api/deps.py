"""Dependencies handed to routes: database session and settings (the caller: api/access.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from knowledge.settings import Settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as db:
        yield db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


Db = Annotated[Session, Depends(get_db)]
Config = Annotated[Settings, Depends(get_settings)]

MAX_ID = 2**31 - 1  # a row id; larger numbers are not ids (and overflow the databases)
RowId = Annotated[int, Path(ge=1, le=MAX_ID, description="a row id")]
Index = Annotated[int, Path(ge=0, le=1_000_000, description="a position in a visit")]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
