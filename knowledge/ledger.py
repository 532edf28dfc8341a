"""The follow-up ledger: action items and pain points owned until closed, and the closed-loop rate.

Closed-loop rate (the seeds' target is 75%): an entry's window is the 30 working days (Monday to
Friday, no holidays) after the UTC day it was created. It counts towards the rate once it is closed
(done or dropped) or its window has ended; it counts as closed-loop when it was marked done on or
before the window's last day. Open entries still inside their window are left out (undecided).

Drafts: each action item of an analysed visit waits in the ledger as a draft until someone
confirms it (it becomes open) or discards it (it is deleted). Drafts count nowhere: not in the
rate, not as overdue, not as a visit's follow-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, func, or_, select, true
from sqlalchemy.orm import Session

from knowledge import analysis_document, visits
from knowledge.access import ADMIN_SCOPE, Scope
from knowledge.analysis_document import ActionDoc
from knowledge.errors import Conflict, InvalidInput, NotFound, NotReady
from knowledge.models import LedgerEntry, Role, Utterance, UtteranceLabel, Visit, utcnow

Status = Literal["draft", "open", "done", "dropped"]
EntryKind = Literal["action", "pain"]
STATUSES: tuple[Status, ...] = ("draft", "open", "done", "dropped")
WINDOW_WORKING_DAYS = 30
TARGET_RATE = 0.75
TITLE_MAX = 500


class AlreadyInLedger(Conflict):
    code = "already_in_ledger"


class NotADraft(Conflict):
    code = "not_a_draft"


@dataclass(frozen=True)
class LedgerFilters:
    status: Status | None = None
    owner: str | None = None
    kind: EntryKind | None = None
    visit_id: str | None = None
    overdue: bool = False


@dataclass(frozen=True)
class Changes:
    """Fields a PATCH sets; `fields` names those given, so None can clear owner, due or note."""

    fields: frozenset[str]
    status: Status | None = None
    owner: str | None = None
    due: date | None = None
    note: str | None = None


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days (Mon-Fri) after `start`; start itself never counts."""
    day = start
    left = days
    while left > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def window_end(entry: LedgerEntry) -> date:
    return add_working_days(_utc_day(entry.created_at), WINDOW_WORKING_DAYS)


def closed_in_time(entry: LedgerEntry) -> bool:
    return (
        entry.status == "done"
        and entry.closed_at is not None
        and _utc_day(entry.closed_at) <= window_end(entry)
    )


def counts_towards_rate(entry: LedgerEntry, *, today: date) -> bool:
    return entry.status != "open" or today > window_end(entry)


def is_overdue(entry: LedgerEntry, *, today: date) -> bool:
    return entry.status == "open" and entry.due is not None and entry.due < today


def _utc_day(moment: datetime) -> date:
    # SQLite hands back naive datetimes; they were stored in UTC
    return moment.date() if moment.tzinfo is None else moment.astimezone(UTC).date()


def _title(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1] + "…"


def visible_entries(scope: Scope) -> ColumnElement[bool]:
    """Entries of the visits the scope may see; entries of no visit for admins and managers."""
    if scope.role == Role.ADMIN:
        return true()
    of_visible = LedgerEntry.visit_id.in_(select(Visit.id).where(scope.visits()))
    if scope.role == Role.MANAGER:
        return or_(of_visible, LedgerEntry.visit_id.is_(None))
    return of_visible


def get(db: Session, *, entry_id: int, scope: Scope = ADMIN_SCOPE) -> LedgerEntry:
    entry = db.scalar(select(LedgerEntry).where(LedgerEntry.id == entry_id, visible_entries(scope)))
    if entry is None:
        raise NotFound(f"No ledger entry with id {entry_id}.", code="ledger_entry_not_found")
    return entry


def _existing(db: Session, visit_id: str, source: str) -> LedgerEntry | None:
    return db.scalar(
        select(LedgerEntry).where(LedgerEntry.visit_id == visit_id, LedgerEntry.source == source)
    )


def _actions(db: Session, visit_id: str) -> list[ActionDoc]:
    visit = visits.get(db, visit_id=visit_id)
    document = analysis_document.get(db, visit_id=visit_id)
    if document is None:
        raise NotReady(
            f"Visit {visit_id} has no analysis yet (it is {visit.status}); "
            "its action items and pain points can be added once it is analysed."
        )
    actions = document.get("actions") or []
    return [a for a in actions if isinstance(a, dict)]


def _due(value: object) -> date | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _action_entry(
    visit_id: str, index: int, action: ActionDoc, owner: str | None, due: date | None
) -> LedgerEntry:
    text = str(action.get("text") or action.get("quote") or f"Action {index + 1}")
    return LedgerEntry(
        visit_id=visit_id,
        kind="action",
        source=f"action:{index}",
        title=_title(text),
        owner=owner or (str(action["owner"]) if action.get("owner") else None),
        due=due or _due(action.get("due")),
        status="open",
    )


def add_action(
    db: Session,
    *,
    visit_id: str,
    action_index: int,
    owner: str | None = None,
    due: date | None = None,
    note: str | None = None,
) -> LedgerEntry:
    """One action item of an analysed visit; AlreadyInLedger when it was added before."""
    actions = _actions(db, visit_id)
    if not 0 <= action_index < len(actions):
        raise NotFound(
            f"Visit {visit_id} has {len(actions)} action item(s); "
            f"action_index {action_index} is not one of 0..{len(actions) - 1}.",
            code="action_not_found",
        )
    source = f"action:{action_index}"
    existing = _existing(db, visit_id, source)
    if existing is not None and existing.status == "draft":
        return _confirm(db, existing, owner=owner, due=due, note=note)
    if existing is not None:
        raise AlreadyInLedger(
            f"Action {action_index} of visit {visit_id} is already ledger entry {existing.id}."
        )
    entry = _action_entry(visit_id, action_index, actions[action_index], owner, due)
    entry.note = note
    return _insert(db, entry)


def add_all_actions(db: Session, *, visit_id: str) -> tuple[list[LedgerEntry], list[LedgerEntry]]:
    """Every action item of a visit: (created, already there); running it twice adds nothing."""
    created, existing = [], []
    for i, action in enumerate(_actions(db, visit_id)):
        found = _existing(db, visit_id, f"action:{i}")
        if found is not None and found.status == "draft":
            created.append(_confirm(db, found))
            continue
        if found is not None:
            existing.append(found)
            continue
        entry = _action_entry(visit_id, i, action, None, None)
        db.add(entry)
        created.append(entry)
    db.flush()
    return created, existing


def draft_actions(db: Session, *, visit_id: str, actions: Sequence[ActionDoc]) -> int:
    """The visit's action items as drafts, replacing its earlier drafts (a re-analysis); items
    already confirmed stay as they are. Returns how many drafts there are now."""
    kept = {
        e.source: e
        for e in db.scalars(
            select(LedgerEntry).where(
                LedgerEntry.visit_id == visit_id, LedgerEntry.kind == "action"
            )
        )
    }
    for entry in kept.values():
        if entry.status == "draft":
            db.delete(entry)
    db.flush()
    drafts = 0
    for i, action in enumerate(actions):
        confirmed = kept.get(f"action:{i}")
        if not isinstance(action, dict) or (confirmed and confirmed.status != "draft"):
            continue
        entry = _action_entry(visit_id, i, action, None, None)
        entry.status = "draft"
        db.add(entry)
        drafts += 1
    db.flush()
    return drafts


def _confirm(
    db: Session,
    entry: LedgerEntry,
    *,
    owner: str | None = None,
    due: date | None = None,
    note: str | None = None,
) -> LedgerEntry:
    """A draft becomes an open entry, its window starting now."""
    entry.status = "open"
    entry.created_at = utcnow()
    entry.owner = owner or entry.owner
    entry.due = due or entry.due
    entry.note = note or entry.note
    db.flush()
    return entry


def discard(db: Session, *, entry_id: int, scope: Scope = ADMIN_SCOPE) -> None:
    """Delete a draft; a confirmed entry is closed as done or dropped instead."""
    entry = get(db, entry_id=entry_id, scope=scope)
    if entry.status != "draft":
        raise NotADraft(
            f"Ledger entry {entry_id} is {entry.status}, not a draft; only drafts are discarded. "
            "Close it as done or dropped instead."
        )
    db.delete(entry)
    db.flush()


def add_pain(
    db: Session,
    *,
    visit_id: str,
    utterance_idx: int,
    label: str,
    owner: str | None = None,
    due: date | None = None,
    note: str | None = None,
) -> LedgerEntry:
    """A pain point (or need) said in one utterance; the label must be on that utterance."""
    _actions(db, visit_id)  # NotFound / NotReady before looking at utterances
    utterance = db.get(Utterance, (visit_id, utterance_idx))
    if utterance is None:
        raise NotFound(
            f"Visit {visit_id} has no analysed utterance {utterance_idx}.",
            code="utterance_not_found",
        )
    on_it = list(
        db.scalars(
            select(UtteranceLabel.label).where(
                UtteranceLabel.visit_id == visit_id, UtteranceLabel.idx == utterance_idx
            )
        )
    )
    if label not in on_it:
        raise InvalidInput(
            f"Utterance {utterance_idx} of visit {visit_id} is not labelled '{label}'; "
            f"its labels are: {', '.join(sorted(on_it)) or 'none'}.",
            code="label_not_on_utterance",
        )
    source = f"utterance:{utterance_idx}:{label}"
    existing = _existing(db, visit_id, source)
    if existing is not None:
        raise AlreadyInLedger(
            f"'{label}' of utterance {utterance_idx} is already ledger entry {existing.id}."
        )
    return _insert(
        db,
        LedgerEntry(
            visit_id=visit_id,
            kind="pain",
            source=source,
            title=_title(utterance.text),
            label=label,
            owner=owner,
            due=due,
            note=note,
            status="open",
        ),
    )


def add_free(
    db: Session,
    *,
    title: str,
    kind: EntryKind = "action",
    visit_id: str | None = None,
    label: str | None = None,
    owner: str | None = None,
    due: date | None = None,
    note: str | None = None,
) -> LedgerEntry:
    """An entry typed by a person, optionally tied to a visit."""
    if not title.strip():
        raise InvalidInput("A ledger entry needs a non-empty title.", code="empty_title")
    if visit_id is not None:
        visits.get(db, visit_id=visit_id)
    return _insert(
        db,
        LedgerEntry(
            visit_id=visit_id,
            kind=kind,
            source=None,
            title=_title(title),
            label=label,
            owner=owner,
            due=due,
            note=note,
            status="open",
        ),
    )


def _insert(db: Session, entry: LedgerEntry) -> LedgerEntry:
    db.add(entry)
    db.flush()
    return entry


def update(
    db: Session, *, entry_id: int, changes: Changes, now: datetime | None = None
) -> LedgerEntry:
    """Apply a PATCH; closing (done, dropped) stamps closed_at, reopening clears it."""
    entry = get(db, entry_id=entry_id)
    if "status" in changes.fields and changes.status is not None and changes.status != entry.status:
        if entry.status == "draft":
            entry.created_at = now or utcnow()  # the window starts when it is confirmed
        entry.status = changes.status
        entry.closed_at = None if changes.status == "open" else (now or utcnow())
    if "owner" in changes.fields:
        entry.owner = changes.owner
    if "due" in changes.fields:
        entry.due = changes.due
    if "note" in changes.fields:
        entry.note = changes.note
    db.flush()
    return entry


def listing(
    db: Session,
    *,
    filters: LedgerFilters,
    today: date,
    limit: int | None,
    offset: int = 0,
    scope: Scope = ADMIN_SCOPE,
) -> tuple[list[LedgerEntry], int]:
    """Entries newest first with the total before paging; limit None returns all."""
    query = select(LedgerEntry).where(visible_entries(scope))
    if filters.status is not None:
        query = query.where(LedgerEntry.status == filters.status)
    if filters.owner is not None:
        query = query.where(LedgerEntry.owner == filters.owner)
    if filters.kind is not None:
        query = query.where(LedgerEntry.kind == filters.kind)
    if filters.visit_id is not None:
        query = query.where(LedgerEntry.visit_id == filters.visit_id)
    if filters.overdue:
        query = query.where(LedgerEntry.status == "open", LedgerEntry.due < today)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    query = query.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(db.scalars(query)), total
