"""Real whisper-base on our short fixtures: accuracy, no dropped turn, no text from silence."""

from __future__ import annotations

import json
import multiprocessing
import wave
from pathlib import Path

import numpy as np
import pytest

from evals.errorrate import cer_zh, wer_en
from nlp.asr import transcribe
from nlp.audio import SAMPLE_RATE, decode_chunks
from nlp.textnorm import to_simplified
from nlp.types import Transcript
from nlp.whisper_model import load_whisper, resolve_model

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.getbasetemp().parent / "visitlens-models"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]  # untyped lib
    return load_whisper(resolve_model("base", _models_dir(tmp_path_factory)), "cpu", "int8")


def _transcribe_file(models_dir: str, path: str) -> Transcript:
    model = load_whisper(resolve_model("base", Path(models_dir)), "cpu", "int8")
    return transcribe(model, Path(path))


def _truth(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / f"{name}.truth.json").read_text(encoding="utf-8"))


def _text(transcript: Transcript) -> str:
    return " ".join(s.text for s in transcript.segments)


def _write_wav(path: Path, samples: np.ndarray) -> Path:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return path


def _samples(path: Path) -> np.ndarray:
    return np.concatenate([chunk for _, chunk in decode_chunks(path)])


@pytest.fixture(scope="module")
def zh_noisy(tmp_path_factory: pytest.TempPathFactory) -> Transcript:
    """Transcribed in a fresh process, as a worker does: in the pytest process, state that
    earlier tests leave behind (their apps' background threads among it; the cause was not
    pinned down) tipped the decode of this clip's last turn in some full runs."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        args = (str(_models_dir(tmp_path_factory)), str(FIXTURES / "zh_noisy.mp3"))
        transcript: Transcript = pool.apply(_transcribe_file, args)
    return transcript


def test_mandarin_visit_is_transcribed_in_simplified_with_word_times(model) -> None:  # type: ignore[no-untyped-def]
    progress: list[float] = []
    transcript = transcribe(model, FIXTURES / "zh_short.mp3", on_progress=progress.append)
    truth = _truth("zh_short.mp3")
    edits, length = cer_zh(" ".join(t["text"] for t in truth["turns"]), _text(transcript))
    assert edits / length < 0.2
    assert transcript.language == "zh"
    assert all(s.language == "zh" for s in transcript.segments)
    assert all(to_simplified(s.text) == s.text for s in transcript.segments)
    assert all(s.words and s.words[0].start >= s.start - 0.5 for s in transcript.segments)
    assert progress[0] == 0.0 and progress[-1] == 1.0 and progress == sorted(progress)


def test_noisy_clip_keeps_every_turn_including_the_last(zh_noisy: Transcript) -> None:
    for turn in _truth("zh_noisy.mp3")["turns"]:
        heard = [
            s for s in zh_noisy.segments if s.start < turn["end"] and s.end > turn["start"] + 0.2
        ]
        assert heard, f"turn {turn['index']} was dropped"
    last = _truth("zh_noisy.mp3")["turns"][-1]["text"]
    edits, length = cer_zh(last, _text(zh_noisy)[-len(last) - 4 :])
    assert edits / length < 0.5


@pytest.mark.parametrize("name", ["silence_10s.wav", "music_like_8s.wav"])
def test_silence_and_music_give_no_segments(model, name: str) -> None:  # type: ignore[no-untyped-def]
    transcript = transcribe(model, FIXTURES / name)
    assert transcript.segments == []


def test_language_change_is_transcribed_not_translated(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # English first, then Mandarin: the failure was Mandarin coming out translated into English.
    en = _samples(FIXTURES / "en_short.mp3")[: 15 * SAMPLE_RATE]
    zh = _samples(FIXTURES / "zh_short.mp3")[: 14 * SAMPLE_RATE]
    gap = np.zeros(SAMPLE_RATE, dtype=np.float32)
    path = _write_wav(tmp_path / "switch.wav", np.concatenate([en, gap, zh]))
    transcript = transcribe(model, path)
    english = [s for s in transcript.segments if s.end <= 15.5]
    mandarin = [s for s in transcript.segments if s.start >= 16.0]
    assert english and all(s.language == "en" for s in english)
    assert mandarin and all(s.language == "zh" for s in mandarin)
    truth = _truth("en_short.mp3")["turns"]
    spoken = " ".join(t["text"] for t in truth if t["end"] <= 15.0)
    edits, length = wer_en(spoken, " ".join(s.text for s in english))
    assert edits / length < 0.3
