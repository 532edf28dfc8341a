"""Pain-point and need insights for product teams and managers, as JSON or CSV."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from api.access import Caller, Me
from api.csv_export import CSV_TOO, csv_response
from api.deps import Config, Db
from api.links import audio_link
from knowledge import audit, insights, periods, visits
from knowledge.insights import Count, InsightFilters, Insights, Quote, Topic
from knowledge.models import Role
from nlp.labels import LabelSet, UnknownLabelError, load_labels
from nlp.redact import redact
from nlp.vocabulary import Segment, Sentiment

router = APIRouter(tags=["insights"])
QuoteView = Callable[[str, str, float], tuple[str, str | None]]  # text, visit, start → as seen
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


class CountOut(BaseModel):
    utterances: int = Field(description="mentions: the customer's utterances with the topic")
    visits: int = Field(description="analysed visits with at least one mention")
    share: float = Field(description="those visits over the group's analysed visits, 0..1")

    @classmethod
    def of(cls, c: Count) -> CountOut:
        return cls(utterances=c.utterances, visits=c.visits, share=c.share)


class NameOut(BaseModel):
    en: str
    zh: str


class TrendOut(BaseModel):
    period: str
    previous_period: str
    current: CountOut
    previous: CountOut
    delta: int = Field(description="mentions this period minus the period before")
    ratio: float | None = Field(description="mentions this period over the period before")
    share_delta: float


class QuoteOut(BaseModel):
    visit_id: str
    title: str
    idx: int
    start: float = Field(description="seconds into the recording")
    end: float
    text: str = Field(description="masked for masked roles")
    confidence: float
    link: str | None = Field(description="signed audio link that plays from start; None: no audio")


class SentimentOut(BaseModel):
    """A topic's mentions by the sentiment of the utterance, and their shares (0..1)."""

    negative: int
    neutral: int
    positive: int
    negative_share: float
    neutral_share: float
    positive_share: float

    @classmethod
    def of(cls, counts: dict[str, int]) -> SentimentOut:
        n = sum(counts.values())
        share = {k: round(v / n, 4) if n else 0.0 for k, v in counts.items()}
        return cls(
            negative=counts.get(Sentiment.NEGATIVE, 0),
            neutral=counts.get(Sentiment.NEUTRAL, 0),
            positive=counts.get(Sentiment.POSITIVE, 0),
            negative_share=share.get(Sentiment.NEGATIVE, 0.0),
            neutral_share=share.get(Sentiment.NEUTRAL, 0.0),
            positive_share=share.get(Sentiment.POSITIVE, 0.0),
        )


class TopicOut(CountOut):
    label: str
    name: NameOut
    rising: bool
    by_segment: dict[str, CountOut] = Field(description="segments where the topic came up")
    by_industry: dict[str, CountOut]
    by_rep: dict[str, CountOut]
    by_period: dict[str, CountOut] = Field(description="every period with analysed visits")
    trend: TrendOut
    quotes: list[QuoteOut] = Field(description="the most typical, from distinct visits (up to 3)")
    sentiment: SentimentOut


class RisingOut(BaseModel):
    label: str
    new: bool = Field(description="no mention the period before")
    delta: int
    ratio: float | None
    reason: str


class InsightsOut(BaseModel):
    kind: insights.Kind
    period: periods.Period
    current_period: str
    previous_period: str
    analysed_visits: int
    segments: dict[str, int] = Field(description="analysed visits per customer segment")
    rising_min_visits: int = Field(
        description="visits raising a topic this period before it can be rising "
        "(VISITLENS_INSIGHTS_RISING_MIN_VISITS)"
    )
    topics: list[TopicOut]
    rising: list[RisingOut]


def _names(labels: LabelSet, label: str) -> NameOut:
    try:
        info = labels.info(label)
    except UnknownLabelError:
        return NameOut(en=label, zh=label)
    return NameOut(en=info.name_en, zh=info.name_zh)


def _quote_view(me: Caller, contacts: dict[str, list[str]], *, masked: bool) -> QuoteView:
    """A quote's text and audio link as this caller may see them: masked for masked roles and
    in exports; product roles get no audio."""

    def view(text: str, visit_id: str, start: float) -> tuple[str, str | None]:
        if not masked:
            return text, audio_link(me.signer, visit_id, start)
        link = None if me.role == Role.PRODUCT else audio_link(me.signer, visit_id, start)
        return redact(text, names=contacts.get(visit_id, [])), link

    return view


def _quote(q: Quote, view: QuoteView) -> QuoteOut:
    text, link = view(q.text, q.visit_id, q.start)
    return QuoteOut(
        visit_id=q.visit_id,
        title=q.title,
        idx=q.idx,
        start=q.start,
        end=q.end,
        text=text,
        confidence=q.confidence,
        link=link,
    )


def _topic(t: Topic, labels: LabelSet, rising: set[str], view: QuoteView) -> TopicOut:
    tr = t.trend
    return TopicOut(
        label=t.label,
        name=_names(labels, t.label),
        utterances=t.total.utterances,
        visits=t.total.visits,
        share=t.total.share,
        rising=t.label in rising,
        by_segment={k: CountOut.of(v) for k, v in t.by_segment.items()},
        by_industry={k: CountOut.of(v) for k, v in t.by_industry.items()},
        by_rep={k: CountOut.of(v) for k, v in t.by_rep.items()},
        by_period={k: CountOut.of(v) for k, v in t.by_period.items()},
        trend=TrendOut(
            period=tr.period,
            previous_period=tr.previous_period,
            current=CountOut.of(tr.current),
            previous=CountOut.of(tr.previous),
            delta=tr.delta,
            ratio=tr.ratio,
            share_delta=tr.share_delta,
        ),
        quotes=[_quote(q, view) for q in t.quotes],
        sentiment=SentimentOut.of(t.sentiment),
    )


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
                names.en,
                names.zh,
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
    period: periods.Period,
    fmt: str,
    me: Caller,
) -> Response | InsightsOut:
    labels = load_labels(settings.prompts_dir)
    known = [x.id for x in labels.need_pain if x.id.startswith(f"{kind}.")]
    result = insights.compute(
        db,
        kind=kind,
        filters=filters,
        period=period,
        labels=known,
        scope=me.scope,
        rising_min_visits=settings.insights_rising_min_visits,
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
    return InsightsOut(
        kind=result.kind,
        period=result.period,
        current_period=result.current_period,
        previous_period=result.previous_period,
        analysed_visits=result.analysed_visits,
        segments=result.segments,
        rising_min_visits=result.rising_min_visits,
        topics=[_topic(t, labels, rising, view) for t in result.topics],
        rising=[
            RisingOut(label=r.label, new=r.new, delta=r.delta, ratio=r.ratio, reason=r.reason)
            for r in result.rising
        ],
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


@router.get("/insights/pain-points", response_model=InsightsOut, responses=CSV_TOO)
def pain_points(
    db: Db,
    settings: Config,
    me: Me,
    filters: Filters,
    period: Period = "month",
    format: Format = "json",  # noqa: A002 (the public query name)
) -> Response | InsightsOut:
    return _answer("pain", db, settings, filters, period, format, me)


@router.get("/insights/needs", response_model=InsightsOut, responses=CSV_TOO)
def needs(
    db: Db,
    settings: Config,
    me: Me,
    filters: Filters,
    period: Period = "month",
    format: Format = "json",  # noqa: A002 (the public query name)
) -> Response | InsightsOut:
    return _answer("need", db, settings, filters, period, format, me)
