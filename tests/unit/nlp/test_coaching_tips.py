"""Written coaching tips: the failed items that cost the most points, their text in zh and en with
the value and target filled in, and the rep's own moment; the tips file validated on load."""

from __future__ import annotations

from dataclasses import asdict

import pytest

from nlp.coaching import ItemScore, TimeSpan, coaching_report, load_scorecard
from nlp.coaching_tips import coaching_tips, load_tips, parse_tips, read_item_scores
from tests.unit.nlp.test_coaching import PITCH

CARD = load_scorecard()


def test_tips_come_from_the_failed_items_that_cost_the_most_with_the_reps_own_moment() -> None:
    report = coaching_report(PITCH, CARD)
    tips = coaching_tips(report.scorecard, CARD, load_tips())
    # talk share 96 % costs all 20 points; open and deep questions 15 each (ties by id)
    assert [(t.item, t.direction, t.points_lost) for t in tips] == [
        ("talk_ratio", "high", 20.0),
        ("deep_questions", "low", 15.0),
        ("open_questions", "low", 15.0),
    ]
    talk, deep, open_ = tips
    assert (talk.moment and talk.moment.start, talk.moment and talk.moment.end) == (14.2, 140)
    assert talk.moment_note["en"] == "Your longest stretch without a question"
    assert open_.moment == TimeSpan(0, 10, "closed question")  # "Are you happy …?"
    assert deep.moment == TimeSpan(0, 10, "situation question")
    assert "96%" in talk.text["en"] and "60%" in talk.text["en"]
    assert "96%" in talk.text["zh"] and "60%" in talk.text["zh"]
    assert all("$" not in t.text[lang] for t in tips for lang in ("zh", "en"))


def test_a_visit_that_passes_every_item_gets_no_tips() -> None:
    passed = [
        ItemScore(x.id, x.label, x.metric, x.min or x.max or 0, True, 1.0, x.weight, [])
        for x in CARD.items
    ]
    assert coaching_tips(passed, CARD, load_tips()) == []


def test_tips_read_a_stored_document_and_fall_back_to_the_evidence_of_an_older_one() -> None:
    stored = asdict(coaching_report(PITCH, CARD))
    stored["scorecard"] = {"total": stored.pop("total"), "items": stored["scorecard"]}
    items = read_item_scores(stored)
    assert items == coaching_report(PITCH, CARD).scorecard
    for item in stored["scorecard"]["items"]:
        del item["moment"]  # analysed before moments were kept
    older = coaching_tips(read_item_scores(stored), CARD, load_tips())
    assert older[0].item == "talk_ratio"
    assert older[0].moment == TimeSpan(14.2, 140, "long rep turn")  # its first evidence
    assert read_item_scores({}) == [] and read_item_scores({"scorecard": {"items": [1]}}) == []


def test_the_shipped_tips_cover_every_way_the_shipped_scorecard_can_fail() -> None:
    tips = load_tips()
    for item in CARD.items:
        for direction, limit in (("low", item.min), ("high", item.max)):
            if limit is not None:
                assert (item.metric, direction) in tips.by_miss, (item.id, direction)


@pytest.mark.parametrize(
    "data",
    [
        {"tips": {"talk_ratio": {"high": {"en": "Talk less.", "moment": {"zh": "x", "en": "y"}}}}},
        {"tips": {"talk_ratio": {"high": {"zh": "少说", "en": "Talk less."}}}},
        {"tips": {"charm": {"low": {"zh": "a", "en": "b", "moment": {"zh": "x", "en": "y"}}}}},
        {"tips": {}},
    ],
    ids=["no zh", "no moment", "unknown metric", "empty"],
)
def test_a_tips_file_without_both_languages_or_a_known_metric_is_rejected(data: object) -> None:
    with pytest.raises(ValueError):
        parse_tips(data)
