"""Transcript clean-up: Simplified characters, punctuation, numbers written as digits."""

from __future__ import annotations

import pytest

from nlp.asr import AsrOptions, _normalise
from nlp.textnorm import (
    Rewrite,
    en_written_numbers,
    rewrite_words,
    to_simplified,
    zh_number_rewrites,
    zh_punctuation,
    zh_written_numbers,
)
from nlp.types import Word


def test_traditional_characters_become_simplified() -> None:
    assert to_simplified("這台機器的維護費用") == "这台机器的维护费用"


def test_particle_zhe_is_simplified_but_famous_words_keep_zhu() -> None:
    assert to_simplified("照著查，接著說") == "照着查，接着说"
    assert to_simplified("效果顯著，這是名著") == "效果显著，这是名著"


def test_simplified_and_english_text_is_unchanged() -> None:
    assert to_simplified("这台机器") == "这台机器"
    assert to_simplified("Renewal price, 3 years") == "Renewal price, 3 years"


def test_bare_spaces_between_han_become_commas() -> None:
    assert zh_punctuation("我们先试一下 看看效果") == "我们先试一下，看看效果"


def test_ascii_punctuation_becomes_full_width() -> None:
    assert zh_punctuation("好的, 那就这样?") == "好的，那就这样？"


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("三月十五号见", "3月15号见"),
        ("三月五日上线", "3月5日上线"),
        ("便宜了百分之二十", "便宜了20%"),
        ("涨了百分之三点五", "涨了3.5%"),
        ("百分之百满意", "100%满意"),
        ("四十八小时内响应", "48小时内响应"),
        ("预算两百万", "预算200万"),
        ("一百二十万的预算", "120万的预算"),
        ("一亿两千万", "1.2亿"),
        ("三点五万", "3.5万"),
        ("效率提高一点五倍", "效率提高1.5倍"),
        ("一共四十个机柜", "一共40个机柜"),
        ("三十多个客户", "30多个客户"),
        ("第十五次", "第15次"),
        ("一千二百块", "1200块"),
        ("两块钱", "2块钱"),
        ("两千五一套", "2500一套"),
        ("十分钟", "10分钟"),
        ("一共四十。", "一共40。"),
        ("二零二四年", "2024年"),
        ("分机零五七一", "分机0571"),
        ("九点半开会", "9点半开会"),
        ("下午两点到", "下午2点到"),
        ("九点三十分", "9点30分"),
        ("十二点之前", "12点之前"),
        ("十一月", "11月"),
    ],
)
def test_mandarin_numbers_become_digits_in_number_contexts(spoken: str, written: str) -> None:
    assert zh_written_numbers(spoken) == written


@pytest.mark.parametrize(
    "text",
    [
        "我们一起看看",
        "先试一下",
        "还有一些问题",
        "一直很稳定",
        "一定要准时",
        "统一管理",
        "万一出问题",
        "周一见",
        "星期三上线",
        "第一次合作",
        "一个问题",
        "两个人",
        "三台设备",
        "上批等了三个星期",
        "等了两天",
        "停线一天损失好几万",
        "下周五之前",
        "一模一样",
        "十分满意",
        "千万别延期",
        "三分之一",
        "十几个",
        "几十个",
        "七八个",
        "一两天",
        "大概两三百台",
        "有一点贵",
        "一点一点地改",
        "一块去",
        "日复一日",
        "十全十美",
    ],
)
def test_mandarin_words_made_with_numerals_stay(text: str) -> None:
    assert zh_written_numbers(text) == text


def test_digits_whisper_wrote_stay_and_neighbours_are_converted() -> None:
    text = "已经有3台了，涨了2.5倍，1,500台"
    assert zh_written_numbers(text) == text
    assert zh_written_numbers("3月十五号") == "3月15号"


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("within forty eight hours", "within 48 hours"),
        ("a twenty percent discount", "a 20% discount"),
        ("five percent", "5%"),
        ("twelve hundred dollars a month", "$1,200 a month"),
        ("ten thousand dollars", "$10,000"),
        ("two point five million dollars", "$2.5 million"),
        ("twenty five million users", "25 million users"),
        ("sixty-five thousand seats", "65,000 seats"),
        ("one hundred and twenty trucks", "120 trucks"),
        ("a hundred units", "100 units"),
        ("up two point five times", "up 2.5 times"),
        ("the fifteenth visit", "the 15th visit"),
        ("net sixty", "net 60"),
        ("call me at nine thirty", "call me at 9:30"),
        ("renewed in nineteen ninety nine", "renewed in 1999"),
        ("in twenty twenty four", "in 2024"),
        ("Forty eight hours", "48 hours"),
    ],
)
def test_english_number_words_become_digits(spoken: str, written: str) -> None:
    assert en_written_numbers(spoken) == written


@pytest.mark.parametrize(
    "text",
    [
        "one of them",
        "a one-off",
        "two of them jammed last week",
        "orders take six weeks",
        "first of all",
        "the third visit",
        "no one knows",
        "We have 48 hours, $1,200 and 20% at 9:30 on the 15th",
    ],
)
def test_english_small_numbers_words_and_digits_stay(text: str) -> None:
    assert en_written_numbers(text) == text


def test_a_number_split_over_words_becomes_one_word() -> None:
    words = [Word(0.0, 0.4, "四十", 0.9), Word(0.4, 0.6, "八小", 0.8), Word(0.6, 0.9, "时内", 0.95)]
    text = "".join(w.text for w in words)
    assert rewrite_words(words, zh_number_rewrites(text)) == [
        Word(0.0, 0.6, "48小", 0.8),
        Word(0.6, 0.9, "时内", 0.95),
    ]


def test_words_without_rewrites_are_unchanged() -> None:
    words = [Word(0.0, 0.3, " one", 0.9), Word(0.3, 0.5, " of", 0.9)]
    assert rewrite_words(words, []) == words
    assert rewrite_words(words, [Rewrite(1, 4, "1")]) == [Word(0.0, 0.3, " 1", 0.9), words[1]]


def test_asr_writes_numbers_unless_the_option_is_off() -> None:
    assert _normalise("這批貨三月十五號到 好嗎", "zh", AsrOptions()) == "这批货3月15号到，好吗"
    off = AsrOptions(written_numbers=False)
    assert _normalise("這批貨三月十五號到", "zh", off) == "这批货三月十五号到"
    assert _normalise("within forty eight hours", "en", AsrOptions()) == "within 48 hours"
    assert _normalise("within forty eight hours", "en", off) == "within forty eight hours"
