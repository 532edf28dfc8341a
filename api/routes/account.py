"""Signing in and out, who I am, and my API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from api.access import SESSION_COOKIE, Me
from api.deps import Config, Db
from knowledge import audit, users
from knowledge.audit import Actor
from knowledge.errors import Forbidden, Unauthorized
from knowledge.models import ApiToken, Role, User

router = APIRouter(tags=["account"])
log = structlog.get_logger()


class LoginIn(BaseModel):
    username: str = Field(max_length=100)
    password: str = Field(max_length=1000)


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    teams: list[str]
    disabled: bool

    @classmethod
    def from_row(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            username=user.username,
            display_name=user.display_name,
            role=Role(user.role),
            teams=list(user.teams or []),
            disabled=user.disabled,
        )


class MeOut(BaseModel):
    user: UserOut
    csrf_token: str | None = None  # the page sends it back as X-CSRF-Token on every change


class TokenIn(BaseModel):
    name: str = Field(default="", max_length=200)
    user_id: int | None = Field(default=None, description="admins only: a token for this user")


class TokenOut(BaseModel):
    id: int
    user_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, row: ApiToken) -> TokenOut:
        return cls(
            id=row.id,
            user_id=row.user_id,
            name=row.name,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class NewTokenOut(TokenOut):
    token: str = Field(description="the secret: shown this once, only its hash is kept")


@router.post("/auth/login")
def login(body: LoginIn, db: Db, settings: Config, request: Request) -> Response:
    ip = request.client.host if request.client else ""
    try:
        user = users.check_password(db, username=body.username, password=body.password)
    except Unauthorized:
        audit.record(
            db,
            actor=Actor(None, body.username.strip().lower()[:100], ip),
            action="sign_in_failed",
        )
        db.commit()
        raise
    session = users.open_session(db, user=user, hours=settings.session_hours)
    audit.record(db, actor=Actor(user.id, user.username, ip), action="sign_in")
    db.commit()
    out = MeOut(user=UserOut.from_row(user), csrf_token=session.csrf_token)
    response = Response(out.model_dump_json(), media_type="application/json")
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )
    log.info("auth.signed_in", user_id=user.id)
    return response


@router.post("/auth/logout", status_code=204)
def logout(me: Me, db: Db, request: Request) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        users.close_session(db, secret=secret)
    audit.record(db, actor=me.actor, action="sign_out")
    db.commit()
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/auth/me")
def whoami(me: Me, db: Db, request: Request) -> MeOut:
    csrf = None
    if me.via == "session":
        found = users.session_of(db, secret=request.cookies.get(SESSION_COOKIE, ""))
        csrf = found[1].csrf_token if found else None
    return MeOut(user=UserOut.from_row(users.get(db, user_id=me.user_id)), csrf_token=csrf)


@router.get("/tokens")
def list_tokens(me: Me, db: Db) -> list[TokenOut]:
    """My tokens; an admin sees everyone's."""
    owner = None if me.role == Role.ADMIN else me.user_id
    return [TokenOut.from_row(t) for t in users.tokens_of(db, user_id=owner)]


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, me: Me, db: Db) -> NewTokenOut:
    user_id = body.user_id if body.user_id is not None else me.user_id
    if user_id != me.user_id and me.role != Role.ADMIN:
        raise Forbidden("Only an admin can make a token for another user.")
    user = users.get(db, user_id=user_id)
    new = users.create_token(db, user=user, name=body.name)
    audit.record(
        db, actor=me.actor, action="token_create", object_type="user", object_id=str(user.id)
    )
    db.commit()
    return NewTokenOut(**TokenOut.from_row(new.row).model_dump(), token=new.secret)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: Annotated[int, Path(ge=1)], me: Me, db: Db) -> Response:
    owner = None if me.role == Role.ADMIN else me.user_id
    users.revoke_token(db, token_id=token_id, user_id=owner)
    audit.record(
        db, actor=me.actor, action="token_revoke", object_type="token", object_id=str(token_id)
    )
    db.commit()
    return Response(status_code=204)
