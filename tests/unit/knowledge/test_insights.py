"""Which topics insights call rising: growth in the current period, from enough visits."""

from __future__ import annotations

from knowledge.insights import Count, Topic, Trend, rising


def topic(label: str, *, now: tuple[int, int], before: tuple[int, int]) -> Topic:
    """A topic with (mentions, visits) this period and the one before, out of 10 visits each."""
    current, previous = Count(*now, 10), Count(*before, 10)
    delta = current.utterances - previous.utterances
    ratio = round(current.utterances / previous.utterances, 3) if previous.utterances else None
    trend = Trend("2026-03", "2026-02", current, previous, delta, ratio, 0.0)
    return Topic(label, current, {}, {}, {}, {}, trend)


def test_a_topic_from_fewer_visits_than_the_minimum_never_rises() -> None:
    chatty = topic("pain.service", now=(6, 1), before=(0, 0))  # six mentions, one visit
    assert rising([chatty], min_visits=3) == []
    assert [r.label for r in rising([chatty], min_visits=1)] == ["pain.service"]


def test_new_topics_come_first_then_the_fastest_growing() -> None:
    topics = [
        topic("pain.price", now=(8, 4), before=(4, 3)),
        topic("pain.delivery", now=(3, 3), before=(0, 0)),
        topic("pain.quality", now=(5, 4), before=(5, 4)),  # flat
        topic("pain.service", now=(4, 3), before=(2, 2)),
    ]
    found = rising(topics, min_visits=3)
    assert [(r.label, r.new) for r in found] == [
        ("pain.delivery", True),
        ("pain.price", False),
        ("pain.service", False),
    ]
    assert found[0].reason == "New in 2026-03: 3 mention(s) in 3 visits, none in 2026-02."
