"""Signing in and out, who I am, and my API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from api import oidc
from api.access import SESSION_COOKIE, Me
from api.deps import MAX_ID, Config, Db, RowId
from api.schemas import Body
from knowledge import audit, users
from knowledge.audit import Actor
from knowledge.errors import Forbidden, NotFound, Unauthorized
from knowledge.models import ApiToken, Role, User

router = APIRouter(tags=["account"])
log = structlog.get_logger()


class MethodsOut(BaseModel):
    password: bool
    oidc: bool = Field(description="single sign-on with the company's provider")


class LoginIn(Body):
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


class TokenIn(Body):
    name: str = Field(default="", max_length=200)
    user_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="admins only: a token for this user"
    )


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


def _open_session(db: Db, settings: Config, user: User, ip: str) -> users.NewSession:
    session = users.open_session(db, user=user, hours=settings.session_hours)
    audit.record(db, actor=Actor(user.id, user.username, ip), action="sign_in")
    db.commit()
    log.info("auth.signed_in", user_id=user.id)
    return session


def _with_cookie(response: Response, session: users.NewSession, settings: Config) -> Response:
    """The response, setting the session's cookie."""
    response.set_cookie(
        SESSION_COOKIE,
        session.secret,
        max_age=int(settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        secure=settings.secure_cookies,
        path="/",
    )
    return response


@router.get("/auth/methods")
def sign_in_methods(settings: Config) -> MethodsOut:
    """How the page can sign in: a password, and single sign-on when a provider is set."""
    return MethodsOut(password=True, oidc=bool(settings.oidc_issuer))


def _callback_url(settings: Config, request: Request) -> str:
    base = settings.oidc_public_url or str(request.base_url)
    return base.rstrip("/") + "/api/auth/oidc/callback"


def _provider(settings: Config) -> oidc.Provider:
    if not settings.oidc_issuer:
        raise NotFound("Single sign-on is not set up on this server.", code="sso_off")
    return oidc.discover(settings)


@router.get("/auth/oidc/login", status_code=303, response_class=RedirectResponse)
def oidc_login(settings: Config, request: Request) -> Response:
    """Off to the company's sign-on provider; it comes back to /auth/oidc/callback."""
    provider = _provider(settings)
    url, flow = oidc.start(
        settings, provider, _callback_url(settings, request), request.app.state.link_secret
    )
    response = RedirectResponse(url, status_code=303)
    # Lax: the provider's redirect back is a cross-site navigation that must carry it
    response.set_cookie(
        oidc.FLOW_COOKIE,
        flow,
        max_age=oidc.FLOW_S,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/api/auth/oidc",
    )
    return response


@router.get("/auth/oidc/callback", status_code=303, response_class=RedirectResponse)
def oidc_callback(
    db: Db,
    settings: Config,
    request: Request,
    code: Annotated[str, Query(max_length=4000)] = "",
    state: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    provider = _provider(settings)
    username = oidc.finish(
        settings,
        provider,
        code=code,
        state=state,
        flow_cookie=request.cookies.get(oidc.FLOW_COOKIE, ""),
        redirect_uri=_callback_url(settings, request),
        secret=request.app.state.link_secret,
    )
    try:
        user = users.by_name(db, username=username)
    except users.UserNotFound:
        if settings.oidc_default_role is None:
            raise Forbidden(
                f"{username} has no visitlens account yet: ask an admin to add one.",
                code="sso_no_account",
            ) from None
        user = users.create(db, username=username, role=Role(settings.oidc_default_role))
    if user.disabled:
        raise Forbidden(f"The account {user.username} is disabled.", code="account_disabled")
    session = _open_session(db, settings, user, request.client.host if request.client else "")
    response = _with_cookie(RedirectResponse("/", status_code=303), session, settings)
    response.delete_cookie(oidc.FLOW_COOKIE, path="/api/auth/oidc")
    return response


@router.post("/auth/login", response_model=MeOut)
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
    session = _open_session(db, settings, user, ip)
    out = MeOut(user=UserOut.from_row(user), csrf_token=session.csrf_token)
    return _with_cookie(JSONResponse(out.model_dump(mode="json")), session, settings)


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
def whoami(me: Me, db: Db) -> MeOut:
    return MeOut(user=UserOut.from_row(users.get(db, user_id=me.user_id)), csrf_token=me.csrf_token)


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
def revoke_token(token_id: RowId, me: Me, db: Db) -> Response:
    owner = None if me.role == Role.ADMIN else me.user_id
    users.revoke_token(db, token_id=token_id, user_id=owner)
    audit.record(
        db, actor=me.actor, action="token_revoke", object_type="token", object_id=str(token_id)
    )
    db.commit()
    return Response(status_code=204)
