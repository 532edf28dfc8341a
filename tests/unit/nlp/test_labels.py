"""Label set loading and validation (prompts/labels.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlp.labels import LabelFileError, UnknownLabelError, load_labels, parse_labels

PROMPTS = Path(__file__).resolve().parents[3] / "prompts"


def _doc() -> dict[str, object]:
    data = yaml.safe_load((PROMPTS / "labels.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_project_label_file_defines_22_need_pain_labels_and_two_risks() -> None:
    labels = load_labels(PROMPTS)
    assert len(labels.need_pain_ids) == 22
    assert "need.price" in labels.need_pain_ids and "pain.process" in labels.need_pain_ids
    assert labels.risk_ids == ("risk.churn", "risk.doubt")
    assert labels.sentiments == ("positive", "neutral", "negative")


def test_every_label_has_chinese_and_english_names_and_descriptions() -> None:
    for info in load_labels(PROMPTS).need_pain + load_labels(PROMPTS).risks:
        assert info.name_zh and info.name_en and info.description_zh and info.description_en


def test_validate_names_the_valid_ids_for_an_unknown_label() -> None:
    labels = load_labels(PROMPTS)
    with pytest.raises(UnknownLabelError) as err:
        labels.validate(["need.price", "need.teleportation"])
    assert err.value.unknown == ["need.teleportation"]
    assert "need.price" in str(err.value) and "pain.service" in str(err.value)


def test_validate_deduplicates_and_keeps_order() -> None:
    assert load_labels(PROMPTS).validate(["pain.price", "need.price", "pain.price"]) == [
        "pain.price",
        "need.price",
    ]


def test_risk_ids_are_rejected_where_only_need_pain_labels_are_allowed() -> None:
    with pytest.raises(UnknownLabelError):
        load_labels(PROMPTS).validate(["risk.churn"], allow_risk=False)


def test_a_new_topic_in_the_file_adds_its_need_and_pain_labels() -> None:
    data = _doc()
    topics = dict(data["topics"])  # type: ignore[call-overload]  # parsed YAML mapping
    topics["warranty"] = {
        "zh": "质保",
        "en": "Warranty",
        "covers_zh": "质保期",
        "covers_en": "terms",
    }
    data["topics"] = topics
    labels = parse_labels(data)
    assert "need.warranty" in labels.need_pain_ids and "pain.warranty" in labels.need_pain_ids


@pytest.mark.parametrize(
    ("key", "value"),
    [("topics", {}), ("kinds", {"need": {}}), ("sentiments", {"good": {}}), ("risks", [1])],
)
def test_malformed_label_file_is_rejected_with_the_field_named(key: str, value: object) -> None:
    data = _doc()
    data[key] = value
    with pytest.raises(LabelFileError, match=key):
        parse_labels(data)


def test_bad_topic_id_is_rejected() -> None:
    data = _doc()
    data["topics"] = {"Bad Topic": {"zh": "x", "en": "x", "covers_zh": "x", "covers_en": "x"}}
    with pytest.raises(LabelFileError, match="invalid topic id"):
        parse_labels(data)
