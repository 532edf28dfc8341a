"""The follow-up ledger: entries from action items and pain points, updates, report, CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError

from api.access import Me
from api.csv_export import CSV_TOO, csv_response
from api.deps import Db, Offset, RowId
from api.schemas import Body
from knowledge import audit, ledger, ledger_report, visits
from knowledge.errors import InvalidInput
from knowledge.ledger import Changes, LedgerFilters
from knowledge.ledger_report import AtRisk, FollowUp, LedgerReport
from knowledge.models import LedgerEntry, Role
from nlp.redact import redact

router = APIRouter(tags=["ledger"])
CSV_COLUMNS = (
    "id",
    "visit_id",
    "kind",
    "source",
    "title",
    "label",
    "owner",
    "due",
    "status",
    "overdue",
    "note",
    "created_at",
    "closed_at",
)


class LedgerIn(Body):
    """One of: {visit_id, action_index}, {visit_id, utterance_idx, label} or {title, ...}."""

    visit_id: str | None = None
    action_index: int | None = Field(default=None, ge=0)
    utterance_idx: int | None = Field(default=None, ge=0, le=1_000_000)
    label: str | None = Field(default=None, max_length=64)
    title: str | None = Field(default=None, max_length=2000)
    kind: Literal["action", "pain"] = "action"
    owner: str | None = Field(default=None, max_length=200)
    due: date | None = None
    note: str | None = Field(default=None, max_length=5000)


class LedgerPatch(Body):
    status: Literal["open", "done", "dropped"] | None = None
    owner: str | None = Field(default=None, max_length=200)
    due: date | None = None
    note: str | None = Field(default=None, max_length=5000)


class EntryOut(BaseModel):
    id: int
    visit_id: str | None
    kind: str = Field(description="action or pain")
    source: str | None = Field(description='what it came from, e.g. "action:2", "utterance:14"')
    title: str
    label: str | None
    owner: str | None
    due: date | None
    status: str = Field(description="draft, open, done or dropped")
    overdue: bool
    note: str | None
    created_at: str = Field(description="ISO 8601, UTC")
    closed_at: str | None
    window_ends: date = Field(description="the end of its closed-loop window")


class EntryPage(BaseModel):
    items: list[EntryOut]
    total: int
    limit: int
    offset: int


class AddedOut(BaseModel):
    created: list[EntryOut]
    existing: list[EntryOut] = Field(description="already in the ledger")


class AttentionVisitOut(BaseModel):
    visit_id: str
    title: str
    customer: str | None
    rep: str | None
    team: str | None
    visit_date: date | None
    risks: list[str]
    follow_up: FollowUp
    open: int
    overdue: int
    next_due: date | None
    drafts: int

    @classmethod
    def of(cls, r: AtRisk) -> AttentionVisitOut:
        v = r.visit
        return cls(
            visit_id=v.id,
            title=v.title,
            customer=v.customer,
            rep=v.rep,
            team=v.team,
            visit_date=v.visit_date,
            risks=r.risks,
            follow_up=r.follow_up,
            open=r.open,
            overdue=r.overdue,
            next_due=r.next_due,
            drafts=r.drafts,
        )


class RepFollowUpsOut(BaseModel):
    """At-risk visits of one rep, per follow-up state."""

    rep: str | None
    none: int
    overdue: int
    open: int
    closed: int


class TeamFollowUpsOut(BaseModel):
    team: str | None
    none: int
    overdue: int
    open: int
    closed: int


class AttentionOut(BaseModel):
    today: date
    visits: list[AttentionVisitOut]
    by_rep: list[RepFollowUpsOut]
    by_team: list[TeamFollowUpsOut]


class OwnerOut(BaseModel):
    owner: str
    entries: int
    open: int
    overdue: int
    counted: int
    closed_in_time: int
    closed_loop_rate: float | None


class ReportOut(BaseModel):
    today: date
    definition: str
    window_working_days: int
    target: float
    closed_loop_rate: float | None = Field(description="None: no entry counted yet")
    meets_target: bool | None
    entries: int
    open: int
    counted: int
    closed_in_time: int
    overdue_count: int
    overdue: list[EntryOut] = Field(description="the first 200")
    owners: list[OwnerOut]


def entry_out(e: LedgerEntry, *, today: date) -> EntryOut:
    return EntryOut(
        id=e.id,
        visit_id=e.visit_id,
        kind=e.kind,
        source=e.source,
        title=e.title,
        label=e.label,
        owner=e.owner,
        due=e.due,
        status=e.status,
        overdue=ledger.is_overdue(e, today=today),
        note=e.note,
        created_at=e.created_at.isoformat(),
        closed_at=e.closed_at.isoformat() if e.closed_at else None,
        window_ends=ledger.window_end(e),
    )


@router.post("/ledger", status_code=201)
def add_entry(body: LedgerIn, db: Db, me: Me) -> EntryOut:
    if body.visit_id is not None:
        visits.get(db, visit_id=body.visit_id, scope=me.scope)
    elif me.role == Role.REP:
        raise InvalidInput(
            "A rep's ledger entries belong to one of their visits: send visit_id.",
            code="missing_visit",
        )
    if body.visit_id is not None and body.action_index is not None:
        entry = ledger.add_action(
            db,
            visit_id=body.visit_id,
            action_index=body.action_index,
            owner=body.owner,
            due=body.due,
            note=body.note,
        )
    elif body.visit_id is not None and body.utterance_idx is not None:
        if not body.label:
            raise InvalidInput(
                "A pain-point entry needs the label, e.g. 'pain.delivery'.", code="missing_label"
            )
        entry = ledger.add_pain(
            db,
            visit_id=body.visit_id,
            utterance_idx=body.utterance_idx,
            label=body.label,
            owner=body.owner,
            due=body.due,
            note=body.note,
        )
    elif body.title is not None:
        entry = ledger.add_free(
            db,
            title=body.title,
            kind=body.kind,
            visit_id=body.visit_id,
            label=body.label,
            owner=body.owner,
            due=body.due,
            note=body.note,
        )
    else:
        raise InvalidInput(
            "Send {visit_id, action_index} for an action item, {visit_id, utterance_idx, label} "
            "for a pain point, or {title} for a free entry.",
            code="invalid_ledger_entry",
        )
    _commit(db)
    return entry_out(entry, today=date.today())


def _commit(db: Db) -> None:
    try:
        db.commit()
    except IntegrityError as e:  # a concurrent request added the same visit and source
        db.rollback()
        raise ledger.AlreadyInLedger(
            "This item was added to the ledger by another request just now; reload the ledger."
        ) from e


@router.post("/visits/{visit_id}/ledger")
def add_visit_actions(visit_id: str, db: Db, me: Me) -> AddedOut:
    visits.get(db, visit_id=visit_id, scope=me.scope)
    created, existing = ledger.add_all_actions(db, visit_id=visit_id)
    _commit(db)
    today = date.today()
    return AddedOut(
        created=[entry_out(e, today=today) for e in created],
        existing=[entry_out(e, today=today) for e in existing],
    )


def _csv(entries: list[LedgerEntry], today: date, contacts: dict[str, list[str]]) -> Response:
    """The entries as a spreadsheet, personal data masked (an export leaves the service)."""
    rows = []
    for e in entries:
        row = entry_out(e, today=today).model_dump(mode="json")
        names = contacts.get(e.visit_id or "", [])
        for field in ("title", "owner", "note"):
            row[field] = redact(row[field], names=names) if row[field] else row[field]
        rows.append([row[c] for c in CSV_COLUMNS])
    return csv_response(CSV_COLUMNS, rows, "ledger.csv")


@router.get("/ledger", response_model=EntryPage, responses=CSV_TOO)
def list_entries(
    db: Db,
    me: Me,
    status: Literal["draft", "open", "done", "dropped"] | None = None,
    owner: str | None = None,
    kind: Literal["action", "pain"] | None = None,
    visit_id: str | None = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Offset = 0,
    format: Literal["json", "csv"] = "json",  # noqa: A002 (the public query name)
) -> Response | EntryPage:
    today = date.today()
    filters = LedgerFilters(
        status=status, owner=owner, kind=kind, visit_id=visit_id, overdue=overdue
    )
    if format == "csv":
        rows, _ = ledger.listing(db, filters=filters, today=today, limit=None, scope=me.scope)
        audit.record(db, actor=me.actor, action="export", object_type="ledger")
        db.commit()
        contacts = visits.contacts_of(db, visit_ids={e.visit_id for e in rows if e.visit_id})
        return _csv(rows, today, contacts)
    rows, total = ledger.listing(
        db, filters=filters, today=today, limit=limit, offset=offset, scope=me.scope
    )
    return EntryPage(
        items=[entry_out(e, today=today) for e in rows], total=total, limit=limit, offset=offset
    )


@router.get("/ledger/attention")
def read_attention(db: Db, me: Me) -> AttentionOut:
    """Visits with a churn or doubt signal and their follow-up (none, overdue, open, closed),
    the least followed up first, with counts per rep and per team."""
    today = date.today()
    rows = ledger_report.at_risk(db, today=today, scope=me.scope)
    per: dict[str, dict[str, dict[str, int]]] = {"rep": {}, "team": {}}
    for r in rows:
        for key, name in (("rep", r.visit.rep), ("team", r.visit.team)):
            counts = per[key].setdefault(name or "", dict.fromkeys(ledger_report.FOLLOW_UPS, 0))
            counts[r.follow_up] += 1
    return AttentionOut(
        today=today,
        visits=[AttentionVisitOut.of(r) for r in rows],
        by_rep=[RepFollowUpsOut(rep=n or None, **c) for n, c in sorted(per["rep"].items())],
        by_team=[TeamFollowUpsOut(team=n or None, **c) for n, c in sorted(per["team"].items())],
    )


@router.get("/ledger/report")
def read_report(db: Db, me: Me, kind: Literal["action", "pain"] | None = None) -> ReportOut:
    today = date.today()
    r = ledger_report.report(db, today=today, kind=kind, scope=me.scope)
    return ReportOut(
        today=r.today,
        definition=_definition(r),
        window_working_days=r.window_working_days,
        target=r.target,
        closed_loop_rate=r.rate,
        meets_target=r.meets_target,
        entries=r.entries,
        open=r.open,
        counted=r.counted,
        closed_in_time=r.closed_in_time,
        overdue_count=len(r.overdue),
        overdue=[entry_out(e, today=today) for e in r.overdue[:200]],
        owners=[
            OwnerOut(
                owner=o.owner,
                entries=o.entries,
                open=o.open,
                overdue=o.overdue,
                counted=o.counted,
                closed_in_time=o.closed_in_time,
                closed_loop_rate=o.rate,
            )
            for o in r.owners
        ],
    )


def _definition(r: LedgerReport) -> str:
    return (
        f"Closed-loop rate: entries marked done within {r.window_working_days} working days "
        "(Mon-Fri) of creation, over entries that are closed (done or dropped) or whose "
        f"{r.window_working_days}-working-day window has ended; open entries still inside "
        "their window are not counted yet."
    )


@router.delete("/ledger/{entry_id}", status_code=204)
def discard_draft(entry_id: RowId, db: Db, me: Me) -> Response:
    """Discard a draft (an action item nobody promised after all); confirmed entries stay."""
    ledger.discard(db, entry_id=entry_id, scope=me.scope)
    audit.record(db, actor=me.actor, action="delete", object_type="ledger", object_id=str(entry_id))
    db.commit()
    return Response(status_code=204)


@router.patch("/ledger/{entry_id}")
def patch_entry(entry_id: RowId, body: LedgerPatch, db: Db, me: Me) -> EntryOut:
    ledger.get(db, entry_id=entry_id, scope=me.scope)
    fields = frozenset(body.model_fields_set)
    if "status" in fields and body.status is None:
        raise InvalidInput("status must be open, done or dropped.", code="invalid_field")
    entry = ledger.update(
        db,
        entry_id=entry_id,
        changes=Changes(
            fields=fields, status=body.status, owner=body.owner, due=body.due, note=body.note
        ),
    )
    audit.record(
        db,
        actor=me.actor,
        action="change",
        object_type="ledger",
        object_id=str(entry_id),
        detail=", ".join(sorted(fields)),
    )
    db.commit()
    return entry_out(entry, today=date.today())
