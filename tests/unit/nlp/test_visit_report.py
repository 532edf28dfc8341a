from __future__ import annotations

from nlp.classify import LabelScore, TextAnalysis
from nlp.types import Segment
from nlp.visit_report import visit_report


def analysed(
    sentiment: str, score: float, labels: tuple[str, ...] = (), risk: tuple[str, ...] = ()
) -> TextAnalysis:
    return TextAnalysis(
        labels=[LabelScore(x, 0.9) for x in labels],
        sentiment=sentiment,  # type: ignore[arg-type]
        sentiment_score=score,
        risk=[LabelScore(x, 0.8) for x in risk],
        language="zh",
    )


def test_counts_curve_and_alerts_come_from_the_customer_only() -> None:
    segments = [
        Segment(0, 10, "您好", role="rep"),
        Segment(10, 20, "售后太慢", role="customer"),
        Segment(70, 80, "我们在考虑换供应商", role="customer"),
        Segment(80, 90, "价格可以谈", role="rep"),
    ]
    analyses = [
        analysed("positive", 0.9, ("need.price",)),
        analysed("negative", -0.8, ("pain.service",)),
        analysed("negative", -0.6, ("pain.service",), ("risk.churn",)),
        analysed("positive", 0.7),
    ]
    report = visit_report(segments, analyses)
    assert report.label_counts == {"pain.service": 2}
    assert report.sentiment_score == -0.7
    assert [(p.t, p.n) for p in report.curve] == [(30.0, 1), (90.0, 1)]
    (alert,) = report.alerts
    assert alert.label == "risk.churn" and alert.idx == 2 and alert.start == 70


def test_unknown_roles_count_as_customer_and_unsupported_text_is_skipped() -> None:
    segments = [Segment(0, 5, "hola amigos"), Segment(5, 10, "price is too high")]
    analyses = [
        TextAnalysis(unsupported=True, language="es"),
        analysed("negative", -1.0, ("pain.price",)),
    ]
    report = visit_report(segments, analyses)
    assert report.label_counts == {"pain.price": 1} and report.sentiment_counts == {"negative": 1}


def test_empty_visit_gives_a_neutral_report() -> None:
    report = visit_report([], [])
    assert report.sentiment_score == 0.0 and report.curve == [] and report.alerts == []
