"""Figures of the text analysis on a corpus folder: labels, sentiment, risk, actions, corrections.

  .venv/bin/python scripts/eval_labels.py [--corpus /work/shared/corpus] [--prompts prompts]
        [--retrain] [--per-label] [--corrections prompts/heldout/corrections_features.jsonl]
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=Path("/work/shared/corpus"))
    ap.add_argument("--prompts", type=Path, default=Path("prompts"))
    ap.add_argument("--retrain", action="store_true", help="rebuild the weights first")
    ap.add_argument("--per-label", action="store_true", help="include the per-label table")
    ap.add_argument("--corrections", type=Path, default=None)
    ap.add_argument("--correction-label", default="need.features")
    args = ap.parse_args()

    from nlp.classify import load_classifier, train_classifier
    from nlp.commitments import load_act_classifier
    from nlp.labeleval import (
        evaluate_actions,
        evaluate_corrections,
        evaluate_labels,
        load_corrections,
    )

    prompts = args.prompts.resolve()
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
