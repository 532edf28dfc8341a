"""Documents in memory as columns: vectors, metadata codes, label bits and BM25 rows, what the
ranker masks and scores."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.bm25 import BM25Index, grow
from knowledge.search_types import FloatArray


@dataclass(frozen=True)
class CorpusStats:
    """What the ranker needs to know of the whole corpus when it holds only a request's
    candidates: BM25's document count, mean length and document frequencies, and each
    language's mean unit vector (the mean cosine of a query with that language's documents)."""

    docs: int
    avg_len: float
    df: Mapping[str, int]
    centroids: Mapping[str, FloatArray]


class Codes:
    """Dense integer codes for the values of one categorical field (0 is reserved for empty)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {"": 0}

    def code(self, value: str) -> int:
        return self._codes.setdefault(value, len(self._codes))

    def lookup(self, value: str) -> int:
        return self._codes.get(value, -1)

    def size(self) -> int:
        return len(self._codes)

    def items(self) -> Iterable[tuple[str, int]]:
        return self._codes.items()


CATEGORICAL = ("role", "sentiment", "language", "rep", "customer", "industry", "segment")


class DocTable:
    """Columnar store of documents: vectors, metadata codes, label bits, BM25 rows."""

    def __init__(self, bit_of: dict[str, int], corpus: CorpusStats | None = None) -> None:
        self.bit_of = bit_of
        self.corpus = corpus
        self.docs: list[Any] = []
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self.cosine: FloatArray | None = None  # each row's cosine with the one query, if given
        self.alive = np.zeros(0, dtype=bool)
        self.visit_code = np.zeros(0, dtype=np.int32)
        self.bits = np.zeros(0, dtype=np.int64)
        self.day = np.zeros(0, dtype=np.int32)
        self.codes = {name: np.zeros(0, dtype=np.int32) for name in CATEGORICAL}
        self.code_maps = {name: Codes() for name in CATEGORICAL}
        self.bm25 = BM25Index(
            corpus=None if corpus is None else (corpus.docs, corpus.avg_len, corpus.df)
        )
        self.row_of: dict[str, int] = {}
        self.size = 0
        self.dead = 0

    def append(
        self,
        keys: Sequence[str],
        docs: Sequence[Any],
        vectors: FloatArray | None,
        visit_codes: list[int],
        token_lists: Sequence[list[str]],
        cosines: FloatArray | None = None,
    ) -> None:
        """Add rows with their vectors, or (a table for one query) with their cosines."""
        for key in keys:
            old = self.row_of.get(key)
            if old is not None:
                self.retire([old])
        n, start = len(docs), self.size
        if cosines is not None:
            self.cosine = grow(
                np.zeros(0, np.float32) if self.cosine is None else self.cosine, start + n
            )
            self.cosine[start : start + n] = cosines
        elif vectors is not None:
            dim = vectors.shape[1]
            if self.vectors.shape[1] not in (0, dim):
                raise ValueError(f"Vectors have {dim} dimensions; this index holds {self.dim}.")
            self.vectors = _grow_rows(self.vectors, start + n, dim)
            self.vectors[start : start + n] = vectors
        self.alive = grow(self.alive, start + n)
        self.alive[start : start + n] = True
        self.visit_code = grow(self.visit_code, start + n)
        self.visit_code[start : start + n] = visit_codes
        self.bits = grow(self.bits, start + n)
        self.day = grow(self.day, start + n)
        for name in CATEGORICAL:
            self.codes[name] = grow(self.codes[name], start + n)
        for i, doc in enumerate(docs):
            row = start + i
            labels = list(doc.labels) + list(getattr(doc, "risk", []))
            self.bits[row] = sum(1 << self.bit_of[x] for x in set(labels) if x in self.bit_of)
            self.day[row] = doc.visit_date.toordinal() if doc.visit_date else -1
            for name in CATEGORICAL:
                value = getattr(doc, name, "") or ""
                self.codes[name][row] = self.code_maps[name].code(value)
            self.row_of[keys[i]] = row
        self.docs.extend(docs)
        self.bm25.add(token_lists)
        self.size += n

    def retire(self, rows: Iterable[int]) -> None:
        rows = [r for r in rows if self.alive[r]]
        if not rows:
            return
        self.alive[rows] = False
        self.bm25.retire(rows)
        self.dead += len(rows)

    def centroids(self) -> Mapping[str, FloatArray]:
        """Mean unit vector of each language's documents: the corpus's when the table holds
        only candidates, else its own live rows'."""
        if self.corpus is not None:
            return self.corpus.centroids
        rows = np.flatnonzero(self.alive[: self.size])
        codes = self.codes["language"][rows]
        return {
            language: self.vectors[rows[codes == code]].mean(axis=0)
            for language, code in self.code_maps["language"].items()
            if (codes == code).any()
        }

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def scores(self, qvec: FloatArray) -> bool:
        """Whether the table can give the query's cosines: given, or vectors of its size."""
        return self.cosine is not None or self.dim == qvec.shape[0]

    def dense(self, qvec: FloatArray, mask: npt.NDArray[np.bool_]) -> FloatArray:
        """Cosine of every masked row with qvec (0 elsewhere)."""
        out = np.zeros(self.size, dtype=np.float32)
        rows = np.flatnonzero(mask)
        out[rows] = self.vectors[rows] @ qvec if self.cosine is None else self.cosine[rows]
        return out


def _grow_rows(matrix: FloatArray, rows: int, dim: int) -> FloatArray:
    if rows <= matrix.shape[0] and matrix.shape[1] == dim:
        return matrix
    bigger = np.zeros((max(rows, 2 * matrix.shape[0], 64), dim), dtype=np.float32)
    if matrix.shape[1] == dim:
        bigger[: matrix.shape[0]] = matrix
    return bigger
