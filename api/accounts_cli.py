"""`visitlens user ...` and `visitlens token ...`: accounts and API tokens from the shell."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.orm import Session

from knowledge import users
from knowledge.audit import Actor, record
from knowledge.db import make_engine, make_sessionmaker
from knowledge.errors import VisitlensError
from knowledge.models import Role
from knowledge.settings import Settings

users_cli = typer.Typer(help="Users and their roles.", no_args_is_help=True)
tokens_cli = typer.Typer(help="API tokens for scripts (VISITLENS_TOKEN).", no_args_is_help=True)
SHELL = Actor(None, "shell")


@contextmanager
def _db() -> Iterator[Session]:
    engine = make_engine(Settings().database_url)
    try:
        with make_sessionmaker(engine)() as db:
            try:
                yield db
                db.commit()
            except VisitlensError as e:
                typer.echo(e.message, err=True)
                raise typer.Exit(2) from None
    finally:
        engine.dispose()


def ensure_admin(settings: Settings) -> None:
    """On first start (no user at all) make the admin and print how to sign in."""
    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as db:
            if users.count(db):
                return
            given = settings.admin_password
            password = given.get_secret_value() if given else secrets.token_urlsafe(12)
            users.create(db, username=settings.admin_username, role=Role.ADMIN, password=password)
            record(db, actor=SHELL, action="user_change", detail="first admin")
            db.commit()
    finally:
        engine.dispose()
    shown = "the password in VISITLENS_ADMIN_PASSWORD" if given else f"password {password}"
    typer.echo(
        f"first start: sign in at the page as '{settings.admin_username}' with {shown} "
        "(change it under `visitlens user passwd`; this is shown once)"
    )


RoleOption = Annotated[Role, typer.Option(help="admin, manager, rep, trainer or product")]


@users_cli.command("create")
def user_create(
    username: str,
    role: RoleOption,
    team: Annotated[list[str], typer.Option(help="a team (repeat for several)")] = [],  # noqa: B006 (typer reads the default)
    name: Annotated[str, typer.Option(help="display name; reps: as on their visits")] = "",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Add a user who signs in with a password (leave it empty for a tokens-only user)."""
    with _db() as db:
        user = users.create(
            db,
            username=username,
            role=role,
            password=password or None,
            display_name=name,
            teams=team,
        )
        record(
            db,
            actor=SHELL,
            action="user_change",
            object_type="user",
            object_id=str(user.id),
            detail=f"created {user.username} as {user.role}",
        )
        typer.echo(f"user {user.username} ({user.role}) created, id {user.id}")


@users_cli.command("list")
def user_list() -> None:
    with _db() as db:
        for u in users.listing(db):
            state = " disabled" if u.disabled else ""
            typer.echo(
                f"{u.id}\t{u.username}\t{u.role}\t{','.join(u.teams)}\t{u.display_name}{state}"
            )


@users_cli.command("passwd")
def user_passwd(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
) -> None:
    """Set a user's password (signs them out everywhere)."""
    with _db() as db:
        user = users.by_name(db, username=username)
        users.set_password(db, user=user, password=password)
        record(
            db,
            actor=SHELL,
            action="user_change",
            object_type="user",
            object_id=str(user.id),
            detail="changed password",
        )
        typer.echo(f"password of {user.username} changed")


@tokens_cli.command("create")
def token_create(
    user: Annotated[str, typer.Option(help="the username the token acts for")],
    role: Annotated[
        Role | None, typer.Option(help="create the user with this role if they do not exist")
    ] = None,
    name: Annotated[str, typer.Option(help="what the token is for")] = "",
) -> None:
    """Print a new API token (shown once; only its hash is kept). Use it as VISITLENS_TOKEN."""
    with _db() as db:
        try:
            owner = users.by_name(db, username=user)
        except users.UserNotFound:
            if role is None:
                raise
            owner = users.create(db, username=user, role=role)
        new = users.create_token(db, user=owner, name=name)
        record(db, actor=SHELL, action="token_create", object_type="user", object_id=str(owner.id))
        typer.echo(new.secret)


@tokens_cli.command("list")
def token_list(user: Annotated[str | None, typer.Option(help="only this user's")] = None) -> None:
    with _db() as db:
        owner = users.by_name(db, username=user).id if user else None
        names = {u.id: u.username for u in users.listing(db)}
        for t in users.tokens_of(db, user_id=owner):
            state = "revoked" if t.revoked_at else "active"
            used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "never"
            typer.echo(f"{t.id}\t{names.get(t.user_id, t.user_id)}\t{state}\tused {used}\t{t.name}")


@tokens_cli.command("revoke")
def token_revoke(token_id: int) -> None:
    with _db() as db:
        users.revoke_token(db, token_id=token_id)
        record(db, actor=SHELL, action="token_revoke", object_type="token", object_id=str(token_id))
        typer.echo(f"token {token_id} revoked")
