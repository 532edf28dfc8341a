"""Citations of a written answer: sentences in zh and en, the numbers cited, and the answer cut to
the sentences that cite a quote it was given."""

from __future__ import annotations

import pytest

from nlp.citations import answer_sentences, check_citations, cited_numbers


def test_a_citation_of_a_missing_quote_goes_and_a_sentence_without_a_valid_one_is_dropped() -> None:
    answer = "Two say it is slow [1][2]. One wants a discount [14]. It comes up a lot. Acme [2, 9]."
    checked = check_citations(answer, quotes=3)
    assert checked.text == "Two say it is slow [1][2]. Acme [2]."
    assert (checked.sentences, checked.kept, checked.invalid_citations) == (4, 2, 2)


@pytest.mark.parametrize(
    ("answer", "text"),
    [
        ("售后慢[1]。客户要折扣。[2, 15]这是普遍问题。", "售后慢[1]。客户要折扣。[2]"),
        ("Slow. [1] Late engineers.[3]", "Slow. [1] Late engineers.[3]"),  # after the full stop
        ("Slow [1-3]. Late [2、3].", "Slow [1][2][3]. Late [2][3]."),  # ranges, 、 written [k]
        ("Slow ［1］. Late 【2】.", "Slow [1]. Late [2]."),  # full-width brackets
        ("Slow, e.g. Acme [1]. Mr. Li agrees [2].", "Slow, e.g. Acme [1]. Mr. Li agrees [2]."),
        ("Prices rose 3.5% [1].", "Prices rose 3.5% [1]."),
        ("在“A”中客户说：“我们要换。价格太高”[1]。", "在“A”中客户说：“我们要换。价格太高”[1]。"),
        (
            "- Acme wants to switch [1]\n- Beta too\n- Gamma [9]\n- Delta [2]",
            "- Acme wants to switch [1]\n- Delta [2]",
        ),
        ("A [1]. B.\nC [2].", "A [1].\nC [2]."),  # a dropped line's break is kept
    ],
)
def test_citations_are_read_in_the_forms_models_write(answer: str, text: str) -> None:
    assert check_citations(answer, quotes=3).text == text


def test_a_quotation_s_own_full_stops_do_not_end_a_sentence() -> None:
    answer = 'He said "we leave. now" [1]. And "ok." [2] “未闭合。后面[3]。\n下一行。'
    sentences = answer_sentences(answer)
    assert "".join(sentences) == answer
    assert [s.strip() for s in sentences] == [
        'He said "we leave. now" [1].',
        'And "ok." [2]',
        "“未闭合。后面[3]。",
        "下一行。",
    ]


@pytest.mark.parametrize("answer", ["[9] only a made-up one.", "The quotes do not say.", "", "[1]"])
def test_an_answer_citing_no_quote_given_keeps_nothing(answer: str) -> None:
    assert check_citations(answer, quotes=3).kept == 0
    assert check_citations(answer, quotes=3).text == ""


def test_cited_numbers_reads_lists_and_ranges() -> None:
    assert cited_numbers("a [1, 3] b [4-6] c [2][2] d [1-999]") == [1, 3, 4, 5, 6, 2, 2, 1, 999]
