"""The closed vocabularies (nlp/vocabulary.py) agree with prompts/labels.yaml and behave as the
strings they replace: in JSON, as dict keys and in comparisons with stored text."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from nlp.labels import SENTIMENTS, SHIPPED_PROMPTS, label_ids, load_labels, topics
from nlp.vocabulary import Outcome, Risk, Role, Segment, Sentiment

PROMPTS = Path(__file__).resolve().parents[3] / "prompts"


def test_risks_and_sentiments_are_those_of_the_label_file() -> None:
    labels = load_labels(PROMPTS)
    assert tuple(Risk) == labels.risk_ids
    data = yaml.safe_load((PROMPTS / "labels.yaml").read_text(encoding="utf-8"))
    assert tuple(Sentiment) == tuple(data["sentiments"]) == SENTIMENTS == labels.sentiments


def test_values_are_the_strings_stored_before() -> None:
    assert [r.value for r in Role] == ["rep", "customer", "other"]
    assert [s.value for s in Segment] == ["strategic", "high_potential", "basic", "low_efficiency"]
    assert [o.value for o in Outcome] == ["won", "lost", "open"]
    assert json.dumps({Role.REP: [Outcome.WON, Risk.CHURN]}) == '{"rep": ["won", "risk.churn"]}'
    assert {Sentiment.NEGATIVE: 1}.get("negative") == 1 and f"{Segment.BASIC}" == "basic"


def test_label_accessors_read_the_shipped_label_file() -> None:
    assert SHIPPED_PROMPTS == PROMPTS
    labels = load_labels(PROMPTS)
    assert topics() == labels.topics and "price" in topics()
    assert label_ids() == labels.all_ids
    assert {f"{kind}.{t}" for kind in ("need", "pain") for t in topics()} < set(label_ids())
