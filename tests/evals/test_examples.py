"""Training-example hygiene: validity, near copies and overlap with the evaluation sets."""

from __future__ import annotations

import json
from pathlib import Path

from evals.examples import collect, file_name, shingles

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


def _write(folder: Path, rows: list[dict[str, object]]) -> None:
    folder.mkdir(parents=True)
    (folder / "part01.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n",
        encoding="utf-8",
    )


def _row(text: str, labels: list[str]) -> dict[str, object]:
    return {"text": text, "language": "zh", "labels": labels, "sentiment": "negative", "risk": []}


def test_runs_of_eight_characters_or_six_words_are_what_counts_as_shared() -> None:
    assert len(next(iter(shingles("交货周期太长了我们")))) == 8
    assert "the quote came in way too" in shingles("The quote came in way too high.")


def test_invalid_duplicate_and_overlapping_examples_are_dropped(tmp_path: Path) -> None:
    _write(
        tmp_path / "w1",
        [
            _row("交货周期太长了，我们等不起", ["pain.delivery"]),
            _row("交货周期太长了。我们等不起！", ["pain.delivery"]),  # the same words
            _row("这个报价比去年高了一大截", ["pain.unknown"]),
            _row("售后工程师三天都没有来现场", ["pain.service"]),
        ],
    )
    banned = shingles("他说售后工程师三天都没有来现场处理")
    kept, dropped = collect(tmp_path, PROMPTS, banned)
    assert [r["text"] for r in kept] == ["交货周期太长了，我们等不起"]
    assert kept[0]["writer"] == "w1"
    assert dropped == {"duplicate": 1, "invalid": 2, "overlaps an evaluation set": 1}


def test_files_are_named_by_first_topic_and_language() -> None:
    assert file_name(_row("x", ["pain.delivery", "need.price"])) == "delivery.zh.jsonl"
    assert file_name(_row("x", [])) == "general.zh.jsonl"
    assert file_name({"act": "commit", "language": "en"}) == "commit.en.jsonl"


def test_a_text_two_writers_wrote_stays_with_the_earlier_writer(tmp_path: Path) -> None:
    _write(tmp_path / "w10", [_row("交货周期太长了，我们等不起", ["pain.delivery"])])
    _write(tmp_path / "w2", [_row("交货周期太长了，我们等不起", ["pain.delivery"])])
    kept, dropped = collect(tmp_path, PROMPTS, set())
    assert [r["writer"] for r in kept] == ["w2"]
    assert dropped["duplicate"] == 1
