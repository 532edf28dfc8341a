"""Error rates must agree with the reference scorer's normalisation."""

from __future__ import annotations

from evals.errorrate import cer_zh, edit_distance, norm_en, norm_zh, strip_latin, wer_en


def test_cer_ignores_punctuation_and_width() -> None:
    assert cer_zh("你好，世界！", "你好 世界") == (0, 4)


def test_cer_counts_substitutions_insertions_and_deletions() -> None:
    assert cer_zh("今天下雨", "今天下午了") == (2, 4)
    assert cer_zh("今天下雨", "") == (4, 4)


def test_cer_is_case_insensitive_and_keeps_digits_and_latin() -> None:
    assert norm_zh("用ＣＲＭ管理3个客户") == "用crm管理3个客户"
    assert cer_zh("用CRM", "用crm") == (0, 4)


def test_empty_reference_counts_as_length_one() -> None:
    assert cer_zh("", "多余") == (2, 1)
    assert wer_en("", "") == (0, 1)


def test_wer_splits_on_punctuation_but_keeps_apostrophes() -> None:
    words = ["we're", "late", "aren't", "we", "yes", "very"]
    assert norm_en("We're late, aren't we? Yes—very.") == words
    assert wer_en("We're late, aren't we?", "we're late aren't we") == (0, 4)


def test_wer_counts_word_edits() -> None:
    assert wer_en("the quick brown fox", "the quick fox jumps") == (2, 4)


def test_strip_latin_removes_letter_runs_only() -> None:
    assert strip_latin("上了ERP和CRM两套系统，3年") == "上了和两套系统，3年"
    assert cer_zh(strip_latin("用ERP导出"), strip_latin("用导出")) == (0, 3)


def test_edit_distance_of_word_lists() -> None:
    assert edit_distance(["a", "b", "c"], ["a", "c"]) == 1
    assert edit_distance([], ["x", "y"]) == 2
