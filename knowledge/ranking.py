"""The ranker: dense + BM25 + label affinity over a set of documents in memory, filters as masks.
Engine search hands it one request's candidates; the evaluations hand it a whole folder."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from knowledge.bm25 import is_chinese, tokenize
from knowledge.doc_table import CorpusStats, DocTable
from knowledge.search_text import LabelExamples, guess_labels, highlight, keyword_text
from knowledge.search_types import (
    VISIT_FEATURES,
    FloatArray,
    FusionWeights,
    Kind,
    Mode,
    SearchFilters,
    SearchHit,
    SearchPage,
    UtteranceDoc,
    VisitDoc,
    check_request,
    top,
)
from nlp.labels import SHIPPED_PROMPTS, LabelSet, load_labels


@dataclass(frozen=True)
class _Scored:
    """One query's scores over the documents held."""

    qvec: FloatArray
    qtokens: list[str]
    ufused: FloatArray  # per utterance row: dense + keyword + label affinity
    umask: npt.NDArray[np.bool_]  # utterance rows that pass the filters
    vmask: npt.NDArray[np.bool_]  # visit rows that pass them
    vscore: FloatArray  # per visit code: its document mixed with its best utterances


class SearchIndex:
    """Ranks the documents it holds for a query: one request's candidates (engine search) or a
    whole folder (the evaluations). Without CorpusStats its own documents are the corpus."""

    def __init__(
        self,
        *,
        weights: FusionWeights | None = None,
        labels: LabelSet | None = None,
        label_examples: LabelExamples | None = None,
        corpus: Mapping[Kind, CorpusStats] | None = None,
    ) -> None:
        self.weights = weights or FusionWeights()
        self.labels = labels or load_labels(SHIPPED_PROMPTS)
        self.label_examples = label_examples
        self.corpus = dict(corpus or {})
        bit_of = {x: i for i, x in enumerate(self.labels.all_ids)}
        if len(bit_of) > 63:
            raise ValueError("At most 63 label ids fit the filter bitmask.")
        self._bit_of = bit_of
        self._utt = DocTable(bit_of, self.corpus.get("utterance"))
        self._vis = DocTable(bit_of, self.corpus.get("visit"))
        self._visit_codes: dict[str, int] = {}
        self._visit_ids: list[str] = []

    def __len__(self) -> int:
        """Number of live utterances."""
        return self._utt.size - self._utt.dead

    def add(
        self,
        docs: Sequence[UtteranceDoc | VisitDoc],
        vectors: FloatArray | None,
        *,
        tokens: Sequence[list[str]] | None = None,
        cosines: FloatArray | None = None,
    ) -> None:
        """Add or replace documents (same id replaces); vectors[i] embeds docs[i], or, for a
        ranker of one query, cosines[i] is its cosine with the query; tokens[i] are its
        keyword tokens (tokenised here when not given)."""
        if tokens is None:
            tokens = [tokenize(keyword_text(d)) for d in docs]
        if vectors is not None:
            vectors = _normalise(np.asarray(vectors, dtype=np.float32).reshape(len(docs), -1))
        for kind, table in ((UtteranceDoc, self._utt), (VisitDoc, self._vis)):
            rows = [i for i, d in enumerate(docs) if isinstance(d, kind)]
            if not rows:
                continue
            mine = [docs[i] for i in rows]
            table.append(
                [d.id if isinstance(d, UtteranceDoc) else d.visit_id for d in mine],
                mine,
                None if vectors is None else vectors[rows],
                [self._visit_code(d.visit_id) for d in mine],
                [tokens[i] for i in rows],
                None if cosines is None else np.asarray(cosines, dtype=np.float32)[rows],
            )

    def search(
        self,
        query: str,
        query_vector: FloatArray,
        *,
        kind: Kind = "utterance",
        filters: SearchFilters | None = None,
        limit: int = 20,
        offset: int = 0,
        mode: Mode = "hybrid",
        visits_matching: set[str] | None = None,
    ) -> SearchPage:
        """Rank utterances or visits for a query and its embedding; filters are exact masks.
        visits_matching: the visits known to have an utterance that passes the utterance-level
        filters (else those of the utterances held)."""
        t0 = time.perf_counter()
        filters = filters or SearchFilters()
        check_request(
            query,
            kind=kind,
            mode=mode,
            limit=limit,
            offset=offset,
            filters=filters,
            labels=self.labels,
        )
        qvec = _normalise(np.asarray(query_vector, dtype=np.float32).reshape(1, -1))[0]
        qtokens = tokenize(query)
        w = self.weights
        bm25_weight = {"dense": 0.0, "bm25": 1.0}.get(
            mode, w.bm25_zh if is_chinese(query) else w.bm25_en
        )
        dense_weight = 0.0 if mode == "bm25" else 1.0
        affinity = self.label_affinity(qvec) if mode == "hybrid" else None

        umask = self._mask(self._utt, filters, visit_level=False)
        ufused, uclose = self._fused(
            self._utt, umask, qvec, qtokens, dense_weight, bm25_weight, affinity
        )
        vmask = self._mask(self._vis, filters, visit_level=True)
        if kind == "visit":
            vmask &= self._visits_with_utterances(umask, filters, visits_matching)
        vfused, vclose = self._fused(
            self._vis, vmask, qvec, qtokens, dense_weight, bm25_weight, affinity
        )
        scored = _Scored(
            qvec, qtokens, ufused, umask, vmask, self._visit_scores(ufused, umask, vfused, vmask)
        )
        if kind == "utterance":
            hits, total = self._utterance_hits(scored, mode, limit, offset)
        else:
            hits, total = self._visit_hits(scored, mode, limit, offset)
        took = (time.perf_counter() - t0) * 1000
        close = bool(uclose.any() or vclose.any())
        return SearchPage(hits, total, limit, offset, kind, mode, took, close)

    def _utterance_hits(
        self, s: _Scored, mode: Mode, limit: int, offset: int
    ) -> tuple[list[SearchHit], int]:
        """A page of utterances (each mixed with its visit's score, spread over visits, said
        once) and how many there are."""
        w = self.weights
        rows = np.flatnonzero(s.umask)
        if mode == "bm25":
            rows = rows[s.ufused[rows] > 0]
        codes = self._utt.visit_code[rows]
        has_doc = self._vis_row_by_code()[codes] >= 0
        ctx = np.where(has_doc, s.vscore[codes], s.ufused[rows])
        mixed = w.utterance_share * s.ufused[rows] + (1 - w.utterance_share) * ctx
        score = self._diversify(mixed.astype(np.float32), codes, offset + limit)
        score = self._collapse_repeats(score, rows, offset + limit)
        order = top(score, offset + limit)[offset:]
        order = order[np.isfinite(score[order])]
        hits = [self._utterance_hit(int(rows[i]), float(score[i]), s.qtokens) for i in order]
        # repeats are known where the pool held every row; past it, count every row
        ranked_all = len(rows) <= _pool_size(offset + limit)
        return hits, int(np.isfinite(score).sum()) if ranked_all else len(rows)

    def _visit_hits(
        self, s: _Scored, mode: Mode, limit: int, offset: int
    ) -> tuple[list[SearchHit], int]:
        """A page of visits (with the features a visit query leans to) and how many there are."""
        vrows = np.flatnonzero(s.vmask)
        score = s.vscore[self._vis.visit_code[vrows]]
        if mode == "hybrid":
            score = score + self._feature_boost(s.qvec, vrows)
        if mode == "bm25":
            keep = score > 0
            vrows, score = vrows[keep], score[keep]
        order = top(score, offset + limit)[offset:]
        hits = [
            self._visit_hit(int(vrows[i]), float(score[i]), s.ufused, s.umask, s.qtokens)
            for i in order
        ]
        return hits, len(vrows)

    def _mask(
        self, table: DocTable, f: SearchFilters, *, visit_level: bool
    ) -> npt.NDArray[np.bool_]:
        """Rows that pass the filters; visit docs skip utterance-only fields."""
        n = table.size
        mask = table.alive[:n].copy()
        names: tuple[str, ...] = ("rep", "customer", "industry", "segment", "language")
        if not visit_level:
            names = ("role", "sentiment", *names)
        for name in names:
            value = getattr(f, name)
            if value is not None:
                mask &= table.codes[name][:n] == table.code_maps[name].lookup(value)
        if not visit_level:
            for value in (f.label, f.risk):
                if value is not None:
                    mask &= (table.bits[:n] & (1 << self._bit_of[value])) != 0
        if f.date_from is not None:
            mask &= table.day[:n] >= f.date_from.toordinal()
        if f.date_to is not None:
            mask &= (table.day[:n] >= 0) & (table.day[:n] <= f.date_to.toordinal())
        if f.visit_ids is not None:
            allowed = np.zeros(len(self._visit_ids), dtype=bool)
            codes = [self._visit_codes[v] for v in f.visit_ids if v in self._visit_codes]
            allowed[codes] = True
            mask &= allowed[table.visit_code[:n]]
        return mask

    def _visits_with_utterances(
        self, umask: npt.NDArray[np.bool_], f: SearchFilters, known: set[str] | None
    ) -> npt.NDArray[np.bool_]:
        """Visit rows that have a matching utterance when an utterance-level filter is set."""
        n = self._vis.size
        if not f.on_utterances:
            return np.ones(n, dtype=bool)
        has = np.zeros(len(self._visit_ids), dtype=bool)
        if known is None:
            has[self._utt.visit_code[: self._utt.size][umask]] = True
        else:
            has[[self._visit_codes[v] for v in known if v in self._visit_codes]] = True
        return has[self._vis.visit_code[:n]]

    def _fused(
        self,
        table: DocTable,
        mask: npt.NDArray[np.bool_],
        qvec: FloatArray,
        qtokens: list[str],
        dense_weight: float,
        bm25_weight: float,
        affinity: FloatArray | None = None,
    ) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
        """dense cosine + w * BM25 / its ideal score + w * label affinity, per masked row; and
        which masked rows are close matches (a shared word, or a cosine of close_cosine)."""
        n = table.size
        out = np.zeros(n, dtype=np.float32)
        close = np.zeros(n, dtype=bool)
        if n == 0 or not mask.any():
            return out, close
        if dense_weight and table.scores(qvec):
            out += table.dense(qvec, mask)
            close |= out >= self.weights.close_cosine
            if self.weights.center_by_language:
                self._center_by_language(table, mask, out, qvec)
            out *= dense_weight
        elif dense_weight:
            raise ValueError(f"Query vector has {qvec.shape[0]} dimensions; index has {table.dim}.")
        if bm25_weight and qtokens:
            ideal = table.bm25.ideal_score(qtokens)
            if ideal > 0:
                keyword = table.bm25.scores(qtokens)[:n]
                close |= keyword > 0
                out += (bm25_weight / ideal) * keyword
        if affinity is not None and self.weights.label_weight:
            boost = np.zeros(n, dtype=np.float32)
            bits = table.bits[:n]
            for bit in np.flatnonzero(affinity > 0.02).tolist():
                has = (bits & (1 << bit)) != 0
                np.maximum(boost, np.where(has, affinity[bit], 0.0), out=boost)
            out += self.weights.label_weight * boost
        return out * mask, close & mask

    def _center_by_language(
        self, table: DocTable, mask: npt.NDArray[np.bool_], dense: FloatArray, qvec: FloatArray
    ) -> None:
        """Subtract the mean similarity of the query with the documents of each document's
        language in the whole corpus (filters aside): cross-lingual pairs score lower."""
        rows = np.flatnonzero(mask)
        languages = table.codes["language"][: table.size][rows]
        centroids = table.centroids()
        if len(centroids) < 2:
            return
        means = np.zeros(max(table.code_maps["language"].size(), 1), dtype=np.float32)
        for language, code in table.code_maps["language"].items():
            centroid = centroids.get(language)
            if centroid is not None and centroid.shape[0] == qvec.shape[0]:
                means[code] = float(centroid @ qvec)
        dense[rows] -= means[languages]

    def label_affinity(self, qvec: FloatArray) -> FloatArray | None:
        """Query affinity per label bit from its nearest label examples (None without examples)."""
        if self.label_examples is None:
            return None
        shares = guess_labels(self.label_examples, qvec, k=self.weights.label_neighbours)
        if not shares:
            return None
        out = np.zeros(64, dtype=np.float32)
        for label, share in shares.items():
            keys = {label}
            if self.weights.label_by_topic and label.startswith(("need.", "pain.")):
                topic = label.split(".", 1)[1]
                keys = {f"need.{topic}", f"pain.{topic}"}
            for key in keys & self._bit_of.keys():
                out[self._bit_of[key]] = max(out[self._bit_of[key]], share)
        return out

    def _feature_boost(self, qvec: FloatArray, vrows: npt.NDArray[np.int64]) -> FloatArray:
        """Lift for visits at the end of a feature a visit query leans to ("the rep only
        pitched": high rep talk, low questioning)."""
        out = np.zeros(len(vrows), dtype=np.float32)
        described = self.label_examples.visit_features if self.label_examples else None
        if described is None or described.vectors.shape[1] != qvec.shape[0]:
            return out
        for name, lean in described.preferences(qvec).items():
            value = VISIT_FEATURES[name]
            out += (
                described.weight
                * lean
                * np.array([value(self._vis.docs[r]) for r in vrows.tolist()], dtype=np.float32)
            )
        return out

    def _visit_scores(
        self,
        ufused: FloatArray,
        umask: npt.NDArray[np.bool_],
        vfused: FloatArray,
        vmask: npt.NDArray[np.bool_],
    ) -> FloatArray:
        """Score per visit code: visit doc score mixed with the best utterances' aggregate."""
        w = self.weights
        n_visits = len(self._visit_ids)
        rows = np.flatnonzero(umask)
        if len(rows) > w.candidates:
            rows = rows[np.argpartition(-ufused[rows], w.candidates)[: w.candidates]]
        rows = rows[np.argsort(-ufused[rows], kind="stable")]
        codes = self._utt.visit_code[rows]
        floor = float(ufused[rows].min()) if len(rows) else 0.0
        agg = np.full(n_visits, floor, dtype=np.float32)
        seen = np.zeros(n_visits, dtype=np.int32)
        for code, value in zip(codes.tolist(), ufused[rows].tolist(), strict=True):
            k = seen[code]
            if k == 0:
                agg[code] = value
            elif k < w.agg_top_k:
                agg[code] += w.agg_rest_weight * value
            seen[code] = k + 1
        vrows = np.flatnonzero(vmask)
        doc_score = np.full(n_visits, np.nan, dtype=np.float32)
        doc_score[self._vis.visit_code[vrows]] = vfused[vrows]
        mixed = w.visit_doc_share * doc_score + (1 - w.visit_doc_share) * agg
        return np.where(np.isnan(doc_score), agg, mixed).astype(np.float32)

    def _diversify(
        self, score: FloatArray, codes: npt.NDArray[np.int32], needed: int
    ) -> FloatArray:
        """Lower each hit by penalty * (better hits from its visit) so pages span visits."""
        penalty = self.weights.same_visit_penalty
        if penalty <= 0 or len(score) == 0:
            return score
        pool = top(score, _pool_size(needed))
        seen: dict[int, int] = {}
        out = np.full(len(score), -np.inf, dtype=np.float32)
        for i, code in zip(pool.tolist(), codes[pool].tolist(), strict=True):
            k = seen.get(code, 0)
            out[i] = score[i] - penalty * k
            seen[code] = k + 1
        return out

    def _collapse_repeats(
        self, score: FloatArray, rows: npt.NDArray[np.int64], needed: int
    ) -> FloatArray:
        """The same words said again (another visit, another upload) show once: the best."""
        pool = top(score, _pool_size(needed))
        seen: set[str] = set()
        out = np.full(len(score), -np.inf, dtype=np.float32)
        for i in pool.tolist():
            if not np.isfinite(score[i]):
                continue
            key = _REPEAT_KEY.sub("", self._utt.docs[int(rows[i])].text.lower())
            if key not in seen:
                seen.add(key)
                out[i] = score[i]
        return out

    def _vis_row_by_code(self) -> npt.NDArray[np.int64]:
        """Visit-table row of each visit code, -1 where the visit has no live document."""
        out = np.full(len(self._visit_ids), -1, dtype=np.int64)
        rows = np.flatnonzero(self._vis.alive[: self._vis.size])
        out[self._vis.visit_code[rows]] = rows
        return out

    def _utterance_hit(self, row: int, score: float, qtokens: list[str]) -> SearchHit:
        doc: UtteranceDoc = self._utt.docs[row]
        terms, spans = highlight(doc.text, qtokens)
        return SearchHit(doc.visit_id, score, doc, doc, terms, spans)

    def _visit_hit(
        self,
        vrow: int,
        score: float,
        ufused: FloatArray,
        umask: npt.NDArray[np.bool_],
        qtokens: list[str],
    ) -> SearchHit:
        doc: VisitDoc = self._vis.docs[vrow]
        code = self._vis.visit_code[vrow]
        rows = np.flatnonzero(umask & (self._utt.visit_code[: self._utt.size] == code))
        quote: UtteranceDoc | None = None
        if len(rows):
            quote = self._utt.docs[int(rows[np.argmax(ufused[rows])])]
        terms, spans = highlight(quote.text if quote else doc.text, qtokens)
        return SearchHit(doc.visit_id, score, doc, quote, terms, spans)

    def _visit_code(self, visit_id: str) -> int:
        code = self._visit_codes.get(visit_id)
        if code is None:
            code = len(self._visit_ids)
            self._visit_codes[visit_id] = code
            self._visit_ids.append(visit_id)
        return code


_REPEAT_KEY = re.compile(r"[\W_]+")


def _pool_size(needed: int) -> int:
    """Hits re-ranked for a page (diversity, repeats): a few pages' worth."""
    return max(4 * needed, 200)


def _normalise(vectors: FloatArray) -> FloatArray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    out: FloatArray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return out
