"""`visitlens bench`: speed, memory and accuracy against plain faster-whisper in one run."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.client import Client
from evals.errorrate import cer_zh, wer_en
from evals.numbers import read_numbers
from evals.product import _visits, audio_of, upload_fields
from knowledge.settings import Settings


def error_of(lang: str, ref: str, hyp: str) -> tuple[int, int]:
    ref, hyp = read_numbers(lang, ref, ref), read_numbers(lang, hyp, ref)  # as score.py does
    return cer_zh(ref, hyp) if lang == "zh" else wer_en(ref, hyp)


def fresh_upload(
    client: Client, path: Path, fields: dict[str, str]
) -> tuple[dict[str, Any], float]:
    """Upload as new (deleting an earlier copy of the same file) and time it until done."""
    visit = client.upload(path, **fields)
    if visit["status"] != "queued":
        client.call("DELETE", f"/api/visits/{visit['id']}")
    started = time.monotonic()
    if visit["status"] != "queued":
        visit = client.upload(path, **fields)
    done = client.wait(visit["id"])
    return done, time.monotonic() - started


@dataclass(frozen=True)
class PlainRun:
    """One corpus recording transcribed by plain faster-whisper in this process."""

    variant: str
    meta: dict[str, Any]
    path: Path
    ref: str
    duration_s: float
    plain_edits: int
    plain_s: float


def _plain_runs(
    settings: Settings, corpus: Path, variants: list[str], limit: int | None
) -> Iterator[PlainRun]:
    from nlp.asr import transcribe_plain
    from workers.transcribe import whisper

    model = whisper(settings)
    for variant in variants:
        for meta in list(_visits(corpus))[:limit]:
            path = audio_of(corpus, meta["id"], variant)
            if not path.exists():
                continue
            truth = json.loads(Path(f"{path}.truth.json").read_text(encoding="utf-8"))
            ref = " ".join(t["text"] for t in truth["turns"])
            started = time.monotonic()
            plain = transcribe_plain(model, path)
            plain_s = time.monotonic() - started
            edits = error_of(meta["language"], ref, " ".join(s.text for s in plain.segments))[0]
            yield PlainRun(variant, meta, path, ref, truth["duration"], edits, plain_s)


def _row(run: PlainRun, name: str, edits: tuple[int, int], seconds: float) -> dict[str, Any]:
    return {
        "id": run.meta["id"],
        "variant": run.variant,
        "lang": run.meta["language"],
        "duration_s": run.duration_s,
        "plain_edits": run.plain_edits,
        f"{name}_edits": edits[0],
        "ref_len": edits[1],
        "plain_s": round(run.plain_s, 2),
        f"{name}_s": round(seconds, 2),
    }


def bench_asr(
    client: Client, settings: Settings, corpus: Path, variants: list[str], limit: int | None = None
) -> dict[str, Any]:
    """Per file: plain faster-whisper (in this process) against visitlens end to end (server)."""
    rows: list[dict[str, Any]] = []
    for run in _plain_runs(settings, corpus, variants, limit):
        visit, e2e_s = fresh_upload(client, run.path, upload_fields(run.meta))
        if visit["status"] != "done":
            rows.append({"id": run.meta["id"], "variant": run.variant, "error": visit["error"]})
            continue
        segs = client.call("GET", f"/api/visits/{visit['id']}/transcript")["segments"]
        ours = error_of(run.meta["language"], run.ref, " ".join(s["text"] for s in segs))
        rows.append(
            _row(run, "e2e", ours, e2e_s)
            | {"transcribe_s": visit["timings"].get("transcribe"), "steps_s": visit["timings"]}
        )
    return {"rows": rows, "summary": summarise_asr(rows)}


def bench_openai(
    client: Client, settings: Settings, corpus: Path, variants: list[str], limit: int | None = None
) -> dict[str, Any]:
    """Per file: plain faster-whisper (in this process) against POST /v1/audio/transcriptions
    (the server's workers, the same model; the caller waits), timed back to back."""
    rows: list[dict[str, Any]] = []
    for run in _plain_runs(settings, corpus, variants, limit):
        started = time.monotonic()
        with run.path.open("rb") as f:
            answer = client.call(
                "POST",
                "/v1/audio/transcriptions",
                files={"file": (run.path.name, f)},
                data={"model": "whisper-1", "response_format": "verbose_json"},
            )
        v1_s = time.monotonic() - started
        rows.append(_row(run, "v1", error_of(run.meta["language"], run.ref, answer["text"]), v1_s))
    return {"rows": rows, "summary": summarise_openai(rows)}


def summarise_openai(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _summarise(rows, edits="v1_edits", seconds="v1_s", name="v1")


def summarise_asr(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return _summarise(rows, edits="e2e_edits", seconds="e2e_s", name="e2e")


def _summarise(
    rows: list[dict[str, Any]], *, edits: str, seconds: str, name: str
) -> dict[str, Any]:
    """Per variant and language: error rates and time against plain faster-whisper."""
    out: dict[str, Any] = {}
    for variant in sorted({r["variant"] for r in rows}):
        for lang in ("zh", "en"):
            sel = [r for r in rows if r["variant"] == variant and r.get("lang") == lang]
            if not sel:
                continue
            n = sum(r["ref_len"] for r in sel)
            audio = sum(r["duration_s"] for r in sel)
            plain_s = sum(r["plain_s"] for r in sel)
            out[f"{variant}/{lang}"] = {
                "files": len(sel),
                "plain_error": round(sum(r["plain_edits"] for r in sel) / n, 4),
                f"{name}_error": round(sum(r[edits] for r in sel) / n, 4),
                f"{name}_over_plain": round(sum(r[seconds] for r in sel) / plain_s, 3),
                f"rtf_{name}": round(sum(r[seconds] for r in sel) / audio, 3),
                "rtf_plain": round(plain_s / audio, 3),
            }
    return out


def bench_knowledge_base(sizes: list[int], database_url: str, *, search: bool) -> dict[str, Any]:
    """Insights time at each size and, with search, evals.scalebench's figures for search on the
    engines (on a PostgreSQL database and a Chroma server of its own)."""
    from evals.kbbench import bench_insights

    out: dict[str, Any] = {"insights": {n: bench_insights(n, database_url) for n in sizes}}
    if search:
        from evals.scalebench import measure

        out["search"] = measure(sizes)
    return out
