"""Objection answers found in turns, scored by what followed, grouped when near-identical."""

from __future__ import annotations

import numpy as np
import pytest

from nlp.playbook import Turn, answer_score, find_answers, group_answers


def turn(idx: int, role: str, text: str, score: float = 0.0, *labels: str) -> Turn:
    sentiment = "positive" if score > 0.2 else "negative" if score < -0.2 else "neutral"
    return Turn(idx, role, text, idx * 10.0, idx * 10.0 + 9, sentiment, score, labels)


def test_the_reps_next_turns_answer_an_objection_and_the_customers_reply_rates_them() -> None:
    turns = [
        turn(0, "rep", "How is the service going?"),
        turn(1, "customer", "Your price is twice theirs.", -0.6, "pain.price", "risk.churn"),
        turn(2, "rep", "Service is included."),
        turn(3, "rep", "So the total cost is lower."),
        turn(4, "rep", "Third rep turn is not part of it."),
        turn(5, "customer", "That makes sense, send the comparison.", 0.6),
    ]
    answers = find_answers(turns, action_starts=[52.0])
    assert [a.label for a in answers] == ["pain.price", "risk.churn"]
    first = answers[0]
    assert (first.answer_idx, first.start, first.end) == (2, 20.0, 39.0)
    assert first.text == "Service is included. So the total cost is lower."
    assert first.sentiment_delta == pytest.approx(1.2)
    assert first.positive and first.commitment


def test_a_repeated_objection_is_answered_once_and_an_unanswered_one_not_at_all() -> None:
    turns = [
        turn(0, "customer", "Too slow.", -0.5, "pain.delivery"),
        turn(1, "customer", "Always late.", -0.7, "pain.delivery"),
        turn(2, "rep", "We now ship from Suzhou."),
        turn(3, "customer", "Still too expensive.", -0.4, "pain.price"),
    ]
    answers = find_answers(turns)
    assert [(a.objection_idx, a.answer_idx) for a in answers] == [(1, 2)]
    assert answers[0].sentiment_delta == pytest.approx(0.3) and not answers[0].positive
    assert not answers[0].commitment


def test_needs_are_not_objections() -> None:
    turns = [turn(0, "customer", "We want an API.", 0.3, "need.integration"), turn(1, "rep", "Ok")]
    assert find_answers(turns) == []


def test_a_won_deal_with_a_positive_reply_outranks_a_lost_one() -> None:
    good = answer_score(positive=True, sentiment_delta=0.8, commitment=True, outcome="won")
    bad = answer_score(positive=False, sentiment_delta=-0.2, commitment=False, outcome="lost")
    unknown = answer_score(positive=False, sentiment_delta=0.0, commitment=False, outcome=None)
    assert good == pytest.approx(0.35 + 0.2 + 0.2 + 0.2)
    assert bad < unknown == 0.0 < good


def unit(*xs: float) -> np.ndarray:
    v = np.array(xs, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_near_identical_answers_form_one_group_led_by_the_best() -> None:
    vectors = np.vstack([unit(1, 0, 0), unit(0, 1, 0), unit(1, 0.05, 0), unit(0.99, 0, 0.1)])
    groups = group_answers(vectors, [0.2, 0.9, 0.8, 0.5])
    assert [g.members for g in groups] == [[1], [2, 3, 0]]  # one 0.9 beats three averaging 0.5
    assert groups[0].score == pytest.approx(0.45)
    assert groups[1].score == pytest.approx(0.5 * 3 / 4)


def test_a_pinned_answer_leads_whatever_its_score() -> None:
    vectors = np.vstack([unit(1, 0), unit(0, 1)])
    groups = group_answers(vectors, [0.9, -0.3], pinned=[False, True])
    assert [(g.members, g.pinned) for g in groups] == [([1], True), ([0], False)]
    assert group_answers(np.zeros((0, 2), np.float32), []) == []
