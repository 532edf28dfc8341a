"""`python -m evals.scalebench`: search on the production engines (PostgreSQL and a Chroma
server) as one synthetic corpus grows: indexing rate, search p50/p95 with 0, 1 and 3 filters,
API start and memory, similar cases, and what each engine stores per million utterances."""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psycopg
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from evals.search import synthetic_docs
from evals.servers import chroma_server, free_port
from knowledge import engine_search, users
from knowledge.case_store import StoredCases
from knowledge.db import make_engine, make_sessionmaker, migrate, session_scope
from knowledge.engine_search import EngineSearch, replace_visits
from knowledge.models import Role, Visit
from knowledge.search_text import LabelExamples, embed_label_examples
from knowledge.search_types import FloatArray, SearchFilters, UtteranceDoc, VisitDoc
from knowledge.similar import similar_stored, stored_profiles
from knowledge.vector_index import VectorIndex, connect
from nlp.labels import SHIPPED_PROMPTS, load_labels

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
PER_VISIT = 40  # utterances per synthetic visit
DIM = 512
SLICE = 250  # visits generated (and their Visit rows committed) at a time
HTTP_SEARCHES = 50
AGREEMENT = 10  # queries whose filtered pages are compared with Chroma's own filter's
SEARCH_TABLES = ("search_utterances", "search_visits", "search_documents", "case_profiles")
META = ("language", "rep", "customer", "industry", "segment", "visit_date")  # a visit's own
FILTERS = {  # by number of filters (a date range counts as one)
    "0": SearchFilters(),
    "1": SearchFilters(rep="rep7"),
    "3": SearchFilters(
        segment="strategic",
        date_from=date(2026, 3, 1),
        date_to=date(2026, 6, 30),
        label="pain.service",
    ),
}
PROFILED = {  # module: functions whose time profile_search reports
    "engine_search": ("search", "_candidates", "_rows"),
    "_base": ("result",),  # concurrent.futures: the wait for Chroma, whose calls run in threads
    "keyword_index": (
        "corpus",
        "candidates",
        "passing",
        "passing_among",
        "rows_of",
        "nearest_passing",
        "count",
        "visits_with_utterances",
    ),
    "ranking": ("add", "search"),
}
NOTE = (
    "synthetic template utterances (zh/en), 40 per visit, random unit 512-d vectors: embedding "
    "excluded from indexing; queries embedded by the real embedder; times in ms"
)


@dataclass(frozen=True)
class Stack:
    """The engines under test and search over them, as an API process holds it."""

    sessions: sessionmaker[Session]
    vectors: VectorIndex
    search: EngineSearch


def make_stack(
    database_url: str, vectors: VectorIndex, label_examples: LabelExamples | None
) -> Stack:
    migrate(database_url)
    search = EngineSearch(
        lambda: vectors, labels=load_labels(SHIPPED_PROMPTS), label_examples=label_examples
    )
    return Stack(make_sessionmaker(make_engine(database_url)), vectors, search)


def visit_doc(utterances: Sequence[UtteranceDoc]) -> VisitDoc:
    """A synthetic visit's profile, made as the indexing step makes it: the customer's labels
    and labelled quotes."""
    first = utterances[0]
    quotes = [u for u in utterances if u.role == "customer" and (u.labels or u.risk)]
    summary = " ".join(u.text for u in quotes[:2])
    return VisitDoc(
        visit_id=first.visit_id,
        title=f"Synthetic visit {first.visit_id}",
        summary=summary,
        labels=list(dict.fromkeys(x for u in quotes for x in u.labels)),
        text="\n".join([summary, *(u.text for u in quotes)]),
        **{name: getattr(first, name) for name in META},
    )


def _visit_row(doc: VisitDoc) -> Visit:
    meta = {name: getattr(doc, name) for name in META}
    return Visit(
        id=doc.visit_id, title=doc.title, content_sha256=doc.visit_id, status="done", **meta
    )


def grow(
    stack: Stack, first_visit: int, last_visit: int, *, batch: int = 1, seed: int = 0
) -> float:
    """Index visits v<first_visit>..v<last_visit - 1>, batch visits per replace_visits (1: one
    at a time, as workers.index does); utterances per second (the Visit rows, which the upload
    makes, and the synthetic texts and vectors are not counted)."""
    rng = np.random.default_rng(seed + first_visit)
    written, spent = 0, 0.0
    for start in range(first_visit, last_visit, SLICE):
        stop = min(start + SLICE, last_visit)
        docs = synthetic_docs((stop - start) * PER_VISIT, seed=seed + start, first_visit=start)
        visits = [docs[i : i + PER_VISIT] for i in range(0, len(docs), PER_VISIT)]
        profiles = [visit_doc(v) for v in visits]
        with session_scope(stack.sessions) as db:  # merged: a run stopped mid-slice wrote some
            for p in profiles:
                db.merge(_visit_row(p))
        vectors = rng.standard_normal((len(docs) + len(visits), DIM), dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        items = [
            (v, p, (vectors[i * PER_VISIT : (i + 1) * PER_VISIT], vectors[len(docs) + i]))
            for i, (v, p) in enumerate(zip(visits, profiles, strict=True))
        ]
        t0 = time.perf_counter()
        for i in range(0, len(items), batch):
            replace_visits(stack.sessions, stack.vectors, items[i : i + batch])
        spent += time.perf_counter() - t0
        written += len(docs)
    return round(written / spent, 1) if spent else 0.0


def percentiles(ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {
        "p50": round(ordered[len(ordered) // 2], 1),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
    }


def time_search(
    stack: Stack, queries: Sequence[str], qvecs: FloatArray
) -> dict[str, dict[str, float]]:
    """Search p50/p95 in this process per kind and number of filters (first page of 20)."""
    out = {}
    with stack.sessions() as db:  # one warm-up: connections, jieba, the label examples
        stack.search.search(db, queries[0], qvecs[0])
    for kind in ("utterance", "visit"):
        for name, filters in FILTERS.items():
            ms = []
            for query, qvec in zip(queries, qvecs, strict=True):
                with stack.sessions() as db:
                    t0 = time.perf_counter()
                    stack.search.search(db, query, qvec, kind=kind, filters=filters)
                    ms.append((time.perf_counter() - t0) * 1000)
            out[f"{kind}/{name}_filters"] = percentiles(ms)
    return out


def profile_search(
    stack: Stack, queries: Sequence[str], qvecs: FloatArray, filters: SearchFilters
) -> dict[str, float]:
    """Mean ms per utterance search spent in each engine call and in the ranker (cProfile's
    cumulative times, so a little inflated)."""
    prof = cProfile.Profile()
    for query, qvec in zip(queries, qvecs, strict=True):
        with stack.sessions() as db:
            prof.runcall(stack.search.search, db, query, qvec, filters=filters)
    out = {}
    for (path, _, func), row in pstats.Stats(prof).stats.items():  # type: ignore[attr-defined]  # untyped in typeshed
        if func in PROFILED.get(Path(path).stem, ()):
            name = "waiting_for_chroma" if func == "result" else f"{Path(path).stem}.{func}"
            out[name] = round(row[3] * 1000 / len(queries), 1)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def filtered_agreement(stack: Stack, queries: Sequence[str], qvecs: FloatArray) -> dict[str, float]:
    """Per number of filters, the share of the first page (20) that Chroma's own filtered
    search would give which the search as served gives: the price of comparing the query with
    the passing documents' stored vectors, or of keeping those of Chroma's nearest that pass a
    broader filter, instead."""
    out = {}
    for name in ("1", "3"):
        shared = total = 0
        for query, qvec in zip(queries, qvecs, strict=True):
            pages = []
            for served in (True, False):
                with stack.sessions() as db, _chroma_filters(not served):
                    page = stack.search.search(db, query, qvec, filters=FILTERS[name])
                pages.append({(h.visit_id, getattr(h.doc, "index", None)) for h in page.hits})
            shared += len(pages[0] & pages[1])
            total += len(pages[1])
        out[f"utterance/{name}_filters"] = round(shared / total, 3) if total else 1.0
    return out


@contextmanager
def _chroma_filters(always: bool) -> Iterator[None]:
    """With always, every filter goes to Chroma's own filtered search."""
    kept = engine_search.PREFILTER, engine_search.OVERFETCH
    if always:
        engine_search.PREFILTER = engine_search.OVERFETCH = 0
    try:
        yield
    finally:
        engine_search.PREFILTER, engine_search.OVERFETCH = kept


def time_similar(stack: Stack, visit_ids: Sequence[str]) -> dict[str, dict[str, float]]:
    """A stored visit's profile, then its similar cases among every visit (as the route)."""
    profile_ms, similar_ms = [], []
    for visit_id in visit_ids:
        t0 = time.perf_counter()
        with stack.sessions() as db:
            store = StoredCases(stack.vectors, db)
            target = stored_profiles(store, [visit_id])[visit_id]
            t1 = time.perf_counter()
            similar_stored(store, target, among=None, limit=5)
        profile_ms.append((t1 - t0) * 1000)
        similar_ms.append((time.perf_counter() - t1) * 1000)
    return {"profile": percentiles(profile_ms), "similar": percentiles(similar_ms)}


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _first_answer(http: httpx.Client, proc: subprocess.Popen[bytes], query: str) -> float:
    deadline, last = time.monotonic() + 300, "nothing"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API process exited with {proc.returncode}")
        try:
            answer = http.get("/api/search", params={"q": query})
            if answer.status_code == 200:
                return time.monotonic()
            last = f"{answer.status_code} {answer.text[:300]}"
        except httpx.TransportError as exc:
            last = repr(exc)
        time.sleep(0.05)
    raise TimeoutError(f"the API gave no search answer within 300 s; last: {last}")


def time_api(env: dict[str, str], token: str, queries: Sequence[str], log: Path) -> dict[str, Any]:
    """`visitlens api` started fresh: seconds to its first search answer, then HTTP search
    p50/p95 and its RSS after HTTP_SEARCHES searches."""
    port = free_port()
    with log.open("ab") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            [str(BIN / "visitlens"), "api"],
            cwd=ROOT,
            env=env | {"VISITLENS_API_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as http:
            first_s = _first_answer(http, proc, queries[0]) - started
            ms = []
            for i in range(HTTP_SEARCHES):
                t0 = time.perf_counter()
                http.get("/api/search", params={"q": queries[i % len(queries)]}).raise_for_status()
                ms.append((time.perf_counter() - t0) * 1000)
            rss = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {
        "start_to_first_answer_s": round(first_s, 2),
        "rss_mb": rss,
        "http_search": percentiles(ms),
    }


@contextmanager
def pg_database(admin_url: str, name: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; its SQLAlchemy URL."""
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def storage(stack: Stack, chroma: tuple[Path, int], utterances: int) -> dict[str, float]:
    """MB each engine holds: PostgreSQL's search tables (their documents and vectors, similar-
    case profiles) and indexes, Chroma on disk and in memory; each also per million utterances."""
    with stack.sessions() as db:
        db.execute(text(f"ANALYZE {', '.join(SEARCH_TABLES)}"))
        size = "SELECT pg_table_size(:t), pg_indexes_size(:t)"
        sizes = [db.execute(text(size), {"t": t}).one() for t in SEARCH_TABLES]
    disk = sum(f.stat().st_size for f in chroma[0].rglob("*") if f.is_file())
    out = {
        "postgres_tables_mb": round(sum(s[0] for s in sizes) / 2**20, 1),
        "postgres_indexes_mb": round(sum(s[1] for s in sizes) / 2**20, 1),
        "chroma_disk_mb": round(disk / 2**20, 1),
        "chroma_rss_mb": rss_mb(chroma[1]),
    }
    return out | {f"{k}_per_million": round(v * 1e6 / utterances, 1) for k, v in out.items()}


def _api_env(database_url: str, chroma_url: str, work: Path) -> dict[str, str]:
    return dict(os.environ) | {
        "VISITLENS_DATABASE_URL": database_url,
        "VISITLENS_CHROMA_URL": chroma_url,
        "VISITLENS_DATA_DIR": str(work),
        "VISITLENS_AUDIO_DIR": str(work / "audio"),
        "VISITLENS_BROKER_URL": f"sqla+sqlite:///{work}/broker.db",
        "VISITLENS_MODELS_DIR": str(ROOT / "models"),
        "VISITLENS_SEARCHES_PER_MINUTE": "1000000",
    }


def run(sizes: Sequence[int], database_url: str, work: Path, queries: int = 36) -> dict[str, Any]:
    """Grow one corpus to each size in turn and measure everything at each."""
    from knowledge.settings import Settings
    from nlp.embed import load_embedder

    embedder = load_embedder(Settings().embedding_model)
    texts = [d.text for d in synthetic_docs(queries, seed=10**6)]
    qvecs = np.asarray(embedder.encode(texts), dtype=np.float32)
    result: dict[str, Any] = {"note": NOTE, "queries_per_cell": queries, "sizes": {}}
    with chroma_server(work / "chroma") as (chroma_url, chroma_pid):
        examples = embed_label_examples(SHIPPED_PROMPTS, embedder, ROOT / "models" / "cache")
        stack = make_stack(database_url, connect(chroma_url), examples)
        with session_scope(stack.sessions) as db:
            user = users.create(db, username=f"bench-{uuid.uuid4().hex[:8]}", role=Role.ADMIN)
            token = users.create_token(db, user=user, name="scalebench").secret
        env, visits = _api_env(database_url, chroma_url, work), _stored_visits(stack)
        for n in sizes:  # a slice one visit at a time as the index step, the rest in bulk
            row: dict[str, Any] = {}
            if visits < n // PER_VISIT:  # else kept from an earlier run (--work)
                one = min(visits + SLICE, n // PER_VISIT)
                row["index_utterances_per_s"] = grow(stack, visits, one)
                row["bulk_utterances_per_s"] = grow(stack, one, n // PER_VISIT, batch=SLICE)
            visits = n // PER_VISIT
            row["storage"] = storage(stack, (work / "chroma", chroma_pid), visits * PER_VISIT)
            row["search"] = time_search(stack, texts, qvecs)
            sample = random.Random(n).sample(range(visits), min(30, visits))
            row["similar_case"] = time_similar(stack, [f"v{i}" for i in sample])
            sys.stderr.write(json.dumps({str(n): row}) + "\n")  # progress, in case the API fails
            try:
                row["api"] = time_api(env, token, texts, work / "api.log")
            except (TimeoutError, RuntimeError) as exc:  # kept: the other figures stand
                row["api"] = {"error": str(exc), "log": (work / "api.log").read_text()[-3000:]}
            row["storage"]["chroma_rss_after_queries_mb"] = rss_mb(chroma_pid)
            row["profile_ms"] = {
                f"utterance/{k}_filters": profile_search(stack, texts, qvecs, FILTERS[k])
                for k in FILTERS
            }
            row["filtered_agreement"] = filtered_agreement(
                stack, texts[:AGREEMENT], qvecs[:AGREEMENT]
            )
            result["sizes"][str(n)] = row
            sys.stderr.write(json.dumps({str(n): row}) + "\n")  # progress, size by size
    return result


def _stored_visits(stack: Stack) -> int:
    """Synthetic visits already indexed (v0 .. v<n - 1>), by an earlier run kept with --work."""
    with stack.sessions() as db:
        return int(db.scalar(text("SELECT count(*) FROM search_visits")) or 0)


def measure(
    sizes: Sequence[int],
    *,
    database_url: str | None = None,
    pg_admin: str = PG_ADMIN,
    work: Path | None = None,
) -> dict[str, Any]:
    """run() on a Chroma server of its own (over work, else a temporary folder) and
    database_url (a PostgreSQL database, which run() grows from what it holds) or one made
    with pg_admin and dropped afterwards."""
    with tempfile.TemporaryDirectory(prefix="visitlens-scale-") as tmp:
        folder = work or Path(tmp)
        if database_url:
            return run(sizes, database_url, folder)
        with pg_database(pg_admin, "visitlens_scalebench") as url:
            return run(sizes, url, folder)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="utterance counts, ascending")
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database, grown from what it holds (default: one made and dropped)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        help="Chroma's folder, kept: with --database-url, a later run "
        "measures the same corpus again without growing it",
    )
    parser.add_argument("--pg-admin", default=PG_ADMIN, help="where to make and drop one")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: still drop what it made
    sizes = [int(s) for s in args.sizes.split(",")]
    result = measure(sizes, database_url=args.database_url, pg_admin=args.pg_admin, work=args.work)
    document = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(document + "\n", encoding="utf-8")
    sys.stdout.write(document + "\n")


if __name__ == "__main__":
    main()
