"""What a clause's wording says about a promise, in zh and en."""

from __future__ import annotations

import pytest

from nlp.promise_rules import (
    asks_for,
    asks_other,
    asks_when,
    is_own_step,
    never_binds,
    other_does,
    proposes,
    says_yes,
    to_listener,
)


@pytest.mark.parametrize(
    "clause",
    [
        "I'll try to visit more often next year",
        "我尽量赶在旺季前装好，不过不保证",
        "I'll be honest, the old model was slow",
        "I'll give you that",
        "最好下个月把滤网换了",
        "You should upgrade the controller before winter",
        "If the trial goes well, I'll order twenty more",
        "要是老板同意，我们就签",
        "培训的事等验收完再说",
        "We already shipped the spare pump last week",
        "上次已经给您寄过样品了",
        "We've had three breakdowns on that line since the spring",
        "I can't sign off on that without our CFO",
        "这个交期我们没法保证",
    ],
)
def test_hedges_advice_conditions_and_the_past_never_bind(clause: str) -> None:
    assert never_binds(clause)


@pytest.mark.parametrize(
    "clause",
    [
        "I'll send the revised quote tomorrow",
        "上次说的报价我明天发您",
        "我周五前把合同发给您",
        "I've got a spare in the van, and it goes in tomorrow",
    ],
)
def test_a_plain_promise_binds(clause: str) -> None:
    assert not never_binds(clause)


@pytest.mark.parametrize(
    "clause",
    [
        "配件清单麻烦您让仓库这周发我们",
        "Could you send the meter readings by Monday?",
        "Send me the floor plan",
        "还有消防的资料，也一起准备一下",
        "培训记录也顺便整理一份",
        "你们回去确认一下型号",
    ],
)
def test_asking_the_other_side_is_recognised_anywhere_in_the_clause(clause: str) -> None:
    assert asks_other(clause)


@pytest.mark.parametrize("clause", ["我也一起准备一下培训材料", "I'll send you the floor plan"])
def test_the_speaker_doing_it_is_not_an_ask(clause: str) -> None:
    assert not asks_other(clause)


@pytest.mark.parametrize(
    "clause",
    [
        "your maintenance team pulls the error logs by Monday",
        "and you'll return the signed order by the 20th",
        "you'll get the purchase order to me by Friday",
        "明天您这边把图纸发过来",
    ],
)
def test_a_recap_of_the_other_sides_part_is_theirs(clause: str) -> None:
    assert other_does(clause)


@pytest.mark.parametrize(
    "clause",
    ["you'll get the price list today", "You'll have the drawings by Monday", "我们周四前送过来"],
)
def test_what_the_other_side_receives_is_not_their_part(clause: str) -> None:
    assert not other_does(clause)


@pytest.mark.parametrize(
    ("clause", "expected"),
    [
        ("3月20号之前给您一份正式方案", True),
        ("you'll get the spares quote today", True),
        ("您能不能先把样品给我们？", False),
    ],
)
def test_handing_something_to_the_listener_is_the_speakers_promise(
    clause: str, expected: bool
) -> None:
    assert to_listener(clause) is expected


@pytest.mark.parametrize(
    "clause", ["我需要跟财务确认一下账期", "I need to check with legal on the indemnity cap"]
)
def test_a_step_the_speaker_must_take_is_not_an_ask(clause: str) -> None:
    assert is_own_step(clause)


def test_the_speakers_plan_put_up_for_a_yes_is_a_proposal() -> None:
    assert proposes("那下周二上午我们过来，您看行吗？")
    assert proposes("We'll come by Tuesday at nine, does that work?")
    assert not proposes("我们下周二过来。")


@pytest.mark.parametrize(
    ("turn", "expected"),
    [
        ("Sure, go ahead.", True),
        ("Monday's fine for the logs.", True),
        ("周一没问题。", True),
        ("Let me think about it.", False),
    ],
)
def test_a_yes_may_open_the_reply_or_end_its_first_sentence(turn: str, expected: bool) -> None:
    assert says_yes(turn) is expected


def test_a_when_question_is_told_from_other_questions() -> None:
    assert asks_when("那什么时候能到？")
    assert asks_when("When can we have it?")
    assert not asks_when("Can you send it?")


def test_only_a_question_that_asks_for_something_is_a_request() -> None:
    assert asks_for("能不能四月中旬之前交货？")
    assert asks_for("Could you have it installed by Friday?")
    assert not asks_for("你今天来是为续约的事吧？")
    assert not asks_for("Is the rollout still on for Monday?")
