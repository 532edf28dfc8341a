"""Training examples from independent writers: checks, de-duplication and the files they go to.

  python -m evals.examples STAGING_DIR --corpus ../shared/corpus --blind evals/blind \
      [--commitments] [--write]

Each writer's folder holds JSON Lines of {"text", "language", "labels", "sentiment", "risk",
"industry"}. Examples are kept when valid, not a near copy of another one, and sharing no run of
8 characters (Chinese) or 6 words (English) with the evaluation sets (corpus or blind)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from nlp.actions import ACTS
from nlp.labels import SENTIMENTS, load_labels

_WORD = re.compile(r"[a-z0-9']+")
_HAN = re.compile(r"[\u3400-\u9fff]")
_ZH_RUN = 8
_EN_RUN = 6


def shingles(text: str) -> set[str]:
    """Runs of 8 Chinese characters and of 6 English words, normalised."""
    low = text.lower()
    han = "".join(_HAN.findall(low))
    out = {han[i : i + _ZH_RUN] for i in range(len(han) - _ZH_RUN + 1)}
    words = _WORD.findall(low)
    out |= {" ".join(words[i : i + _EN_RUN]) for i in range(len(words) - _EN_RUN + 1)}
    return out


def evaluation_texts(folder: Path) -> Iterator[str]:
    """Every sentence of a corpus-like folder: utterances, visit turns, queries."""
    path = folder / "utterances.json"
    if path.exists():
        yield from (str(u["text"]) for u in json.loads(path.read_text(encoding="utf-8")))
    for vf in sorted((folder / "visits").glob("*.json")):
        visit = json.loads(vf.read_text(encoding="utf-8"))
        yield from (str(t["text"]) for t in visit["turns"])
    path = folder / "queries.json"
    if path.exists():
        yield from (str(q["query"]) for q in json.loads(path.read_text(encoding="utf-8")))


def _natural(name: str) -> list[tuple[int, int | str]]:
    """Sort key reading runs of digits as numbers (w2 before w10)."""
    return [(0, int(x)) if x.isdigit() else (1, x) for x in re.findall(r"\d+|\D+", name)]


def _key(text: str) -> str:
    return re.sub(r"[\W_]+", "", text.lower())


def _label_row(row: dict[str, Any], valid: set[str], risks: set[str]) -> dict[str, object] | None:
    ok = (
        row["language"] in ("zh", "en")
        and set(row["labels"]) <= valid
        and set(row["risk"]) <= risks
        and row["sentiment"] in SENTIMENTS
    )
    if not ok:
        return None
    return {
        "text": str(row["text"]).strip(),
        "language": row["language"],
        "labels": sorted(set(row["labels"])),
        "sentiment": row["sentiment"],
        "risk": sorted(set(row["risk"])),
        "industry": str(row.get("industry", "")),
    }


def _act_row(row: dict[str, Any]) -> dict[str, object] | None:
    ok = (
        row["language"] in ("zh", "en")
        and row["speaker"] in ("rep", "customer")
        and row["act"] in ACTS
    )
    if not ok:
        return None
    return {
        "text": str(row["text"]).strip(),
        "language": row["language"],
        "speaker": row["speaker"],
        "act": row["act"],
        "kind": str(row.get("kind", "")),
    }


def collect(
    staging: Path, labels_dir: Path, banned: set[str], commitments: bool = False
) -> tuple[list[dict[str, object]], Counter[str]]:
    """Valid, distinct examples of every writer folder that share no run with `banned`."""
    labels = load_labels(labels_dir)
    valid = set(labels.need_pain_ids)
    risks = set(labels.risk_ids)
    seen: set[str] = set()
    dropped: Counter[str] = Counter()
    kept: list[dict[str, object]] = []
    folders = sorted((p for p in staging.iterdir() if p.is_dir()), key=lambda p: _natural(p.name))
    for folder in folders:  # w2 before w10: an earlier writer keeps a text both wrote
        for path in sorted(folder.glob("*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                text = ""
                try:
                    row = json.loads(line)
                    text = str(row["text"]).strip()
                    kept_row = _act_row(row) if commitments else _label_row(row, valid, risks)
                except (ValueError, KeyError, TypeError):
                    kept_row = None
                if not text or kept_row is None:
                    dropped["invalid"] += bool(line.strip())
                    continue
                if _key(text) in seen:
                    dropped["duplicate"] += 1
                    continue
                if shingles(text) & banned:
                    dropped["overlaps an evaluation set"] += 1
                    continue
                seen.add(_key(text))
                kept.append({**kept_row, "writer": folder.name})
    return kept, dropped


def file_name(row: dict[str, object]) -> str:
    """<topic>.<language>.jsonl after the example's first label (general for none), or
    <act>.<language>.jsonl for a commitment example."""
    if "act" in row:
        return f"{row['act']}.{row['language']}.jsonl"
    labels = list(row["labels"])  # type: ignore[call-overload]  # a list of ids
    topic = str(labels[0]).split(".", 1)[1] if labels else "general"
    return f"{topic}.{row['language']}.jsonl"


def write(rows: Iterable[dict[str, object]], out_dir: Path) -> dict[str, int]:
    files: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        files[file_name(row)].append(json.dumps(row, ensure_ascii=False))
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.jsonl"):
        old.unlink()
    for name, lines in sorted(files.items()):
        (out_dir / name).write_text("\n".join(sorted(lines)) + "\n", encoding="utf-8")
    return {name: len(lines) for name, lines in sorted(files.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("staging", type=Path)
    ap.add_argument("--corpus", type=Path, action="append", default=[], required=True)
    ap.add_argument("--blind", type=Path, action="append", default=[])
    ap.add_argument("--prompts", type=Path, default=Path("prompts"))
    ap.add_argument("--commitments", action="store_true", help="commitment sentences")
    ap.add_argument("--write", action="store_true", help="replace prompts/examples with them")
    args = ap.parse_args(argv)
    banned: set[str] = set()
    for folder in [*args.corpus, *args.blind]:
        for text in evaluation_texts(folder):
            banned |= shingles(text)
    kept, dropped = collect(args.staging, args.prompts, banned, args.commitments)
    out_dir = args.prompts / ("commitments" if args.commitments else "examples")
    if args.commitments:
        report: dict[str, object] = {
            "kept": len(kept),
            "dropped": dict(dropped),
            "by": dict(Counter(f"{r['language']} {r['speaker']} {r['act']}" for r in kept)),
        }
        if args.write:
            report["files"] = write(kept, out_dir)
        json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
        return 0
    report = {
        "kept": len(kept),
        "dropped": dict(dropped),
        "by_writer": dict(Counter(str(r["writer"]) for r in kept)),
        "by_language": dict(Counter(str(r["language"]) for r in kept)),
        "by_label": dict(sorted(Counter(lb for r in kept for lb in r["labels"]).items())),  # type: ignore[attr-defined]
        "by_risk": dict(Counter(lb for r in kept for lb in r["risk"])),  # type: ignore[attr-defined]
        "by_sentiment": dict(Counter(str(r["sentiment"]) for r in kept)),
        "industries": len({r["industry"] for r in kept}),
    }
    if args.write:
        report["files"] = write(kept, out_dir)
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
