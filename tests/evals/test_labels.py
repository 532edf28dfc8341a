"""Action items scored against the corpus's gold actions, as the reference scorer matches them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from evals.labels import action_errors, match_actions
from nlp.actions import ActionItem


def test_match_actions_needs_same_owner_due_and_similar_text() -> None:
    got = [ActionItem("rep", "明天把测试报告发给您", date(2026, 3, 11), None, "")]
    gold: list[dict[str, str | None]] = [
        {"owner": "rep", "text": "发送测试报告", "due": "2026-03-11"},
        {"owner": "customer", "text": "发送测试报告", "due": "2026-03-11"},
        {"owner": "rep", "text": "发送测试报告", "due": None},
        {"owner": "rep", "text": "安排上门维修", "due": "2026-03-11"},
    ]
    assert match_actions(gold, got) == 1


def _says_commit_for_ill(texts: Sequence[str]) -> list[list[float]]:
    """A stand-in act predictor: P(commit) = 1 for sentences opening with "I'll", else none."""
    return [[0.0, 1.0, 0.0] if t.startswith("I'll") else [1.0, 0.0, 0.0] for t in texts]


def test_action_errors_lists_misses_and_extra_items_with_their_turns(tmp_path: Path) -> None:
    visit = {
        "id": "v1",
        "date": "2026-03-10",
        "turns": [
            {"speaker": "customer", "text": "Hello there."},
            {"speaker": "rep", "text": "I'll send the price list tomorrow."},
            {"speaker": "customer", "text": "I'll think about the roof."},
        ],
        "actions": [
            {"owner": "rep", "text": "Send the price list", "due": "2026-03-11"},
            {"owner": "customer", "text": "Book the site survey", "due": None},
        ],
    }
    (tmp_path / "visits").mkdir()
    (tmp_path / "visits" / "v1.json").write_text(json.dumps(visit), encoding="utf-8")
    [row] = action_errors(tmp_path, _says_commit_for_ill)
    assert [m["text"] for m in row["misses"]] == ["Book the site survey"]
    assert [(e["owner"], e["turn"]) for e in row["extra"]] == [("customer", 2)]
