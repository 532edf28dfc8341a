"""Pain-point and need insights: counts, shares, breakdowns, trends and quotes, grouped in SQL."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, TypeVar

from sqlalchemy import Date, Select, and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from knowledge.access import ADMIN_SCOPE, Scope
from knowledge.errors import InvalidInput
from knowledge.models import Utterance, UtteranceLabel, Visit, VisitResult
from knowledge.periods import Period, period_key, period_start, previous_start
from nlp.vocabulary import Segment, Sentiment

Kind = Literal["pain", "need"]
QUOTES_PER_TOPIC = 3
EARLIEST, LATEST = date(1900, 1, 1), date(2999, 12, 31)  # periods are counted within these
RISING_MAX = 5
RISING_MIN_VISITS = 3  # a topic raised in fewer visits this period is never "rising"
SENTIMENTS = (Sentiment.NEGATIVE, Sentiment.NEUTRAL, Sentiment.POSITIVE)  # worst first
DIMENSIONS = ("segment", "industry", "rep")
Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class InsightFilters:
    segment: Segment | None = None
    industry: str | None = None
    rep: str | None = None
    customer: str | None = None
    date_from: date | None = None
    date_to: date | None = None


@dataclass(frozen=True)
class Count:
    """Utterances with a topic, visits mentioning it, and that share of the analysed visits."""

    utterances: int
    visits: int
    analysed_visits: int

    @property
    def share(self) -> float:
        return round(self.visits / self.analysed_visits, 4) if self.analysed_visits else 0.0


@dataclass(frozen=True)
class Trend:
    """This period against the one before: utterance counts, delta and ratio (None from zero)."""

    period: str
    previous_period: str
    current: Count
    previous: Count
    delta: int
    ratio: float | None
    share_delta: float


@dataclass(frozen=True)
class Quote:
    visit_id: str
    title: str
    idx: int
    start: float
    end: float
    text: str
    confidence: float


@dataclass(frozen=True)
class Topic:
    label: str
    total: Count
    by_segment: dict[str, Count]
    by_industry: dict[str, Count]
    by_rep: dict[str, Count]
    by_period: dict[str, Count]
    trend: Trend
    quotes: list[Quote] = field(default_factory=list)
    sentiment: dict[str, int] = field(default_factory=dict)  # mentions per utterance sentiment


@dataclass(frozen=True)
class Rising:
    label: str
    new: bool
    delta: int
    ratio: float | None
    reason: str


@dataclass(frozen=True)
class Insights:
    kind: Kind
    period: Period
    current_period: str
    previous_period: str
    analysed_visits: int
    topics: list[Topic]
    rising: list[Rising]
    segments: dict[str, int] = field(default_factory=dict)  # analysed visits per segment
    rising_min_visits: int = RISING_MIN_VISITS


def _effective_date() -> ColumnElement[date]:
    """The visit's date, or the upload day when none was given."""
    return func.coalesce(Visit.visit_date, func.date(Visit.created_at), type_=Date)


def _where_visit(query: Q, filters: InsightFilters) -> Q:
    for column, value in (
        (Visit.segment, filters.segment),
        (Visit.industry, filters.industry),
        (Visit.rep, filters.rep),
        (Visit.customer, filters.customer),
    ):
        if value is not None:
            query = query.where(column == value)
    return query


def _analysed() -> ColumnElement[bool]:
    return Visit.id.in_(select(VisitResult.visit_id).where(VisitResult.kind == "analysis"))


def check_filters(db: Session, *, filters: InsightFilters) -> None:
    """InvalidInput naming the valid values for an unknown industry, rep or customer."""
    for name, day in (("date_from", filters.date_from), ("date_to", filters.date_to)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise InvalidInput(
                f"{name} {day} is outside {EARLIEST} to {LATEST}.", code="invalid_range"
            )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        raise InvalidInput(
            f"date_from {filters.date_from} is after date_to {filters.date_to}.",
            code="invalid_range",
        )
    for name, column, value in (
        ("industry", Visit.industry, filters.industry),
        ("rep", Visit.rep, filters.rep),
        ("customer", Visit.customer, filters.customer),
    ):
        if value is None:
            continue
        if db.scalar(select(Visit.id).where(column == value).limit(1)) is not None:
            continue
        known = sorted(
            str(v)
            for v in db.scalars(select(column).where(column.is_not(None)).distinct().limit(51))
        )
        shown = ", ".join(known[:50]) + (", ..." if len(known) > 50 else "")
        raise InvalidInput(
            f"No visit has {name} '{value}'. Known values: {shown or 'none yet'}.",
            code="unknown_filter_value",
        )


def _newest_day(db: Session, filters: InsightFilters, scope: Scope) -> date | None:
    query = _where_visit(
        select(func.max(_effective_date())).where(_analysed(), scope.counted()), filters
    )
    value = db.scalar(query)
    return None if value is None else _as_date(value)


def _as_date(value: object) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _within(query: Q, since: date | None, until: date | None) -> Q:
    if since is not None:
        query = query.where(_effective_date() >= since)
    if until is not None:
        query = query.where(_effective_date() <= until)
    return query


@dataclass(frozen=True)
class _VisitKey:
    """Where one analysed visit counts: its breakdown values, period and trend slot."""

    counts_in: tuple[tuple[str, str], ...]  # (group, key): ("rep", "Lin"), ("trend", "all")
    in_window: bool


def _analysed_visits(
    db: Session,
    filters: InsightFilters,
    since: date | None,
    until: date | None,
    period: Period,
    current: date,
    previous: date,
    scope: Scope,
) -> dict[str, _VisitKey]:
    query = _where_visit(
        select(Visit.id, _effective_date(), Visit.segment, Visit.industry, Visit.rep).where(
            _analysed(), scope.counted()
        ),
        filters,
    )
    keys: dict[date, tuple[str, date]] = {}
    out: dict[str, _VisitKey] = {}
    for visit_id, raw_day, segment, industry, rep in db.execute(_within(query, since, until)):
        day = _as_date(raw_day)
        if day not in keys:
            keys[day] = (period_key(day, period), period_start(day, period))
        key, start = keys[day]
        counts_in: list[tuple[str, str]] = []
        if start in (current, previous):
            counts_in.append(("trend", "current" if start == current else "previous"))
        in_window = filters.date_from is None or day >= filters.date_from
        if in_window:
            counts_in += [
                ("trend", "all"),
                ("segment", segment or "unknown"),
                ("industry", industry or "unknown"),
                ("rep", rep or "unknown"),
                ("period", key),
            ]
        out[visit_id] = _VisitKey(tuple(counts_in), in_window)
    return out


def _label_range(kind: Kind) -> ColumnElement[bool]:
    # a range rather than LIKE: SQLite's LIKE cannot use the label index
    return and_(UtteranceLabel.label >= f"{kind}.", UtteranceLabel.label < f"{kind}/")


def _label_visit_rows(
    db: Session, kind: Kind, filters: InsightFilters, since: date | None, until: date | None
) -> list[tuple[str, str, int, float]]:
    """(label, visit, utterances, best confidence) per topic and visit, grouped in SQL."""
    query = (
        select(
            UtteranceLabel.label,
            UtteranceLabel.visit_id,
            func.count(),
            func.max(UtteranceLabel.confidence),
        )
        .where(_label_range(kind))
        .group_by(UtteranceLabel.label, UtteranceLabel.visit_id)
    )
    if any((filters.segment, filters.industry, filters.rep, filters.customer, since, until)):
        query = query.join(Visit, Visit.id == UtteranceLabel.visit_id)
        query = _within(_where_visit(query, filters), since, until)
    # unfiltered, the covering index alone answers; the caller drops visits not analysed
    return [(r[0], r[1], r[2], r[3]) for r in db.execute(query)]


def _sentiments(
    db: Session, kind: Kind, filters: InsightFilters, scope: Scope
) -> dict[str, dict[str, int]]:
    """Per topic, its mentions in the window by the sentiment of the utterance, grouped in SQL."""
    query = (
        select(UtteranceLabel.label, Utterance.sentiment, func.count())
        .join(
            Utterance,
            and_(
                Utterance.visit_id == UtteranceLabel.visit_id, Utterance.idx == UtteranceLabel.idx
            ),
        )
        .join(Visit, Visit.id == UtteranceLabel.visit_id)
        .where(_label_range(kind), _analysed(), scope.counted())
        .group_by(UtteranceLabel.label, Utterance.sentiment)
    )
    query = _within(_where_visit(query, filters), filters.date_from, filters.date_to)
    out: dict[str, dict[str, int]] = {}
    for label, sentiment, n in db.execute(query):
        out.setdefault(label, dict.fromkeys(SENTIMENTS, 0))[sentiment] = n
    return out


def _quotes(db: Session, best: Mapping[str, list[tuple[float, str]]]) -> dict[str, list[Quote]]:
    """The highest-confidence utterance of each chosen (topic, visit) pair, with its text."""
    pairs = [(label, visit_id) for label, chosen in best.items() for _, visit_id in chosen]
    if not pairs:
        return {}
    query = (
        select(
            UtteranceLabel.label,
            UtteranceLabel.visit_id,
            UtteranceLabel.idx,
            UtteranceLabel.confidence,
            Visit.title,
            Utterance.start,
            Utterance.end,
            Utterance.text,
        )
        .join(Visit, Visit.id == UtteranceLabel.visit_id)
        .join(
            Utterance,
            and_(
                Utterance.visit_id == UtteranceLabel.visit_id, Utterance.idx == UtteranceLabel.idx
            ),
        )
        .where(
            or_(*(and_(UtteranceLabel.label == x, UtteranceLabel.visit_id == v) for x, v in pairs))
        )
        .order_by(UtteranceLabel.confidence.desc(), UtteranceLabel.idx)
    )
    found: dict[tuple[str, str], Quote] = {}
    for label, visit_id, idx, confidence, title, start, end, text in db.execute(query):
        found.setdefault(
            (label, visit_id),
            Quote(
                visit_id=visit_id,
                title=title or "",
                idx=idx,
                start=float(start),
                end=float(end),
                text=text,
                confidence=float(confidence),
            ),
        )
    return {
        label: [found[(label, v)] for _, v in chosen if (label, v) in found]
        for label, chosen in best.items()
    }


def _counts(
    hits: Mapping[str, list[int]], denominators: Mapping[str, int], keys: Iterable[str]
) -> dict[str, Count]:
    return {
        k: Count(
            utterances=hits[k][0] if k in hits else 0,
            visits=hits[k][1] if k in hits else 0,
            analysed_visits=denominators.get(k, 0),
        )
        for k in sorted(keys)
    }


Hits = dict[str, dict[str, dict[str, list[int]]]]  # label -> group -> value -> [mentions, visits]


def compute(
    db: Session,
    *,
    kind: Kind,
    filters: InsightFilters,
    period: Period = "month",
    labels: Iterable[str] = (),
    scope: Scope = ADMIN_SCOPE,
    rising_min_visits: int = RISING_MIN_VISITS,
) -> Insights:
    """Insights over the analysed visits the scope counts; the current period holds date_to,
    else the newest visit; rising only from rising_min_visits visits in the current period."""
    check_filters(db, filters=filters)
    as_of = filters.date_to or _newest_day(db, filters, scope) or date.today()
    current = period_start(as_of, period)
    previous = previous_start(current, period)
    # the previous period is read even when date_from starts later, for the trend
    since = min(filters.date_from, previous) if filters.date_from else None
    until = filters.date_to
    visits = _analysed_visits(db, filters, since, until, period, current, previous, scope)
    denominators: dict[str, dict[str, int]] = {g: defaultdict(int) for g in _GROUPS}
    for visit in visits.values():
        for group, value in visit.counts_in:
            denominators[group][value] += 1
    hits, candidates = _tally(_label_visit_rows(db, kind, filters, since, until), visits)
    best = {
        label: heapq.nsmallest(QUOTES_PER_TOPIC, chosen, key=lambda x: (-x[0], x[1]))
        for label, chosen in candidates.items()
    }
    quotes = _quotes(db, best)
    sentiments = _sentiments(db, kind, filters, scope)
    cur_key, prev_key = period_key(current, period), period_key(previous, period)
    topics = [
        _topic(
            label,
            hits.get(label, {g: {} for g in _GROUPS}),
            denominators,
            (cur_key, prev_key),
            quotes.get(label, []),
            sentiments.get(label, dict.fromkeys(SENTIMENTS, 0)),
        )
        for label in sorted(set(hits) | set(labels))
    ]
    topics.sort(key=lambda t: (-t.total.visits, -t.total.utterances, t.label))
    return Insights(
        kind=kind,
        period=period,
        current_period=cur_key,
        previous_period=prev_key,
        analysed_visits=denominators["trend"]["all"],
        topics=topics,
        rising=rising(topics, min_visits=rising_min_visits),
        segments=dict(sorted(denominators["segment"].items())),
        rising_min_visits=rising_min_visits,
    )


_GROUPS = (*DIMENSIONS, "period", "trend")


def _tally(
    rows: Iterable[tuple[str, str, int, float]], visits: Mapping[str, _VisitKey]
) -> tuple[Hits, dict[str, list[tuple[float, str]]]]:
    """Mentions and visits per label and group value, and each label's quote candidates
    (confidence, visit) in the window; visits not analysed are skipped."""
    hits: Hits = {}
    candidates: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for label, visit_id, n, confidence in rows:
        key = visits.get(visit_id)
        if key is None:  # not analysed
            continue
        topic = hits.setdefault(label, {g: {} for g in _GROUPS})
        for group, value in key.counts_in:
            slot = topic[group].setdefault(value, [0, 0])
            slot[0] += n
            slot[1] += 1
        if key.in_window:
            candidates[label].append((confidence, visit_id))
    return hits, candidates


def _topic(
    label: str,
    topic: dict[str, dict[str, list[int]]],
    denominators: dict[str, dict[str, int]],
    keys: tuple[str, str],
    quotes: list[Quote],
    sentiment: dict[str, int],
) -> Topic:
    """One label's counts by dimension and period, its trend, quotes and sentiment."""
    trend = _counts(topic["trend"], denominators["trend"], ("all", "current", "previous"))
    cur, prev = trend["current"], trend["previous"]
    return Topic(
        label=label,
        total=trend["all"],
        by_segment=_counts(topic["segment"], denominators["segment"], topic["segment"]),
        by_industry=_counts(topic["industry"], denominators["industry"], topic["industry"]),
        by_rep=_counts(topic["rep"], denominators["rep"], topic["rep"]),
        by_period=_counts(topic["period"], denominators["period"], denominators["period"]),
        trend=Trend(
            period=keys[0],
            previous_period=keys[1],
            current=cur,
            previous=prev,
            delta=cur.utterances - prev.utterances,
            ratio=round(cur.utterances / prev.utterances, 3) if prev.utterances else None,
            share_delta=round(cur.share - prev.share, 4),
        ),
        quotes=quotes,
        sentiment=sentiment,
    )


def rising(topics: Iterable[Topic], *, min_visits: int = RISING_MIN_VISITS) -> list[Rising]:
    """Topics new this period (none the period before), then those growing fastest; a topic
    raised in fewer than min_visits visits this period is noise, never rising."""
    out: list[Rising] = []
    for t in topics:
        tr = t.trend
        if tr.delta <= 0 or tr.current.visits < min_visits:
            continue
        if tr.previous.utterances == 0:
            reason = (
                f"New in {tr.period}: {tr.current.utterances} mention(s) in "
                f"{tr.current.visits} visits, none in {tr.previous_period}."
            )
            out.append(Rising(t.label, True, tr.delta, None, reason))
        elif tr.ratio is not None and tr.ratio >= 1.25:
            reason = (
                f"{tr.current.utterances} mention(s) in {tr.current.visits} visits in {tr.period} "
                f"against {tr.previous.utterances} in {tr.previous_period} (x{tr.ratio:g})."
            )
            out.append(Rising(t.label, False, tr.delta, tr.ratio, reason))
    out.sort(key=lambda r: (not r.new, -(r.ratio or 0.0), -r.delta, r.label))
    return out[:RISING_MAX]
