"""For admins: users and their roles, and the audit log (read and export; never edited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.access import Me
from api.csv_export import CSV_TOO, csv_response
from api.deps import Db, Offset, RowId
from api.routes.account import UserOut
from api.schemas import Body
from knowledge import audit, users
from knowledge.errors import InvalidInput
from knowledge.models import AuditEvent, Role

router = APIRouter(tags=["admin"])


class UserIn(Body):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(max_length=100)
    role: Role
    password: str | None = Field(default=None, max_length=1000)
    display_name: str = Field(default="", max_length=200)
    teams: list[str] = Field(default=[], max_length=50)


class UserPatch(Body):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    password: str | None = Field(default=None, max_length=1000)
    display_name: str | None = Field(default=None, max_length=200)
    teams: list[str] | None = Field(default=None, max_length=50)
    disabled: bool | None = None


class AuditOut(BaseModel):
    id: int
    at: datetime
    user_id: int | None
    username: str
    action: str
    object_type: str
    object_id: str
    detail: str
    ip: str

    @classmethod
    def from_row(cls, row: AuditEvent) -> AuditOut:
        return cls.model_validate(row, from_attributes=True)


@router.get("/users")
def list_users(db: Db) -> list[UserOut]:
    return [UserOut.from_row(u) for u in users.listing(db)]


@router.post("/users", status_code=201)
def create_user(body: UserIn, me: Me, db: Db) -> UserOut:
    user = users.create(
        db,
        username=body.username,
        role=body.role,
        password=body.password,
        display_name=body.display_name,
        teams=body.teams,
    )
    audit.record(
        db,
        actor=me.actor,
        action="user_change",
        object_type="user",
        object_id=str(user.id),
        detail=f"created {user.username} as {user.role}",
    )
    db.commit()
    return UserOut.from_row(user)


@router.patch("/users/{user_id}")
def edit_user(user_id: RowId, body: UserPatch, me: Me, db: Db) -> UserOut:
    user = users.get(db, user_id=user_id)
    if user.id == me.user_id and (body.disabled or body.role not in (None, Role.ADMIN)):
        raise InvalidInput(
            "You cannot disable yourself or take away your own admin role; ask another admin.",
            code="last_admin",
        )
    changed = sorted(body.model_fields_set - {"password"})
    if body.role is not None:
        user.role = body.role
    if body.display_name is not None:
        user.display_name = body.display_name.strip() or user.username
    if body.teams is not None:
        user.teams = sorted({t.strip() for t in body.teams if t.strip()})
    if body.disabled is not None:
        user.disabled = body.disabled
    if body.password:
        users.set_password(db, user=user, password=body.password)
        changed.append("password")
    audit.record(
        db,
        actor=me.actor,
        action="user_change",
        object_type="user",
        object_id=str(user.id),
        detail="changed " + ", ".join(changed),
    )
    db.commit()
    return UserOut.from_row(user)


@router.get("/audit", response_model=list[AuditOut], responses=CSV_TOO)
def read_audit(
    db: Db,
    username: str | None = None,
    action: audit.Action | None = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    format: Literal["json", "csv"] = "json",  # noqa: A002 (the public query name)
    limit: Annotated[int, Query(ge=1, le=100_000)] = 200,
    offset: Offset = 0,
) -> Response | list[AuditOut]:
    rows = audit.listing(
        db,
        filters=audit.AuditFilters(username, action, object_id, since, until),
        limit=limit,
        offset=offset,
    )
    out = [AuditOut.from_row(r) for r in rows]
    if format == "json":
        return out
    table = [list(row.model_dump(mode="json").values()) for row in out]
    return csv_response(list(AuditOut.model_fields), table, "audit.csv")
