"""Cross-validation by writer: figures from models that never saw the held-out writer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from evals.cv import (
    LATENT_SHARES,
    _nested_thresholds,
    admit,
    admit_acts,
    label_figures,
    run_cv,
    run_tune,
)
from nlp.classify import load_classifier
from nlp.embed import E5_LATENT_TERMS
from nlp.textmodel import load_hyper
from nlp.training import best_f1_thresholds

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


def test_nested_thresholds_never_come_from_the_rows_they_judge() -> None:
    probs = np.array([[0.9], [0.8], [0.2], [0.1]] * 3, dtype=np.float32)
    y = np.array([[True], [True], [False], [False]] * 3)
    fold_of = np.repeat(np.arange(3), 4)
    seen: list[int] = []

    def choose(p: np.ndarray, t: np.ndarray) -> np.ndarray:
        seen.append(len(p))
        return best_f1_thresholds(p, t)

    out = _nested_thresholds(probs, y, fold_of, choose)
    assert seen == [8, 8, 8] and out.shape == probs.shape


def test_macro_f1_counts_labels_present_in_gold_or_prediction() -> None:
    y = np.array([[True, False, False], [False, True, False]])
    pred = np.array([[True, False, False], [False, False, False]])
    fig = label_figures(pred, y, ["a", "b", "c"])
    assert set(fig["per_label_prf"]) == {"a", "b"}
    assert fig["macro_f1"] == pytest.approx(0.5)


def _small_example_set(prompts: Path) -> None:
    """prompts/ with the label files and 96 examples by three writers."""
    prompts.mkdir()
    for name in ("labels.yaml", "rules.yaml"):
        shutil.copy(PROMPTS / name, prompts / name)
    (prompts / "examples").mkdir()
    rows = []
    for writer in ("w1", "w2", "w3"):
        for i in range(8):
            rows.append(
                {
                    "text": f"{writer} 交货又晚了{i}天，产线停了",
                    "labels": ["pain.delivery"],
                    "sentiment": "negative",
                    "risk": [],
                    "language": "zh",
                    "writer": writer,
                }
            )
            rows.append(
                {
                    "text": f"{writer} the price is {i}0% above budget",
                    "labels": ["pain.price"],
                    "sentiment": "negative",
                    "risk": ["risk.churn"] if i % 2 else [],
                    "language": "en",
                    "writer": writer,
                }
            )
            rows.append(
                {
                    "text": f"{writer} 谢谢，你们的工程师非常专业{i}",
                    "labels": [],
                    "sentiment": "positive",
                    "risk": [],
                    "language": "zh",
                    "writer": writer,
                }
            )
            rows.append(
                {
                    "text": f"{writer} we have {i} plants in Ohio",
                    "labels": [],
                    "sentiment": "neutral",
                    "risk": [],
                    "language": "en",
                    "writer": writer,
                }
            )
    (prompts / "examples" / "all.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8"
    )


@pytest.mark.slow
def test_cv_figures_of_a_small_example_set(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    _small_example_set(prompts)
    fig = run_cv(prompts, tmp_path / "cache")
    assert fig["n"] == 96
    assert fig["macro_f1"] > 0.8 and fig["sentiment_acc"] > 0.8
    assert {"risk_p", "risk_r", "micro_f1"} <= set(fig)
    assert (tmp_path / "cache" / "usem3.npz").exists()  # tuning embeds each text once


@pytest.mark.slow
def test_latent_term_heads_are_tuned_by_cross_validation_and_shipped(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    _small_example_set(prompts)
    (prompts / "training.yaml").write_text(
        yaml.safe_dump({"hyper": {"encoders": ["usem3"], "sentence_share": 0.5}}),
        encoding="utf-8",
    )
    result = run_tune(prompts, tmp_path / "cache", only=["latent_share", "c_latent"])
    tried = {entry["hyper"]["latent_share"] for entry in result["tried"]}
    assert tried == set(LATENT_SHARES)
    assert (tmp_path / "cache" / f"{E5_LATENT_TERMS}.npz").exists()
    chosen = load_hyper(prompts)
    assert chosen.to_dict() == result["hyper"] and chosen.encoders == ("usem3",)
    classifier = load_classifier(prompts)
    assert bool(classifier.weights.latent_rows.size) == (chosen.latent_share > 0)
    (late,) = classifier.analyze(["交货又晚了三天，产线停了"])
    assert "pain.delivery" in {s.id for s in late.labels}


def test_tuning_an_unknown_setting_is_refused_before_any_fitting(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    _small_example_set(prompts)
    with pytest.raises(ValueError, match="no such setting to tune: latent_shares"):
        run_tune(prompts, tmp_path / "cache", only=["latent_shares"])
    assert not (tmp_path / "cache").exists()


def _add_writer(prompts: Path, name: str) -> None:
    """A fourth writer whose examples are w1's with its own name."""
    path = prompts / "examples" / "all.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    extra = [
        {**r, "text": r["text"].replace("w1", name), "writer": name}
        for r in rows
        if r["writer"] == "w1"
    ]
    (prompts / "examples" / f"{name}.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in extra), encoding="utf-8"
    )


@pytest.mark.slow
def test_a_new_writer_is_judged_by_the_other_writers_figures_without_and_with_it(
    tmp_path: Path,
) -> None:
    prompts = tmp_path / "prompts"
    _small_example_set(prompts)
    _add_writer(prompts, "w4")
    result = admit(prompts, tmp_path / "cache", ["w4"])
    assert result["writers"] == ["w4"] and result["judged_writers"] == ["w1", "w2", "w3"]
    assert result["without"]["n"] == result["with"]["n"] == 96  # w4's own 32 are not judged
    assert result["with"]["macro_f1"] > 0.8


def test_admitting_a_writer_without_examples_is_refused_before_any_fitting(
    tmp_path: Path,
) -> None:
    prompts = tmp_path / "prompts"
    _small_example_set(prompts)
    with pytest.raises(ValueError, match="name at least one writer"):
        admit(prompts, tmp_path / "cache", [])
    with pytest.raises(ValueError, match="no examples by writer w9"):
        admit(prompts, tmp_path / "cache", ["w9"])
    with pytest.raises(ValueError, match="at least three other writers"):
        admit(prompts, tmp_path / "cache", ["w1"])
    assert not (tmp_path / "cache").exists()


def _act_sentences(prompts: Path, writers: tuple[str, ...]) -> None:
    """prompts/commitments with 12 sentences per writer: promises, asks and neither."""
    shapes = {
        "commit": "I'll send you the {} quote by Friday",
        "request": "Could you send me the {} drawings",
        "none": "We already shipped the {} parts last year",
    }
    rows = [
        {"text": shape.format(f"{w} {i}"), "language": "en", "act": act, "writer": w}
        for w in writers
        for act, shape in shapes.items()
        for i in range(4)
    ]
    (prompts / "commitments").mkdir(parents=True)
    (prompts / "commitments" / "all.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows), encoding="utf-8"
    )


def test_new_commitment_writers_are_judged_on_the_other_writers_sentences(
    tmp_path: Path,
) -> None:
    prompts = tmp_path / "prompts"
    _act_sentences(prompts, ("c1", "c2", "c3", "c4"))
    result = admit_acts(prompts, tmp_path / "cache", ["c4"])
    assert result["judged_writers"] == ["c1", "c2", "c3"]
    assert result["without"]["n"] == result["with"]["n"] == 36  # c4's own 12 are not judged
    assert result["with"]["accuracy"] == 1.0
    with pytest.raises(ValueError, match="at least three other writers"):
        admit_acts(prompts, tmp_path / "cache", ["c3", "c4"])
