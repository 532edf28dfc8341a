"""The tables keyword search reads: each document's tokens and the fields search filters on.
The database's own full-text engine indexes the tokens (FTS5 on SQLite, a GIN index over a
tsvector on PostgreSQL; see migration 0008), and rows go with their visit (ON DELETE CASCADE)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from knowledge.models import Base
from knowledge.search_types import FloatArray

ROW_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite's rowid, which FTS5 keys on


class _Filterable:
    """The fields both kinds of document are filtered on."""

    tokens: Mapped[str] = mapped_column(Text)  # knowledge.bm25.tokenize, joined by spaces
    length: Mapped[int] = mapped_column(Integer)  # number of tokens
    language: Mapped[str] = mapped_column(String(8), default="")
    rep: Mapped[str] = mapped_column(Text, default="", index=True)  # the narrow filters, indexed
    customer: Mapped[str] = mapped_column(Text, default="", index=True)
    industry: Mapped[str] = mapped_column(Text, default="", index=True)
    segment: Mapped[str] = mapped_column(String(32), default="", index=True)
    labels: Mapped[str] = mapped_column(Text, default=" ")  # " need.price risk.churn ", and on
    # PostgreSQL a GIN index over it as an array (migration 0011)
    day: Mapped[int | None] = mapped_column(Integer, index=True)  # the visit date's ordinal
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)  # pack(); beside the filtered
    # fields, so that a filter's scan gives the passing documents' vectors (None: written
    # before migration 0010)


class SearchUtterance(_Filterable, Base):
    __tablename__ = "search_utterances"

    row: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(64), unique=True)  # "<visit>:<index>", Chroma's id
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16), default="")
    sentiment: Mapped[str] = mapped_column(String(16), default="")


class SearchVisit(_Filterable, Base):
    __tablename__ = "search_visits"

    row: Mapped[int] = mapped_column(ROW_ID, primary_key=True, autoincrement=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), unique=True)


class SearchDocument(Base):
    """What search shows, so that Chroma is asked for the nearest ids alone: each document as
    Chroma holds it (its vector is in its search row). A table of its own keeps the rows that
    filters scan narrow; a search row written before migration 0010 has none."""

    __tablename__ = "search_documents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the search row's id, first
    # in the key, so that a search's few hundred ids are looked up by it
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # utterance | visit
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id", ondelete="CASCADE"), index=True)
    document: Mapped[list[Any]] = mapped_column(JSON)  # [text, metadata]


class SearchCentroid(Base):
    """Per kind and language, how many documents, their tokens and the sum of their unit
    vectors: BM25's corpus size and mean length, and the mean cosine of a query with that
    language's documents, which the ranker subtracts; kept by the writers."""

    __tablename__ = "search_centroids"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # utterance | visit
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    docs: Mapped[int] = mapped_column(Integer, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)  # their keyword tokens, for BM25
    vector_sum: Mapped[bytes] = mapped_column(LargeBinary)  # float64


class SearchTerm(Base):
    """Per kind, how many documents hold each keyword token (BM25's document frequency), kept
    by the writers as they add and remove documents, so that a query reads its words' counts
    instead of counting matches."""

    __tablename__ = "search_terms"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # utterance | visit
    term: Mapped[str] = mapped_column(Text, primary_key=True)
    docs: Mapped[int] = mapped_column(Integer, default=0)


def pack(vector: FloatArray) -> bytes:
    """A document's vector as stored for search: its unit vector in float16 (1 KB at 512-d;
    cosines within about 1e-3 of float32's)."""
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float16).tobytes()


def unpack(blobs: list[bytes]) -> FloatArray:
    """Stored vectors (pack) as float32 unit rows."""
    rows, norms = _rows(blobs)
    out: FloatArray = rows / norms[:, None]
    return out


def cosines(blobs: list[bytes], qvec: FloatArray) -> FloatArray:
    """Cosines of stored vectors (pack) with a query vector: the rows' dot products over their
    norms, without a normalised copy (at 1M, one rep's 19,320 in 35 ms, not 190)."""
    if not blobs:
        return np.zeros(0, dtype=np.float32)
    rows, norms = _rows(blobs)
    q = np.asarray(qvec, dtype=np.float32).reshape(-1)
    q = q / np.float32(max(float(np.linalg.norm(q)), 1e-12))
    out: FloatArray = (rows @ q) / norms
    return out


def _rows(blobs: list[bytes]) -> tuple[FloatArray, FloatArray]:
    """Stored vectors as float32 rows, and their norms (at least 1e-12)."""
    if not blobs:
        return np.zeros((0, 0), dtype=np.float32), np.ones(0, dtype=np.float32)
    half = np.frombuffer(b"".join(blobs), dtype=np.float16).reshape(len(blobs), -1)
    rows = half.astype(np.float32)
    norms = np.maximum(np.sqrt(np.einsum("ij,ij->i", rows, rows)), np.float32(1e-12))
    return rows, norms
