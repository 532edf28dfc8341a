"""Visit-level figures from analysed utterances: label counts, sentiment score and curve, alerts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from nlp.classify import TextAnalysis
from nlp.types import Segment
from nlp.vocabulary import Role


@dataclass(frozen=True)
class CurvePoint:
    t: float  # seconds from the start: the middle of the window
    score: float  # mean customer sentiment in [-1, 1] over the window
    n: int  # utterances in the window


@dataclass(frozen=True)
class RiskAlert:
    label: str  # risk.churn | risk.doubt
    confidence: float
    idx: int  # utterance index in the transcript
    start: float
    quote: str


@dataclass
class VisitReport:
    label_counts: dict[str, int] = field(default_factory=dict)
    sentiment_score: float = 0.0  # customer speech, duration-weighted, in [-1, 1]
    sentiment_counts: dict[str, int] = field(default_factory=dict)
    curve: list[CurvePoint] = field(default_factory=list)
    alerts: list[RiskAlert] = field(default_factory=list)


def _is_customer(segment: Segment) -> bool:
    return segment.role in (None, Role.CUSTOMER)


def visit_report(
    segments: Sequence[Segment], analyses: Sequence[TextAnalysis], *, window_s: float = 60.0
) -> VisitReport:
    """Counts and curves over the customer's utterances (all of them when roles are unknown)."""
    report = VisitReport()
    labels: Counter[str] = Counter()
    sentiments: Counter[str] = Counter()
    weighted = total = 0.0
    buckets: dict[int, list[float]] = {}
    for i, (seg, res) in enumerate(zip(segments, analyses, strict=True)):
        if not _is_customer(seg) or res.unsupported or not seg.text.strip():
            continue
        labels.update(label.id for label in res.labels)
        sentiments[res.sentiment] += 1
        duration = max(seg.end - seg.start, 0.1)
        weighted += res.sentiment_score * duration
        total += duration
        buckets.setdefault(int(seg.start // window_s), []).append(res.sentiment_score)
        for risk in res.risk:
            report.alerts.append(
                RiskAlert(risk.id, round(risk.confidence, 3), i, round(seg.start, 2), seg.text)
            )
    report.label_counts = dict(labels.most_common())
    report.sentiment_counts = dict(sentiments)
    report.sentiment_score = round(weighted / total, 3) if total else 0.0
    report.curve = [
        CurvePoint(t=(k + 0.5) * window_s, score=round(sum(v) / len(v), 3), n=len(v))
        for k, v in sorted(buckets.items())
    ]
    return report
