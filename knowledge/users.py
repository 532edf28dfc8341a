"""Users, their API tokens and web sessions; secrets are kept only as hashes."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from knowledge.errors import Conflict, InvalidInput, NotFound, Unauthorized
from knowledge.models import ApiToken, Role, ServerSecret, User, WebSession, utcnow

TOKEN_PREFIX = "vl_"
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")
MIN_PASSWORD = 10
_hasher = PasswordHasher()  # argon2id with the library's current recommended cost


class UserNotFound(NotFound):
    code = "user_not_found"


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(
            f"The password is too short: use at least {MIN_PASSWORD} characters.",
            code="weak_password",
        )
    return _hasher.hash(password)


def create(
    db: Session,
    *,
    username: str,
    role: Role,
    password: str | None = None,
    display_name: str = "",
    teams: Sequence[str] = (),
) -> User:
    username = username.strip().lower()
    if not USERNAME.match(username):
        raise InvalidInput(
            "A username is 2 to 100 lowercase letters, digits, '.', '_', '-' or '@'.",
            code="invalid_username",
        )
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"There is already a user called {username}.", code="user_exists")
    user = User(
        username=username,
        role=Role(role),
        display_name=display_name.strip() or username,
        teams=sorted({t.strip() for t in teams if t.strip()}),
        password_hash=hash_password(password) if password else None,
    )
    db.add(user)
    db.flush()
    return user


def get(db: Session, *, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise UserNotFound(f"No user with id {user_id}.")
    return user


def by_name(db: Session, *, username: str) -> User:
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise UserNotFound(f"No user called {username}.")
    return user


def listing(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.username)))


def count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(User)) or 0


def set_password(db: Session, *, user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    db.execute(delete(WebSession).where(WebSession.user_id == user.id))  # sign out elsewhere
    db.flush()


def check_password(db: Session, *, username: str, password: str) -> User:
    """The user these credentials sign in, or Unauthorized (the same message either way)."""
    refused = Unauthorized("Wrong username or password.", code="bad_credentials")
    user = db.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or user.disabled or not user.password_hash:
        _hasher.hash(password or "x")  # about as slow as a real check: no timing hint
        raise refused
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError) as e:
        raise refused from e
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


@dataclass(frozen=True)
class NewToken:
    row: ApiToken
    secret: str  # shown once, never stored


def create_token(db: Session, *, user: User, name: str = "") -> NewToken:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name.strip()[:200], secret_sha256=_sha256(secret))
    db.add(row)
    db.flush()
    return NewToken(row, secret)


def tokens_of(db: Session, *, user_id: int | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if user_id is not None:
        query = query.where(ApiToken.user_id == user_id)
    return list(db.scalars(query))


def revoke_token(db: Session, *, token_id: int, user_id: int | None = None) -> ApiToken:
    """Revoke one token (of this user, when user_id is given)."""
    row = db.get(ApiToken, token_id)
    if row is None or (user_id is not None and row.user_id != user_id):
        raise NotFound(f"No API token with id {token_id}.", code="token_not_found")
    row.revoked_at = row.revoked_at or utcnow()
    db.flush()
    return row


def user_of_token(db: Session, *, secret: str) -> User | None:
    row = db.scalar(select(ApiToken).where(ApiToken.secret_sha256 == _sha256(secret)))
    if row is None or row.revoked_at is not None:
        return None
    user = db.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = now  # coarse, so reads do not write on every request
    return user


@dataclass(frozen=True)
class NewSession:
    secret: str  # the cookie value
    csrf_token: str
    expires_at: datetime


def open_session(db: Session, *, user: User, hours: float) -> NewSession:
    secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
    expires = utcnow() + timedelta(hours=hours)
    db.add(
        WebSession(
            secret_sha256=_sha256(secret), user_id=user.id, csrf_token=csrf, expires_at=expires
        )
    )
    db.execute(delete(WebSession).where(WebSession.expires_at < utcnow()))
    db.flush()
    return NewSession(secret, csrf, expires)


def session_of(db: Session, *, secret: str) -> tuple[User, WebSession] | None:
    row = db.get(WebSession, _sha256(secret))
    if row is None or row.expires_at < utcnow():
        return None
    user = db.get(User, row.user_id)
    if user is None or user.disabled:
        return None
    return user, row


def close_session(db: Session, *, secret: str) -> None:
    db.execute(delete(WebSession).where(WebSession.secret_sha256 == _sha256(secret)))


def server_secret(db: Session, *, name: str) -> str:
    """A random secret made once and shared by every process through the database."""
    row = db.get(ServerSecret, name)
    if row is None:
        row = db.merge(ServerSecret(name=name, value=secrets.token_urlsafe(48)))
        db.flush()
    return row.value
