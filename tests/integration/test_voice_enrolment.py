"""Rep voice enrolment: the API stages the sample, a worker makes the voice print."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from knowledge import reps
from knowledge.db import make_engine, make_sessionmaker
from nlp.audio import decode_chunks
from nlp.voiceprint import load_encoder, voiceprint
from tests.conftest import FIXTURES, Stack, make_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = make_stack(tmp_path_factory.mktemp("voice"), "embedded")
    s.start_worker()
    yield s
    s.stop()
    s.client.__exit__(None, None, None)


def _enrol(stack: Stack, path: Path) -> tuple[int, dict[str, object]]:
    with path.open("rb") as f:
        got = stack.client.post("/api/reps/周文博/voice", files={"file": (path.name, f)})
    return got.status_code, got.json()


def test_a_worker_makes_the_same_voice_print_the_api_made_before(stack: Stack) -> None:
    sample = FIXTURES / "rep_voice_zh.mp3"
    status, body = _enrol(stack, sample)
    assert status == 201, body
    assert body["enrolled"] is True
    with make_sessionmaker(make_engine(stack.settings.database_url))() as db:
        stored = next(r for r in reps.listing(db) if r.name == "周文博").voiceprint
    assert stored is not None
    samples = np.concatenate([c for _, c in decode_chunks(sample)])
    expected = voiceprint(load_encoder(), samples)
    np.testing.assert_allclose(np.frombuffer(stored, dtype=np.float32), expected, atol=1e-6)


def test_a_sample_too_short_to_hold_speech_is_refused_by_the_worker(
    stack: Stack, tmp_path: Path
) -> None:
    short = tmp_path / "short.wav"
    with wave.open(str(short), "wb") as w:  # one second of noise: under the 2 s of speech needed
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16_000)
        w.writeframes(np.random.default_rng(0).integers(-3000, 3000, 16_000, np.int16).tobytes())
    status, body = _enrol(stack, short)
    assert status == 422 and body["error"]["code"] == "too_little_speech", body


def test_a_file_that_is_not_audio_is_refused_before_any_worker(stack: Stack) -> None:
    status, body = _enrol(stack, FIXTURES / "README.md")
    assert status == 415 and body["error"]["code"] == "not_audio", body
