"""Who is calling, and whether their role may use this route: one rule per route, here.

Every /api route has a line in RULES naming the roles that may call it; `create_app` refuses to
start when a route has none, and tests/integration/test_access.py checks each refusal from the
same table. Which rows a permitted caller then sees is knowledge.access.Scope's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute

from api.links import Signer, signed_audio_user
from knowledge import limits, users
from knowledge.access import Scope
from knowledge.audit import Actor
from knowledge.errors import Forbidden, Unauthorized
from knowledge.models import Role, User
from nlp.redact import redact

API_PREFIX = "/api"
OPENAI_PREFIX = "/v1"  # the OpenAI-compatible routes (api/routes/openai_audio.py)
SESSION_COOKIE = "visitlens_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
LINK_SECRET = "audio_links"

A, M, R, T, P = Role.ADMIN, Role.MANAGER, Role.REP, Role.TRAINER, Role.PRODUCT
EVERYONE = frozenset(Role)
PUBLIC: frozenset[Role] = frozenset()  # no sign-in needed
VISIT_READERS = frozenset({A, M, R, T})
VISIT_OWNERS = frozenset({A, M, R})

RULES: dict[tuple[str, str], frozenset[Role]] = {
    ("GET", "/api/health"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("GET", "/api/auth/methods"): PUBLIC,
    ("GET", "/api/auth/oidc/login"): PUBLIC,
    ("GET", "/api/auth/oidc/callback"): PUBLIC,
    ("POST", "/api/auth/logout"): EVERYONE,
    ("GET", "/api/auth/me"): EVERYONE,
    ("GET", "/api/tokens"): EVERYONE,
    ("POST", "/api/tokens"): EVERYONE,
    ("DELETE", "/api/tokens/{token_id}"): EVERYONE,
    ("GET", "/api/users"): frozenset({A}),
    ("POST", "/api/users"): frozenset({A}),
    ("PATCH", "/api/users/{user_id}"): frozenset({A}),
    ("GET", "/api/audit"): frozenset({A}),
    # visits
    ("POST", "/api/visits"): VISIT_OWNERS,
    ("GET", "/api/visits"): VISIT_READERS,
    ("GET", "/api/visits/{visit_id}"): VISIT_READERS,
    ("PATCH", "/api/visits/{visit_id}"): VISIT_OWNERS,
    ("POST", "/api/visits/{visit_id}/retry"): VISIT_OWNERS,
    ("DELETE", "/api/visits/{visit_id}"): VISIT_OWNERS,
    ("DELETE", "/api/customers/{customer}/visits"): frozenset({A}),
    ("GET", "/api/visits/{visit_id}/transcript"): VISIT_READERS,
    ("GET", "/api/visits/{visit_id}/audio"): VISIT_READERS,
    # analysis
    ("POST", "/api/analyze/text"): VISIT_READERS,
    ("GET", "/api/labels"): EVERYONE,
    ("GET", "/api/visits/{visit_id}/analysis"): VISIT_READERS,
    ("PUT", "/api/visits/{visit_id}/utterances/{idx}/labels"): VISIT_READERS,
    ("GET", "/api/corrections"): frozenset({A, M, T}),
    # speakers and coaching
    ("POST", "/api/reps/{name}/voice"): VISIT_OWNERS,
    ("GET", "/api/reps"): VISIT_OWNERS,
    ("DELETE", "/api/reps/{name}/voice"): frozenset({A, M}),
    ("GET", "/api/visits/{visit_id}/speakers"): VISIT_READERS,
    ("PUT", "/api/visits/{visit_id}/speakers"): VISIT_OWNERS,
    ("PATCH", "/api/visits/{visit_id}/segments/{idx}"): VISIT_OWNERS,
    ("GET", "/api/visits/{visit_id}/coaching"): VISIT_READERS,
    # search
    ("GET", "/api/search"): VISIT_READERS,
    ("GET", "/api/visits/{visit_id}/similar"): VISIT_READERS,
    ("POST", "/api/similar"): VISIT_READERS,
    ("POST", "/api/ask"): VISIT_READERS,
    # insights: aggregates; product sees them with redacted quotes
    ("GET", "/api/insights/pain-points"): frozenset({A, M, T, P}),
    ("GET", "/api/insights/needs"): frozenset({A, M, T, P}),
    # the follow-up ledger
    ("POST", "/api/ledger"): VISIT_OWNERS,
    ("POST", "/api/visits/{visit_id}/ledger"): VISIT_OWNERS,
    ("GET", "/api/ledger"): VISIT_OWNERS,
    ("GET", "/api/ledger/report"): frozenset({A, M}),
    ("GET", "/api/ledger/attention"): VISIT_OWNERS,
    ("PATCH", "/api/ledger/{entry_id}"): VISIT_OWNERS,
    ("DELETE", "/api/ledger/{entry_id}"): VISIT_OWNERS,
    # the best-practice library: trainers curate, everyone who sells reads
    ("POST", "/api/library/playlists"): frozenset({A, T}),
    ("GET", "/api/library/playlists"): VISIT_READERS,
    ("DELETE", "/api/library/playlists/{playlist_id}"): frozenset({A, T}),
    ("POST", "/api/library/clips"): frozenset({A, T}),
    ("DELETE", "/api/library/clips/{clip_id}"): frozenset({A, T}),
    ("GET", "/api/library"): VISIT_READERS,
    ("GET", "/api/library/suggestions"): frozenset({A, T}),
    # objection playbooks: everyone reads within their scope; trainers, managers, admins curate
    ("GET", "/api/playbooks"): EVERYONE,
    ("GET", "/api/playbooks/{topic}"): EVERYONE,
    ("PUT", "/api/playbooks/{topic}/answers/{visit_id}/{answer_idx}"): frozenset({A, M, T}),
    ("POST", "/api/playbooks/suggest"): EVERYONE,
    # OpenAI-compatible transcription: whoever may upload a visit
    ("GET", "/v1/models"): EVERYONE,
    ("POST", "/v1/audio/transcriptions"): VISIT_OWNERS,
}


@dataclass(frozen=True)
class Caller:
    """The signed-in user of one request, and how they proved it."""

    user_id: int
    username: str
    display_name: str
    role: Role
    teams: tuple[str, ...]
    via: Literal["session", "token", "link"]
    signer: Signer
    redacted: bool = False  # quotes reach them with personal data masked
    ip: str = ""
    csrf_token: str | None = None  # of their session, when they came with one

    @property
    def scope(self) -> Scope:
        return Scope(self.role, self.user_id, self.teams, self.redacted)

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.username, self.ip)

    def shown(self, text: str, names: Sequence[str] = ()) -> str:
        """Text as this caller may read it: personal data (and these names) masked for them."""
        return redact(text, names=names) if self.redacted else text


def rule_of(route: APIRoute, method: str, prefix: str = API_PREFIX) -> frozenset[Role] | None:
    """The roles that may call a route of one of the routers mounted under prefix."""
    return RULES.get((method, prefix + route.path))


def api_routes(routers: Iterable[APIRouter]) -> list[tuple[str, APIRoute]]:
    """(method, route) of every route of these routers."""
    return [
        (method, route)
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods or ())
    ]


def check_rules(routers: Iterable[APIRouter], prefix: str = API_PREFIX) -> None:
    """Refuse to start with a route that has no rule: no route is open by accident."""
    missing = [
        f"{method} {prefix}{route.path}"
        for method, route in api_routes(routers)
        if rule_of(route, method, prefix) is None
    ]
    if missing:
        raise RuntimeError(f"routes without an access rule in api/access.py: {missing}")


def _caller(
    request: Request,
    user: User,
    via: Literal["session", "token", "link"],
    csrf_token: str | None = None,
) -> Caller:
    return Caller(
        user_id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=Role(user.role),
        teams=tuple(user.teams or ()),
        via=via,
        signer=Signer(request.app.state.link_secret, user.id),
        redacted=user.role in request.app.state.settings.redact_roles or user.role == Role.PRODUCT,
        ip=request.client.host if request.client else "",
        csrf_token=csrf_token,
    )


def _identify(request: Request) -> Caller | None:
    """The caller from a bearer token, a session cookie (with its CSRF token on writes) or a
    signed audio link; None when the request carries none of them."""
    header = request.headers.get("authorization", "")
    cookie = request.cookies.get(SESSION_COOKIE)
    link_user = signed_audio_user(
        request.app.state.link_secret, request.url.path, request.query_params
    )
    with request.app.state.sessionmaker() as db:
        if link_user is not None and request.method in SAFE_METHODS:
            user = db.get(User, link_user)
            if user is not None and not user.disabled:
                return _caller(request, user, "link")
        if header:
            scheme, _, secret = header.partition(" ")
            user = users.user_of_token(db, secret=secret.strip())
            if scheme.lower() != "bearer" or user is None:
                raise Unauthorized(
                    "This API token is not valid (revoked, or its user is disabled).",
                    code="invalid_token",
                )
            db.commit()  # last_used_at
            return _caller(request, user, "token")
        if cookie:
            found = users.session_of(db, secret=cookie)
            if found is not None:
                user, session = found
                if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != (
                    session.csrf_token
                ):
                    raise Forbidden(
                        "This request lacks the page's CSRF token: reload the page and try again.",
                        code="csrf_failed",
                    )
                return _caller(request, user, "session", session.csrf_token)
    return None


def authorize(request: Request) -> None:
    """The router dependency of every /api route: sign-in, then the route's rule."""
    _authorize(request, API_PREFIX)


def authorize_openai(request: Request) -> None:
    """The same for the /v1 routes (OpenAI clients send the token as their API key)."""
    _authorize(request, OPENAI_PREFIX)


def _authorize(request: Request, prefix: str) -> None:
    route = request.scope.get("route")
    allowed = rule_of(route, request.method, prefix) if isinstance(route, APIRoute) else None
    if allowed == PUBLIC:
        return
    caller = _identify(request)
    if caller is None:
        raise Unauthorized(
            "Sign in first: open the page and log in, or send 'Authorization: Bearer <token>' "
            "(`visitlens token create` makes one).",
        )
    if allowed is None or caller.role not in allowed:
        raise Forbidden(
            f"Your role ({caller.role}) may not do this: {request.method} {request.url.path}.",
        )
    request.state.caller = caller


def require_sign_in(request: Request) -> None:
    """Any signed-in caller (the API's own documentation)."""
    if _identify(request) is None:
        raise Unauthorized("Sign in first: open the page and log in, or send a bearer token.")


LIMITS: dict[str, tuple[str, int]] = {  # bucket: (the setting with its limit, window in s)
    "upload": ("uploads_per_hour", 3600),
    "search": ("searches_per_minute", 60),
}


def rate_limit(bucket: str) -> Any:
    """A route dependency counting the caller's requests of this kind (429 past the limit)."""
    setting, window_s = LIMITS[bucket]

    def count(request: Request) -> None:
        caller: Caller = request.state.caller
        limit = getattr(request.app.state.settings, setting)
        with request.app.state.sessionmaker() as db:
            try:
                limits.take(
                    db, user_id=caller.user_id, bucket=bucket, limit=limit, window_s=window_s
                )
            finally:
                db.commit()  # a refused request counts too

    return Depends(count)


def current_caller(request: Request) -> Caller:
    caller: Caller = request.state.caller
    return caller


Me = Annotated[Caller, Depends(current_caller)]
