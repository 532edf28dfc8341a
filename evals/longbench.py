"""`visitlens bench --minutes`: long recordings made by joining the corpus files, visitlens
against plain faster-whisper on the same file and model: time, peak memory and error.

Each run is a fresh process (`python -m evals.longbench PATH MODE`), so peak RSS is its own.
"visitlens" runs the worker's two audio steps, transcription and speakers, as the worker does;
"plain" runs faster-whisper's defaults on the whole file; "e2e" uploads it to a running server.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from api.client import Client
from evals.bench import error_of, fresh_upload
from nlp.audio import SAMPLE_RATE, decode_chunks


@dataclass(frozen=True)
class Part:
    """One corpus recording inside the joined one: where it lies, and what was said in it."""

    start: float
    end: float
    language: str
    text: str


def _part(path: Path, start_s: float, end_s: float) -> Part:
    """A corpus recording placed at start_s, cut at end_s: the turns that fit."""
    truth = json.loads(Path(f"{path}.truth.json").read_text(encoding="utf-8"))
    kept = [t["text"] for t in truth["turns"] if start_s + t["end"] <= end_s]
    return Part(start_s, end_s, truth["language"], " ".join(kept))


def join_recordings(corpus: Path, minutes: float, out: Path) -> tuple[Path, list[Part]]:
    """A WAV of `minutes` made by repeating the corpus recordings in name order (so the language
    changes several times), and the parts it holds (also written beside it as JSON)."""
    parts_file = out.with_suffix(".parts.json")
    if out.exists() and parts_file.exists():
        rows = json.loads(parts_file.read_text(encoding="utf-8"))
        return out, [Part(**r) for r in rows]
    files = [f for f in sorted((corpus / "audio").glob("*.mp3")) if f.name.count(".") == 1]
    target = int(minutes * 60 * SAMPLE_RATE)
    written = 0
    parts: list[Part] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(out), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        while written < target:
            for f in files:
                start = written
                for _, samples in decode_chunks(f):
                    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)[: target - written]
                    w.writeframes(pcm.tobytes())
                    written += len(pcm)
                parts.append(_part(f, start / SAMPLE_RATE, written / SAMPLE_RATE))
                if written >= target:
                    break
    parts_file.write_text(json.dumps([asdict(p) for p in parts]), encoding="utf-8")
    return out, parts


def errors(parts: list[Part], segments: list[dict[str, Any]]) -> dict[str, float]:
    """Error per language (CER zh, WER en), each segment judged against the part it lies in."""
    edits: dict[str, list[int]] = {}
    for p in parts:
        said = [s["text"] for s in segments if p.start <= (s["start"] + s["end"]) / 2 < p.end]
        e, n = error_of(p.language, p.text, " ".join(said))
        total = edits.setdefault(p.language, [0, 0])
        total[0], total[1] = total[0] + e, total[1] + n
    return {lang: round(e / max(n, 1), 4) for lang, (e, n) in sorted(edits.items())}


def _run(path: Path, mode: str) -> dict[str, Any]:
    """One mode on one file in this process: seconds per step, peak RSS, the segments."""
    from knowledge.settings import Settings
    from nlp import asr
    from workers.transcribe import whisper

    model = whisper(Settings())
    started = time.monotonic()
    transcript = (asr.transcribe_plain if mode == "plain" else asr.transcribe)(model, path)
    steps = {"transcribe": time.monotonic() - started}
    if mode != "plain":
        from nlp.diarize import diarize_chunks
        from nlp.voiceprint import load_encoder

        encoder = load_encoder()
        begun = time.monotonic()
        diarize_chunks(encoder, decode_chunks(path), transcript.segments)
        steps["speakers"] = time.monotonic() - begun
    return {
        "seconds": sum(steps.values()),
        "steps_s": {k: round(v, 1) for k, v in steps.items()},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "segments": [{"start": s.start, "end": s.end, "text": s.text} for s in transcript.segments],
    }


def _through_service(client: Client, path: Path) -> dict[str, Any]:
    """Upload to a running server and wait for `done`: the steps' own seconds, the transcript."""
    visit, seconds = fresh_upload(client, path, {"title": path.stem, "language": "auto"})
    if visit["status"] != "done":
        raise RuntimeError(f"{path.name} ended {visit['status']}: {visit.get('error')}")
    transcript = client.call("GET", f"/api/visits/{visit['id']}/transcript")
    steps = {k: round(float(v), 1) for k, v in visit["timings"].items()}
    return {"seconds": seconds, "steps_s": steps, "segments": transcript["segments"]}


def _in_process(path: Path, mode: str) -> dict[str, Any]:
    res = subprocess.run(
        [sys.executable, "-m", "evals.longbench", str(path), mode],
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return data


def bench_long(
    corpus: Path,
    minutes: list[float],
    work_dir: Path,
    modes: tuple[str, ...],
    client: Client,
) -> list[dict[str, Any]]:
    """Per length and mode, one after the other: seconds (per step), real-time factor, peak RSS,
    error per language, and the time over plain's. "e2e" is upload to `done` through the
    server that client talks to (every step, the broker included)."""
    rows: list[dict[str, Any]] = []
    for m in minutes:
        path, parts = join_recordings(corpus, m, work_dir / f"joined-{m:g}min.wav")
        runs: dict[str, dict[str, Any]] = {}
        for mode in modes:
            data = _through_service(client, path) if mode == "e2e" else _in_process(path, mode)
            # kept beside the recording, to look into where a figure comes from
            kept = path.with_name(f"{path.stem}.{mode}.segments.json")
            kept.write_text(json.dumps(data["segments"], ensure_ascii=False), encoding="utf-8")
            seconds = data["seconds"]
            runs[mode] = {
                "minutes": m,
                "mode": mode,
                "steps_s": data["steps_s"],
                "seconds": round(seconds, 1),
                "rtf": round(seconds / (m * 60), 3),
                "peak_rss_mb": data.get("peak_rss_mb"),
                "error": errors(parts, data["segments"]),
            }
        for mode, run in runs.items():
            if "plain" in runs and mode != "plain":
                run["over_plain"] = round(run["seconds"] / runs["plain"]["seconds"], 3)
        rows += runs.values()
    return rows


if __name__ == "__main__":
    print(json.dumps(_run(Path(sys.argv[1]), sys.argv[2])))
