"""Speech to text with faster-whisper: chunked, VAD-gated, each stretch in its spoken language."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt
import structlog

from nlp.asr_language import change_spans, language_runs, probe_spans, whole_spans
from nlp.audio import SAMPLE_RATE, decode_chunks, probe
from nlp.language import main_language
from nlp.textnorm import (
    Rewrite,
    apply_rewrites,
    en_number_rewrites,
    rewrite_words,
    to_simplified,
    zh_number_rewrites,
    zh_punctuation,
)
from nlp.types import Segment, Transcript, Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment as FwSegment

log = structlog.get_logger(__name__)

Tick = Callable[[float], None]  # told the absolute time (s) transcribed so far
_SEED = 0
TAIL_S = 2.0  # uncovered speech this long at the end of a VAD region: a turn Whisper dropped


@dataclass(frozen=True)
class AsrOptions:
    """Decoding, VAD and clean-up settings; defaults chosen by measurement (see the benchmark)."""

    beam_size: int = 5
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    condition_on_previous_text: bool = True  # only text in the same language (whisper_model)
    no_speech_threshold: float | None = 0.6
    log_prob_threshold: float | None = -1.0
    compression_ratio_threshold: float | None = 2.4
    word_timestamps: bool = True
    vad: bool = True
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 2000
    vad_speech_pad_ms: int = 400
    # Language changes: "when_mixed" decodes with per-window detection first; then, around each
    # change of written language and where a probe hears another language than was written, it
    # decodes the window either side again turn by turn, in each turn's detected language (a
    # 30 s window straddling a change otherwise comes out wholly in one language, i.e.
    # translated). "always" decodes every chunk turn by turn.
    language_runs: Literal["never", "when_mixed", "always"] = "when_mixed"
    lid_min_silence_ms: int = 400  # pause that separates turns when finding language changes
    lid_confident: float = 0.8  # a language probe counts only when this sure
    min_run_s: float = 3.0  # a shorter stretch in another language joins its neighbour
    probe_every_s: float = 300.0  # one language probe per this much audio, to catch changes
    fill_gaps: bool = True  # re-decode VAD speech that no segment covers (a skipped turn)
    min_gap_s: float = 1.0  # uncovered speech this long counts as skipped
    use_hotwords: bool = False  # off: hotwords measured worse on whisper-base (issue #3)
    initial_prompt: str | None = None  # a zh prompt made Whisper skip the first window
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    written_numbers: bool = True  # digits as people write them: 三月 -> 3月, forty eight -> 48


def _vad_parameters(opts: AsrOptions) -> dict[str, Any]:
    return {
        "threshold": opts.vad_threshold,
        "min_silence_duration_ms": opts.vad_min_silence_ms,
        "speech_pad_ms": opts.vad_speech_pad_ms,
    }


def _number_rewrites(text: str, language: str | None, opts: AsrOptions) -> list[Rewrite]:
    if not opts.written_numbers:
        return []
    if language == "zh":
        return zh_number_rewrites(text)
    if language == "en":
        return en_number_rewrites(text)
    return []


def _normalise(text: str, language: str | None, opts: AsrOptions) -> str:
    """Simplified characters always; written numbers and full-width punctuation by language."""
    text = to_simplified(text)
    text = apply_rewrites(text, _number_rewrites(text, language, opts))
    return zh_punctuation(text) if language == "zh" else text


def _to_words(
    segment: FwSegment, offset_s: float, language: str | None, opts: AsrOptions
) -> list[Word]:
    words = [
        Word(
            start=round(w.start + offset_s, 3),
            end=round(w.end + offset_s, 3),
            text=to_simplified(w.word),
            probability=round(float(w.probability), 4),
        )
        for w in segment.words or []
    ]
    text = "".join(w.text for w in words)
    return rewrite_words(words, _number_rewrites(text, language, opts))


def _convert(
    raw: Iterable[FwSegment],
    offset_s: float,
    fallback_language: str | None,
    opts: AsrOptions,
    tick: Tick,
) -> list[Segment]:
    """faster-whisper segments to ours: absolute times, a language each, normalised text."""
    out: list[Segment] = []
    for s in raw:
        tick(s.end + offset_s)
        text = s.text.strip()
        if not text:
            continue
        language = main_language(text) or fallback_language
        out.append(
            Segment(
                start=round(s.start + offset_s, 3),
                end=round(s.end + offset_s, 3),
                text=_normalise(text, language, opts),
                language=language,
                words=_to_words(s, offset_s, language, opts),
            )
        )
    return out


def _speech_regions(samples: npt.NDArray[np.float32], opts: AsrOptions) -> list[tuple[int, int]]:
    """Silero VAD regions (turns, roughly) as (start, end) sample indices."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(
        threshold=opts.vad_threshold,
        min_silence_duration_ms=opts.lid_min_silence_ms,
        speech_pad_ms=min(opts.vad_speech_pad_ms, opts.lid_min_silence_ms // 2),
    )
    return [(int(t["start"]), int(t["end"])) for t in get_speech_timestamps(samples, vad)]


def _transcribe_run(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    offset_s: float,
    *,
    language: str | None,
    hotwords: Sequence[str],
    opts: AsrOptions,
    tick: Tick,
    multilingual: bool = False,
) -> list[Segment]:
    # The temperature fallback samples: a fixed seed makes a retried step write the same text.
    import ctranslate2  # loaded with faster-whisper anyway; kept lazy like it

    ctranslate2.set_random_seed(_SEED)
    raw, info = model.transcribe(
        samples,
        language=language,
        task="transcribe",
        beam_size=opts.beam_size,
        temperature=list(opts.temperature),
        condition_on_previous_text=opts.condition_on_previous_text,
        no_speech_threshold=opts.no_speech_threshold,
        log_prob_threshold=opts.log_prob_threshold,
        compression_ratio_threshold=opts.compression_ratio_threshold,
        word_timestamps=opts.word_timestamps,
        vad_filter=opts.vad,
        vad_parameters=_vad_parameters(opts) if opts.vad else None,
        multilingual=multilingual,
        hotwords=" ".join(hotwords) if opts.use_hotwords and hotwords else None,
        initial_prompt=opts.initial_prompt,
        repetition_penalty=opts.repetition_penalty,
        no_repeat_ngram_size=opts.no_repeat_ngram_size,
    )
    return _convert(raw, offset_s, language or info.language, opts, tick)


def _by_language_runs(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    offset_s: float,
    regions: list[tuple[int, int]],
    *,
    hotwords: Sequence[str],
    opts: AsrOptions,
    tick: Tick,
) -> list[Segment]:
    pad = int(opts.vad_speech_pad_ms * SAMPLE_RATE / 1000)
    segments: list[Segment] = []
    for run in language_runs(model, samples, regions, opts.min_run_s):
        start = max(0, run.start - pad)
        segments += _transcribe_run(
            model,
            samples[start : run.end + pad],
            offset_s + start / SAMPLE_RATE,
            language=run.language,
            hotwords=hotwords,
            opts=opts,
            tick=tick,
        )
    return segments


def _uncovered(
    regions: list[tuple[int, int]], segments: Sequence[Segment], offset_s: float, min_s: float
) -> list[tuple[int, int]]:
    """Speech regions that no segment overlaps for at least min_s: turns Whisper skipped."""
    missed: list[tuple[int, int]] = []
    for a, b in regions:
        start_s, end_s = offset_s + a / SAMPLE_RATE, offset_s + b / SAMPLE_RATE
        inside = [s for s in segments if s.end > start_s and s.start < end_s]
        covered = sum(min(end_s, s.end) - max(start_s, s.start) for s in inside)
        # a whole turn goes missing, not the edges of one whose timestamps are loose
        if end_s - start_s - covered >= min_s and covered < 0.3 * (end_s - start_s):
            missed.append((a, b))
            continue
        last_end = max((s.end for s in inside), default=end_s)
        if end_s - last_end >= TAIL_S:  # a last turn after a pause too short to split it off
            missed.append((int((last_end - offset_s) * SAMPLE_RATE), b))
    return missed


def _fill_gaps(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    offset_s: float,
    regions: list[tuple[int, int]],
    segments: list[Segment],
    *,
    language: str | None,
    hotwords: Sequence[str],
    opts: AsrOptions,
    tick: Tick,
) -> list[Segment]:
    """Re-decode speech that Whisper jumped over, one region at a time, without VAD."""
    missed = _uncovered(regions, segments, offset_s, opts.min_gap_s)
    if not missed:
        return segments
    pad = int(opts.vad_speech_pad_ms * SAMPLE_RATE / 1000)
    gap_opts = replace(opts, vad=False, condition_on_previous_text=False)
    added: list[Segment] = []
    for a, b in missed:
        start = max(0, a - pad)
        middle_s = offset_s + (a + b) / 2 / SAMPLE_RATE
        near = min(segments, key=lambda s: abs((s.start + s.end) / 2 - middle_s), default=None)
        added += _transcribe_run(
            model,
            samples[start : b + pad],
            offset_s + start / SAMPLE_RATE,
            language=language or (near.language if near else None),
            hotwords=hotwords,
            opts=gap_opts,
            tick=lambda _: None,
        )
    fresh = [s for s in added if _overlap_s(s, segments) < 0.5 * (s.end - s.start)]
    tick(offset_s + len(samples) / SAMPLE_RATE)
    log.info("asr.gaps_filled", regions=len(missed), segments=len(fresh))
    return sorted(segments + fresh, key=lambda s: s.start)


def _overlap_s(segment: Segment, others: Sequence[Segment]) -> float:
    return sum(max(0.0, min(segment.end, o.end) - max(segment.start, o.start)) for o in others)


def _redecode_changes(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    offset_s: float,
    regions: list[tuple[int, int]],
    segments: list[Segment],
    *,
    hotwords: Sequence[str],
    opts: AsrOptions,
    tick: Tick,
) -> list[Segment]:
    """Decode the spans around each language change again turn by turn, each run of turns in its
    detected language, in place of the first pass's segments there; the rest of the chunk keeps
    its first decode."""
    spans = change_spans(segments)
    spans += probe_spans(
        model,
        samples,
        offset_s,
        regions,
        segments,
        every_s=opts.probe_every_s,
        confident=opts.lid_confident,
        known=spans,
    )
    bounds = (offset_s, offset_s + len(samples) / SAMPLE_RATE)
    for t0, t1 in whole_spans(spans, segments, regions, bounds):
        a, b = int((t0 - offset_s) * SAMPLE_RATE), int((t1 - offset_s) * SAMPLE_RATE)
        inside = [(max(ra, a) - a, min(rb, b) - a) for ra, rb in regions if ra < b and a < rb]
        fresh = _by_language_runs(
            model,
            samples[a:b],
            offset_s + a / SAMPLE_RATE,
            inside,
            hotwords=hotwords,
            opts=opts,
            tick=tick,
        )
        segments = [s for s in segments if not t0 <= (s.start + s.end) / 2 <= t1] + fresh
        log.info("asr.language_redecoded", start_s=round(t0, 1), end_s=round(t1, 1))
    return sorted(segments, key=lambda s: s.start)


def _transcribe_chunk(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    offset_s: float,
    *,
    language: str | None,
    hotwords: Sequence[str],
    opts: AsrOptions,
    tick: Tick,
) -> list[Segment]:
    regions = _speech_regions(samples, opts) if opts.vad else []
    if opts.vad and not regions:
        return []
    if language is None and opts.language_runs == "always":
        segments = _by_language_runs(
            model, samples, offset_s, regions, hotwords=hotwords, opts=opts, tick=tick
        )
    else:
        segments = _transcribe_run(
            model,
            samples,
            offset_s,
            language=language,
            hotwords=hotwords,
            opts=opts,
            tick=tick,
            multilingual=language is None and opts.language_runs == "when_mixed",
        )
        if language is None and opts.language_runs == "when_mixed":
            segments = _redecode_changes(
                model, samples, offset_s, regions, segments, hotwords=hotwords, opts=opts, tick=tick
            )
    if opts.fill_gaps and regions:
        segments = _fill_gaps(
            model,
            samples,
            offset_s,
            regions,
            segments,
            language=language,
            hotwords=hotwords,
            opts=opts,
            tick=tick,
        )
    return segments


def _dominant_language(segments: Sequence[Segment], default: str) -> str:
    spoken: dict[str, float] = {}
    for s in segments:
        if s.language:
            spoken[s.language] = spoken.get(s.language, 0.0) + (s.end - s.start)
    return max(spoken, key=lambda k: spoken[k]) if spoken else default


def transcribe(
    model: WhisperModel,
    path: Path,
    *,
    language: str | None = None,
    hotwords: Sequence[str] = (),
    on_progress: Callable[[float], None] | None = None,
    chunk_s: float = 600.0,
    options: AsrOptions | None = None,
    on_segments: Callable[[list[Segment]], None] | None = None,
) -> Transcript:
    """Transcribe a recording chunk by chunk in bounded memory; on_progress gets 0..1,
    on_segments each chunk's final segments as soon as the chunk is done."""
    opts = options or AsrOptions()
    info = probe(path)
    started = time.monotonic()
    segments: list[Segment] = []
    decoded_s = 0.0
    reported = 0.0

    def tick(at_s: float) -> None:
        nonlocal reported
        share = min(0.99, at_s / info.duration_s) if info.duration_s > 0 else 0.0
        if on_progress and share > reported:
            reported = share
            on_progress(share)

    if on_progress:
        on_progress(0.0)
    for offset_s, samples in decode_chunks(path, chunk_s):
        done = _transcribe_chunk(
            model, samples, offset_s, language=language, hotwords=hotwords, opts=opts, tick=tick
        )
        segments += done
        if on_segments:
            on_segments(done)
        decoded_s = offset_s + len(samples) / SAMPLE_RATE
        tick(decoded_s)
    if on_progress:
        on_progress(1.0)
    log.info(
        "asr.transcribed",
        duration_s=round(decoded_s, 1),
        segments=len(segments),
        seconds=round(time.monotonic() - started, 1),
    )
    return Transcript(
        language=_dominant_language(segments, language or "zh"),
        duration=round(decoded_s or info.duration_s, 3),
        segments=segments,
    )


def transcribe_plain(model: WhisperModel, path: Path, *, language: str | None = None) -> Transcript:
    """Plain faster-whisper on the whole file (default settings, no VAD): the benchmark baseline."""
    raw, info = model.transcribe(str(path), language=language)
    segments = [
        Segment(start=s.start, end=s.end, text=s.text.strip(), language=info.language)
        for s in raw
        if s.text.strip()
    ]
    return Transcript(language=info.language, duration=info.duration, segments=segments)
