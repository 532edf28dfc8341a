"""python -m evals.speakers DIR [--asr]: role accuracy per recording and per voice count, JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evals.speakers.measure import measure
from knowledge.logs import configure_logging
from nlp.voiceprint import load_encoder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("folder", type=Path, help="rendered recordings (evals/speakers/render.py)")
    ap.add_argument(
        "--asr", action="store_true", help="segments from the product's ASR, not the truth turns"
    )
    args = ap.parse_args()
    configure_logging()  # logs to stderr: stdout is the JSON
    figures = measure(args.folder, load_encoder("cpu"), source="asr" if args.asr else "truth")
    json.dump(figures, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
