import math

import numpy as np
import pytest

from knowledge.bm25 import BM25Index, is_chinese, tokenize


def test_tokenize_splits_chinese_into_jieba_words_without_stopwords():
    tokens = tokenize("我们的打印机经常卡纸")
    assert "打印机" in tokens
    assert "卡纸" in tokens
    assert "我们" not in tokens and "的" not in tokens


def test_tokenize_lowercases_and_folds_english_plurals():
    assert tokenize("The Engineers fixed the Printers") == ["engineer", "fixed", "printer"]


def test_tokenize_keeps_latin_terms_inside_chinese_text():
    assert "crm" in tokenize("我们想把CRM和仓库系统打通")


def test_is_chinese_detects_the_dominant_script():
    assert is_chinese("仓库系统经常宕机")
    assert is_chinese("ERP 接口对不上")
    assert not is_chinese("the warehouse system keeps crashing")


def reference_bm25(docs, query, k1=1.2, b=0.75):
    """Straight loop over the textbook formula, for comparison."""
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    out = []
    for d in docs:
        score = 0.0
        for term in query:
            df = sum(term in x for x in docs)
            if df == 0:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = d.count(term)
            score += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * len(d) / avgdl))
        out.append(score)
    return out


DOCS = [
    ["printer", "jam", "paper"],
    ["printer", "printer", "toner"],
    ["invoice", "late", "payment"],
    ["paper", "supply", "late", "again", "today"],
]


def test_scores_match_the_textbook_formula():
    index = BM25Index()
    index.add(DOCS)
    for query in (["printer"], ["paper", "late"], ["toner", "invoice", "unknown"]):
        np.testing.assert_allclose(index.scores(query), reference_bm25(DOCS, query), rtol=1e-5)


def test_rows_added_in_batches_score_like_one_batch():
    whole, parts = BM25Index(), BM25Index()
    whole.add(DOCS)
    parts.add(DOCS[:1])
    parts.add(DOCS[1:])
    np.testing.assert_allclose(whole.scores(["paper"]), parts.scores(["paper"]))


def test_retired_rows_score_zero_and_leave_the_statistics():
    index = BM25Index()
    index.add(DOCS)
    index.retire([0])
    scores = index.scores(["paper"])
    assert scores[0] == 0
    expected = reference_bm25(DOCS[1:], ["paper"])
    np.testing.assert_allclose(scores[1:], expected, rtol=1e-5)


def test_ideal_score_bounds_every_row():
    index = BM25Index()
    index.add(DOCS)
    query = ["paper", "late", "printer"]
    assert index.scores(query).max() <= index.ideal_score(query)


@pytest.mark.parametrize("query", [[], ["absent"]])
def test_queries_without_known_terms_score_zero(query):
    index = BM25Index()
    index.add(DOCS)
    assert not index.scores(query).any()


def test_some_rows_score_by_the_whole_corpus_statistics_they_are_given():
    """A request's candidates (rows 1 and 3) scored with the whole corpus's statistics for the
    query's words score as in the whole corpus, though only those words are indexed."""
    query = ["paper", "late"]
    df = {t: sum(t in d for d in DOCS) for t in query}
    mean_len = sum(len(d) for d in DOCS) / len(DOCS)
    index = BM25Index(corpus=(len(DOCS), mean_len, df))
    index.add([DOCS[1], DOCS[3]])
    np.testing.assert_allclose(
        index.scores(query), np.array(reference_bm25(DOCS, query))[[1, 3]], rtol=1e-5
    )
    assert index.scores(["printer"]).sum() == 0  # a word the statistics do not name
