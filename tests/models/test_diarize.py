"""Real resemblyzer weights on our fixture dialogues: speakers, word-level splits, voice prints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from faster_whisper import decode_audio

from evals.roles import role_accuracy
from nlp.diarize import diarize, diarize_chunks
from nlp.roles import assign_roles
from nlp.types import Segment, Word
from nlp.voiceprint import load_encoder, voiceprint

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _load(name: str) -> tuple[np.ndarray, list[dict]]:  # type: ignore[type-arg]  # truth json
    truth = json.loads((FIXTURES / f"{name}.truth.json").read_text(encoding="utf-8"))
    return decode_audio(str(FIXTURES / name), sampling_rate=16000), truth["turns"]


def _words(turn: dict) -> list[Word]:  # type: ignore[type-arg]
    """Evenly spaced stand-in word timestamps across a truth turn."""
    tokens = turn["text"].split() if " " in turn["text"] else list(turn["text"])
    step = (turn["end"] - turn["start"]) / len(tokens)
    return [
        Word(turn["start"] + i * step, turn["start"] + (i + 1) * step, f" {t}")
        for i, t in enumerate(tokens)
    ]


def _segments(turns: list[dict]) -> list[Segment]:  # type: ignore[type-arg]
    return [Segment(t["start"], t["end"], t["text"], words=_words(t)) for t in turns]


@pytest.fixture(scope="module")
def encoder():  # type: ignore[no-untyped-def]  # resemblyzer is untyped
    return load_encoder("cpu")


@pytest.mark.parametrize(("name", "language"), [("en_short.mp3", "en"), ("zh_short.mp3", "zh")])
def test_two_speaker_visit_gets_two_speakers_and_right_roles(encoder, name, language) -> None:  # type: ignore[no-untyped-def]
    samples, turns = _load(name)
    result = diarize(encoder, samples, _segments(turns))
    assert result.num_speakers == 2
    assert set(result.speaker_embeddings) == {"S1", "S2"}
    roles = assign_roles(result.segments, result.speaker_embeddings, language=language)
    for seg in result.segments:
        seg.role = roles.roles[seg.speaker or ""]
    assert role_accuracy(turns, result.segments) >= 0.9


def test_segment_spanning_a_speaker_change_is_split_at_the_words(encoder) -> None:  # type: ignore[no-untyped-def]
    samples, turns = _load("en_short.mp3")
    first, second = turns[0], turns[1]
    merged = Segment(
        first["start"],
        second["end"],
        f"{first['text']} {second['text']}",
        words=_words(first) + _words(second),
    )
    rest = _segments(turns[2:])
    result = diarize(encoder, samples, [merged, *rest])
    head = [s for s in result.segments if s.start < second["end"]]
    assert len(head) == 2
    assert head[0].speaker != head[1].speaker
    assert abs(head[0].end - (first["end"] + second["start"]) / 2) < 0.8
    assert head[0].text.startswith("Morning") and head[1].text.startswith("Mostly")


def test_one_voice_gives_one_speaker_when_allowed(encoder) -> None:  # type: ignore[no-untyped-def]
    samples, turns = _load("en_one_speaker.mp3")
    result = diarize(encoder, samples, _segments(turns), min_speakers=1)
    assert result.num_speakers == 1
    assert {s.speaker for s in result.segments} == {"S1"}


def test_given_speaker_count_is_used(encoder) -> None:  # type: ignore[no-untyped-def]
    samples, turns = _load("en_short.mp3")
    assert diarize(encoder, samples, _segments(turns), num_speakers=3).num_speakers <= 3
    assert diarize(encoder, samples, _segments(turns), num_speakers=1).num_speakers == 1


def test_no_segments_and_silence_do_not_crash(encoder) -> None:  # type: ignore[no-untyped-def]
    silent = np.zeros(16000 * 5, dtype=np.float32)
    assert diarize(encoder, silent, []).segments == []
    result = diarize(encoder, silent, [Segment(0.5, 2.0, "hm")])
    assert len(result.segments) == 1 and result.segments[0].speaker == "S1"


def test_rep_voice_print_finds_the_rep_in_a_visit(encoder) -> None:  # type: ignore[no-untyped-def]
    sample, _ = _load("rep_voice_zh.mp3")
    print_ = voiceprint(encoder, sample)
    assert print_.shape == (256,) and abs(float(np.linalg.norm(print_)) - 1) < 1e-4
    samples, turns = _load("zh_short.mp3")
    result = diarize(encoder, samples, _segments(turns))
    roles = assign_roles(result.segments, result.speaker_embeddings, rep_voiceprint=print_)
    assert roles.method == "voiceprint"
    for seg in result.segments:
        seg.role = roles.roles[seg.speaker or ""]
    assert role_accuracy(turns, result.segments) >= 0.9


def test_voice_print_of_too_little_speech_is_refused(encoder) -> None:  # type: ignore[no-untyped-def]
    samples, _ = _load("en_short.mp3")
    with pytest.raises(ValueError, match="at least 2 s"):
        voiceprint(encoder, samples[: 16000 // 2])
    with pytest.raises(ValueError, match="at least 2 s"):
        voiceprint(encoder, np.zeros(16000 * 5, dtype=np.float32))


def test_a_chunk_of_the_recording_is_diarized_with_its_offset(encoder) -> None:  # type: ignore[no-untyped-def]
    samples, turns = _load("en_short.mp3")
    later = [t for t in turns if t["start"] >= 10.0]
    result = diarize(encoder, samples[16000 * 10 :], _segments(later), offset_s=10.0)
    assert result.num_speakers == 2
    assert min(s.start for s in result.segments) >= 10.0
    roles = assign_roles(result.segments, result.speaker_embeddings, language="en")
    for seg in result.segments:
        seg.role = roles.roles[seg.speaker or ""]
    assert role_accuracy(later, result.segments) >= 0.9


def test_audio_read_chunk_by_chunk_gives_the_same_speakers_as_read_whole(encoder) -> None:  # type: ignore[no-untyped-def]
    # the speakers step reads long recordings in chunks; a turn may cross a chunk's edge
    samples, turns = _load("zh_three_voices.mp3")
    cut = int(16000 * (turns[3]["start"] + turns[3]["end"]) / 2)  # inside a turn
    chunks = [(0.0, samples[:cut]), (cut / 16000, samples[cut:])]
    whole = diarize(encoder, samples, _segments(turns))
    chunked = diarize_chunks(encoder, iter(chunks), _segments(turns))
    assert chunked.num_speakers == whole.num_speakers == 3
    roles = assign_roles(chunked.segments, chunked.speaker_embeddings, language="zh")
    for seg in chunked.segments:
        seg.role = roles.roles[seg.speaker or ""]
    assert role_accuracy(turns, chunked.segments) >= 0.95


def test_three_voice_visit_gets_three_speakers_and_right_roles(encoder) -> None:  # type: ignore[no-untyped-def]
    # a rep, a buyer and a pitch-shifted engineer (evals/speakers/render.py, recording zh_erp)
    samples, turns = _load("zh_three_voices.mp3")
    result = diarize(encoder, samples, _segments(turns))
    assert result.num_speakers == 3
    roles = assign_roles(result.segments, result.speaker_embeddings, language="zh")
    assert sorted(roles.roles.values()) == ["customer", "customer", "rep"]
    for seg in result.segments:
        seg.role = roles.roles[seg.speaker or ""]
    assert role_accuracy(turns, result.segments) >= 0.95
