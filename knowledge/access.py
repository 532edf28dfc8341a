"""Which visits a caller may see, as a condition that goes into every query over visits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, false, or_, select, true

from knowledge.models import Clip, Role, Visit, VisitStatus


@dataclass(frozen=True)
class Scope:
    role: Role
    user_id: int | None = None
    teams: tuple[str, ...] = ()
    redacted: bool = False  # quotes reach this caller with personal data masked

    def visits(self) -> ColumnElement[bool]:
        """The visits this caller may open: a rep their own, a manager their teams' (and their
        own), a trainer every analysed visit, an admin all; product roles none."""
        if self.role == Role.ADMIN:
            return true()
        if self.role == Role.MANAGER:
            return or_(Visit.team.in_(self.teams), Visit.owner_id == self.user_id)
        if self.role == Role.REP:
            return Visit.owner_id == self.user_id
        if self.role == Role.TRAINER:
            return Visit.status == VisitStatus.DONE
        return false()

    def playable(self) -> ColumnElement[bool]:
        """The recordings this caller may play: their visits', and those the library shares
        through a clip (product roles hear none)."""
        if self.role == Role.PRODUCT:
            return false()
        return or_(self.visits(), Visit.id.in_(select(Clip.visit_id)))

    def counted(self) -> ColumnElement[bool]:
        """The visits aggregated insights count: product and admin see every visit in
        aggregate (with redacted quotes), others what they may open."""
        return true() if self.role in (Role.PRODUCT, Role.ADMIN) else self.visits()


ADMIN_SCOPE = Scope(Role.ADMIN)  # for tasks and commands that act for the whole service
