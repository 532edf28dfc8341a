"""Where a recording's spoken language changes, for nlp.asr: language probes, runs of turns in
one language, and the spans around a change that are decoded again."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import structlog

from nlp.audio import SAMPLE_RATE
from nlp.types import Segment

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = structlog.get_logger(__name__)

WINDOW_S = 30.0  # Whisper decodes audio in windows this long, each in one language
Span = tuple[float, float]  # absolute seconds


@dataclass(frozen=True)
class Run:
    """A stretch of one chunk in one language, in samples from the chunk start."""

    start: int
    end: int
    language: str | None


def detect(model: WhisperModel, audio: npt.NDArray[np.float32]) -> tuple[str, float]:
    """Most likely language of up to 30 s of audio and its probability."""
    from faster_whisper.audio import pad_or_trim

    features = model.feature_extractor(audio[: model.feature_extractor.n_samples])
    encoded = model.encode(pad_or_trim(features))
    token, probability = model.model.detect_language(encoded)[0][0]
    return str(token)[2:-2], float(probability)


def language_runs(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    regions: list[tuple[int, int]],
    min_run_s: float,
) -> list[Run]:
    """Split audio where the spoken language changes, one detection per turn (speech region);
    one run when it never does."""
    if not regions:
        regions = [(0, len(samples))]
    labels: list[str] = []
    for a, b in regions:
        # very short regions ("OK", "嗯") are not worth a detection: they go with the last one
        if b - a < SAMPLE_RATE and labels:
            labels.append(labels[-1])
        else:
            labels.append(detect(model, samples[a:b])[0])
    runs: list[Run] = []
    for (a, b), language in zip(regions, labels, strict=True):
        if runs and runs[-1].language == language:
            runs[-1] = Run(runs[-1].start, b, language)
        else:
            runs.append(Run(a, b, language))
    return merge_short_runs(runs, int(min_run_s * SAMPLE_RATE))


def merge_short_runs(runs: list[Run], min_samples: int) -> list[Run]:
    """Fold runs shorter than min_samples into a neighbour: one odd turn is more likely noise."""
    merged: list[Run] = []
    for run in runs:
        if merged and (run.end - run.start < min_samples or merged[-1].language == run.language):
            merged[-1] = Run(merged[-1].start, run.end, merged[-1].language)
        elif merged and merged[-1].end - merged[-1].start < min_samples:
            merged[-1] = Run(merged[-1].start, run.end, run.language)
        else:
            merged.append(run)
    return merged


def change_spans(segments: Sequence[Segment]) -> list[Span]:
    """Around each change of written language, a window either side: Whisper decodes each 30 s
    window in one language, so the window that holds the change comes out wholly in one of them
    (the other translated), and it lies just before or just after where the text changes."""
    written = sorted((s for s in segments if s.language), key=lambda s: s.start)
    return [
        (a.end - WINDOW_S, b.start + WINDOW_S)
        for a, b in itertools.pairwise(written)
        if a.language != b.language
    ]


def probe_regions(regions: list[tuple[int, int]], every_s: float) -> list[tuple[int, int]]:
    """The longest region (at least 2 s) in every stretch of every_s, plus the last one."""
    long_enough = [r for r in regions if r[1] - r[0] >= 2 * SAMPLE_RATE]
    picked: dict[int, tuple[int, int]] = {}
    for a, b in long_enough:
        slot = int(a / SAMPLE_RATE // every_s)
        if slot not in picked or b - a > picked[slot][1] - picked[slot][0]:
            picked[slot] = (a, b)
    if long_enough:
        picked[-1] = long_enough[-1]
    return sorted(set(picked.values()))


def probe_spans(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    offset_s: float,
    regions: list[tuple[int, int]],
    segments: Sequence[Segment],
    *,
    every_s: float,
    confident: float,
    known: Sequence[Span],
) -> list[Span]:
    """Around each probe (the longest turn in every every_s, outside the known spans) that hears,
    at least `confident`, another language than was written there: a window or more decoded
    in the wrong language."""
    spans: list[Span] = []
    for a, b in probe_regions(regions, every_s):
        start_s, end_s = offset_s + a / SAMPLE_RATE, offset_s + b / SAMPLE_RATE
        if any(s0 < end_s and start_s < s1 for s0, s1 in known):
            continue
        heard, probability = detect(model, samples[a:b])
        if probability < confident:
            continue
        here = {s.language for s in segments if s.start < end_s and s.end > start_s}
        if not here and segments:  # Whisper skipped this turn: compare with the nearest text
            middle_s = (start_s + end_s) / 2
            near = min(segments, key=lambda s: abs((s.start + s.end) / 2 - middle_s))
            here = {near.language}
        if here and heard not in here:
            log.info("asr.language_probe", offset_s=round(start_s, 1), heard=heard)
            spans.append((start_s - WINDOW_S, end_s + WINDOW_S))
    return spans


def whole_spans(
    spans: Sequence[Span],
    segments: Sequence[Segment],
    regions: list[tuple[int, int]],
    bounds: Span,
) -> list[Span]:
    """The spans within bounds, grown over the segments they cut (Whisper's own cut points),
    then over the speech regions they still cut, overlapping ones merged: so each can be
    decoded again and swapped in whole. regions are samples from bounds[0]."""
    speech = [(bounds[0] + a / SAMPLE_RATE, bounds[0] + b / SAMPLE_RATE) for a, b in regions]
    out: list[Span] = []
    for t0, t1 in sorted(spans):
        t0, t1 = max(bounds[0], t0), min(bounds[1], t1)
        for pieces in ([(s.start, s.end) for s in segments], speech):
            crossing = [(a, b) for a, b in pieces if a < t1 and t0 < b]
            t0 = min([t0, *(a for a, b in crossing if a < t0 < b)])
            t1 = max([t1, *(b for a, b in crossing if a < t1 < b)])
        if out and t0 <= out[-1][1]:
            t0, t1 = out[-1][0], max(t1, out[-1][1])
            out.pop()
        out.append((t0, t1))
    return out
