"""Mandarin transcript clean-up: Simplified characters, spoken numerals, punctuation."""

from __future__ import annotations

import pytest

from nlp.textnorm import (
    digits_to_hanzi,
    en_numbers_to_words,
    int_to_hanzi,
    int_to_words,
    normalize_zh,
    script_language,
    to_simplified,
    zh_numbers_to_hanzi,
    zh_punctuation,
)


def test_traditional_characters_become_simplified() -> None:
    assert to_simplified("這台機器的維護費用") == "这台机器的维护费用"


def test_particle_zhe_is_simplified_but_famous_words_keep_zhu() -> None:
    assert to_simplified("照著查，接著說") == "照着查，接着说"
    assert to_simplified("效果顯著，這是名著") == "效果显著，这是名著"


def test_simplified_and_english_text_is_unchanged() -> None:
    assert to_simplified("这台机器") == "这台机器"
    assert to_simplified("Renewal price, 3 years") == "Renewal price, 3 years"


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        (0, "零"),
        (7, "七"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (108, "一百零八"),
        (110, "一百一十"),
        (200, "两百"),
        (2000, "两千"),
        (3005, "三千零五"),
        (10000, "一万"),
        (10010, "一万零一十"),
        (45000, "四万五千"),
        (120000, "十二万"),
        (300000000, "三亿"),
    ],
)
def test_integers_read_as_spoken_mandarin(number: int, spoken: str) -> None:
    assert int_to_hanzi(number) == spoken


def test_digit_strings_read_one_by_one() -> None:
    assert digits_to_hanzi("2031") == "二零三一"


def test_numbers_in_mandarin_text_become_numerals() -> None:
    assert zh_numbers_to_hanzi("排到6月，一共40个机柜") == "排到六月，一共四十个机柜"


def test_percent_is_read_before_the_number() -> None:
    assert zh_numbers_to_hanzi("便宜了15%") == "便宜了百分之十五"


def test_years_and_leading_zero_codes_are_read_digit_by_digit() -> None:
    assert zh_numbers_to_hanzi("2031年上线") == "二零三一年上线"
    assert zh_numbers_to_hanzi("分机0571") == "分机零五七一"


def test_decimals_and_thousand_separators() -> None:
    assert zh_numbers_to_hanzi("涨了2.5倍") == "涨了二点五倍"
    assert zh_numbers_to_hanzi("1,500台") == "一千五百台"


def test_bare_spaces_between_han_become_commas() -> None:
    assert zh_punctuation("我们先试一下 看看效果") == "我们先试一下，看看效果"


def test_ascii_punctuation_becomes_full_width() -> None:
    assert zh_punctuation("好的, 那就这样?") == "好的，那就这样？"


def test_normalize_zh_does_all_three() -> None:
    assert normalize_zh("這個月賣了3台 還不錯") == "这个月卖了三台，还不错"


@pytest.mark.parametrize(
    ("text", "language"),
    [("我们用ERP下单", "zh"), ("We use the ERP daily", "en"), ("...", None), ("OK 好的好的", "zh")],
)
def test_script_language_by_majority_script(text: str, language: str | None) -> None:
    assert script_language(text) == language


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("line 3 reads 1 label in 20", "line three reads one label in twenty"),
        (
            "about 400 samples within 48 hours",
            "about four hundred samples within forty eight hours",
        ),
        ("120 trucks", "one hundred and twenty trucks"),
        ("2,600 seats", "two thousand six hundred seats"),
        ("a 15% discount", "a fifteen percent discount"),
        ("$30 a month", "thirty dollars a month"),
        ("the 3rd visit and the 40th", "the third visit and the fortieth"),
        ("renewed in 2019 and 2005", "renewed in twenty nineteen and two thousand and five"),
        ("up 2.5 points", "up two point five points"),
    ],
)
def test_english_numbers_become_spoken_words(text: str, spoken: str) -> None:
    assert en_numbers_to_words(text) == spoken


@pytest.mark.parametrize("text", ["call 555-1234", "at 9:30", "version 2.0.1", "room 007"])
def test_english_codes_times_and_phone_numbers_are_left_alone(text: str) -> None:
    assert en_numbers_to_words(text) == text


def test_int_to_words_large_numbers() -> None:
    assert int_to_words(1_250_003) == "one million two hundred and fifty thousand and three"
