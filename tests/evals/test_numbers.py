"""Digits read out the way the reference says them, before an error rate is taken."""

from __future__ import annotations

from evals.numbers import read_numbers, zh_cardinal


def test_mandarin_cardinals() -> None:
    assert [zh_cardinal(n) for n in (12, 200, 40500, 1005)] == [
        "十二",
        "二百",
        "四万零五百",
        "一千零五",
    ]


def test_digits_take_the_reading_the_reference_uses() -> None:
    assert read_numbers("zh", "48小时内到场", "四十八小时内到场") == "四十八小时内到场"
    assert read_numbers("zh", "价格降了20%", "价格降了百分之二十") == "价格降了百分之二十"
    assert read_numbers("zh", "分机0571", "分机零五七一") == "分机零五七一"
    assert read_numbers("zh", "要2台", "要两台") == "要两台"
    assert read_numbers("en", "within 48 hours", "within forty eight hours").split() == [
        "within",
        "forty",
        "eight",
        "hours",
    ]
