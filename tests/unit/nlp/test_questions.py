"""Question detection, SPIN typing and open/closed on our own example sentences."""

from __future__ import annotations

import pytest

from nlp.questions import QuestionType, classify_question, find_question, load_cues, parse_cues


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("How do your buyers place orders today?", "en", QuestionType("situation", True)),
        ("Is the warehouse still on the old scanner app?", "en", QuestionType("situation", False)),
        (
            "What trouble have you had with the current supplier?",
            "en",
            QuestionType("problem", True),
        ),
        ("Has the printer been giving you problems lately?", "en", QuestionType("problem", False)),
        ("What does a late shipment cost you each month?", "en", QuestionType("implication", True)),
        (
            "If the reports arrived automatically, how would that help your planners?",
            "en",
            QuestionType("need_payoff", True),
        ),
        ("Would a monthly review call help?", "en", QuestionType("need_payoff", False)),
        ("你们仓库现在是怎么盘点的？", "zh", QuestionType("situation", True)),
        ("门店一共有几台收银机，都是去年买的吗？", "zh", QuestionType("situation", False)),
        ("最近设备经常出故障吗？", "zh", QuestionType("problem", False)),
        ("能具体讲讲上次停机的情况吗？", "zh", QuestionType("situation", True)),
        ("交货一拖再拖，对你们的生产有什么影响？", "zh", QuestionType("implication", True)),
        ("如果报表能自动生成，对您的团队会有帮助吗？", "zh", QuestionType("need_payoff", False)),
    ],
)
def test_classify_question_types_spin_and_open(
    text: str, language: str, expected: QuestionType
) -> None:
    assert classify_question(text, language) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("I'll send the revised quote on Friday.", "en"),
        ("Our engineer will be on site next Tuesday.", "en"),
        ("好的，我回去看能不能先调一台备机过来。", "zh"),
        ("下周三之前我把方案发给您。", "zh"),
        ("", None),
    ],
)
def test_statements_are_not_questions(text: str, language: str | None) -> None:
    assert classify_question(text, language) is None


def test_last_question_of_a_turn_is_classified() -> None:
    text = "Thanks for the tour. We added a new dashboard this spring. Is the team using it yet?"
    assert find_question(text, "en") == "is the team using it yet?"


def test_traditional_characters_and_missing_question_mark_are_handled() -> None:
    got = classify_question("那報修的時候您這邊一般是怎麼處理的", "zh")
    assert got is not None and got.open


def test_language_is_guessed_from_the_script_when_not_given() -> None:
    assert classify_question("你们每个月的预算是多少？", None) == QuestionType("situation", True)


def test_unknown_spin_type_in_cue_file_is_rejected() -> None:
    with pytest.raises(ValueError, match="Unknown SPIN"):
        parse_cues({"question": {}, "spin": {"curiosity": {}}, "roles": {}})


def test_shipped_cue_file_loads_with_both_languages() -> None:
    cues = load_cues()
    assert {"zh", "en"} <= set(cues.languages)
    assert cues.rep_cues["zh"] and cues.customer_cues["en"] and cues.closing_cues["en"]


@pytest.mark.parametrize(
    "text",
    [
        "最近怎么样？",
        "张总，好久不见，最近怎么样？",
        "这批货这个月到，对吧？",
        "How are you?",
        "Good to see you, how have you been?",
        "You run SAP today, right?",
    ],
)
def test_greetings_and_tag_questions_are_not_counted_as_questions(text: str) -> None:
    assert classify_question(text, None) is None


def test_a_real_question_after_a_greeting_still_counts() -> None:
    got = classify_question("好久不见，你们现在用的什么系统？", None)
    assert got is not None and got.open
