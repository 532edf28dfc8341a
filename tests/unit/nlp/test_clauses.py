"""Turns cut into clauses that each hold one promise, with the due date each names."""

from __future__ import annotations

from datetime import date

import pytest

from nlp.clauses import join_turns, split_clauses

TUESDAY = date(2026, 3, 10)


def _items(text: str) -> list[tuple[str, date | None]]:
    return [(p.text, p.due) for p in split_clauses(text, TUESDAY)]


def test_a_recap_naming_three_deadlines_gives_three_clauses() -> None:
    dues = [d for _, d in _items("明天我把检测报告发给您，下周三安排师傅上门，月底之前完成验收。")]
    assert dues == [date(2026, 3, 11), date(2026, 3, 18), date(2026, 3, 31)]


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("我今天回去就改合同，周四前发给您。", date(2026, 3, 12)),
        ("我回去马上跟领导汇报，这周五之前给您答复。", date(2026, 3, 13)),
        ("I'll talk to my manager today, and get back to you by Friday.", date(2026, 3, 13)),
    ],
)
def test_a_step_on_the_way_is_one_promise_with_the_deadline_after_it(text: str, due: date) -> None:
    items = _items(text)
    assert len(items) == 1
    assert items[0][1] == due


def test_a_start_date_waits_for_its_deadline() -> None:
    items = _items("节后我们马上安排，3月16号开始换，3月27号前换完，4月3号前把报告交给您。")
    assert [d for _, d in items] == [date(2026, 3, 27), date(2026, 4, 3)]
    assert "开始换" in items[0][0]


def test_a_name_cut_off_by_commas_stays_with_its_promise() -> None:
    items = _items(
        "To confirm: our trainer, Maria, will be here on Thursday, and I'll send the slides today."
    )
    assert [d for _, d in items] == [date(2026, 3, 12), date(2026, 3, 10)]
    assert items[0][0].startswith("our trainer")


@pytest.mark.parametrize(
    "text",
    [
        "Alright, if the pilot works, I'll sign the full order.",
        "要是总部批下来，我们就下单。",
    ],
)
def test_a_condition_stays_with_what_it_governs(text: str) -> None:
    assert len(_items(text)) == 1


def test_consecutive_utterances_of_one_speaker_are_one_turn() -> None:
    turns = join_turns(
        [("rep", "So:", 1.0), ("rep", "I'll send it today.", 3.0), ("customer", "Ok.", 5.0)]
    )
    assert [t.role for t in turns] == ["rep", "customer"]
    assert turns[0].start_at(turns[0].text.index("I'll")) == 3.0
