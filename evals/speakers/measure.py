"""Role accuracy of the product's diarize + assign_roles on the rendered speaker recordings."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from faster_whisper import decode_audio
from resemblyzer import VoiceEncoder

from evals.roles import role_accuracy
from nlp.diarize import diarize
from nlp.roles import assign_roles
from nlp.types import Segment, Word
from nlp.voiceprint import voiceprint

RATE = 16_000
ENROLMENT = {"en": "en_rep_voice", "zh": "zh_rep_voice"}


def truth_segments(turns: list[dict[str, Any]]) -> list[Segment]:
    """One segment per truth turn, its words evenly spaced (a stand-in for ASR word times)."""
    out = []
    for turn in turns:
        text = turn["text"]
        tokens = text.split() if " " in text else list(text)
        step = (turn["end"] - turn["start"]) / len(tokens)
        words = [
            Word(
                turn["start"] + i * step,
                turn["start"] + (i + 1) * step,
                f" {t}" if " " in text else t,
            )
            for i, t in enumerate(tokens)
        ]
        out.append(Segment(turn["start"], turn["end"], text, words=words))
    return out


def asr_segments(audio: Path, language: str) -> list[Segment]:
    """The product's ASR segments (nlp/asr.py, whisper base), cached beside the audio."""
    cache = Path(f"{audio}.asr.json")
    if cache.exists():
        raw = json.loads(cache.read_text(encoding="utf-8"))
        return [
            Segment(s["start"], s["end"], s["text"], s["language"], [Word(**w) for w in s["words"]])
            for s in raw
        ]
    from nlp.asr import transcribe  # noqa: PLC0415 (loads CTranslate2 only when asked)
    from nlp.whisper_model import load_whisper  # noqa: PLC0415

    segments = transcribe(
        load_whisper("models/whisper-base", "cpu"), audio, language=language
    ).segments
    cache.write_text(
        json.dumps(
            [
                {
                    "start": s.start,
                    "end": s.end,
                    "text": s.text,
                    "language": s.language,
                    "words": [vars(w) for w in s.words],
                }
                for s in segments
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return segments


def measure_one(
    encoder: VoiceEncoder,
    samples: np.ndarray,
    truth: dict[str, Any],
    segments: list[Segment],
    rep_print: np.ndarray | None = None,
) -> dict[str, Any]:
    """Speakers found and role accuracy of one recording, as workers/diarize.py labels it."""
    result = diarize(encoder, samples, segments)
    roles = assign_roles(
        result.segments,
        result.speaker_embeddings,
        rep_voiceprint=rep_print,
        language=truth["language"],
    )
    labelled = [replace(s, role=roles.roles.get(s.speaker or "")) for s in result.segments]
    # the best any labelling of the diarized segments can score: truth speech time they cover
    perfect = [
        replace(s, role=role)
        for s in result.segments
        for role in {
            t["speaker"] for t in truth["turns"] if min(s.end, t["end"]) > max(s.start, t["start"])
        }
    ]
    return {
        "voices": len({t["voice"] for t in truth["turns"]}),
        "speakers_found": result.num_speakers,
        "role_accuracy": round(role_accuracy(truth["turns"], labelled), 3),
        "ceiling": round(role_accuracy(truth["turns"], perfect), 3),
        "method": roles.method,
    }


def measure(folder: Path, encoder: VoiceEncoder, *, source: str = "truth") -> dict[str, Any]:
    """Per recording and per voice count (2, 3, 4): role accuracy inferred and with enrolment."""
    recordings: dict[str, Any] = {}
    prints: dict[str, np.ndarray] = {}
    for lang, name in ENROLMENT.items():
        path = folder / f"{name}.mp3"
        if path.exists():
            prints[lang] = voiceprint(encoder, decode_audio(str(path), sampling_rate=RATE))
    for path in sorted(folder.glob("*.mp3")):
        if path.stem in ENROLMENT.values():
            continue
        truth = json.loads(Path(f"{path}.truth.json").read_text(encoding="utf-8"))
        samples = decode_audio(str(path), sampling_rate=RATE)
        lang = truth["language"]
        segments = truth_segments(truth["turns"]) if source == "truth" else asr_segments(path, lang)
        row = measure_one(encoder, samples, truth, segments)
        if lang in prints:
            enrolled = measure_one(encoder, samples, truth, segments, prints[lang])
            row["role_accuracy_enrolled"] = enrolled["role_accuracy"]
        recordings[path.stem] = row
    by_voices: dict[str, Any] = {}
    for n in sorted({r["voices"] for r in recordings.values()}):
        rows = [r for r in recordings.values() if r["voices"] == n]
        group = {
            "recordings": len(rows),
            "role_accuracy": round(float(np.mean([r["role_accuracy"] for r in rows])), 3),
            "min_role_accuracy": round(min(r["role_accuracy"] for r in rows), 3),
            "speaker_count_right": sum(r["speakers_found"] == n for r in rows),
            "ceiling": round(float(np.mean([r["ceiling"] for r in rows])), 3),
        }
        with_print = [r["role_accuracy_enrolled"] for r in rows if "role_accuracy_enrolled" in r]
        if with_print:
            group["role_accuracy_enrolled"] = round(float(np.mean(with_print)), 3)
        by_voices[str(n)] = group
    return {"segments": source, "by_voices": by_voices, "recordings": recordings}
