"""How documents are kept in Chroma: each one's metadata (what filters and profiles read), its
reading back, and the where clause of a search's filters."""

from __future__ import annotations

from datetime import date
from typing import Any

from knowledge.search_types import Kind, SearchFilters, UtteranceDoc, VisitDoc


def where_of(f: SearchFilters, kind: Kind) -> dict[str, Any] | None:
    """Chroma's where clause for the filters (utterance-only fields apply to utterances)."""
    names = ["rep", "customer", "industry", "segment", "language"]
    if kind == "utterance":
        names += ["role", "sentiment"]
    conditions: list[dict[str, Any] | None] = [
        {name: getattr(f, name)} for name in names if getattr(f, name) is not None
    ]
    if kind == "utterance":
        conditions += [
            {key: {"$contains": value}}
            for key, value in (("labels", f.label), ("risk", f.risk))
            if value is not None
        ]
    if f.date_from is not None:
        conditions.append({"day": {"$gte": f.date_from.toordinal()}})
    if f.date_to is not None:
        conditions.append({"day": {"$lte": f.date_to.toordinal()}})
    conditions.append(visit_in(f.visit_ids))
    return all_of(*conditions)


def visit_in(visit_ids: frozenset[str] | None) -> dict[str, Any] | None:
    return None if visit_ids is None else {"visit_id": {"$in": sorted(visit_ids)}}


def all_of(*conditions: dict[str, Any] | None) -> dict[str, Any] | None:
    present = [c for c in conditions if c is not None]
    if len(present) < 2:
        return present[0] if present else None
    return {"$and": present}


def common_meta(doc: UtteranceDoc | VisitDoc) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "visit_id": doc.visit_id,
        "language": doc.language,
        "rep": doc.rep,
        "customer": doc.customer,
        "industry": doc.industry,
        "segment": doc.segment,
    }
    if doc.visit_date is not None:
        meta["visit_date"] = doc.visit_date.isoformat()
        meta["day"] = doc.visit_date.toordinal()  # numeric, so Chroma can filter ranges
    if doc.labels:  # Chroma rejects empty lists
        meta["labels"] = list(doc.labels)
    return meta


def utterance_meta(doc: UtteranceDoc) -> dict[str, Any]:
    meta = common_meta(doc)
    meta.update(
        index=doc.index, start=doc.start, end=doc.end, role=doc.role, sentiment=doc.sentiment
    )
    if doc.risk:
        meta["risk"] = list(doc.risk)
    return meta


def visit_meta(doc: VisitDoc) -> dict[str, Any]:
    meta = common_meta(doc)
    meta.update(
        title=doc.title,
        summary=doc.summary,
        outcome=doc.outcome,
    )
    for name in ("coaching_score", "question_quality", "rep_talk_share", "next_steps"):
        value = getattr(doc, name)
        if value is not None:  # Chroma rejects None
            meta[name] = float(value)
    return meta


def document_of(doc: UtteranceDoc | VisitDoc) -> list[Any]:
    """[text, metadata]: a document as Chroma holds it, and as search rows and similar-case
    profiles keep it."""
    return [doc.text, utterance_meta(doc) if isinstance(doc, UtteranceDoc) else visit_meta(doc)]


def document_from(kind: Kind, document: list[Any]) -> UtteranceDoc | VisitDoc:
    """The document that document_of gave."""
    text, meta = document
    return (utterance_from if kind == "utterance" else visit_from)(text, dict(meta))


def _day(meta: dict[str, Any]) -> date | None:
    raw = meta.get("visit_date")
    return date.fromisoformat(raw) if raw else None


def utterance_from(text: str, meta: dict[str, Any]) -> UtteranceDoc:
    return UtteranceDoc(
        visit_id=str(meta["visit_id"]),
        index=int(meta["index"]),
        start=float(meta["start"]),
        end=float(meta["end"]),
        text=text,
        role=str(meta.get("role", "other")),
        labels=list(meta.get("labels", [])),
        sentiment=str(meta.get("sentiment", "neutral")),
        risk=list(meta.get("risk", [])),
        language=str(meta.get("language", "")),
        rep=str(meta.get("rep", "")),
        customer=str(meta.get("customer", "")),
        industry=str(meta.get("industry", "")),
        segment=str(meta.get("segment", "")),
        visit_date=_day(meta),
    )


def _optional(meta: dict[str, Any], name: str) -> float | None:
    value = meta.get(name)
    return None if value is None else float(value)


def visit_from(text: str, meta: dict[str, Any]) -> VisitDoc:
    steps = meta.get("next_steps")
    return VisitDoc(
        visit_id=str(meta["visit_id"]),
        title=str(meta.get("title", "")),
        summary=str(meta.get("summary", "")),
        labels=list(meta.get("labels", [])),
        outcome=str(meta.get("outcome", "")),
        rep=str(meta.get("rep", "")),
        customer=str(meta.get("customer", "")),
        industry=str(meta.get("industry", "")),
        segment=str(meta.get("segment", "")),
        language=str(meta.get("language", "")),
        visit_date=_day(meta),
        coaching_score=_optional(meta, "coaching_score"),
        question_quality=_optional(meta, "question_quality"),
        rep_talk_share=_optional(meta, "rep_talk_share"),
        next_steps=None if steps is None else int(steps),
        text=text,
    )
