"""Durable vectors in a Chroma server: utterance and visit collections keyed by visit and index."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import numpy as np
import structlog

from knowledge.chroma_documents import (
    all_of,
    utterance_from,
    utterance_meta,
    visit_from,
    visit_in,
    visit_meta,
    where_of,
)
from knowledge.search_types import FloatArray, Kind, SearchFilters, UtteranceDoc, VisitDoc

log = structlog.get_logger()

T = TypeVar("T")
KINDS: tuple[Kind, Kind] = ("utterance", "visit")
UTTERANCES = "utterances"
VISITS = "visits"
OBJECTIONS = "objections"  # customers' objections that a rep answered, for playbooks
_PAGE = 2000  # rows per get()
CHROMA_TIMEOUT = httpx.Timeout(30.0, connect=5.0)  # seconds; a page of 2000 vectors fits in 30


class IndexUnavailable(RuntimeError):
    """The Chroma server cannot be reached; retry later, nothing was written."""

    code = "index_unavailable"


@contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except (httpx.TransportError, ConnectionError) as exc:
        raise IndexUnavailable(
            "The search index (Chroma) is unreachable. Check that it runs, then retry."
        ) from exc


def connect(url: str, *, prefix: str = "") -> VectorIndex:
    """VectorIndex over the Chroma server at url, e.g. http://127.0.0.1:8001; a prefix names
    separate collections (benchmarks, tests)."""
    import chromadb

    parts = urlsplit(url)
    try:  # the client's own first requests wait forever on a paused (SIGSTOP) server
        httpx.get(f"{url.rstrip('/')}/api/v2/heartbeat", timeout=CHROMA_TIMEOUT)
    except httpx.TransportError as exc:
        raise IndexUnavailable(
            f"The search index (Chroma) at {url} is unreachable. Start it, then retry."
        ) from exc
    try:
        client = chromadb.HttpClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
        )
    except ValueError as exc:  # chromadb's own "Could not connect" check at construction
        raise IndexUnavailable(
            f"The search index (Chroma) at {url} is unreachable. Start it, then retry."
        ) from exc
    # chromadb's HTTP client waits forever; a paused server must not hang a request or a step
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = CHROMA_TIMEOUT
    return VectorIndex(client, prefix=prefix)


@cache
def shared(url: str) -> VectorIndex:
    """One client per process and server; after an IndexUnavailable call shared.cache_clear()
    so that the next call connects again."""
    return connect(url)


class VectorIndex:
    """Thin wrapper over a chromadb client; the database stays the source of truth."""

    def __init__(self, client: Any, *, prefix: str = "") -> None:
        self._client = client
        self._names = (f"{prefix}{UTTERANCES}", f"{prefix}{VISITS}", f"{prefix}{OBJECTIONS}")
        self._cols: dict[str, Any] = {}

    def _col(self, name: str) -> Any:
        col = self._cols.get(name)
        if col is None:
            with _reachable():
                col = self._client.get_or_create_collection(
                    name, metadata={"hnsw:space": "cosine"}, embedding_function=None
                )
            self._cols[name] = col
        return col

    def upsert_utterances(self, docs: Sequence[UtteranceDoc], vectors: FloatArray) -> None:
        """Write the utterances of one visit or several; rows of these visits not in docs are
        deleted (replace)."""
        if not docs:
            return
        col = self._col(self._names[0])
        ids = [d.id for d in docs]
        with _reachable():
            old = col.get(where=_of_visits({d.visit_id for d in docs}), include=[])["ids"]
            stale = sorted(set(old) - set(ids))
            if stale:
                col.delete(ids=stale)
            self._write(
                col, ids, vectors, [d.text for d in docs], [utterance_meta(d) for d in docs]
            )

    def upsert_visit(self, doc: VisitDoc, vector: FloatArray) -> None:
        """Write or replace one visit document."""
        self.upsert_visits([doc], np.asarray(vector, dtype=np.float32).reshape(1, -1))

    def upsert_visits(self, docs: Sequence[VisitDoc], vectors: FloatArray) -> None:
        """Write or replace visit documents, vectors[i] for docs[i]."""
        if docs:
            with _reachable():
                self._write(
                    self._col(self._names[1]),
                    [d.visit_id for d in docs],
                    vectors,
                    [d.text for d in docs],
                    [visit_meta(d) for d in docs],
                )

    def _write(
        self, col: Any, ids: list[str], vectors: FloatArray, texts: list[str], metas: list[Any]
    ) -> None:
        """Upsert in as few requests as Chroma takes (each request costs about 25 ms of its
        own: one per visit kept indexing at 160-300 utterances a second)."""
        step = self._client.get_max_batch_size()
        embeddings = np.asarray(vectors, dtype=np.float32)
        for i in range(0, len(ids), step):
            j = i + step
            col.upsert(
                ids=ids[i:j], embeddings=embeddings[i:j], documents=texts[i:j], metadatas=metas[i:j]
            )

    def delete_utterances(self, visit_ids: Sequence[str]) -> None:
        """Remove these visits' utterances (none is an error)."""
        if visit_ids:
            with _reachable():
                self._col(self._names[0]).delete(where=_of_visits(set(visit_ids)))

    def delete_visit(self, visit_id: str) -> None:
        """Remove a visit's utterances, visit document and objections (none is an error)."""
        with _reachable():
            self._col(self._names[0]).delete(where={"visit_id": visit_id})
            self._col(self._names[1]).delete(ids=[visit_id])
            self._col(self._names[2]).delete(where={"visit_id": visit_id})

    def upsert_objections(
        self, visit_id: str, keys: Sequence[tuple[str, int]], vectors: FloatArray
    ) -> None:
        """A visit's answered objections, each (label, answer index) with the objection's
        vector; replaces what the visit had."""
        col = self._col(self._names[2])
        with _reachable():
            col.delete(where={"visit_id": visit_id})
            if keys:
                col.upsert(
                    ids=[f"{visit_id}:{label}:{idx}" for label, idx in keys],
                    embeddings=np.asarray(vectors, dtype=np.float32),
                    metadatas=[
                        {"visit_id": visit_id, "label": label, "answer_idx": idx}
                        for label, idx in keys
                    ],
                )

    def nearest_objections(
        self,
        vector: FloatArray,
        *,
        n: int,
        labels: Sequence[str] = (),
        among: frozenset[str] | None = None,
    ) -> list[tuple[str, str, int]]:
        """(visit, label, answer index) of the n objections nearest to vector, and of the n
        nearest among those of the labels, of visits among (None: every visit)."""
        if among is not None and not among:
            return []
        wheres = [visit_in(among)]
        if labels:
            wheres.append(all_of({"label": {"$in": sorted(labels)}}, visit_in(among)))
        ids: list[str] = []
        for where in wheres:
            ids += self._nearest(self._names[2], vector, n=n, where=where)
        keys = [i.rsplit(":", 2) for i in dict.fromkeys(ids)]
        return [(visit, label, int(idx)) for visit, label, idx in keys]

    def visit_documents(self, visit_id: str) -> tuple[list[UtteranceDoc | VisitDoc], FloatArray]:
        """One visit's utterances and visit document with their vectors."""
        return self.documents_of([visit_id])[visit_id]

    def documents_of(
        self, visit_ids: Sequence[str]
    ) -> dict[str, tuple[list[UtteranceDoc | VisitDoc], FloatArray]]:
        """Each visit's utterances and visit document with their vectors (none: empty)."""
        if not visit_ids:
            return {}
        where = _of_visits(set(visit_ids))
        found = [
            self._all(self._names[k], _builder(kind), where=where) for k, kind in enumerate(KINDS)
        ]
        rows: dict[str, list[tuple[UtteranceDoc | VisitDoc, FloatArray]]] = {
            v: [] for v in visit_ids
        }
        for docs, vectors in found:
            for doc, vector in zip(docs, vectors, strict=True):
                rows[doc.visit_id].append((doc, vector))
        return {
            v: ([d for d, _ in got], np.stack([x for _, x in got]))
            if got
            else ([], np.zeros((0, 0), dtype=np.float32))
            for v, got in rows.items()
        }

    def count(self) -> tuple[int, int]:
        """(utterances, visits) stored."""
        with _reachable():
            return int(self._col(self._names[0]).count()), int(self._col(self._names[1]).count())

    def nearest_visits(
        self, vector: FloatArray, *, n: int, among: frozenset[str] | None = None
    ) -> list[str]:
        """Ids of the n visits whose documents are nearest to vector (only those among)."""
        if among is not None and not among:
            return []
        return self._nearest(self._names[1], vector, n=n, where=visit_in(among))

    def nearest_utterances(
        self, vectors: FloatArray, *, n: int, among: frozenset[str] | None = None
    ) -> list[list[str]]:
        """Ids of the n utterances nearest to each row of vectors (of visits among), best
        first, in one query."""
        if (among is not None and not among) or not len(vectors):
            return []
        return self._nearest_rows(self._names[0], vectors, n=n, where=visit_in(among))

    def cases(
        self, visit_ids: Sequence[str]
    ) -> dict[str, tuple[VisitDoc, FloatArray, list[UtteranceDoc], FloatArray]]:
        """Per visit (that has a visit document): the document and its vector, and its customer
        utterances with theirs: what a similar-case profile is made of."""
        if not visit_ids:
            return {}
        among = visit_in(frozenset(visit_ids))
        docs, vecs = self._all(self._names[1], visit_from, where=among)
        utts, utt_vecs = self._all(
            self._names[0], utterance_from, where=all_of({"role": "customer"}, among)
        )
        rows: dict[str, list[int]] = {}
        for i, u in enumerate(utts):
            rows.setdefault(u.visit_id, []).append(i)
        dim = vecs.shape[1] if vecs.size else 0
        out = {}
        for doc, vec in zip(docs, vecs, strict=True):
            mine = rows.get(doc.visit_id, [])
            out[doc.visit_id] = (
                doc,
                vec,
                [utts[i] for i in mine],
                utt_vecs[mine] if mine else np.zeros((0, dim), dtype=np.float32),
            )
        return out

    def nearest(
        self, kind: Kind, vector: FloatArray, *, n: int, filters: SearchFilters
    ) -> list[str]:
        """Ids of the n documents of the kind nearest to vector that pass the filters, best
        first (fewer when fewer pass): ids alone, as a search reads the documents from the
        database; a filter few documents pass is better applied there (keyword_index)."""
        if filters.visit_ids is not None and not filters.visit_ids:
            return []
        name = self._names[0 if kind == "utterance" else 1]
        return self._nearest(name, vector, n=n, where=where_of(filters, kind))

    def stored(
        self, kind: Kind, ids: Sequence[str]
    ) -> dict[str, tuple[UtteranceDoc | VisitDoc, FloatArray]]:
        """The stored documents with these ids (visit ids for visits) and their vectors; ids
        not stored are left out."""
        if not ids:
            return {}
        with _reachable():
            page = self._col(self._names[0 if kind == "utterance" else 1]).get(
                ids=list(dict.fromkeys(ids)), include=["embeddings", "documents", "metadatas"]
            )
        docs, vectors = _parsed(_builder(kind), page)
        return {key_of(d): (d, v) for d, v in zip(docs, vectors, strict=True)}

    def documents(self, kind: Kind) -> tuple[list[UtteranceDoc | VisitDoc], FloatArray]:
        """Every stored document of the kind and its vectors (for a small corpus's checks)."""
        return self._all(self._names[0 if kind == "utterance" else 1], _builder(kind))

    def visit_ids(self) -> set[str]:
        """Every visit with an utterance, a visit document or an objection stored."""
        found: set[str] = set()
        with _reachable():
            for name in self._names:
                col, offset = self._col(name), 0
                while True:
                    page = col.get(include=["metadatas"], limit=_PAGE, offset=offset)
                    if not page["ids"]:
                        break
                    found.update(str((m or {}).get("visit_id", "")) for m in page["metadatas"])
                    offset += len(page["ids"])
        found.discard("")
        return found

    def reset(self) -> None:
        """Drop the collections, before a full reindex (e.g. after an embedding-model change).
        Their records are deleted first: Chroma's delete_collection leaves list-valued metadata
        (labels, risks) behind, and the next records to reuse its internal ids inherit it
        (chroma-core/chroma#7594); a record's own delete takes its lists with it."""
        with _reachable():
            for name in self._names:
                if name not in {c.name for c in self._client.list_collections()}:
                    continue
                col = self._col(name)
                while ids := col.get(include=[], limit=_PAGE)["ids"]:
                    col.delete(ids=ids)
                self._client.delete_collection(name)
        self._cols.clear()

    def _nearest(
        self, name: str, vector: FloatArray, *, n: int, where: dict[str, Any] | None
    ) -> list[str]:
        """Ids nearest to each row of vector (one row or several), best first per row."""
        return [i for row in self._nearest_rows(name, vector, n=n, where=where) for i in row]

    def _nearest_rows(
        self, name: str, vector: FloatArray, *, n: int, where: dict[str, Any] | None
    ) -> list[list[str]]:
        """Per row of vector (one row or several), the ids nearest to it, best first."""
        queries = np.asarray(vector, dtype=np.float32)
        if n <= 0:
            return []
        with _reachable():
            out = self._col(name).query(  # fewer when fewer are stored
                query_embeddings=queries.reshape(-1, queries.shape[-1]),
                n_results=n,
                where=where,
                include=[],
            )
        return [list(row) for row in out["ids"]]

    def _all(
        self,
        name: str,
        build: Callable[[str, dict[str, Any]], T],
        where: dict[str, Any] | None = None,
    ) -> tuple[list[T], FloatArray]:
        """Every document of the collection that passes where, page by page."""
        col = self._col(name)
        docs: list[T] = []
        chunks: list[FloatArray] = []
        offset = 0
        with _reachable():
            while True:
                page = col.get(
                    include=["embeddings", "documents", "metadatas"],
                    limit=_PAGE,
                    offset=offset,
                    where=where,
                )
                if not page["ids"]:
                    break
                more, vectors = _parsed(build, page)
                docs += more
                chunks += [vectors] if len(more) else []
                offset += len(page["ids"])
        return docs, np.concatenate(chunks) if chunks else np.zeros((0, 0), dtype=np.float32)


def _of_visits(visit_ids: set[str]) -> dict[str, Any]:
    """Chroma's where clause for the documents of these visits."""
    if len(visit_ids) == 1:
        return {"visit_id": next(iter(visit_ids))}
    return {"visit_id": {"$in": sorted(visit_ids)}}


def key_of(doc: UtteranceDoc | VisitDoc) -> str:
    """A document's id: the utterance's, or its visit's for a visit document."""
    return doc.id if isinstance(doc, UtteranceDoc) else doc.visit_id


def _builder(kind: Kind) -> Callable[[str, dict[str, Any]], UtteranceDoc | VisitDoc]:
    return utterance_from if kind == "utterance" else visit_from


def _parsed(
    build: Callable[[str, dict[str, Any]], T], page: Mapping[str, Any]
) -> tuple[list[T], FloatArray]:
    """Documents and vectors of a Chroma answer; a document that does not parse is skipped."""
    docs: list[T] = []
    kept: list[int] = []
    for row, (text, meta) in enumerate(zip(page["documents"], page["metadatas"], strict=True)):
        try:
            docs.append(build(text or "", dict(meta or {})))
        except (KeyError, TypeError, ValueError):  # one bad document stops nothing
            log.warning("index.document_skipped", id=page["ids"][row])
            continue
        kept.append(row)
    vectors = np.asarray(page["embeddings"], dtype=np.float32)
    return docs, vectors[kept] if len(kept) else np.zeros((0, 0), dtype=np.float32)
