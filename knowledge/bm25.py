"""Keyword scoring for search: jieba/English tokenisation and a vectorised, incremental BM25."""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from nlp.language import main_language

FloatArray = npt.NDArray[np.float32]
IntArray = npt.NDArray[np.int64]

# Function words that match almost every utterance and only add noise to keyword scores.
_STOP_EN = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "he",
        "her",
        "his",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "she",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "us",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "will",
        "with",
        "would",
        "you",
        "your",
        "yes",
        "ok",
        "okay",
        "just",
        "about",
        "also",
        "very",
        "really",
    ]
)
_STOP_ZH = frozenset(
    [
        "的",
        "了",
        "是",
        "在",
        "我",
        "我们",
        "你",
        "你们",
        "您",
        "他",
        "她",
        "他们",
        "它",
        "也",
        "都",
        "就",
        "和",
        "与",
        "跟",
        "吗",
        "呢",
        "吧",
        "啊",
        "呀",
        "嗯",
        "哦",
        "这",
        "那",
        "这个",
        "那个",
        "个",
        "有",
        "还",
        "又",
        "很",
        "把",
        "被",
        "让",
        "给",
        "对",
        "说",
        "要",
        "会",
        "能",
        "就是",
        "一个",
        "一下",
        "一些",
        "什么",
        "怎么",
        "这样",
        "那样",
        "因为",
        "所以",
        "但是",
        "如果",
        "而且",
        "或者",
        "还是",
        "可以",
        "已经",
        "现在",
        "然后",
        "觉得",
        "其实",
        "比较",
        "之前",
        "之后",
        "时候",
        "没有",
    ]
)
_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@cache
def _jieba() -> Any:
    """The jieba module, initialised once per process (its dictionary load takes ~1 s)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def _stem_en(word: str) -> str:
    """Harman's S-stemmer: folds English plurals so "engineers" matches "engineer"."""
    if len(word) > 4 and word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word


def is_chinese(text: str) -> bool:
    """True when the text is mostly Chinese (nlp.language decides for every module)."""
    return main_language(text) == "zh"


def tokenize(text: str) -> list[str]:
    """Search tokens: jieba search-mode words for Chinese, lower-cased S-stemmed English words."""
    tokens: list[str] = []
    pieces = _jieba().lcut_for_search(text) if _CJK.search(text) else [text]
    for piece in pieces:
        for word in _WORD.findall(piece.lower()):
            if _CJK.search(word):
                if word not in _STOP_ZH:
                    tokens.append(word)
            elif word not in _STOP_EN and not word.isdigit():
                tokens.append(_stem_en(word))
    return tokens


class BM25Index:
    """Okapi BM25 over rows added in order; rows can be retired, scores come as one numpy array.

    Postings live per term (row ids and term frequencies) so a query costs only the rows that
    contain its terms. Idf is Lucene's log(1 + (N - df + 0.5) / (df + 0.5)), always positive.
    """

    def __init__(
        self,
        *,
        k1: float = 1.2,
        b: float = 0.75,
        corpus: tuple[int, float, Mapping[str, int]] | None = None,
    ) -> None:
        self.k1 = k1
        self.b = b
        # (documents, mean length, document frequency per term) of the whole corpus, when the
        # rows added are only some of it (one request's candidates)
        self._corpus = corpus
        self._rows: list[list[int]] = []
        self._freqs: list[list[int]] = []
        self._term_ids: dict[str, int] = {}
        self._cached: dict[int, tuple[IntArray, FloatArray]] = {}
        self._doc_terms: list[tuple[int, ...]] = []
        self._df: list[int] = []
        self._doc_len = np.zeros(0, dtype=np.float32)
        self._alive = np.zeros(0, dtype=bool)
        self._size = 0
        self._alive_count = 0
        self._total_len = 0.0

    def __len__(self) -> int:
        return self._size

    def add(self, token_lists: Iterable[Sequence[str]]) -> None:
        """Append one row per token list (row ids continue from the current length)."""
        lengths: list[int] = []
        # with the corpus's statistics, only the terms they give a frequency for can score (one
        # request's query words): a candidate's other words count toward its length alone
        scored = None if self._corpus is None else self._corpus[2]
        for tokens in token_lists:
            row = self._size + len(lengths)
            counts = Counter(tokens)
            ids: list[int] = []
            for term, tf in counts.items():
                if scored is not None and term not in scored:
                    continue
                tid = self._term_ids.get(term)
                if tid is None:
                    tid = len(self._rows)
                    self._term_ids[term] = tid
                    self._rows.append([])
                    self._freqs.append([])
                    self._df.append(0)
                self._rows[tid].append(row)
                self._freqs[tid].append(tf)
                self._df[tid] += 1
                self._cached.pop(tid, None)
                ids.append(tid)
            self._doc_terms.append(tuple(ids))
            lengths.append(len(tokens))
        n_new = len(lengths)
        self._doc_len = grow(self._doc_len, self._size + n_new)
        self._doc_len[self._size : self._size + n_new] = lengths
        self._alive = grow(self._alive, self._size + n_new)
        self._alive[self._size : self._size + n_new] = True
        self._size += n_new
        self._alive_count += n_new
        self._total_len += float(sum(lengths))

    def retire(self, rows: Iterable[int]) -> None:
        """Stop scoring these rows and drop them from document frequencies and average length."""
        for row in rows:
            if not self._alive[row]:
                continue
            self._alive[row] = False
            self._alive_count -= 1
            self._total_len -= float(self._doc_len[row])
            for tid in self._doc_terms[row]:
                self._df[tid] -= 1

    def idf(self, term: str) -> float:
        """Inverse document frequency of term among live rows (unknown terms get the maximum)."""
        if self._corpus is not None:
            n, _, frequencies = self._corpus
            df = frequencies.get(term, 0)
        else:
            tid = self._term_ids.get(term)
            df = self._df[tid] if tid is not None else 0
            n = self._alive_count
        return math.log(1.0 + max(n - df + 0.5, 0.5) / (df + 0.5))

    def scores(self, query_tokens: Sequence[str]) -> FloatArray:
        """BM25 score of every row (0 for retired rows and rows without a query term)."""
        out = np.zeros(self._size, dtype=np.float32)
        if self._alive_count == 0:
            return out
        mean_len = self._corpus[1] if self._corpus else self._total_len / self._alive_count
        avgdl = max(mean_len, 1.0)
        for term, qtf in Counter(query_tokens).items():
            tid = self._term_ids.get(term)
            if tid is None or self._df[tid] == 0:
                continue
            rows, tfs = self._postings(tid)
            norm = self.k1 * (1.0 - self.b + self.b * self._doc_len[rows] / avgdl)
            out[rows] += qtf * self.idf(term) * tfs * (self.k1 + 1.0) / (tfs + norm)
        out[: self._size] *= self._alive[: self._size]
        return out

    def ideal_score(self, query_tokens: Sequence[str]) -> float:
        """Upper bound of a row's score for this query: every term present, saturated."""
        return sum(
            qtf * self.idf(term) * (self.k1 + 1.0) for term, qtf in Counter(query_tokens).items()
        )

    def _postings(self, tid: int) -> tuple[IntArray, FloatArray]:
        hit = self._cached.get(tid)
        if hit is None:
            hit = (
                np.asarray(self._rows[tid], dtype=np.int64),
                np.asarray(self._freqs[tid], dtype=np.float32),
            )
            self._cached[tid] = hit
        return hit


def grow(array: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    """Array with room for size items, doubling capacity so appends stay amortised O(1)."""
    if size <= len(array):
        return array
    bigger = np.zeros(max(size, 2 * len(array), 64), dtype=array.dtype)
    bigger[: len(array)] = array
    return bigger
