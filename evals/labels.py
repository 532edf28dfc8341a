"""Figures of the text analysis on a folder laid out like the evaluation corpus.

  .venv/bin/python -m evals.labels [--corpus /work/shared/corpus] [--prompts prompts]
        [--retrain] [--per-label] [--corrections prompts/heldout/corrections_features.jsonl]
        [--action-errors]
Prints one JSON object: labels, sentiment, risk, actions and, with --corrections, their effect;
with --action-errors, only the action-item misses and extra items of each visit, with their turns.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from nlp.actions import ActionItem, ActPredictor, text_overlap
from nlp.classify import Classifier, TextAnalysis


@dataclass(frozen=True)
class GoldUtterance:
    id: str
    language: str
    text: str
    labels: frozenset[str]
    sentiment: str | None
    risk: frozenset[str]
    previous: str | None


def load_gold_utterances(corpus_dir: Path) -> list[GoldUtterance]:
    """utterances.json plus customer turns of visits/*.json, read as the reference scorer does."""
    out: list[GoldUtterance] = []
    path = corpus_dir / "utterances.json"
    if path.exists():
        for u in json.loads(path.read_text(encoding="utf-8")):
            out.append(
                GoldUtterance(
                    str(u["id"]),
                    str(u["language"]),
                    str(u["text"]),
                    frozenset(u.get("labels", [])),
                    u.get("sentiment"),
                    frozenset(u.get("risk", [])),
                    None,
                )
            )
    for vf in sorted((corpus_dir / "visits").glob("*.json")):
        v = json.loads(vf.read_text(encoding="utf-8"))
        prev: str | None = None
        for i, t in enumerate(v["turns"]):
            if t["speaker"] == "customer" and "labels" in t:
                out.append(
                    GoldUtterance(
                        f"{v['id']}#{i}",
                        str(v["language"]),
                        str(t["text"]),
                        frozenset(t["labels"]),
                        t.get("sentiment"),
                        frozenset(t.get("risk", [])),
                        prev,
                    )
                )
            prev = str(t["text"])
    return out


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score_labels(gold: Sequence[GoldUtterance], preds: Sequence[TextAnalysis]) -> dict[str, Any]:
    """Per-label P/R/F1, macro/micro-F1, sentiment accuracy, risk P/R (like score.py labels)."""
    per: dict[str, list[int]] = {}
    sent_ok = risk_tp = risk_fp = risk_fn = 0
    for g, p in zip(gold, preds, strict=True):
        got = {s.id for s in p.labels}
        for label in g.labels | got:
            c = per.setdefault(label, [0, 0, 0])
            c[0] += label in g.labels and label in got
            c[1] += label in got and label not in g.labels
            c[2] += label in g.labels and label not in got
        sent_ok += p.sentiment == g.sentiment
        pr = {s.id for s in p.risk}
        risk_tp += len(g.risk & pr)
        risk_fp += len(pr - g.risk)
        risk_fn += len(g.risk - pr)
    table = {k: [round(x, 3) for x in prf(*c)] for k, c in sorted(per.items())}
    sums = [sum(c[i] for c in per.values()) for i in range(3)]
    rp, rr, _ = prf(risk_tp, risk_fp, risk_fn)
    return {
        "n": len(gold),
        "per_label_prf": table,
        "macro_f1": round(sum(v[2] for v in table.values()) / max(len(table), 1), 3),
        "micro_f1": round(prf(sums[0], sums[1], sums[2])[2], 3),
        "sentiment_acc": round(sent_ok / max(len(gold), 1), 3),
        "risk_p": round(rp, 3),
        "risk_r": round(rr, 3),
    }


def evaluate_labels(
    corpus_dir: Path, classifier: Classifier, *, use_context: bool = False
) -> dict[str, Any]:
    """Label, sentiment and risk figures over the corpus, plus time per utterance (ms)."""
    gold = load_gold_utterances(corpus_dir)
    t0 = time.perf_counter()
    preds: list[TextAnalysis] = [TextAnalysis() for _ in gold]
    for lang in ("zh", "en"):
        idx = [i for i, g in enumerate(gold) if g.language == lang]
        got = classifier.analyze(
            [gold[i].text for i in idx],
            language=lang,
            previous=[gold[i].previous for i in idx] if use_context else None,
        )
        for i, p in zip(idx, got, strict=True):
            preds[i] = p
    seconds = time.perf_counter() - t0
    figures = score_labels(gold, preds)
    figures["ms_per_utterance"] = round(1000 * seconds / max(len(gold), 1), 2)
    return figures


def _visit_actions(
    corpus_dir: Path, acts: ActPredictor
) -> Iterator[tuple[dict[str, Any], list[ActionItem]]]:
    """Each visit of corpus_dir/visits with the action items extracted from its turns."""
    from nlp.actions import extract_actions

    for vf in sorted((corpus_dir / "visits").glob("*.json")):
        v = json.loads(vf.read_text(encoding="utf-8"))
        # the turn index as start_s, so that each item names the turn it came from
        turns = [(t["speaker"], t["text"], float(i)) for i, t in enumerate(v["turns"])]
        yield v, extract_actions(turns, date.fromisoformat(v["date"]), acts)


def evaluate_actions(corpus_dir: Path, acts: ActPredictor) -> dict[str, Any]:
    """Action-item recall and precision against visits' "actions" (owner + due date + text)."""
    found = total = extracted = 0
    rows = []
    for v, got in _visit_actions(corpus_dir, acts):
        gold = v.get("actions", [])
        hits = match_actions(gold, got)
        found += hits
        total += len(gold)
        extracted += len(got)
        rows.append({"id": v["id"], "gold": len(gold), "found": hits, "extracted": len(got)})
    return {
        "visits": rows,
        "recall": round(found / total, 3) if total else 0.0,
        "precision": round(found / extracted, 3) if extracted else 0.0,
        "gold": total,
        "extracted": extracted,
    }


def _best_match(g: Mapping[str, Any], got: Sequence[ActionItem], min_overlap: float) -> int | None:
    """Index of the extracted item that matches gold action g best, or None."""
    due = date.fromisoformat(g["due"]) if g.get("due") else None
    best, best_score = None, min_overlap
    for i, item in enumerate(got):
        if item.owner != g["owner"] or item.due != due:
            continue
        score = max(text_overlap(g["text"], item.text), text_overlap(g["text"], item.quote))
        if score >= best_score:
            best, best_score = i, score
    return best


def match_actions(
    gold: Sequence[Mapping[str, Any]], got: Sequence[ActionItem], min_overlap: float = 0.2
) -> int:
    """Gold actions ({owner, text, due}) that some extracted item matches in owner, due, text."""
    # one extracted item may match two gold actions: one sentence may promise two things
    return sum(_best_match(g, got, min_overlap) is not None for g in gold)


def action_errors(corpus_dir: Path, acts: ActPredictor) -> list[dict[str, Any]]:
    """Per visit, the gold actions no item matches and the items that match no gold action,
    each with the turn it came from (for reading error classes on a folder you may read)."""
    out = []
    for v, got in _visit_actions(corpus_dir, acts):
        gold = v.get("actions", [])
        best = [_best_match(g, got, 0.2) for g in gold]
        misses = [g for g, k in zip(gold, best, strict=True) if k is None]
        extra = [
            {
                "owner": item.owner,
                "text": item.text,
                "due": item.due.isoformat() if item.due else None,
                "turn": int(item.start) if item.start is not None else None,
                "quote": item.quote,
            }
            for i, item in enumerate(got)
            if i not in best
        ]
        if misses or extra:
            out.append({"id": v["id"], "date": v["date"], "misses": misses, "extra": extra})
    return out


def load_corrections(path: Path) -> list[tuple[str, list[str]]]:
    """(text, label ids) pairs from a jsonl file of {"text", "labels"} rows."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [(str(r["text"]), [str(x) for x in r["labels"]]) for r in rows]


def evaluate_corrections(
    corpus_dir: Path,
    classifier: Classifier,
    corrections: Sequence[tuple[str, list[str]]],
    label_id: str,
) -> dict[str, Any]:
    """F1 of one label and macro-F1 before and after corrections are added (nearest neighbours)."""
    before = evaluate_labels(corpus_dir, classifier)
    corrected = Classifier(
        classifier.labels, classifier.rules, classifier.embedders, classifier.weights
    )
    corrected.add_corrections(corrections)
    after = evaluate_labels(corpus_dir, corrected)

    def pick(fig: dict[str, Any]) -> dict[str, Any]:
        return {
            "label_prf": fig["per_label_prf"].get(label_id),
            "macro_f1": fig["macro_f1"],
            "micro_f1": fig["micro_f1"],
        }

    return {
        "label": label_id,
        "n_corrections": len(corrections),
        "before": pick(before),
        "after": pick(after),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    ap.add_argument("--prompts", type=Path, default=Path("prompts"))
    ap.add_argument("--retrain", action="store_true", help="rebuild the weights first")
    ap.add_argument("--per-label", action="store_true", help="include the per-label table")
    ap.add_argument("--corrections", type=Path, default=None)
    ap.add_argument("--correction-label", default="need.features")
    ap.add_argument(
        "--action-errors",
        action="store_true",
        help="only list action-item misses and extra items with their turns",
    )
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from nlp.classify import load_classifier, train_classifier
    from nlp.commitments import load_act_classifier

    prompts = args.prompts.resolve()
    if args.action_errors:
        errors = action_errors(args.corpus, load_act_classifier(prompts))
        print(json.dumps(errors, ensure_ascii=False, indent=1))
        return 0
    if args.retrain:
        train_classifier(prompts)
    clf = load_classifier(prompts)
    labels = evaluate_labels(args.corpus, clf)
    table = labels.pop("per_label_prf")
    worst = sorted(table.items(), key=lambda kv: kv[1][2])[:5]
    out: dict[str, object] = {"labels": labels, "worst": dict(worst)}
    if args.per_label:
        out["per_label_prf"] = table
    actions = evaluate_actions(args.corpus, load_act_classifier(prompts))
    actions.pop("visits")
    out["actions"] = actions
    if args.corrections:
        out["corrections"] = evaluate_corrections(
            args.corpus, clf, load_corrections(args.corrections), args.correction_label
        )
    print(json.dumps(out, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
