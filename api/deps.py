"""Dependencies handed to routes: database session, settings, task sender, auth."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from api.links import signed_audio_request
from knowledge.errors import Unauthorized
from knowledge.settings import Settings


def get_db(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as db:
        yield db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def require_token(request: Request) -> None:
    """The API token in the Authorization header, or a signed link to one recording."""
    token = request.app.state.settings.api_token
    if not token or request.headers.get("authorization") == f"Bearer {token}":
        return
    signed = signed_audio_request(token, request.url.path, request.query_params)
    if signed:
        return
    if signed is False:
        raise Unauthorized(
            "This audio link has expired or is not valid: open the visit again for a fresh one.",
            code="link_expired",
        )
    raise Unauthorized("This server needs an API token: send 'Authorization: Bearer <token>'.")


Db = Annotated[Session, Depends(get_db)]
Config = Annotated[Settings, Depends(get_settings)]
