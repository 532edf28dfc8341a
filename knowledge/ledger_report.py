"""What the ledger adds up to: the closed-loop rate per owner, overdue entries, and the at-risk
visits with where their follow-up stands (see knowledge/ledger.py for the rules)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from knowledge import visits
from knowledge.access import ADMIN_SCOPE, Scope
from knowledge.ledger import (
    TARGET_RATE,
    WINDOW_WORKING_DAYS,
    EntryKind,
    closed_in_time,
    counts_towards_rate,
    is_overdue,
    visible_entries,
)
from knowledge.models import LedgerEntry, UtteranceLabel, Visit


@dataclass(frozen=True)
class OwnerReport:
    owner: str
    entries: int
    open: int
    overdue: int
    counted: int
    closed_in_time: int

    @property
    def rate(self) -> float | None:
        return round(self.closed_in_time / self.counted, 4) if self.counted else None


@dataclass(frozen=True)
class LedgerReport:
    today: date
    window_working_days: int
    target: float
    entries: int
    open: int
    counted: int
    closed_in_time: int
    overdue: list[LedgerEntry]
    owners: list[OwnerReport]

    @property
    def rate(self) -> float | None:
        return round(self.closed_in_time / self.counted, 4) if self.counted else None

    @property
    def meets_target(self) -> bool | None:
        rate = self.rate
        return None if rate is None else rate >= self.target


def summarise(entries: Iterable[LedgerEntry], *, today: date) -> LedgerReport:
    """Closed-loop rate, overdue items and per-owner figures of the given entries."""
    rows: Sequence[LedgerEntry] = list(entries)
    per_owner: dict[str, list[LedgerEntry]] = defaultdict(list)
    for e in rows:
        per_owner[e.owner or "unassigned"].append(e)

    def figures(group: Sequence[LedgerEntry]) -> tuple[int, int, int, int]:
        counted = [e for e in group if counts_towards_rate(e, today=today)]
        return (
            sum(e.status == "open" for e in group),
            sum(is_overdue(e, today=today) for e in group),
            len(counted),
            sum(closed_in_time(e) for e in counted),
        )

    owners = []
    for owner in sorted(per_owner):
        open_, overdue, counted, in_time = figures(per_owner[owner])
        owners.append(OwnerReport(owner, len(per_owner[owner]), open_, overdue, counted, in_time))
    open_, _, counted, in_time = figures(rows)
    overdue_entries = sorted(
        (e for e in rows if is_overdue(e, today=today)),
        key=lambda e: (e.due or today, e.id),
    )
    return LedgerReport(
        today=today,
        window_working_days=WINDOW_WORKING_DAYS,
        target=TARGET_RATE,
        entries=len(rows),
        open=open_,
        counted=counted,
        closed_in_time=in_time,
        overdue=overdue_entries,
        owners=owners,
    )


def report(
    db: Session, *, today: date, kind: EntryKind | None = None, scope: Scope = ADMIN_SCOPE
) -> LedgerReport:
    query = select(LedgerEntry).where(visible_entries(scope), LedgerEntry.status != "draft")
    if kind is not None:
        query = query.where(LedgerEntry.kind == kind)
    return summarise(db.scalars(query), today=today)


FollowUp = Literal["none", "overdue", "open", "closed"]
FOLLOW_UPS: tuple[FollowUp, ...] = ("none", "overdue", "open", "closed")  # most urgent first


@dataclass(frozen=True)
class AtRisk:
    """A visit with a churn or doubt signal and where its follow-up stands."""

    visit: Visit
    risks: list[str]
    follow_up: FollowUp  # none: nothing in the ledger; closed: every entry done or dropped
    open: int
    overdue: int
    next_due: date | None
    drafts: int = 0  # action items waiting to be confirmed


def follow_up_state(entries: Sequence[LedgerEntry], *, today: date) -> FollowUp:
    if not entries:
        return "none"
    if any(is_overdue(e, today=today) for e in entries):
        return "overdue"
    return "open" if any(e.status == "open" for e in entries) else "closed"


def at_risk(db: Session, *, today: date, scope: Scope = ADMIN_SCOPE) -> list[AtRisk]:
    """Visits with a risk signal that the scope may see, the least followed up first
    (none, overdue, open, closed), newest first within each."""
    flagged = select(UtteranceLabel.visit_id).where(UtteranceLabel.label.startswith("risk."))
    rows = list(db.scalars(select(Visit).where(scope.visits(), Visit.id.in_(flagged))))
    ids = [v.id for v in rows]
    risks = visits.risks_of(db, visit_ids=ids)
    entries: dict[str, list[LedgerEntry]] = defaultdict(list)
    drafts: dict[str, int] = defaultdict(int)
    for e in db.scalars(select(LedgerEntry).where(LedgerEntry.visit_id.in_(ids))):
        if e.status == "draft":
            drafts[e.visit_id or ""] += 1
        else:
            entries[e.visit_id or ""].append(e)
    out = []
    for v in rows:
        mine = entries[v.id]
        dues = sorted(e.due for e in mine if e.status == "open" and e.due is not None)
        out.append(
            AtRisk(
                visit=v,
                risks=risks.get(v.id, []),
                follow_up=follow_up_state(mine, today=today),
                open=sum(e.status == "open" for e in mine),
                overdue=sum(is_overdue(e, today=today) for e in mine),
                next_due=dues[0] if dues else None,
                drafts=drafts[v.id],
            )
        )
    newest = sorted(out, key=lambda r: r.visit.visit_date or date.min, reverse=True)
    return sorted(newest, key=lambda r: FOLLOW_UPS.index(r.follow_up))
