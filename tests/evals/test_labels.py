"""Action items scored against the corpus's gold actions, as the reference scorer matches them."""

from __future__ import annotations

from datetime import date

from evals.labels import match_actions
from nlp.actions import ActionItem


def test_match_actions_needs_same_owner_due_and_similar_text() -> None:
    got = [ActionItem("rep", "明天把测试报告发给您", date(2026, 3, 11), None, "")]
    gold = [
        {"owner": "rep", "text": "发送测试报告", "due": "2026-03-11"},
        {"owner": "customer", "text": "发送测试报告", "due": "2026-03-11"},
        {"owner": "rep", "text": "发送测试报告", "due": None},
        {"owner": "rep", "text": "安排上门维修", "due": "2026-03-11"},
    ]
    assert match_actions(gold, got) == 1
