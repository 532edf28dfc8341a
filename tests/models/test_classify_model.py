"""Real weights: the embedder and the trained classifier."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from nlp.classify import Classifier, TextAnalysis, load_classifier, load_current_classifier
from nlp.embed import load_embedder, load_latent_terms
from nlp.labels import UnknownLabelError
from nlp.weight_versions import WEIGHT_FILES, publish, staging_dir

pytestmark = pytest.mark.slow


def test_embedder_returns_unit_float32_rows_and_is_cached() -> None:
    embedder = load_embedder()
    vecs = embedder.encode(["价格太贵了", "The price is too high", ""])
    assert vecs.shape == (3, 512)
    assert vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-4)
    assert load_embedder() is embedder


def test_embedder_puts_translations_closer_than_unrelated_texts() -> None:
    vecs = load_embedder().encode(["价格太贵了", "The price is too high", "今天天气很好"])
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]


def test_embedder_bounds_a_huge_text() -> None:
    vecs = load_embedder().encode(["报价" * 50_000])
    assert vecs.shape == (1, 512)


PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return load_classifier(PROMPTS)


def _ids(result: TextAnalysis) -> set[str]:
    return {s.id for s in result.labels}


def test_clear_complaints_get_their_pain_label(classifier: Classifier) -> None:
    zh, en = classifier.analyze(
        [
            "你们的货又晚到了两个星期，我们产线都停了。",
            "Your support line never picks up and tickets sit for days.",
        ]
    )
    assert "pain.delivery" in _ids(zh) and zh.sentiment == "negative"
    assert "pain.service" in _ids(en) and en.sentiment == "negative"
    assert all(0.0 <= s.confidence <= 1.0 for s in zh.labels + en.labels)


def test_a_clear_need_gets_its_need_label(classifier: Classifier) -> None:
    (result,) = classifier.analyze(["We'd like an on-site training day for our new operators."])
    assert "need.training" in _ids(result)


def test_rep_turn_never_gets_need_or_pain_labels(classifier: Classifier) -> None:
    text = "我们的交货确实晚了，价格上我们也可以再谈。"
    as_rep, as_customer = classifier.analyze([text, text], roles=["rep", "customer"])
    assert as_rep.labels == [] and as_rep.risk == []
    assert as_customer.labels


def test_empty_text_and_backchannels_get_no_labels_and_neutral(classifier: Classifier) -> None:
    for result in classifier.analyze(["", "   ", "嗯，对", "Mm-hmm."]):
        assert result.labels == [] and result.risk == []
        assert result.sentiment == "neutral" and result.sentiment_score == 0.0
        assert not result.unsupported


def test_other_languages_are_marked_unsupported_without_guesses(classifier: Classifier) -> None:
    results = classifier.analyze(
        [
            "Der Preis ist viel zu hoch und die Lieferung ist nicht pünktlich.",
            "Цена слишком высокая.",
        ]
    )
    for r in results:
        assert r.unsupported and r.labels == [] and r.risk == []
    (forced,) = classifier.analyze(["价格太高了"], language="fr")
    assert forced.unsupported and forced.labels == []


def test_competitor_talk_raises_churn_risk(classifier: Classifier) -> None:
    (result,) = classifier.analyze(["说实话，另一家供应商报价低了两成，合同到期我们可能就换了。"])
    assert "risk.churn" in {s.id for s in result.risk}


def test_huge_text_is_truncated_and_answered_quickly(classifier: Classifier) -> None:
    start = time.perf_counter()
    (result,) = classifier.analyze(["交货太慢了。" * 20_000])
    # e5 reads 512 characters of it twice (its sentence embedding, its latent terms)
    assert time.perf_counter() - start < 15
    assert -1.0 <= result.sentiment_score <= 1.0


def test_a_thousand_texts_are_analysed_in_batches(classifier: Classifier) -> None:
    texts = [
        f"第{i}批货又晚到了，我们很着急。" if i % 2 else f"Order {i} arrived late again."
        for i in range(1000)
    ]
    start = time.perf_counter()
    results = classifier.analyze(texts)
    assert len(results) == 1000
    assert time.perf_counter() - start < 300  # ~90 ms a text on two idle cores


def test_correction_is_used_at_once_for_the_same_text(classifier: Classifier) -> None:
    fresh = Classifier(
        classifier.labels, classifier.rules, classifier.embedders, classifier.weights
    )
    text = "这个事情我们还得跟集团那边再确认一下流程。"
    fresh.add_corrections([(text, ["pain.process", "need.communication"])])
    (result,) = fresh.analyze([text])
    assert _ids(result) == {"pain.process", "need.communication"}


def test_a_loosely_similar_correction_only_nudges_its_labels(classifier: Classifier) -> None:
    fresh = Classifier(
        classifier.labels, classifier.rules, classifier.embedders, classifier.weights
    )
    fresh.add_corrections([("要是系统能自动提醒合同快到期了就好了。", ["need.features"])])
    text = "能不能在证书快过期的时候自动发消息给负责人？"
    sims = fresh.embedders[0].encode([text]) @ fresh._corr_vecs.T
    assert 0.4 <= float(sims.max()) < 0.55  # a weak neighbour, not a near one
    (before,) = classifier.analyze([text])
    (after,) = fresh.analyze([text])
    conf = {s.id: s.confidence for s in after.labels}
    for s in before.labels:  # nothing is lowered or dropped
        assert conf[s.id] >= s.confidence
    had = {s.id for s in before.labels} | {"need.features"}
    assert {s.id for s in after.labels} <= had


def test_retrained_weights_are_picked_up_without_a_restart(tmp_path: Path) -> None:
    models = tmp_path / "models"
    first = load_current_classifier(PROMPTS, models)
    assert load_current_classifier(PROMPTS, models) is first
    staged = staging_dir(models)  # a new `visitlens train`, here with the shipped weights
    for name in WEIGHT_FILES:
        shutil.copy(PROMPTS / "classifier" / name, staged / name)
    publish(staged, encoders={}, training_data={})
    second = load_current_classifier(PROMPTS, models)
    assert second is not first and second.corrections_seen == 0


def test_invalid_correction_labels_are_rejected_naming_valid_ids(classifier: Classifier) -> None:
    with pytest.raises(UnknownLabelError, match="need.price"):
        classifier.add_corrections([("text", ["need.unicorns"])])


def test_mismatched_previous_length_is_rejected(classifier: Classifier) -> None:
    with pytest.raises(ValueError, match="previous"):
        classifier.analyze(["a", "b"], previous=["x"])


def test_shipped_weights_carry_character_ngram_heads(classifier: Classifier) -> None:
    w = classifier.weights
    assert w.ngram_w.shape == (len(w.ngram_rows), len(w.label_ids))
    assert w.ngram_sent_w.shape[1] == 3 and w.ngram_risk_w.shape[1] == len(w.risk_ids)


def test_open_doubt_about_a_promise_raises_doubt_risk(classifier: Classifier) -> None:
    zh, en = classifier.analyze(
        [
            "你说下个月就能上线，我不太相信，上次你们也是这么说的。",
            "Are you sure you can hit that date? I doubt it, we heard the same promise last year.",
        ]
    )
    assert "risk.doubt" in {s.id for s in zh.risk}
    assert "risk.doubt" in {s.id for s in en.risk}


def test_praise_reads_as_positive(classifier: Classifier) -> None:
    zh, en = classifier.analyze(
        [
            "你们这次的安装特别顺利，工程师也很专业，我们很满意。",
            "Thanks, the rollout went really smoothly.",
        ]
    )
    assert zh.sentiment == "positive" and en.sentiment == "positive"


def test_missing_weights_are_an_error_naming_the_command_not_a_training_run(
    tmp_path: Path,
) -> None:
    from nlp.commitments import load_act_classifier
    from nlp.labels import WeightsMissing

    prompts = tmp_path / "prompts"
    shutil.copytree(PROMPTS, prompts, ignore=shutil.ignore_patterns("classifier"))
    with pytest.raises(WeightsMissing, match="visitlens train"):
        load_classifier(prompts)
    with pytest.raises(WeightsMissing, match="visitlens train"):
        load_act_classifier(prompts)


def test_latent_terms_are_read_for_customers_turns_only(
    classifier: Classifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert classifier.weights.latent_rows.size  # the shipped weights use them
    encoder = load_latent_terms()
    read: list[str] = []
    real = encoder.encode

    def spy(texts: list[str]) -> object:
        read.extend(texts)
        return real(texts)

    monkeypatch.setattr(encoder, "encode", spy)
    customer, rep = "交货又晚了三天，产线都停了", "Thanks, that's really great news for us."
    got = classifier.analyze([customer, rep], roles=["customer", "rep"])
    assert read == [customer]
    plain = Classifier(
        classifier.labels,
        classifier.rules,
        classifier.embedders,
        dataclasses.replace(
            classifier.weights,
            hyper=dataclasses.replace(classifier.weights.hyper, latent_share=0.0),
        ),
    )
    assert got[1].sentiment_score == plain.analyze([rep])[0].sentiment_score
    assert "pain.delivery" in _ids(got[0]) and got[1].sentiment == "positive"
