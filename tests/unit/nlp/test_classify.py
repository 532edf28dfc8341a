"""Pure parts of the text analysis: language detection, keyword/negation rules, examples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlp.labels import load_labels
from nlp.language import detect_language
from nlp.textmodel import Hyper, split_sentences, with_sentences
from nlp.textrules import is_backchannel, load_rules, rule_features
from nlp.training import (
    best_f1_thresholds,
    folds,
    load_examples,
    recall_at_precision_thresholds,
)

PROMPTS = Path(__file__).resolve().parents[3] / "prompts"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("交货总是延迟，我们很头疼。", "zh"),
        ("我们的ERP对接一直没搞定", "zh"),
        ("The price is too high for us.", "en"),
        ("OK", "en"),
        ("Der Preis ist uns zu hoch und die Lieferung ist nicht pünktlich.", "de"),
        ("Le prix est trop élevé pour nous et la livraison est en retard.", "fr"),
        ("Цена слишком высокая.", "ru"),
        ("価格が高すぎます。", "ja"),
        ("가격이 너무 비쌉니다.", "ko"),
        ("", "und"),
        ("。。。!!!", "und"),
    ],
)
def test_detect_language_tells_zh_en_from_other_languages(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def _hits(text: str) -> tuple[set[str], set[str]]:
    labels = load_labels(PROMPTS)
    rules = load_rules(PROMPTS, labels.topics, labels.risk_ids)
    f = rule_features(rules, text)
    n = len(labels.topics)
    plain = {t for i, t in enumerate(labels.topics) if f[i] > 0}
    negated = {t for i, t in enumerate(labels.topics) if f[n + i] > 0}
    return plain, negated


def test_price_keyword_counts_as_price_topic() -> None:
    plain, negated = _hits("这个报价太贵了")
    assert "price" in plain and "price" not in negated


@pytest.mark.parametrize(
    "text", ["价格倒不是问题，我们更关心交期", "Price isn't really the issue for us."]
)
def test_negated_topic_counts_as_negated_not_as_a_hit(text: str) -> None:
    plain, negated = _hits(text)
    assert "price" in negated and "price" not in plain


def test_negation_does_not_reach_across_a_clause() -> None:
    plain, _ = _hits("价格太贵了，交货倒没问题")
    assert "price" in plain


@pytest.mark.parametrize(
    "text", ["嗯，对", "嗯嗯。", "好的，您接着说", "Mm-hmm, right.", "OK, go on"]
)
def test_backchannels_are_recognised(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize("text", ["对，交货太慢了", "Right, the support is awful."])
def test_short_answers_with_content_are_not_backchannels(text: str) -> None:
    assert not is_backchannel(text)


def _risk_hits(text: str) -> set[str]:
    labels = load_labels(PROMPTS)
    rules = load_rules(PROMPTS, labels.topics, labels.risk_ids)
    f = rule_features(rules, text)[rules.risk_slice]
    return {r for r, v in zip(labels.risk_ids, f, strict=True) if v > 0}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("这个项目我们打算交给别家做了。", {"risk.churn"}),
        ("A rival bid undercuts you by a fair margin.", {"risk.churn"}),
        ("说实话我心里不踏实。", {"risk.doubt"}),
        ("I'm uneasy about those dates.", {"risk.doubt"}),
        ("坏的那个阀门换个新的就好了。", set()),
        ("Renewal isn't in question, we're happy to sign again.", set()),
    ],
)
def test_risk_keywords_catch_rival_offers_and_unease_but_not_spare_parts(
    text: str, expected: set[str]
) -> None:
    assert _risk_hits(text) == expected


def test_thresholds_take_the_out_of_fold_f1_optimum() -> None:
    probs = np.array([[0.9], [0.8], [0.7], [0.3], [0.2], [0.1]] * 2, dtype=np.float32)
    y = np.array([[True], [True], [True], [False], [False], [False]] * 2)
    assert 0.3 < float(best_f1_thresholds(probs, y)[0]) <= 0.7


def test_risk_thresholds_take_the_most_recall_at_the_asked_precision() -> None:
    probs = np.array([[0.9], [0.8], [0.6], [0.5], [0.4], [0.2]] * 2, dtype=np.float32)
    y = np.array([[True], [True], [False], [True], [False], [False]] * 2)
    t = float(recall_at_precision_thresholds(probs, y, 0.75)[0])
    assert 0.4 < t <= 0.5  # 3 of 4 fired are risks; any lower loses precision
    strict = float(recall_at_precision_thresholds(probs, y, 0.95)[0])
    assert 0.6 < strict <= 0.8


def test_folds_hold_out_one_writer_at_a_time() -> None:
    groups = ["a"] * 4 + ["b"] * 3 + ["c"] * 5
    for _, test in folds(groups):
        assert len({groups[i] for i in test}) == 1


def test_a_label_said_in_one_sentence_of_a_long_turn_counts() -> None:
    probs = np.array([[0.1, 0.2]], dtype=np.float32)
    sentence = np.array([[0.9, 0.1], [0.2, 0.1]], dtype=np.float32)
    raised = with_sentences(probs, sentence, [0, 0], 0.75)
    assert raised[0, 0] == pytest.approx(0.675) and raised[0, 1] == pytest.approx(0.2)
    assert with_sentences(probs, sentence, [0, 0], 0.0) is probs


def test_training_settings_reject_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown setting"):
        Hyper.from_dict({"c_emb": 1.0, "typo": 2})


def test_sentences_are_split_on_zh_and_en_ends_but_not_inside_numbers() -> None:
    assert split_sentences("价格还行。就是交货太慢了！能不能快点？") == [
        "价格还行。",
        "就是交货太慢了！",
        "能不能快点？",
    ]
    assert split_sentences("Not really. Version 2.5 crashes daily.") == [
        "Not really.",
        "Version 2.5 crashes daily.",
    ]
    assert split_sentences("好。") == []  # too short to say anything on its own
    assert len(split_sentences("交货太慢了。" * 1000)) == 8


def test_rule_features_are_bounded_for_a_huge_text() -> None:
    labels = load_labels(PROMPTS)
    rules = load_rules(PROMPTS, labels.topics, labels.risk_ids)
    f = rule_features(rules, "价格太贵了" * 50_000)
    assert f.shape == (rules.n_features,)
    assert float(f.min()) >= 0.0 and float(f.max()) <= 1.0


def test_project_examples_are_valid_and_cover_every_label_in_both_languages() -> None:
    labels = load_labels(PROMPTS)
    examples = load_examples(PROMPTS, labels)
    for label_id in labels.need_pain_ids:
        langs = {e.language for e in examples if label_id in e.labels}
        assert langs == {"zh", "en"}, label_id
        assert sum(label_id in e.labels for e in examples) >= 40, label_id
    assert any(not e.labels for e in examples)
    for risk_id in labels.risk_ids:
        assert sum(risk_id in e.risk for e in examples) >= 100, risk_id
    assert len({e.writer for e in examples}) >= 5  # cross-validation holds out one at a time


def test_summary_names_top_pains_risk_and_follow_ups() -> None:
    from datetime import date

    from nlp.actions import ActionItem
    from nlp.classify import LabelScore, TextAnalysis
    from nlp.summary import summarize

    utterances = [("rep", "Hello", 0.0), ("customer", "Late again and support never calls.", 2.0)]
    analyses = [
        TextAnalysis(labels=[LabelScore("pain.price", 0.9)], language="en"),
        TextAnalysis(
            labels=[LabelScore("pain.delivery", 0.9)],
            sentiment="negative",
            sentiment_score=-0.8,
            risk=[LabelScore("risk.churn", 0.7)],
            language="en",
        ),
    ]
    actions = [ActionItem("rep", "send plan", date(2026, 3, 6), 5.0, "I'll send the plan.")]
    text = summarize(utterances, analyses, "en", actions, load_labels(PROMPTS))
    assert "Delivery" in text and "Price" not in text  # the rep's turn is not the customer's pain
    assert "negative" in text and "Churn" in text
    assert '"Late again and support never calls."' in text  # the customer's key words
    assert "rep: send plan (by 2026-03-06)" in text  # who promised what by when
    zh = summarize(utterances, analyses, "zh", actions, load_labels(PROMPTS))
    assert "交付与供应" in zh and "痛点" in zh and "3月6日前" in zh
