"""The one zh/en decision, on code-switched turns written for it (none from the corpus)."""

from __future__ import annotations

import pytest

from nlp.language import detect_language, main_language

ZH = [
    "我们的 ERP system 每次 update 都要停机",
    "这个 dashboard 的 loading 太慢了",
    "SLA 能不能写进合同里",
    "price 方面我们还要再 discuss 一下",
    "我们老板说 budget 已经 freeze 了",
    "Q3 之前必须上线",
    "嗯 yes 没问题",
    "follow up 一下上次说的 proposal",
    "You know 我们这边 headcount 很紧",
    "这个 deadline 太 aggressive 了",
    "integration testing 还没做完",
    "他说 next Monday 给我们 final quotation",
    "要先过 procurement 的 approval process",
    "我们用ERP下单",
    "OK 好的好的",
]
EN = [
    "We tried 钉钉 but the approvals were slow",
    "The contact is 王经理, please call him tomorrow",
    "Can you send the quote to 李总 by Friday?",
    "Honestly the price is fine, 没问题 on our side",
    "Your app crashed twice during the 双十一 peak",
    "所以 we need to cut the cost by twenty percent this year",
    "说实话 your competitor offered a better discount",
    "We use the ERP daily",
]


@pytest.mark.parametrize(("text", "language"), [(t, "zh") for t in ZH] + [(t, "en") for t in EN])
def test_a_mixed_turn_is_in_the_language_that_carries_it(text: str, language: str) -> None:
    assert main_language(text) == language


def test_a_text_without_han_or_latin_letters_has_no_main_language() -> None:
    assert main_language("... 123 !") is None


@pytest.mark.parametrize("text", ZH + EN)
def test_the_classifier_reports_the_same_language(text: str) -> None:
    assert detect_language(text) == main_language(text)


@pytest.mark.parametrize(
    ("text", "language"), [("Das 钉钉 ist gut", "en"), ("Это 钉钉 система", "zh")]
)
def test_han_characters_keep_a_text_analysable(text: str, language: str) -> None:
    """Zh or en, never another language: the classifier labels such turns as it did before."""
    assert detect_language(text) == language
