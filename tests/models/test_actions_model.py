"""Action items with the trained commitment classifier: who promised what, by when."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from nlp.actions import extract_actions
from nlp.commitments import load_act_classifier
from nlp.textmodel import F32

pytestmark = pytest.mark.slow

TUESDAY = date(2026, 3, 10)
THURSDAY = date(2026, 3, 5)
PROMPTS = Path(__file__).resolve().parents[2] / "prompts"


def ACTS(texts: Sequence[str]) -> F32:  # noqa: N802  # reads like the model it loads
    return load_act_classifier(PROMPTS)(texts)


def test_rep_promise_in_chinese_becomes_a_rep_action_with_due_date() -> None:
    items = extract_actions(
        [
            ("customer", "报价单什么时候能给我们？", 10.0),
            ("rep", "我回去整理一下，下周五之前把新的报价单发给您。", 12.5),
        ],
        TUESDAY,
        ACTS,
    )
    assert len(items) == 1
    assert items[0].owner == "rep"
    assert items[0].due == date(2026, 3, 20)
    assert items[0].start == 12.5
    assert "报价单" in items[0].text


def test_customer_promise_in_english_is_owned_by_the_customer() -> None:
    items = extract_actions(
        [("customer", "I'll send you the floor plans by Friday.", 40.0)], THURSDAY, ACTS
    )
    assert [(i.owner, i.due) for i in items] == [("customer", date(2026, 3, 6))]


def test_summary_turn_with_several_dates_gives_one_item_per_date() -> None:
    items = extract_actions(
        [
            (
                "rep",
                "我总结一下：明天我把测试报告发给您，下周三安排工程师上门，月底之前完成培训。",
                None,
            )
        ],
        TUESDAY,
        ACTS,
    )
    dues = [i.due for i in items]
    assert dues[:2] == [date(2026, 3, 11), date(2026, 3, 18)]  # the bare third item may be missed
    assert {i.owner for i in items} == {"rep"}


def test_request_to_the_customer_in_a_rep_turn_is_a_customer_action() -> None:
    items = extract_actions(
        [
            ("rep", "那麻烦您这周四之前把设备清单发我一份。", None),
            ("customer", "好的，没问题。", None),
        ],
        TUESDAY,
        ACTS,
    )
    assert [(i.owner, i.due) for i in items] == [("customer", date(2026, 3, 12))]


def test_bare_dated_yes_dates_the_earlier_promise() -> None:
    items = extract_actions(
        [
            ("rep", "那我先把样品寄给您试用。", None),
            ("customer", "什么时候能到？", None),
            ("rep", "好的，这周之内寄出。", None),
        ],
        TUESDAY,
        ACTS,
    )
    assert any(i.due == date(2026, 3, 13) and "样品" in i.text for i in items)


def test_questions_small_talk_and_demands_are_not_promises() -> None:
    items = extract_actions(
        [
            ("rep", "Would a weekly call help?", None),
            ("customer", "We need better support.", None),
            ("customer", "今天天气不错。", None),
            ("rep", "您觉得这个方案怎么样？", None),
        ],
        THURSDAY,
        ACTS,
    )
    assert items == []


def test_utterances_without_a_known_role_are_skipped() -> None:
    assert extract_actions([(None, "I'll send it tomorrow.", None)], THURSDAY, ACTS) == []


def test_long_text_is_handled_in_bounded_time() -> None:
    items = extract_actions([("rep", "我明天把方案发给您。" * 20_000, None)], TUESDAY, ACTS)
    assert items and items[0].due == date(2026, 3, 11)


def test_a_dated_yes_dates_the_earlier_promise_instead_of_adding_a_second_item() -> None:
    items = extract_actions(
        [
            ("rep", "这个问题我回去跟技术确认一下。", 1.0),
            ("customer", "那什么时候能给答复？", 5.0),
            ("rep", "好的，明天就答复您。", 9.0),
        ],
        TUESDAY,
        ACTS,
    )
    assert len(items) == 1
    assert items[0].owner == "rep" and items[0].due == date(2026, 3, 11)


def test_negated_ability_and_figures_of_speech_are_not_promises() -> None:
    items = extract_actions(
        [
            ("customer", "We can't roll this out before March 3, the network isn't ready.", 0.0),
            ("customer", "I'll be honest, the last upgrade hurt us.", 4.0),
            ("rep", "今天过来主要是给您介绍一下新版本。", 8.0),
        ],
        TUESDAY,
        ACTS,
    )
    assert items == []


def test_a_dated_question_to_the_other_side_is_an_item_only_when_answered_yes() -> None:
    asked = [("customer", "你们能不能在四月中旬之前交付？", 0.0)]
    assert extract_actions(asked, TUESDAY, ACTS) == []
    answered = asked + [("rep", "可以，没问题。", 3.0)]
    items = extract_actions(answered, TUESDAY, ACTS)
    assert [(i.owner, i.due) for i in items] == [("rep", date(2026, 4, 15))]


def test_a_step_the_rep_hands_to_the_customer_is_the_customers_item() -> None:
    turns = [
        ("rep", "那我把方案发给您，您跟财务商量一下。", 0.0),
        ("customer", "好的，我回去跟财务商量。", 4.0),
    ]
    items = extract_actions(turns, TUESDAY, ACTS)
    owners = {i.owner for i in items}
    assert owners == {"rep", "customer"}


def test_a_dated_restatement_replaces_the_vaguer_promise() -> None:
    turns = [
        ("rep", "I'll ask our warehouse to reserve the spare motors for you.", 3.0),
        ("customer", "Good, we need them before the line restarts.", 9.0),
        ("rep", "So I'll have the warehouse reserve the spare motors by Friday.", 15.0),
    ]
    (item,) = extract_actions(turns, TUESDAY, ACTS)
    assert item.due == date(2026, 3, 13) and "Friday" in item.text


def test_conditions_threats_and_goodbyes_are_not_promises() -> None:
    turns = [
        ("customer", "要是下周还修不好，我们就换别家的设备。", 1.0),
        ("rep", "好的，那我们周四见。", 5.0),
        ("rep", "王总您好，今天过来主要是想了解一下新产线的情况。", 8.0),
        ("rep", "See you on Thursday then.", 12.0),
    ]
    assert extract_actions(turns, TUESDAY, ACTS) == []


def test_a_bare_yes_after_the_same_promise_adds_nothing() -> None:
    turns = [
        ("rep", "我明天把修订后的报价单发给您。", 1.0),
        ("customer", "好。", 4.0),
        ("rep", "好的，明天发。", 6.0),
    ]
    items = extract_actions(turns, TUESDAY, ACTS)
    assert [(i.owner, i.due) for i in items] == [("rep", date(2026, 3, 11))]


def test_a_recap_cut_into_segments_is_read_as_one_turn() -> None:
    segments = [
        ("rep", "To recap: I'll send the revised quote by Friday,", 60.0),
        ("rep", "and I'll have our engineer on site next Tuesday.", 63.5),
        ("customer", "Perfect.", 67.0),
    ]
    items = extract_actions(segments, THURSDAY, ACTS)
    assert [(i.due, i.start) for i in items] == [
        (date(2026, 3, 6), 60.0),
        (date(2026, 3, 10), 63.5),
    ]


def test_a_greeting_and_a_complaint_are_not_to_dos_but_an_agreed_request_is() -> None:
    turns = [
        ("rep", "孙总，好久不见，今天过来主要是想听听新产线用得怎么样。", 0.0),
        ("customer", "你又来了，上次说两周内解决，到现在也没人管。", 5.0),
        ("customer", "Send me your best offer in writing by Friday.", 9.0),
        ("rep", "Sure, I'll get it to you by Friday.", 12.0),
    ]
    items = extract_actions(turns, TUESDAY, ACTS)
    assert [(i.owner, i.due) for i in items] == [("rep", date(2026, 3, 13))]


def test_a_yes_that_answers_nothing_is_no_action_item() -> None:
    items = extract_actions(
        [
            ("customer", "Honestly the last rollout was a mess.", None),
            ("rep", "Understood.", None),
            ("customer", "行，这个态度还算可以。", None),
        ],
        THURSDAY,
        ACTS,
    )
    assert items == []


def test_a_bare_yes_to_a_request_takes_the_request_as_its_text() -> None:
    items = extract_actions(
        [
            ("customer", "你们把无尘服洗涤用水的第三方报告也一起准备一下。", None),
            ("rep", "没问题，我一起准备。", None),
        ],
        TUESDAY,
        ACTS,
    )
    assert [(i.owner, "第三方报告" in i.text) for i in items] == [("rep", True)]


def test_telling_the_other_side_what_to_do_is_never_the_speakers_promise() -> None:
    items = extract_actions(
        [
            ("customer", "8%加VMI，你回去确认一下，下周三前给我书面报价。", None),
            ("rep", "好的，我回去跟老板确认，下周三前给您正式报价。", None),
        ],
        TUESDAY,
        ACTS,
    )
    assert [(i.owner, i.due) for i in items] == [("rep", date(2026, 3, 18))]


def test_an_offer_nobody_takes_up_is_no_action_item() -> None:
    items = extract_actions(
        [
            ("rep", "我们可以安排您去苏州工厂看机组测试，5月上旬您看合适吗？", None),
            ("customer", "看厂的事再说吧，老板最近忙。", None),
        ],
        TUESDAY,
        ACTS,
    )
    assert items == []


def test_a_start_date_and_a_deadline_make_one_item_due_at_the_deadline() -> None:
    items = extract_actions(
        [("rep", "我们2月24号开始换，3月2号前换完全部42台探测器。", None)],
        date(2026, 2, 20),
        ACTS,
    )
    assert [i.due for i in items] == [date(2026, 3, 2)]


def test_the_other_sides_part_in_a_recap_is_theirs() -> None:
    items = extract_actions(
        [
            (
                "rep",
                "So: I'll send the contract today, and your finance team signs it by Friday.",
                0.0,
            ),
            ("customer", "Yes, Friday works.", 6.0),
        ],
        THURSDAY,
        ACTS,
    )
    assert sorted((i.owner, i.due) for i in items) == [
        ("customer", date(2026, 3, 6)),
        ("rep", THURSDAY),
    ]


def test_a_reply_restating_the_request_is_the_only_item() -> None:
    items = extract_actions(
        [
            ("customer", "Could you send the service manual by Monday?", 0.0),
            ("rep", "Sure, I'll send the service manual by Monday.", 3.0),
        ],
        THURSDAY,
        ACTS,
    )
    assert [(i.owner, i.due) for i in items] == [("rep", date(2026, 3, 9))]


def test_a_step_on_the_way_and_its_deliverable_are_one_promise() -> None:
    items = extract_actions(
        [("rep", "好的，我今天回去就改报价单，周四前发给您。", 0.0)], TUESDAY, ACTS
    )
    assert [(i.owner, i.due) for i in items] == [("rep", date(2026, 3, 12))]


def test_saying_yes_to_the_other_sides_plan_is_not_a_second_item() -> None:
    items = extract_actions(
        [
            ("rep", "那我们下周二上午过来调试设备，您看行吗？", 0.0),
            ("customer", "行，周二上午我在。", 4.0),
        ],
        TUESDAY,
        ACTS,
    )
    assert [(i.owner, i.due) for i in items] == [("rep", date(2026, 3, 17))]


def test_a_vague_period_gives_an_item_without_due_date() -> None:
    items = extract_actions(
        [("rep", "I'll set up a call between our engineer and your IT next week.", 0.0)],
        THURSDAY,
        ACTS,
    )
    assert [(i.owner, i.due) for i in items] == [("rep", None)]


def test_hedges_and_advice_are_not_promises() -> None:
    items = extract_actions(
        [
            ("rep", "最好这两个月把传送带换了。", 0.0),
            ("customer", "嗯。", 2.0),
            ("rep", "我尽量月底前再过来一趟，不过不保证。", 4.0),
            ("rep", "I'll try to call in more often.", 8.0),
        ],
        TUESDAY,
        ACTS,
    )
    assert items == []


def test_an_ask_inside_a_clause_is_the_other_sides_item_once_agreed() -> None:
    items = extract_actions(
        [
            ("rep", "样品的检测报告，麻烦您让质检这周五前发我们。", 0.0),
            ("customer", "好的，没问题。", 3.0),
        ],
        TUESDAY,
        ACTS,
    )
    assert [(i.owner, i.due) for i in items] == [("customer", date(2026, 3, 13))]


def test_an_introduction_and_a_way_of_speaking_are_not_promises() -> None:
    turns = [
        ("rep", "周老板您好 我是印捷的小刘 今天给您带了我们新款机器的资料", 0.0),
        ("customer", "坐吧。", 4.0),
        ("rep", "I'll get straight to it, we've got a promotion on mud motors this quarter.", 6.0),
    ]
    assert extract_actions(turns, TUESDAY, ACTS) == []


def test_a_recap_lead_in_does_not_hide_whose_part_it_is() -> None:
    turns = [
        ("rep", "好的 那我捋一下，您把外包公司的联系方式推我", 0.0),
        ("customer", "行，没问题。", 5.0),
    ]
    items = extract_actions(turns, TUESDAY, ACTS)
    assert [i.owner for i in items] == ["customer"]


def test_a_recap_repeating_a_dated_promise_keeps_the_first_item_and_quotes_both() -> None:
    turns = [
        ("customer", "能不能给我们出一份中文的操作手册？", 0.0),
        ("rep", "可以，我下周三前整理好寄给您。", 4.0),
        ("customer", "好。", 8.0),
        ("rep", "那我总结一下：中文操作手册我下周三前寄给您。", 10.0),
    ]
    items = extract_actions(turns, TUESDAY, ACTS)
    assert [(i.owner, i.due, i.start) for i in items] == [("rep", date(2026, 3, 18), 4.0)]
    assert "中文操作手册" in items[0].quote


def test_the_listeners_part_of_a_recap_in_the_present_is_theirs() -> None:
    def owners(recap: str) -> list[tuple[str, date | None]]:
        turns = [("rep", recap, 0.0), ("customer", "Yes. 对，没问题。", 5.0)]
        return [(i.owner, i.due) for i in extract_actions(turns, TUESDAY, ACTS)]

    assert owners("So you share the floor plans by Friday.") == [("customer", date(2026, 3, 13))]
    assert owners("那我总结一下，您下周一前合同盖章寄回，东门那个口周五先换。") == [
        ("customer", date(2026, 3, 16)),
        ("rep", date(2026, 3, 13)),
    ]
