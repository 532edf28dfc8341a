"""Coaching metrics, stages and scorecard on synthetic attributed transcripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.coaching import TimeSpan, coaching_report, load_scorecard
from nlp.scorecard import parse_scorecard
from nlp.types import Segment

CARD = load_scorecard()


def _seg(start: float, end: float, role: str, text: str, speaker: str | None = None) -> Segment:
    spk = speaker or ("S1" if role == "rep" else "S2")
    return Segment(start, end, text, language="en", speaker=spk, role=role)


VISIT = [
    _seg(0, 8, "rep", "Thanks for having me. How is the new line running?"),
    _seg(9, 30, "customer", "Slowly. The labels jam twice a shift and we lose an hour each time."),
    _seg(31, 36, "rep", "What does a lost hour cost you?"),
    _seg(37, 50, "customer", "About two pallets of output."),
    _seg(51, 80, "rep", "Our new printer head fixes the jams, and we can install it this month."),
    _seg(81, 90, "customer", "Good."),
    _seg(91, 100, "rep", "To sum up, I'll send the quote by Friday."),
]


def test_metrics_of_a_simple_visit() -> None:
    r = coaching_report(VISIT, CARD)
    assert r.duration_s == pytest.approx(100.0)
    assert r.talk_ratio == pytest.approx(51 / 94)
    assert r.longest_rep_monologue_s == pytest.approx(29.0)
    assert r.longest_customer_story_s == pytest.approx(21.0)
    assert r.interactivity_per_min == pytest.approx(6 / (100 / 60))
    assert r.patience_s == pytest.approx(1.0)
    assert [(q.spin, q.open) for q in r.questions] == [("situation", True), ("implication", True)]
    assert r.question_rate_per_10min == pytest.approx(2 / (100 / 60) * 10)


def test_stages_cover_the_visit_in_order() -> None:
    stages = coaching_report(VISIT, CARD).stages
    assert stages[0].name == "opening" and stages[0].start == 0
    assert stages[-1].name == "closing" and stages[-1].end == 100
    assert {"discovery", "answering"} <= {s.name for s in stages}
    assert all(a.end == b.start for a, b in zip(stages, stages[1:], strict=False))


def test_scorecard_items_have_value_score_and_evidence() -> None:
    r = coaching_report(VISIT, CARD)
    assert {i.id for i in r.scorecard} == {i.id for i in CARD.items}
    monologue = next(i for i in r.scorecard if i.metric == "longest_rep_monologue_s")
    assert monologue.passed and monologue.evidence[0].start == 51
    assert 0 <= r.total <= 100


def test_one_speaker_only_gives_no_patience_and_full_talk_ratio() -> None:
    segs = [_seg(i * 10.0, i * 10.0 + 9, "rep", "We ship every week.") for i in range(6)]
    r = coaching_report(segs, CARD)
    assert r.talk_ratio == 1.0 and r.patience_s is None and r.interactivity_per_min == 0
    assert 0 <= r.total <= 100


def test_more_than_six_speakers_and_overlapping_speech() -> None:
    segs = [
        _seg(
            i * 3.0,
            i * 3.0 + 5,
            "rep" if i % 8 == 0 else "customer",
            "Right, what next?",
            f"S{i % 8 + 1}",
        )
        for i in range(40)
    ]
    r = coaching_report(segs, CARD)
    assert r.patience_s is not None and r.patience_s >= 0
    assert 0 < r.talk_ratio < 1 if r.talk_ratio is not None else False


def test_rep_who_never_asks_fails_the_question_items() -> None:
    segs = [
        _seg(0, 60, "rep", "Our product is the best on the market."),
        _seg(61, 70, "customer", "I see."),
        _seg(71, 130, "rep", "We also offer training and a discount."),
    ]
    r = coaching_report(segs, CARD)
    assert r.questions == [] and r.question_rate_per_10min == 0
    rate = next(i for i in r.scorecard if i.metric == "question_rate_per_10min")
    assert rate.passed is False and rate.score == 0
    assert next(i for i in r.scorecard if i.metric == "open_question_share").value is None


def test_one_minute_and_two_hour_visits() -> None:
    short = coaching_report(VISIT[:3], CARD)
    assert short.duration_s == pytest.approx(36.0)
    long_segs = []
    for i in range(1440):  # 2 hours of 5-second turns
        role = "rep" if i % 2 == 0 else "customer"
        text = "How do you plan next quarter?" if i % 20 == 0 else "We reviewed the numbers."
        long_segs.append(_seg(i * 5.0, i * 5.0 + 4.5, role, text))
    r = coaching_report(long_segs, CARD)
    assert r.duration_s == pytest.approx(7199.5)
    assert len(r.questions) == 72
    assert r.stages[0].name == "opening" and r.stages[-1].end == pytest.approx(7199.5)


def test_transcript_without_roles_warns_instead_of_failing() -> None:
    segs = [Segment(0, 5, "Hello there."), Segment(6, 9, "How are you?")]
    r = coaching_report(segs, CARD)
    assert r.talk_ratio is None and r.warnings


def test_empty_transcript_gives_an_empty_report() -> None:
    r = coaching_report([], CARD)
    assert r.total == 0 and r.stages == [] and r.questions == []


def test_scorecard_with_unknown_metric_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        parse_scorecard({"items": [{"metric": "charisma", "min": 1}]})


def test_shipped_scorecard_loads(tmp_path: Path) -> None:
    path = tmp_path / "card.yaml"
    path.write_text("items:\n  - {id: q, metric: patience_s, min: 1, weight: 2}\n")
    card = load_scorecard(path)
    assert card.items[0].weight == 2 and card.items[0].min == 1
    assert len(CARD.items) >= 6


PITCH = [
    _seg(
        0, 10, "rep", "Good morning, thanks for your time. Are you happy with the current printers?"
    ),
    _seg(11, 14, "customer", "Mostly, yes."),
    _seg(14.2, 140, "rep", "Let me walk you through our new line. It prints twice as fast."),
    _seg(141, 145, "customer", "I see."),
    _seg(145.3, 200, "rep", "It also comes with a service plan, and we install it in a week."),
]


def test_each_way_of_failing_links_the_moment_that_shows_it() -> None:
    moments = {i.id: i.moment for i in coaching_report(PITCH, CARD).scorecard}
    assert moments["question_rate"] is None  # passed: 3 questions every 10 minutes
    assert moments["monologue"] == TimeSpan(14.2, 140, "longest rep monologue")
    # the customer's longest story (141-145 s) and where the rep took the floor after it
    assert moments["customer_story"] == TimeSpan(145.3, 200, "rep took the floor")
    # the quickest reply (0.2 s after "Mostly, yes."), with the customer's last words before it
    assert moments["patience"] == TimeSpan(11, 19.2, "quick reply")
