"""Speech to text with faster-whisper: chunked, VAD-gated, per-window language, Simplified zh."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import structlog

from nlp.audio import SAMPLE_RATE, decode_chunks, probe
from nlp.textnorm import (
    en_numbers_to_words,
    script_language,
    to_simplified,
    zh_numbers_to_hanzi,
    zh_punctuation,
)
from nlp.types import Segment, Transcript, Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.transcribe import Segment as FwSegment

log = structlog.get_logger(__name__)

Tick = Callable[[float], None]  # told the absolute time (s) transcribed so far


@dataclass(frozen=True)
class AsrOptions:
    """Decoding and VAD settings; the defaults are the ones measured best on the corpus."""

    beam_size: int = 5
    temperature: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    condition_on_previous_text: bool = False
    no_speech_threshold: float | None = 0.6
    log_prob_threshold: float | None = -1.0
    compression_ratio_threshold: float | None = 2.4
    word_timestamps: bool = True
    vad: bool = True
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 2000
    vad_speech_pad_ms: int = 400
    language_runs: bool = True  # detect language per stretch of speech, transcribe each as spoken
    lid_min_silence_ms: int = 400  # pause that separates turns when finding language changes
    lid_confident: float = 0.8  # below this a 30 s window is checked turn by turn
    min_run_s: float = 3.0  # a shorter stretch in another language joins its neighbour
    use_hotwords: bool = False
    initial_prompt: str | None = None
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    spoken_numbers: bool = True  # 3月 -> 三月, 48 hours -> forty eight hours, as people speak


def _vad_parameters(opts: AsrOptions) -> dict[str, Any]:
    return {
        "threshold": opts.vad_threshold,
        "min_silence_duration_ms": opts.vad_min_silence_ms,
        "speech_pad_ms": opts.vad_speech_pad_ms,
    }


def _normalise(text: str, language: str | None, opts: AsrOptions) -> str:
    """Simplified characters always; spoken numbers and full-width punctuation by language."""
    text = to_simplified(text)
    if language == "zh":
        text = zh_punctuation(zh_numbers_to_hanzi(text) if opts.spoken_numbers else text)
    elif language == "en" and opts.spoken_numbers:
        text = en_numbers_to_words(text)
    return text


def _to_words(
    segment: FwSegment, offset_s: float, language: str | None, opts: AsrOptions
) -> list[Word]:
    words: list[Word] = []
    for w in segment.words or []:
        text = to_simplified(w.word)
        if opts.spoken_numbers and language == "zh":
            text = zh_numbers_to_hanzi(text)
        elif opts.spoken_numbers and language == "en":
            text = en_numbers_to_words(text)
        words.append(
            Word(
                start=round(w.start + offset_s, 3),
                end=round(w.end + offset_s, 3),
                text=text,
                probability=round(float(w.probability), 4),
            )
        )
    return words


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
        language = script_language(text) or fallback_language
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


@dataclass(frozen=True)
class _Run:
    """A stretch of one chunk in one language, in samples from the chunk start."""

    start: int
    end: int
    language: str | None


def _speech_regions(samples: npt.NDArray[np.float32], opts: AsrOptions) -> list[tuple[int, int]]:
    """Silero VAD regions (turns, roughly) as (start, end) sample indices."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    vad = VadOptions(
        threshold=opts.vad_threshold,
        min_silence_duration_ms=opts.lid_min_silence_ms,
        speech_pad_ms=min(opts.vad_speech_pad_ms, opts.lid_min_silence_ms // 2),
    )
    return [(int(t["start"]), int(t["end"])) for t in get_speech_timestamps(samples, vad)]


def _detect(model: WhisperModel, audio: npt.NDArray[np.float32]) -> tuple[str, float]:
    """Most likely language of up to 30 s of audio and its probability."""
    from faster_whisper.audio import pad_or_trim

    features = model.feature_extractor(audio[: model.feature_extractor.n_samples])
    encoded = model.encode(pad_or_trim(features))
    token, probability = model.model.detect_language(encoded)[0][0]
    return str(token)[2:-2], float(probability)


def _language_runs(
    model: WhisperModel, samples: npt.NDArray[np.float32], opts: AsrOptions
) -> list[_Run]:
    """Split a chunk where the spoken language changes; one run when it never does."""
    regions = _speech_regions(samples, opts)
    if not regions:
        return []
    window = model.feature_extractor.n_samples
    labels: list[str] = []
    group: list[tuple[int, int]] = []

    def flush() -> None:
        audio = np.concatenate([samples[a:b] for a, b in group])
        language, probability = _detect(model, audio)
        if probability >= opts.lid_confident or len(group) == 1:
            labels.extend([language] * len(group))
        else:
            labels.extend(_detect(model, samples[a:b])[0] for a, b in group)
        group.clear()

    for region in regions:
        if group and sum(b - a for a, b in group) + region[1] - region[0] > window:
            flush()
        group.append(region)
    flush()
    runs: list[_Run] = []
    for (a, b), language in zip(regions, labels, strict=True):
        if runs and runs[-1].language == language:
            runs[-1] = _Run(runs[-1].start, b, language)
        else:
            runs.append(_Run(a, b, language))
    return _merge_short_runs(runs, int(opts.min_run_s * SAMPLE_RATE))


def _merge_short_runs(runs: list[_Run], min_samples: int) -> list[_Run]:
    """Fold runs shorter than min_samples into a neighbour: one odd turn is more likely noise."""
    merged: list[_Run] = []
    for run in runs:
        if merged and (run.end - run.start < min_samples or merged[-1].language == run.language):
            merged[-1] = _Run(merged[-1].start, run.end, merged[-1].language)
        elif merged and merged[-1].end - merged[-1].start < min_samples:
            merged[-1] = _Run(merged[-1].start, run.end, run.language)
        else:
            merged.append(run)
    return merged


def _transcribe_run(
    model: WhisperModel,
    samples: npt.NDArray[np.float32],
    offset_s: float,
    *,
    language: str | None,
    hotwords: Sequence[str],
    opts: AsrOptions,
    tick: Tick,
) -> list[Segment]:
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
        hotwords=" ".join(hotwords) if opts.use_hotwords and hotwords else None,
        initial_prompt=opts.initial_prompt,
        repetition_penalty=opts.repetition_penalty,
        no_repeat_ngram_size=opts.no_repeat_ngram_size,
    )
    return _convert(raw, offset_s, language or info.language, opts, tick)


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
    if language is not None or not opts.language_runs:
        return _transcribe_run(
            model, samples, offset_s, language=language, hotwords=hotwords, opts=opts, tick=tick
        )
    pad = int(opts.vad_speech_pad_ms * SAMPLE_RATE / 1000)
    segments: list[Segment] = []
    for run in _language_runs(model, samples, opts):
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
) -> Transcript:
    """Transcribe a recording chunk by chunk in bounded memory; on_progress gets 0..1."""
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
        segments += _transcribe_chunk(
            model, samples, offset_s, language=language, hotwords=hotwords, opts=opts, tick=tick
        )
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
