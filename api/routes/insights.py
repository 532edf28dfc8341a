"""Pain-point and need insights for product teams and managers, as JSON or CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from api.access import Caller, Me
from api.csv_export import CSV_TOO, csv_response
from api.deps import Config, Db
from api.links import audio_link
from knowledge import audit, insights, visits
from knowledge.insights import Count, InsightFilters, Insights, Topic
from knowledge.models import Role
from nlp.labels import LabelSet, UnknownLabelError, load_labels
from nlp.redact import redact

router = APIRouter(tags=["insights"])
QuoteView = Callable[[str, str, float], tuple[str, str | None]]  # text, visit, start → as seen
Segment = Literal["strategic", "high_potential", "basic", "low_efficiency"]
CSV_COLUMNS = (
    "label",
    "name_en",
    "name_zh",
    "utterances",
    "visits",
    "share",
    "period",
    "current_utterances",
    "previous_period",
    "previous_utterances",
    "delta",
    "ratio",
    "rising",
    "top_quote",
    "top_quote_link",
)


def _count(c: Count) -> dict[str, Any]:
    return {"utterances": c.utterances, "visits": c.visits, "share": c.share}


def _names(labels: LabelSet, label: str) -> dict[str, str]:
    try:
        info = labels.info(label)
    except UnknownLabelError:
        return {"en": label, "zh": label}
    return {"en": info.name_en, "zh": info.name_zh}


def _quote_view(me: Caller, contacts: dict[str, list[str]], *, masked: bool) -> QuoteView:
    """A quote's text and audio link as this caller may see them: masked for masked roles and
    in exports; product roles get no audio."""

    def view(text: str, visit_id: str, start: float) -> tuple[str, str | None]:
        if not masked:
            return text, audio_link(me.signer, visit_id, start)
        link = None if me.role == Role.PRODUCT else audio_link(me.signer, visit_id, start)
        return redact(text, names=contacts.get(visit_id, [])), link

    return view


def _topic(t: Topic, labels: LabelSet, rising: set[str], view: QuoteView) -> dict[str, Any]:
    return {
        "label": t.label,
        "name": _names(labels, t.label),
        **_count(t.total),
        "rising": t.label in rising,
        "by_segment": {k: _count(v) for k, v in t.by_segment.items()},
        "by_industry": {k: _count(v) for k, v in t.by_industry.items()},
        "by_rep": {k: _count(v) for k, v in t.by_rep.items()},
        "by_period": {k: _count(v) for k, v in t.by_period.items()},
        "trend": {
            "period": t.trend.period,
            "previous_period": t.trend.previous_period,
            "current": _count(t.trend.current),
            "previous": _count(t.trend.previous),
            "delta": t.trend.delta,
            "ratio": t.trend.ratio,
            "share_delta": t.trend.share_delta,
        },
        "quotes": [
            {
                "visit_id": q.visit_id,
                "title": q.title,
                "idx": q.idx,
                "start": q.start,
                "text": text,
                "confidence": q.confidence,
                "link": link,
            }
            for q in t.quotes
            for text, link in [view(q.text, q.visit_id, q.start)]
        ],
    }


def _csv(
    result: Insights,
    labels: LabelSet,
    rising: set[str],
    view: QuoteView,
) -> Response:
    rows = []
    for t in result.topics:
        names = _names(labels, t.label)
        top = t.quotes[0] if t.quotes else None
        text, link = view(top.text, top.visit_id, top.start) if top else ("", "")
        rows.append(
            [
                t.label,
                names["en"],
                names["zh"],
                t.total.utterances,
                t.total.visits,
                t.total.share,
                t.trend.period,
                t.trend.current.utterances,
                t.trend.previous_period,
                t.trend.previous.utterances,
                t.trend.delta,
                t.trend.ratio,
                "yes" if t.label in rising else "",
                text,
                link,
            ]
        )
    return csv_response(CSV_COLUMNS, rows, f"{result.kind}-insights.csv")


def _answer(
    kind: insights.Kind,
    db: Db,
    settings: Config,
    filters: InsightFilters,
    period: insights.Period,
    fmt: str,
    me: Caller,
) -> Response:
    labels = load_labels(settings.prompts_dir)
    known = [x.id for x in labels.need_pain if x.id.startswith(f"{kind}.")]
    result = insights.compute(
        db, kind=kind, filters=filters, period=period, labels=known, scope=me.scope
    )
    rising = {r.label for r in result.rising}
    quoted = {q.visit_id for t in result.topics for q in t.quotes}
    masked = me.scope.redacted or fmt == "csv"  # an export leaves the service: always masked
    contacts = visits.contacts_of(db, visit_ids=quoted) if masked else {}
    view = _quote_view(me, contacts, masked=masked)
    if fmt == "csv":
        audit.record(db, actor=me.actor, action="export", object_type="insights", object_id=kind)
        db.commit()
        return _csv(result, labels, rising, view)
    return JSONResponse(
        {
            "kind": result.kind,
            "period": result.period,
            "current_period": result.current_period,
            "previous_period": result.previous_period,
            "analysed_visits": result.analysed_visits,
            "topics": [_topic(t, labels, rising, view) for t in result.topics],
            "rising": [
                {
                    "label": r.label,
                    "new": r.new,
                    "delta": r.delta,
                    "ratio": r.ratio,
                    "reason": r.reason,
                }
                for r in result.rising
            ],
        }
    )


def insight_filters(
    segment: Segment | None = None,
    industry: str | None = None,
    rep: str | None = None,
    customer: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> InsightFilters:
    """The query filters both insight routes share."""
    return InsightFilters(segment, industry, rep, customer, date_from, date_to)


Filters = Annotated[InsightFilters, Depends(insight_filters)]
Period = Literal["week", "month"]
Format = Literal["json", "csv"]


@router.get("/insights/pain-points", responses=CSV_TOO)
def pain_points(
    db: Db,
    settings: Config,
    me: Me,
    filters: Filters,
    period: Period = "month",
    format: Format = "json",  # noqa: A002 (the public query name)
) -> Response:
    return _answer("pain", db, settings, filters, period, format, me)


@router.get("/insights/needs", responses=CSV_TOO)
def needs(
    db: Db,
    settings: Config,
    me: Me,
    filters: Filters,
    period: Period = "month",
    format: Format = "json",  # noqa: A002 (the public query name)
) -> Response:
    return _answer("need", db, settings, filters, period, format, me)
