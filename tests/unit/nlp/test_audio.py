"""Probing and decoding audio files: formats we accept and the codes for files we refuse."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from nlp.audio import SAMPLE_RATE, AudioError, decode_chunks, probe

RATE = 16000


def _tone(seconds: float, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def _add_video(out: av.container.OutputContainer) -> av.video.stream.VideoStream:
    vstream = out.add_stream("mpeg4", rate=5)
    vstream.width, vstream.height, vstream.pix_fmt = 32, 32, "yuv420p"
    return vstream


def _mux_video(out: av.container.OutputContainer, vstream: av.video.stream.VideoStream) -> None:
    for i in range(3):
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), "rgb24")
        frame.pts = i
        for packet in vstream.encode(frame):
            out.mux(packet)
    for packet in vstream.encode():
        out.mux(packet)


def write_audio(
    path: Path, samples: np.ndarray, *, codec: str, rate: int = RATE, video: bool = False
) -> Path:
    """Encode mono float samples with PyAV (and an optional tiny video track)."""
    with av.open(str(path), mode="w") as out:
        vstream = _add_video(out) if video else None
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "mono"
        if vstream is not None:
            _mux_video(out, vstream)
        fmt = stream.codec_context.codec.audio_formats[0].name
        frame_n = stream.codec_context.frame_size or 1024
        pts = 0
        for start in range(0, len(samples), frame_n):
            block = samples[start : start + frame_n]
            if len(block) < frame_n and stream.codec_context.frame_size:
                block = np.pad(block, (0, frame_n - len(block)))
            frame = av.AudioFrame.from_ndarray(block[None, :], format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = pts
            frame.time_base = Fraction(1, rate)
            pts += len(block)
            resampler = av.AudioResampler(format=fmt, layout="mono", rate=rate)
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


FORMATS = [
    ("clip.wav", "pcm_s16le", RATE),
    ("clip.mp3", "libmp3lame", 44100),
    ("clip.flac", "flac", RATE),
    ("clip.ogg", "libopus", 48000),
    ("clip.opus", "libopus", 48000),
    ("clip.m4a", "aac", 44100),
    ("clip.webm", "libopus", 48000),
]


@pytest.mark.parametrize(("name", "codec", "rate"), FORMATS)
def test_probe_reads_duration_of_each_accepted_format(
    tmp_path: Path, name: str, codec: str, rate: int
) -> None:
    path = write_audio(tmp_path / name, _tone(2.0, rate), codec=codec, rate=rate)
    info = probe(path)
    assert info.duration_s == pytest.approx(2.0, abs=0.15)
    assert info.channels == 1
    assert info.sample_rate == rate


@pytest.mark.parametrize(("name", "codec", "rate"), FORMATS)
def test_decode_chunks_gives_16k_mono_float_of_the_whole_file(
    tmp_path: Path, name: str, codec: str, rate: int
) -> None:
    path = write_audio(tmp_path / name, _tone(2.0, rate), codec=codec, rate=rate)
    chunks = list(decode_chunks(path))
    assert len(chunks) == 1
    offset_s, samples = chunks[0]
    assert offset_s == 0.0
    assert samples.dtype == np.float32 and samples.ndim == 1
    assert len(samples) / SAMPLE_RATE == pytest.approx(2.0, abs=0.15)


def test_audio_track_of_an_mp4_video_is_decoded(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "talk.mp4", _tone(1.5), codec="aac", video=True)
    assert probe(path).duration_s == pytest.approx(1.5, abs=0.2)
    assert sum(len(s) for _, s in decode_chunks(path)) / SAMPLE_RATE == pytest.approx(1.5, abs=0.2)


def test_decode_chunks_splits_long_audio_into_bounded_contiguous_chunks(tmp_path: Path) -> None:
    samples = _tone(25.0)
    samples[int(9.0 * RATE) : int(9.3 * RATE)] = 0.0  # a pause where the cut should land
    path = write_audio(tmp_path / "long.wav", samples, codec="pcm_s16le")
    chunks = list(decode_chunks(path, chunk_s=10.0))
    assert len(chunks) == 3
    expected_offset = 0.0
    for offset_s, part in chunks:
        assert offset_s == pytest.approx(expected_offset)
        assert len(part) <= 10 * RATE
        expected_offset += len(part) / RATE
    assert expected_offset == pytest.approx(25.0, abs=0.01)
    assert 9.0 <= chunks[1][0] <= 9.3


def test_pdf_renamed_mp3_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "fake.mp3"
    path.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    with pytest.raises(AudioError) as err:
        probe(path)
    assert err.value.code == "not_audio"
    assert "PDF" in err.value.message


def test_text_file_named_wav_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_bytes("这不是音频文件".encode() * 50)
    with pytest.raises(AudioError) as err:
        probe(path)
    assert err.value.code == "not_audio"
    assert "text" in err.value.message


def test_empty_file_is_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(AudioError) as err:
        probe(path)
    assert err.value.code == "empty_file"


def test_random_bytes_behind_an_id3_header_are_corrupt_audio(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.mp3"
    path.write_bytes(b"ID3" + os.urandom(4000))
    with pytest.raises(AudioError) as err:
        probe(path)
    assert err.value.code == "corrupt_audio"


def test_truncated_wav_header_is_corrupt_audio(tmp_path: Path) -> None:
    good = write_audio(tmp_path / "good.wav", _tone(1.0), codec="pcm_s16le")
    path = tmp_path / "cut.wav"
    path.write_bytes(good.read_bytes()[:30])
    with pytest.raises(AudioError) as err:
        probe(path)
    assert err.value.code == "corrupt_audio"


def test_video_without_sound_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "silent_film.mp4"
    with av.open(str(path), mode="w") as out:
        _mux_video(out, _add_video(out))
    with pytest.raises(AudioError) as err:
        probe(path)
    assert err.value.code == "not_audio"


def test_recording_over_the_limit_is_too_long(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "clip.wav", _tone(3.0), codec="pcm_s16le")
    with pytest.raises(AudioError) as err:
        probe(path, max_duration_s=2.0)
    assert err.value.code == "too_long"
    assert probe(path, max_duration_s=4.0).duration_s == pytest.approx(3.0, abs=0.01)
